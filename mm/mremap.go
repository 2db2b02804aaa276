package mm

import (
	"context"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// MRemapMoveMode says whether MRemap may move a mapping.
type MRemapMoveMode int

const (
	// MRemapNoMove resizes in place or fails (no flags).
	MRemapNoMove MRemapMoveMode = iota
	// MRemapMayMove moves the mapping if it cannot grow in place
	// (MREMAP_MAYMOVE).
	MRemapMayMove
	// MRemapMustMove moves the mapping to MRemapOpts.NewAddr, replacing
	// what is there (MREMAP_MAYMOVE|MREMAP_FIXED).
	MRemapMustMove
)

// MRemapOpts are mremap(2)'s flags and new address.
type MRemapOpts struct {
	// Move says whether the mapping may or must move.
	Move MRemapMoveMode
	// NewAddr is the destination of an MRemapMustMove.
	NewAddr usermem.Addr
}

// MRemap resizes and possibly moves the mapping at oldAddr, as mremap(2),
// and returns its new address. The old range must lie in one vma. An
// oldSize of 0 on a shared mapping makes a second mapping of the same
// memory. Moving a mapping moves its memory too: no page is copied.
func (mm *MemoryManager) MRemap(ctx context.Context, oldAddr usermem.Addr, oldSize, newSize uint64, opts MRemapOpts) (usermem.Addr, error) {
	if !oldAddr.IsPageAligned() {
		return 0, unix.EINVAL
	}
	oldSize, ok := usermem.PageRoundUp(oldSize)
	if !ok {
		return 0, unix.EINVAL
	}
	newSize, ok = usermem.PageRoundUp(newSize)
	if !ok || newSize == 0 {
		return 0, unix.EINVAL
	}

	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	if _, ok := mm.vmas.find(oldAddr); !ok {
		return 0, unix.EFAULT
	}
	if opts.Move == MRemapMustMove {
		return mm.mremapToLocked(oldAddr, oldSize, opts.NewAddr, newSize)
	}
	if oldSize >= newSize {
		// Shrink in place: unmap the tail.
		if oldSize > newSize {
			tail, err := mremapTail(oldAddr, oldSize, newSize)
			if err != nil {
				return 0, err
			}
			mm.unmapLocked(tail)
		}
		return oldAddr, nil
	}

	vi, oldAR, err := mm.resizeCheckLocked(oldAddr, oldSize, newSize)
	if err != nil {
		return 0, err
	}
	v := mm.vmas.segs[vi]
	if oldAR.End == v.ar.End {
		// Grow in place if the space after the vma is free: a copy of
		// the vma over it merges with the vma.
		if grow, ok := oldAddr.ToRange(newSize); ok && grow.End <= mm.layout.MaxAddr {
			grow.Start = oldAR.End
			if i, j := mm.vmas.span(grow); i == j {
				mm.insertVMALocked(grow, v.val.splitAt(uint64(grow.Start-v.ar.Start)))
				return oldAddr, nil
			}
		}
	}
	if opts.Move == MRemapNoMove {
		return 0, unix.ENOMEM
	}
	// The moved vma is a new one, and may leave two behind.
	if err := mm.checkMapCountLocked(1 + mm.splitsLocked(oldAR)); err != nil {
		return 0, err
	}
	newAddr, err := mm.findAvailableLocked(newSize, findOpts{})
	if err != nil {
		return 0, err
	}
	return mm.moveLocked(vi, oldAR, usermem.AddrRange{Start: newAddr, End: newAddr + usermem.Addr(newSize)}), nil
}

// mremapTail returns the tail [oldAddr+newSize, oldAddr+oldSize) that a
// shrinking mremap unmaps, validated as munmap validates its arguments.
//
// Preconditions: oldSize > newSize.
func mremapTail(oldAddr usermem.Addr, oldSize, newSize uint64) (usermem.AddrRange, error) {
	start, ok := oldAddr.AddLength(newSize)
	if !ok {
		return usermem.AddrRange{}, unix.EINVAL
	}
	return munmapRange(start, oldSize-newSize)
}

// mremapToLocked moves the mapping at oldAddr to [newAddr, newAddr+newSize),
// replacing whatever is mapped there (MREMAP_FIXED).
//
// Preconditions: mm.mappingMu is locked for writing; a vma contains
// oldAddr; oldSize and newSize are page-aligned; newSize != 0.
func (mm *MemoryManager) mremapToLocked(oldAddr usermem.Addr, oldSize uint64, newAddr usermem.Addr, newSize uint64) (usermem.Addr, error) {
	if !newAddr.IsPageAligned() {
		return 0, unix.EINVAL
	}
	newAR, ok := newAddr.ToRange(newSize)
	if !ok || newAR.End > linuxTaskSize {
		return 0, unix.EINVAL
	}
	oldEnd, ok := oldAddr.AddLength(oldSize)
	if !ok {
		oldEnd = ^usermem.Addr(0)
	}
	if oldEnd > newAR.Start && newAR.End > oldAddr {
		return 0, unix.EINVAL
	}
	// Linux checks the destination against mmap_min_addr after unmapping
	// it; checking first spares the destination for nothing.
	if newAR.Start < mm.layout.MinAddr {
		return 0, unix.EPERM
	}
	if newAR.End > mm.layout.MaxAddr {
		// The top of Linux's range belongs to the platform here.
		return 0, unix.ENOMEM
	}
	// The moved vma is a new one; the destination and the source may
	// each leave two vmas where there was one.
	if err := mm.checkMapCountLocked(1 + mm.splitsLocked(newAR) + mm.splitsLocked(usermem.AddrRange{Start: oldAddr, End: oldEnd})); err != nil {
		return 0, err
	}
	mm.unmapLocked(newAR)
	if oldSize > newSize {
		tail, err := mremapTail(oldAddr, oldSize, newSize)
		if err != nil {
			return 0, err
		}
		mm.unmapLocked(tail)
		oldSize = newSize
	}
	vi, oldAR, err := mm.resizeCheckLocked(oldAddr, oldSize, newSize)
	if err != nil {
		return 0, err
	}
	return mm.moveLocked(vi, oldAR, newAR), nil
}

// resizeCheckLocked checks that [oldAddr, oldAddr+oldSize) may become a
// mapping of newSize bytes, as Linux's vma_to_resize, and returns the index
// of its vma and the old range.
//
// Preconditions: mm.mappingMu is locked; oldAddr and the sizes are
// page-aligned.
func (mm *MemoryManager) resizeCheckLocked(oldAddr usermem.Addr, oldSize, newSize uint64) (int, usermem.AddrRange, error) {
	vi, ok := mm.vmas.find(oldAddr)
	if !ok {
		return 0, usermem.AddrRange{}, unix.EFAULT
	}
	v := &mm.vmas.segs[vi]
	if oldSize == 0 && v.val.private {
		// Only a shared mapping can be mapped a second time.
		return 0, usermem.AddrRange{}, unix.EINVAL
	}
	if oldSize > uint64(v.ar.End-oldAddr) {
		// The old range must lie in one vma.
		return 0, usermem.AddrRange{}, unix.EFAULT
	}
	if newSize > oldSize && mm.usageAS+(newSize-oldSize) > mm.limits.AS {
		return 0, usermem.AddrRange{}, unix.ENOMEM
	}
	return vi, usermem.AddrRange{Start: oldAddr, End: oldAddr + usermem.Addr(oldSize)}, nil
}

// moveLocked maps what the vma at index vi maps at oldAR at newAR instead,
// moving its pmas (and so its memory) along, and returns newAR.Start. If
// newAR is longer, the rest of it is mapped like the vma, with no memory
// yet. An empty oldAR leaves the old mapping in place.
//
// Preconditions: mm.mappingMu is locked for writing; oldAR lies in the vma
// at vi; newAR is free, page-aligned and at least as long as oldAR.
func (mm *MemoryManager) moveLocked(vi int, oldAR, newAR usermem.AddrRange) usermem.Addr {
	v := mm.vmas.segs[vi]
	nv := v.val.splitAt(uint64(oldAR.Start - v.ar.Start))

	if oldAR.Length() != 0 {
		mm.activeMu.Lock()
		mm.movePMAsLocked(oldAR, newAR.Start)
		mm.activeMu.Unlock()
		mm.removeVMAsLocked(oldAR)
	}
	mm.insertVMALocked(newAR, nv)
	return newAR.Start
}

// movePMAsLocked moves the pmas in oldAR to the same offsets from newStart.
//
// Preconditions: mm.activeMu is locked for writing; oldAR is page-aligned
// and non-empty; no pma overlaps the destination.
func (mm *MemoryManager) movePMAsLocked(oldAR usermem.AddrRange, newStart usermem.Addr) {
	i, j := mm.pmas.isolate(oldAR)
	if i == j {
		return
	}
	moved := slices.Clone(mm.pmas.segs[i:j])
	for k := range moved {
		moved[k].ar.Start = newStart + (moved[k].ar.Start - oldAR.Start)
		moved[k].ar.End = newStart + (moved[k].ar.End - oldAR.Start)
	}
	// The old addresses must stop reaching the memory; the new ones fault
	// it in.
	mm.unmapASLocked(usermem.AddrRange{Start: mm.pmas.segs[i].ar.Start, End: mm.pmas.segs[j-1].ar.End})
	mm.pmas.remove(i, j)
	k := mm.pmas.lowerBound(newStart)
	mm.pmas.segs = slices.Insert(mm.pmas.segs, k, moved...)
	mm.pmas.mergeAround(k, k+len(moved))
}
