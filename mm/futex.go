package mm

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// FutexKey says how to identify the futex word at addr, as Linux's
// get_futex_key does (package kernel/futex explains why futexes need keys).
//
// If shared is true (a futex without FUTEX_PRIVATE_FLAG) and addr lies in a
// shared mapping, of anonymous memory or of a file, it returns the memory
// file offset of the word and isShared true: every memory manager that maps
// the same object (or file), at whatever address, gets the same offset.
// Otherwise (a private futex, or a shared one in private memory, which
// Linux keys like a private one) it returns isShared false, and the caller
// identifies the word by this memory manager and addr.
//
// The word's page is allocated (or read in from the file) if it was never
// touched, as the page fault in Linux's get_user_pages would. The offset
// comes from the shared object itself, which gives every pma mapping the
// page the same memory, without creating a pma: the futex operation that
// follows reaches the word through IO, which creates the pma if it needs
// one. The offset stays valid while the object lives (for a file, while the
// page stays cached); if the memory is then reused by another, a waiter
// still keyed by the old offset can only see a spurious wake-up, which
// futex users must tolerate anyway.
//
// Errors: EINVAL if addr is not 4-byte aligned; EFAULT if the word is past
// the top of the user address range or, for a shared futex, if no readable
// vma maps it or it lies beyond the end of its shared object (after mremap
// grew the mapping).
//
// Preconditions: the caller holds no memory manager lock.
func (mm *MemoryManager) FutexKey(ctx context.Context, addr usermem.Addr, shared bool) (offset uint64, isShared bool, err error) {
	if addr%4 != 0 {
		return 0, false, unix.EINVAL
	}
	if _, ok := mm.checkIORange(addr, 4); !ok {
		return 0, false, unix.EFAULT
	}
	if !shared {
		// Linux checks nothing more for a private futex: the operation's
		// own access faults if the word is not mapped.
		return 0, false, nil
	}

	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	i, ok := mm.vmas.find(addr)
	if !ok {
		return 0, false, unix.EFAULT
	}
	seg := mm.vmas.segs[i]
	if !seg.val.effectivePerms.Read {
		return 0, false, unix.EFAULT
	}
	if seg.val.shm == nil && seg.val.fc == nil {
		return 0, false, nil
	}
	// vmas are page-aligned and so are their object offsets, so the
	// word's page is at the same offset in the object as in the vma.
	off := offsetOf(seg, addr)
	pageOff := off &^ (usermem.PageSize - 1)
	var pieces []shmPiece
	if seg.val.shm != nil {
		pieces, err = seg.val.shm.translate(pageOff, pageOff+usermem.PageSize)
	} else {
		// A file's cache gives a reference with the page, which the
		// key does not keep: like a shared object's, the offset stays
		// valid while the page stays cached.
		pieces, err = seg.val.fc.translate(pageOff, pageOff+usermem.PageSize, false)
		for _, p := range pieces {
			mm.mf.DecRef(p.fr)
		}
	}
	if err != nil || len(pieces) == 0 {
		return 0, false, unix.EFAULT
	}
	return pieces[0].fr.Start + (off - pageOff), true, nil
}
