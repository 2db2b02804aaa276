package mm

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Layout is where in the address space mappings go.
//
// minisentry places mappings deterministically: no address space layout
// randomisation, so that runs, tests and traces are reproducible.
type Layout struct {
	// MinAddr is the lowest address the application may map.
	MinAddr usermem.Addr

	// MaxAddr is one past the highest address the application may map.
	// The stack ends here.
	MaxAddr usermem.Addr

	// TopDownBase is where the search for free space for mmap starts: new
	// mappings go just below it, and then further down, as Linux's default
	// top-down layout does. The space between it and MaxAddr is left to
	// the stack.
	TopDownBase usermem.Addr
}

const (
	// stackGap is the room left between TopDownBase and MaxAddr. Linux
	// leaves RLIMIT_STACK plus a guard, but never less than 128 MiB (its
	// MIN_GAP); the stack limit is 8 MiB by default, so 128 MiB is what
	// Linux leaves too.
	stackGap = 128 << 20

	// guardBytes is the gap that mmap leaves free below a grows-down
	// mapping (the stack), as Linux's stack_guard_gap: 256 pages.
	guardBytes = 256 * usermem.PageSize

	// map32BitStart and map32BitEnd bound the addresses MAP_32BIT may use,
	// as on Linux x86-64: the second gigabyte, so that the mapping's
	// addresses fit in 31 bits.
	map32BitStart = 1 << 30
	map32BitEnd   = 2 << 30

	// linuxTaskSize is the end of the x86-64 user address range with
	// 4-level page tables. The platform may keep the top of it for itself
	// (layout.MaxAddr is then lower); munmap and mremap judge their
	// arguments against the range Linux would, so that an application
	// sees the same errors.
	linuxTaskSize = 0x7ffffffff000
)

// newLayout returns the layout for the user range [min, max).
func newLayout(min, max usermem.Addr) Layout {
	min, _ = min.RoundUp()
	max = max.RoundDown()
	l := Layout{MinAddr: min, MaxAddr: max, TopDownBase: max}
	switch {
	case max <= min:
		l.MaxAddr, l.TopDownBase = min, min
	case max-min > 2*stackGap:
		l.TopDownBase = max - stackGap
	default:
		// A small range (a test platform): split it.
		l.TopDownBase = (min + (max-min)/2).RoundDown()
	}
	return l
}

// findOpts are the parts of a request for address space that decide where
// it goes.
type findOpts struct {
	// addr is a hint, or the address itself if fixed.
	addr usermem.Addr
	// fixed requires addr exactly.
	fixed bool
	// unmap allows a fixed range to replace existing mappings.
	unmap bool
	// map32Bit restricts the search to the second gigabyte.
	map32Bit bool
}

// findAvailableLocked returns the start of a free range of length bytes,
// chosen as Linux's get_unmapped_area would.
//
// Preconditions: mm.mappingMu is locked; length is a non-zero multiple of
// the page size; a fixed opts.addr is page-aligned.
func (mm *MemoryManager) findAvailableLocked(length uint64, opts findOpts) (usermem.Addr, error) {
	if opts.fixed {
		ar, ok := opts.addr.ToRange(length)
		if !ok || ar.End > mm.layout.MaxAddr {
			return 0, unix.ENOMEM
		}
		if ar.Start < mm.layout.MinAddr {
			// Linux's mmap_min_addr check.
			return 0, unix.EPERM
		}
		if !opts.unmap {
			// MAP_FIXED_NOREPLACE.
			if i, j := mm.vmas.span(ar); i != j {
				return 0, unix.EEXIST
			}
		}
		return ar.Start, nil
	}
	if opts.map32Bit {
		lo := max(mm.layout.MinAddr, map32BitStart)
		hi := min(mm.layout.MaxAddr, map32BitEnd)
		if addr, ok := mm.findBottomUpLocked(length, lo, hi); ok {
			return addr, nil
		}
		return 0, unix.ENOMEM
	}
	if opts.addr != 0 {
		// A hint is taken if the range it names is free; otherwise it is
		// ignored.
		if ar, ok := opts.addr.RoundDown().ToRange(length); ok && ar.Start >= mm.layout.MinAddr && ar.End <= mm.layout.MaxAddr && mm.isFreeLocked(ar) {
			return ar.Start, nil
		}
	}
	if addr, ok := mm.findTopDownLocked(length, mm.layout.MinAddr, mm.layout.TopDownBase); ok {
		return addr, nil
	}
	// Like Linux, fall back on the rest of the address space, here the
	// room left for the stack.
	if addr, ok := mm.findTopDownLocked(length, mm.layout.TopDownBase, mm.layout.MaxAddr); ok {
		return addr, nil
	}
	return 0, unix.ENOMEM
}

// gapLocked returns the free gap below the vma at index i (or below hi if i
// is len(mm.vmas.segs)), bounded by [lo, hi) and shrunk by the guard gap
// below a grows-down vma.
//
// Preconditions: mm.mappingMu is locked; 0 <= i <= len(mm.vmas.segs).
func (mm *MemoryManager) gapLocked(i int, lo, hi usermem.Addr) usermem.AddrRange {
	gap := usermem.AddrRange{Start: lo, End: hi}
	if i < len(mm.vmas.segs) {
		next := mm.vmas.segs[i]
		end := next.ar.Start
		if next.val.growsDown {
			end = max(end, guardBytes) - guardBytes
		}
		gap.End = min(gap.End, end)
	}
	if i > 0 {
		gap.Start = max(gap.Start, mm.vmas.segs[i-1].ar.End)
	}
	if gap.End < gap.Start {
		gap.End = gap.Start
	}
	return gap
}

// isFreeLocked reports whether ar overlaps no vma and no vma's guard gap.
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) isFreeLocked(ar usermem.AddrRange) bool {
	i := mm.vmas.lowerBound(ar.Start)
	return mm.gapLocked(i, ar.Start, ar.End) == ar
}

// findTopDownLocked returns the highest address in [lo, hi) with length
// free bytes above it, preferring a 2 MiB-aligned one for lengths of 2 MiB
// or more (so that the host can back the mapping with huge pages and one
// allocation chunk of the memory manager matches one of the host).
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) findTopDownLocked(length uint64, lo, hi usermem.Addr) (usermem.Addr, bool) {
	if hi <= lo || uint64(hi-lo) < length {
		return 0, false
	}
	// Gaps are between vmas[i-1] and vmas[i]; walk them downwards from the
	// first vma that reaches above hi.
	for i := mm.vmas.lowerBound(hi); i >= 0; i-- {
		gap := mm.gapLocked(i, lo, hi)
		if uint64(gap.Length()) >= length {
			start := gap.End - usermem.Addr(length)
			if length >= usermem.HugePageSize && start.HugeRoundDown() >= gap.Start {
				start = start.HugeRoundDown()
			}
			return start, true
		}
		if gap.Start <= lo {
			break
		}
	}
	return 0, false
}

// findBottomUpLocked returns the lowest address in [lo, hi) with length free
// bytes above it.
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) findBottomUpLocked(length uint64, lo, hi usermem.Addr) (usermem.Addr, bool) {
	if hi <= lo || uint64(hi-lo) < length {
		return 0, false
	}
	for i := mm.vmas.lowerBound(lo); i <= len(mm.vmas.segs); i++ {
		gap := mm.gapLocked(i, lo, hi)
		if uint64(gap.Length()) >= length {
			return gap.Start, true
		}
		if i < len(mm.vmas.segs) && mm.vmas.segs[i].ar.Start >= hi {
			break
		}
	}
	return 0, false
}
