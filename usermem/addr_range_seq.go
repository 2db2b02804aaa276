package usermem

import (
	"fmt"
	"math"
)

// AddrRangeSeq is an immutable sequence of AddrRanges: the address-space side
// of an iovec array. The zero value is the empty sequence.
//
// Zero-length ranges are kept rather than dropped, because they are not
// meaningless to the memory manager: Linux checks every iovec's address with
// access_ok, even an empty one, so an empty range can still turn a readv(2)
// into EFAULT.
//
// A sequence can be shortened at the front (DropFirst) and at the back
// (TakeFirst) without copying the ranges. TakeFirst only lowers a byte limit:
// ranges past the limit remain in the sequence and read as zero-length, so
// NumRanges does not change.
type AddrRangeSeq struct {
	// ranges are the ranges of the sequence in order, before offset and limit
	// are applied. The slice's elements are never written, so copies of a
	// sequence share them. len(ranges) == 0 if and only if the sequence is
	// empty, in which case offset and limit are 0 too: an empty sequence is
	// always the zero value.
	ranges []AddrRange

	// offset is the number of bytes already dropped from the front of
	// ranges[0]. Invariant: offset < ranges[0].Length(), or both are 0.
	offset Addr

	// limit is the number of bytes in the sequence (NumBytes). The bytes of
	// ranges that lie past limit are not part of the sequence. Invariant:
	// 0 <= limit <= (total length of ranges) - offset.
	limit int64
}

// AddrRangeSeqOf returns a sequence holding only ar.
//
// Preconditions: ar.WellFormed(); ar.Length() <= math.MaxInt64.
func AddrRangeSeqOf(ar AddrRange) AddrRangeSeq {
	return AddrRangeSeqFromSlice([]AddrRange{ar})
}

// AddrRangeSeqFromSlice returns a sequence holding the ranges of s, in order.
// The result may share s's memory, so the caller must not modify s afterwards.
//
// Preconditions: every range in s is WellFormed, and their total length is at
// most math.MaxInt64 (so that NumBytes can be an int64, like a read(2) count).
func AddrRangeSeqFromSlice(s []AddrRange) AddrRangeSeq {
	if len(s) == 0 {
		return AddrRangeSeq{}
	}
	var total uint64
	for _, ar := range s {
		if !ar.WellFormed() {
			panic(fmt.Sprintf("AddrRangeSeqFromSlice: %v is not well formed", ar))
		}
		total += uint64(ar.Length())
		// Checking every length and every partial sum also rules out
		// wrapping: two values below 2^63 cannot add up to 2^64.
		if uint64(ar.Length()) > math.MaxInt64 || total > math.MaxInt64 {
			panic(fmt.Sprintf("AddrRangeSeqFromSlice(%v): total length overflows int64", s))
		}
	}
	return AddrRangeSeq{ranges: s, limit: int64(total)}
}

// IsEmpty reports whether the sequence holds no ranges. A sequence of
// zero-length ranges is not empty, although its NumBytes is 0.
func (ars AddrRangeSeq) IsEmpty() bool {
	return len(ars.ranges) == 0
}

// NumRanges returns the number of ranges in the sequence, counting
// zero-length ones.
func (ars AddrRangeSeq) NumRanges() int {
	return len(ars.ranges)
}

// NumBytes returns the number of bytes in the sequence.
func (ars AddrRangeSeq) NumBytes() int64 {
	return ars.limit
}

// headLen returns the length of Head().
//
// Preconditions: !ars.IsEmpty().
func (ars AddrRangeSeq) headLen() int64 {
	// The length of a range in the sequence fits in an int64.
	return min(int64(ars.ranges[0].Length()-ars.offset), ars.limit)
}

// Head returns the first range of the sequence, shortened by the bytes already
// dropped from its front and clipped to the sequence's byte limit.
//
// Preconditions: !ars.IsEmpty().
func (ars AddrRangeSeq) Head() AddrRange {
	if ars.IsEmpty() {
		panic("AddrRangeSeq.Head of an empty sequence")
	}
	start := ars.ranges[0].Start + ars.offset
	return AddrRange{Start: start, End: start + Addr(ars.headLen())}
}

// Tail returns the sequence without its first range.
//
// Preconditions: !ars.IsEmpty().
func (ars AddrRangeSeq) Tail() AddrRangeSeq {
	if ars.IsEmpty() {
		panic("AddrRangeSeq.Tail of an empty sequence")
	}
	if len(ars.ranges) == 1 {
		return AddrRangeSeq{}
	}
	return AddrRangeSeq{ranges: ars.ranges[1:], limit: ars.limit - ars.headLen()}
}

// DropFirst returns the sequence without its first n bytes. See DropFirst64.
//
// Preconditions: n >= 0.
func (ars AddrRangeSeq) DropFirst(n int) AddrRangeSeq {
	return ars.DropFirst64(int64(n))
}

// DropFirst64 returns the sequence without its first n bytes. If n is larger
// than NumBytes, the result is empty.
//
// The sequence behaves as the list of ranges that Head and Tail walk through,
// with the byte limit already applied, and DropFirst64 works on that list:
//
//   - If the first range is zero-length (whether it was empty to begin with or
//     the byte limit clipped it), it is removed before any byte is counted,
//     even when n is 0. That is what lets the usual loop, "transfer at Head,
//     then DropFirst the number of bytes transferred", get past empty ranges
//     instead of spinning on them. Only that one range is removed: each of
//     several consecutive empty ranges becomes the head in turn.
//   - Then n bytes are removed from the front. A range whose bytes are all
//     removed is removed too; the last range touched may be left shortened.
//
// Preconditions: n >= 0.
func (ars AddrRangeSeq) DropFirst64(n int64) AddrRangeSeq {
	if n < 0 {
		panic(fmt.Sprintf("AddrRangeSeq.DropFirst64(%d): negative count", n))
	}
	if n > ars.limit {
		return AddrRangeSeq{}
	}
	if ars.IsEmpty() {
		return ars
	}
	if ars.headLen() == 0 {
		ars = ars.Tail()
	}
	for n > 0 {
		// n <= limit, so the ranges cannot run out before n does.
		headLen := ars.headLen()
		if n < headLen {
			ars.offset += Addr(n)
			ars.limit -= n
			return ars
		}
		n -= headLen
		ars = ars.Tail()
	}
	return ars
}

// TakeFirst returns the first n bytes of the sequence. See TakeFirst64.
//
// Preconditions: n >= 0.
func (ars AddrRangeSeq) TakeFirst(n int) AddrRangeSeq {
	return ars.TakeFirst64(int64(n))
}

// TakeFirst64 returns the first n bytes of the sequence. It only lowers the
// byte limit: ranges past the first n bytes stay in the sequence as
// zero-length ranges, so NumRanges is unchanged. If n >= NumBytes, the result
// is ars.
//
// Preconditions: n >= 0.
func (ars AddrRangeSeq) TakeFirst64(n int64) AddrRangeSeq {
	if n < 0 {
		panic(fmt.Sprintf("AddrRangeSeq.TakeFirst64(%d): negative count", n))
	}
	if n < ars.limit {
		ars.limit = n
	}
	return ars
}

// String formats the sequence as fmt formats a []AddrRange, with every range
// as Head would return it: "[[0x10, 0x11) [0x20, 0x22)]".
func (ars AddrRangeSeq) String() string {
	rs := make([]AddrRange, 0, ars.NumRanges())
	for ; !ars.IsEmpty(); ars = ars.Tail() {
		rs = append(rs, ars.Head())
	}
	return fmt.Sprint(rs)
}
