package usermem

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// seqModel is the reference AddrRangeSeq for FuzzAddrRangeSeq: the list of
// ranges that Head and Tail should walk through, limit already applied. Its
// operations follow the documented behaviour directly, without AddrRangeSeq's
// offset and limit bookkeeping.
type seqModel []AddrRange

func (m seqModel) tail() seqModel {
	return m[1:]
}

func (m seqModel) takeFirst(n int64) seqModel {
	out := make(seqModel, len(m))
	for i, r := range m {
		keep := min(n, int64(r.Length()))
		out[i] = AddrRange{r.Start, r.Start + Addr(keep)}
		n -= keep
	}
	return out
}

func (m seqModel) dropFirst(n int64) seqModel {
	if n > totalLength(m) {
		return nil
	}
	if len(m) > 0 && m[0].Length() == 0 {
		m = m[1:]
	}
	for n > 0 {
		if l := int64(m[0].Length()); n < l {
			// Copy before writing: m shares the caller's elements.
			m = slices.Clone(m)
			m[0].Start += Addr(n)
			return m
		}
		n -= int64(m[0].Length())
		m = m[1:]
	}
	return m
}

// seqOp records one operation FuzzAddrRangeSeq applied.
type seqOp struct {
	name string
	arg  int64
}

func (o seqOp) String() string {
	if o.name == "Tail" {
		return "Tail()"
	}
	return fmt.Sprintf("%s(%d)", o.name, o.arg)
}

// FuzzAddrRangeSeq checks AddrRangeSeq against seqModel. The input decodes as
// one byte for the number of ranges (mod 9), two per range (start offset and
// length; a length byte with the top bit set means an empty range), then two
// per operation (which one, and its argument).
func FuzzAddrRangeSeq(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{2, 0x00, 4, 0x00, 2, 0, 3, 1, 3})
	f.Add([]byte{7, 0, 1, 0, 2, 0, 0x80, 0, 4, 0, 5, 0, 0x80, 0, 7, 1, 5, 2, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		ranges := make([]AddrRange, next()%9)
		for i := range ranges {
			start := Addr(i)*0x100 + Addr(next())
			length := Addr(next())
			if length&0x80 != 0 {
				length = 0
			}
			ranges[i] = AddrRange{start, start + length}
		}
		original := slices.Clone(ranges)
		ars := AddrRangeSeqFromSlice(ranges)
		model := seqModel(slices.Clone(ranges))
		// ops are the operations applied so far, for failure messages.
		var ops []seqOp
		check := func() {
			t.Helper()
			// Compare with slices.Equal before paying for cmp.Diff, so
			// that the fuzzer runs fast.
			if got := heads(ars); !slices.Equal(model, got) {
				t.Fatalf("after %v on %v: heads mismatch (-model +got):\n%s", ops, original, cmp.Diff([]AddrRange(model), got, cmpopts.EquateEmpty()))
			}
			if got, want := ars.NumBytes(), totalLength(model); got != want {
				t.Fatalf("after %v on %v: NumBytes() = %d, want %d", ops, original, got, want)
			}
			if got, want := ars.NumRanges(), len(model); got != want {
				t.Fatalf("after %v on %v: NumRanges() = %d, want %d", ops, original, got, want)
			}
			if got, want := ars.String(), fmt.Sprint([]AddrRange(model)); got != want {
				t.Fatalf("after %v on %v: String() = %q, want %q", ops, original, got, want)
			}
			if ars.IsEmpty() && (ars.ranges != nil || ars.offset != 0 || ars.limit != 0) {
				t.Fatalf("after %v on %v: empty sequence %+v is not the zero value", ops, original, ars)
			}
		}
		check()
		for len(data) > 0 {
			op, arg := next(), int64(next())
			switch op % 5 {
			case 0:
				ops = append(ops, seqOp{"DropFirst", arg % 8})
				ars, model = ars.DropFirst(int(arg%8)), model.dropFirst(arg%8)
			case 1:
				ops = append(ops, seqOp{"DropFirst64", arg})
				ars, model = ars.DropFirst64(arg), model.dropFirst(arg)
			case 2:
				ops = append(ops, seqOp{"TakeFirst", arg % 16})
				ars, model = ars.TakeFirst(int(arg%16)), model.takeFirst(arg%16)
			case 3:
				ops = append(ops, seqOp{"TakeFirst64", arg})
				ars, model = ars.TakeFirst64(arg), model.takeFirst(arg)
			case 4:
				if ars.IsEmpty() {
					continue
				}
				ops = append(ops, seqOp{name: "Tail"})
				ars, model = ars.Tail(), model.tail()
			}
			check()
		}
		if diff := cmp.Diff(original, ranges); diff != "" {
			t.Fatalf("operations wrote to the slice the sequence was built from (-before +after):\n%s", diff)
		}
	})
}
