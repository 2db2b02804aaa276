package usermem

import "fmt"

// AddrRange is the half-open range of addresses [Start, End).
//
// Every method assumes the range is WellFormed.
type AddrRange struct {
	// Start is the first address in the range.
	Start Addr
	// End is one past the last address in the range.
	End Addr
}

// WellFormed reports whether Start <= End.
func (r AddrRange) WellFormed() bool {
	return r.Start <= r.End
}

// Length returns the number of addresses in r.
func (r AddrRange) Length() Addr {
	return r.End - r.Start
}

// Contains reports whether x is in r.
func (r AddrRange) Contains(x Addr) bool {
	return r.Start <= x && x < r.End
}

// Overlaps reports whether each of r and r2 starts before the other ends. For
// non-empty ranges, that is sharing at least one address; an empty range
// strictly inside the other also counts, as in gVisor, whose memory manager
// only asks about non-empty ranges.
func (r AddrRange) Overlaps(r2 AddrRange) bool {
	return r.Start < r2.End && r2.Start < r.End
}

// IsSupersetOf reports whether r contains every address of r2.
func (r AddrRange) IsSupersetOf(r2 AddrRange) bool {
	return r.Start <= r2.Start && r2.End <= r.End
}

// Intersect returns the addresses in both r and r2. If they do not overlap,
// the result has length 0 and its position is unspecified.
func (r AddrRange) Intersect(r2 AddrRange) AddrRange {
	if r.Start < r2.Start {
		r.Start = r2.Start
	}
	if r.End > r2.End {
		r.End = r2.End
	}
	if r.End < r.Start {
		r.End = r.Start
	}
	return r
}

// CanSplitAt reports whether r can be split into two non-empty ranges at x.
func (r AddrRange) CanSplitAt(x Addr) bool {
	return r.Contains(x) && r.Start < x
}

// IsPageAligned reports whether both ends of r are page-aligned.
func (r AddrRange) IsPageAligned() bool {
	return r.Start.IsPageAligned() && r.End.IsPageAligned()
}

// String formats r as "[0x10, 0x11)".
func (r AddrRange) String() string {
	return fmt.Sprintf("[%#x, %#x)", r.Start, r.End)
}
