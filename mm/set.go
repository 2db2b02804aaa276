package mm

import (
	"slices"
	"sort"

	"github.com/minisentry/minisentry/usermem"
)

// rangeSet is the ordered structure behind both the vma set and the pma
// set: non-empty, non-overlapping address ranges, each carrying a value,
// sorted by address in a slice that binary search walks.
//
// A slice is enough for a teaching sentry: a process has tens or hundreds of
// vmas, and a sorted slice keeps lookups at O(log n) and makes the code
// obvious. (gVisor uses a B-tree generated from a template, which scales to
// the tens of thousands of vmas a big database creates.) Inserting or
// removing in the middle costs O(n) moves, which at these sizes is cheaper
// than chasing tree pointers.
//
// Invariants: segs is sorted by ar.Start; every ar is non-empty and
// page-aligned; no two ranges overlap.
//
// rangeSet does no locking: its owner's lock protects it.
type rangeSet[V segmentValue[V]] struct {
	segs []segment[V]
}

// segment is one range of a rangeSet and its value.
type segment[V any] struct {
	ar  usermem.AddrRange
	val V
}

// segmentValue is what a rangeSet needs from the values it carries, so that
// it can split and merge segments without knowing what they mean.
type segmentValue[V any] interface {
	// splitAt is called on the value of a segment that is being cut delta
	// bytes after its start. The receiver stays with the lower part;
	// splitAt returns the value for the upper part.
	splitAt(delta uint64) V

	// canMergeWith reports whether a segment of length n carrying the
	// receiver may absorb next, the value of the segment that starts right
	// where it ends, so that one segment describes both.
	canMergeWith(n uint64, next V) bool

	// merged is called on the value of a segment that has just been
	// absorbed by its predecessor and no longer exists.
	merged()
}

// lowerBound returns the index of the first segment that ends after addr:
// the segment containing addr if there is one, otherwise the first segment
// above addr (or len(s.segs)).
func (s *rangeSet[V]) lowerBound(addr usermem.Addr) int {
	return sort.Search(len(s.segs), func(i int) bool { return s.segs[i].ar.End > addr })
}

// find returns the index of the segment containing addr, and whether there
// is one.
func (s *rangeSet[V]) find(addr usermem.Addr) (int, bool) {
	i := s.lowerBound(addr)
	return i, i < len(s.segs) && s.segs[i].ar.Start <= addr
}

// span returns the indices [i, j) of the segments that overlap ar, without
// changing the set.
func (s *rangeSet[V]) span(ar usermem.AddrRange) (i, j int) {
	i = s.lowerBound(ar.Start)
	j = i
	for j < len(s.segs) && s.segs[j].ar.Start < ar.End {
		j++
	}
	return i, j
}

// splitAt cuts the segment containing addr in two at addr, if addr falls
// strictly inside one.
func (s *rangeSet[V]) splitAt(addr usermem.Addr) {
	i, ok := s.find(addr)
	if !ok || s.segs[i].ar.Start == addr {
		return
	}
	seg := &s.segs[i]
	upper := segment[V]{
		ar:  usermem.AddrRange{Start: addr, End: seg.ar.End},
		val: seg.val.splitAt(uint64(addr - seg.ar.Start)),
	}
	seg.ar.End = addr
	s.segs = slices.Insert(s.segs, i+1, upper)
}

// isolate splits the segments that straddle ar's ends, so that every
// segment overlapping ar lies inside it, and returns their indices [i, j).
func (s *rangeSet[V]) isolate(ar usermem.AddrRange) (i, j int) {
	s.splitAt(ar.Start)
	s.splitAt(ar.End)
	return s.span(ar)
}

// insert adds seg at index i.
//
// Preconditions: seg.ar does not overlap any segment; i is the index that
// keeps the set sorted (lowerBound(seg.ar.Start)).
func (s *rangeSet[V]) insert(i int, seg segment[V]) {
	s.segs = slices.Insert(s.segs, i, seg)
}

// remove deletes the segments [i, j). Their values are dropped without any
// callback: the caller releases whatever they held.
func (s *rangeSet[V]) remove(i, j int) {
	s.segs = slices.Delete(s.segs, i, j)
}

// mergeAround merges every mergeable neighbour pair among the segments
// [i-1, j], the segments an operation on [i, j) may have made mergeable
// with each other or with the segments on either side.
func (s *rangeSet[V]) mergeAround(i, j int) {
	lo := max(i, 1)
	hi := min(j, len(s.segs)-1)
	if lo > hi {
		return
	}
	// Compact in place: out is the index of the segment that absorbs
	// mergeable successors.
	out := lo - 1
	for k := lo; k <= hi; k++ {
		prev, cur := &s.segs[out], s.segs[k]
		if prev.ar.End == cur.ar.Start && prev.val.canMergeWith(uint64(prev.ar.Length()), cur.val) {
			prev.ar.End = cur.ar.End
			cur.val.merged()
			continue
		}
		out++
		s.segs[out] = cur
	}
	s.segs = slices.Delete(s.segs, out+1, hi+1)
}

// mergeAll merges every mergeable neighbour pair in the set.
func (s *rangeSet[V]) mergeAll() {
	s.mergeAround(0, len(s.segs))
}
