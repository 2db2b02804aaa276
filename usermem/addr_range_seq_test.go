package usermem

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seqFixtures are the sequences every AddrRangeSeq iteration test walks.
var seqFixtures = []struct {
	name   string
	ranges []AddrRange
}{
	{name: "empty"},
	{name: "one empty range", ranges: []AddrRange{{0x10, 0x10}}},
	{name: "one one-byte range", ranges: []AddrRange{{0x10, 0x11}}},
	{name: "one two-byte range", ranges: []AddrRange{{0x10, 0x12}}},
	{name: "two ranges", ranges: []AddrRange{{0x10, 0x14}, {0x20, 0x22}}},
	{name: "ten ranges mixing empty ones", ranges: []AddrRange{
		{0x10, 0x10},
		{0x20, 0x22},
		{0x30, 0x30},
		{0x40, 0x40},
		{0x50, 0x51},
		{0x60, 0x63},
		{0x70, 0x70},
		{0x80, 0x84},
		{0x90, 0x91},
		{0xa0, 0xa0},
	}},
}

// totalLength returns the sum of the lengths of rs.
func totalLength(rs []AddrRange) int64 {
	var n int64
	for _, r := range rs {
		n += int64(r.Length())
	}
	return n
}

// heads returns the ranges that Head returns while ars is walked with Tail.
func heads(ars AddrRangeSeq) []AddrRange {
	var rs []AddrRange
	for ; !ars.IsEmpty(); ars = ars.Tail() {
		rs = append(rs, ars.Head())
	}
	return rs
}

// seqConstructors builds a sequence from a slice in every way the API allows,
// so that each test covers each way.
var seqConstructors = []struct {
	name string
	// build returns the sequence of rs, or ok false if it cannot.
	build func(rs []AddrRange) (ars AddrRangeSeq, ok bool)
}{
	{name: "FromSlice", build: func(rs []AddrRange) (AddrRangeSeq, bool) {
		return AddrRangeSeqFromSlice(rs), true
	}},
	{name: "Of", build: func(rs []AddrRange) (AddrRangeSeq, bool) {
		switch len(rs) {
		case 0:
			return AddrRangeSeq{}, true
		case 1:
			return AddrRangeSeqOf(rs[0]), true
		}
		return AddrRangeSeq{}, false
	}},
}

func TestAddrRangeSeqTailIteration(t *testing.T) {
	for _, f := range seqFixtures {
		for _, c := range seqConstructors {
			ars, ok := c.build(f.ranges)
			if !ok {
				continue
			}
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				for i := 0; ; i++ {
					if got, want := ars.NumBytes(), totalLength(f.ranges[i:]); got != want {
						t.Errorf("step %d: NumBytes() = %d, want %d", i, got, want)
					}
					if got, want := ars.NumRanges(), len(f.ranges)-i; got != want {
						t.Errorf("step %d: NumRanges() = %d, want %d", i, got, want)
					}
					if got, want := ars.IsEmpty(), i == len(f.ranges); got != want {
						t.Fatalf("step %d: IsEmpty() = %t, want %t", i, got, want)
					}
					if ars.IsEmpty() {
						return
					}
					if diff := cmp.Diff(f.ranges[i], ars.Head()); diff != "" {
						t.Errorf("step %d: Head() mismatch (-want +got):\n%s", i, diff)
					}
					ars = ars.Tail()
				}
			})
		}
	}
}

func TestAddrRangeSeqSingleByteDropFirst(t *testing.T) {
	for _, f := range seqFixtures {
		for _, c := range seqConstructors {
			ars, ok := c.build(f.ranges)
			if !ok {
				continue
			}
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				// Each non-empty range should be the head once per byte,
				// shrinking from the front; each empty one exactly once.
				var wantHeads []AddrRange
				wantBytes := totalLength(f.ranges)
				var wantNumBytes []int64
				for _, r := range f.ranges {
					for s := r.Start; s < r.End || s == r.Start; s++ {
						wantHeads = append(wantHeads, AddrRange{s, r.End})
						wantNumBytes = append(wantNumBytes, wantBytes)
						if s < r.End {
							wantBytes--
						}
					}
				}
				var gotHeads []AddrRange
				var gotNumBytes []int64
				for !ars.IsEmpty() && len(gotHeads) <= len(wantHeads) {
					head := ars.Head()
					gotHeads = append(gotHeads, head)
					gotNumBytes = append(gotNumBytes, ars.NumBytes())
					if head.Length() == 0 {
						ars = ars.DropFirst(0)
					} else {
						ars = ars.DropFirst(1)
					}
				}
				if diff := cmp.Diff(wantHeads, gotHeads); diff != "" {
					t.Errorf("heads mismatch (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantNumBytes, gotNumBytes); diff != "" {
					t.Errorf("NumBytes mismatch (-want +got):\n%s", diff)
				}
				if got := ars.NumBytes(); got != 0 {
					t.Errorf("final NumBytes() = %d, want 0", got)
				}
			})
		}
	}
}

// seqCmpOpts lets cmp compare AddrRangeSeq values field by field. Since an
// empty sequence is always the zero value, equal sequences built in different
// ways compare equal.
var seqCmpOpts = cmp.AllowUnexported(AddrRangeSeq{})

func TestAddrRangeSeqEmptyIsZeroValue(t *testing.T) {
	empty := AddrRangeSeqFromSlice(nil)
	oneEmpty := AddrRangeSeqOf(AddrRange{0x10, 0x10})
	for _, tc := range []struct {
		name string
		got  AddrRangeSeq
	}{
		{"FromSlice(nil)", empty},
		{"FromSlice(empty slice)", AddrRangeSeqFromSlice([]AddrRange{})},
		{"empty.DropFirst(1)", empty.DropFirst(1)},
		{"empty.DropFirst(0)", empty.DropFirst(0)},
		{"empty.TakeFirst(1)", empty.TakeFirst(1)},
		{"empty.TakeFirst(0)", empty.TakeFirst(0)},
		{"Of(empty range).Tail()", oneEmpty.Tail()},
		{"Of(empty range).DropFirst(0)", oneEmpty.DropFirst(0)},
		{"Of(empty range).DropFirst(1)", oneEmpty.DropFirst(1)},
		{"two bytes.DropFirst(2)", AddrRangeSeqOf(AddrRange{0x10, 0x12}).DropFirst(2)},
		{"two bytes.DropFirst(3)", AddrRangeSeqOf(AddrRange{0x10, 0x12}).DropFirst(3)},
		{"two ranges.DropFirst64(MaxInt64)", AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x12}, {0x20, 0x22}}).DropFirst64(math.MaxInt64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(AddrRangeSeq{}, tc.got, seqCmpOpts); diff != "" {
				t.Errorf("not the zero value (-want +got):\n%s", diff)
			}
			if !tc.got.IsEmpty() || tc.got.NumRanges() != 0 || tc.got.NumBytes() != 0 {
				t.Errorf("IsEmpty, NumRanges, NumBytes = %t, %d, %d, want true, 0, 0", tc.got.IsEmpty(), tc.got.NumRanges(), tc.got.NumBytes())
			}
		})
	}
}

func TestAddrRangeSeqTakeFirst(t *testing.T) {
	// Ranges of 1, 2, 0, 4, 5, 0 and 7 bytes.
	ranges := []AddrRange{
		{0x10, 0x11},
		{0x20, 0x22},
		{0x30, 0x30},
		{0x40, 0x44},
		{0x50, 0x55},
		{0x60, 0x60},
		{0x70, 0x77},
	}
	ars := AddrRangeSeqFromSlice(ranges).TakeFirst(5)
	want := []AddrRange{
		{0x10, 0x11},
		{0x20, 0x22},
		{0x30, 0x30},
		{0x40, 0x42},
		{0x50, 0x50},
		{0x60, 0x60},
		{0x70, 0x70},
	}
	if diff := cmp.Diff(want, heads(ars)); diff != "" {
		t.Errorf("heads mismatch (-want +got):\n%s", diff)
	}
	if got := ars.NumRanges(); got != 7 {
		t.Errorf("NumRanges() = %d, want 7", got)
	}
	if got := ars.NumBytes(); got != 5 {
		t.Errorf("NumBytes() = %d, want 5", got)
	}
	// A larger limit does not bring clipped bytes back.
	if diff := cmp.Diff(ars, ars.TakeFirst(9), seqCmpOpts); diff != "" {
		t.Errorf("TakeFirst(9) changed the sequence (-want +got):\n%s", diff)
	}
}

func TestAddrRangeSeqDropFirst(t *testing.T) {
	twoRanges := []AddrRange{{0x10, 0x14}, {0x20, 0x22}}
	for _, tc := range []struct {
		name string
		ars  AddrRangeSeq
		want []AddrRange
	}{
		{
			name: "zero bytes keep a non-empty head",
			ars:  AddrRangeSeqFromSlice(twoRanges).DropFirst(0),
			want: twoRanges,
		},
		{
			name: "partway into the first range",
			ars:  AddrRangeSeqFromSlice(twoRanges).DropFirst(3),
			want: []AddrRange{{0x13, 0x14}, {0x20, 0x22}},
		},
		{
			name: "exactly the first range",
			ars:  AddrRangeSeqFromSlice(twoRanges).DropFirst(4),
			want: []AddrRange{{0x20, 0x22}},
		},
		{
			name: "into the second range",
			ars:  AddrRangeSeqFromSlice(twoRanges).DropFirst64(5),
			want: []AddrRange{{0x21, 0x22}},
		},
		{
			name: "two steps add up",
			ars:  AddrRangeSeqFromSlice(twoRanges).DropFirst(1).DropFirst(4),
			want: []AddrRange{{0x21, 0x22}},
		},
		{
			name: "all bytes keep trailing empty ranges",
			ars:  AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x12}, {0x20, 0x20}, {0x30, 0x30}}).DropFirst(2),
			want: []AddrRange{{0x20, 0x20}, {0x30, 0x30}},
		},
		{
			name: "only one leading empty range is skipped",
			ars:  AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x10}, {0x20, 0x20}, {0x30, 0x32}}).DropFirst(0),
			want: []AddrRange{{0x20, 0x20}, {0x30, 0x32}},
		},
		{
			name: "empty ranges are passed on the way",
			ars:  AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x11}, {0x20, 0x20}, {0x30, 0x30}, {0x40, 0x42}}).DropFirst(2),
			want: []AddrRange{{0x41, 0x42}},
		},
		{
			name: "a head clipped to nothing is skipped",
			ars:  AddrRangeSeqFromSlice(twoRanges).TakeFirst(0).DropFirst(0),
			want: []AddrRange{{0x20, 0x20}},
		},
		{
			name: "a partly dropped head clipped to nothing is skipped",
			ars:  AddrRangeSeqFromSlice(twoRanges).DropFirst(1).TakeFirst(0).DropFirst(0),
			want: []AddrRange{{0x20, 0x20}},
		},
		{
			name: "dropping all of a clipped head removes it",
			ars:  AddrRangeSeqFromSlice(twoRanges).TakeFirst(2).DropFirst(2),
			want: []AddrRange{{0x20, 0x20}},
		},
		{
			name: "dropping part of a clipped head",
			ars:  AddrRangeSeqFromSlice(twoRanges).TakeFirst(3).DropFirst(1),
			want: []AddrRange{{0x11, 0x13}, {0x20, 0x20}},
		},
		{
			name: "a single range clipped and dropped",
			ars:  AddrRangeSeqOf(AddrRange{0x10, 0x14}).TakeFirst(2).DropFirst(1),
			want: []AddrRange{{0x11, 0x12}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, heads(tc.ars)); diff != "" {
				t.Errorf("heads mismatch (-want +got):\n%s", diff)
			}
			if got, want := tc.ars.NumBytes(), totalLength(tc.want); got != want {
				t.Errorf("NumBytes() = %d, want %d", got, want)
			}
			if got, want := tc.ars.NumRanges(), len(tc.want); got != want {
				t.Errorf("NumRanges() = %d, want %d", got, want)
			}
		})
	}
}

func TestAddrRangeSeqIsImmutable(t *testing.T) {
	ars := AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x14}, {0x20, 0x22}})
	want := heads(ars)
	_ = ars.DropFirst(5)
	_ = ars.TakeFirst(1)
	_ = ars.Tail()
	if diff := cmp.Diff(want, heads(ars)); diff != "" {
		t.Errorf("operations changed their receiver (-before +after):\n%s", diff)
	}
}

func TestAddrRangeSeqLargeLengths(t *testing.T) {
	// The largest sequence: MaxInt64 bytes, up to the top of the address
	// space.
	top := AddrRange{Start: ^Addr(0) - math.MaxInt64, End: ^Addr(0)}
	ars := AddrRangeSeqFromSlice([]AddrRange{{0, 0}, top})
	if got := ars.NumBytes(); got != math.MaxInt64 {
		t.Errorf("NumBytes() = %d, want MaxInt64", got)
	}
	ars = ars.DropFirst64(math.MaxInt64 - 1)
	if diff := cmp.Diff([]AddrRange{{^Addr(0) - 1, ^Addr(0)}}, heads(ars)); diff != "" {
		t.Errorf("heads after dropping all but one byte mismatch (-want +got):\n%s", diff)
	}
}

func TestAddrRangeSeqString(t *testing.T) {
	for _, tc := range []struct {
		name string
		ars  AddrRangeSeq
		want string
	}{
		{"empty", AddrRangeSeq{}, "[]"},
		{"one range", AddrRangeSeqOf(AddrRange{0x10, 0x11}), "[[0x10, 0x11)]"},
		{"two ranges", AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x11}, {0x20, 0x22}}), "[[0x10, 0x11) [0x20, 0x22)]"},
		{"clipped and dropped", AddrRangeSeqFromSlice([]AddrRange{{0x10, 0x14}, {0x20, 0x22}}).DropFirst(1).TakeFirst(2), "[[0x11, 0x13) [0x20, 0x20)]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ars.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// mustPanic fails t unless f panics.
func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("did not panic")
		}
	}()
	f()
}

func TestAddrRangeSeqPanics(t *testing.T) {
	half := Addr(1) << 62
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Head of empty", func() { AddrRangeSeq{}.Head() }},
		{"Tail of empty", func() { AddrRangeSeq{}.Tail() }},
		{"negative DropFirst", func() { AddrRangeSeqOf(AddrRange{0, 1}).DropFirst(-1) }},
		{"negative DropFirst64", func() { AddrRangeSeq{}.DropFirst64(-1) }},
		{"negative TakeFirst", func() { AddrRangeSeqOf(AddrRange{0, 1}).TakeFirst(-1) }},
		{"negative TakeFirst64", func() { AddrRangeSeq{}.TakeFirst64(-1) }},
		{"one range too long", func() { AddrRangeSeqOf(AddrRange{0, Addr(1) << 63}) }},
		{"total too long", func() { AddrRangeSeqFromSlice([]AddrRange{{0, half}, {half, 2 * half}}) }},
		{"total wraps", func() { AddrRangeSeqFromSlice([]AddrRange{{0, 1}, {0, ^Addr(0)}}) }},
		{"not well formed", func() { AddrRangeSeqOf(AddrRange{0x20, 0x10}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustPanic(t, tc.f)
		})
	}
}
