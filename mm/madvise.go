package mm

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// madvSoftOffline is MADV_SOFT_OFFLINE, which x/sys/unix does not define.
const madvSoftOffline = 101

// MAdvise gives advice about [addr, addr+length), as madvise(2).
//
// What it does:
//   - MADV_DONTNEED (and MADV_DONTNEED_LOCKED, MADV_FREE on private
//     anonymous memory) drops the memory: private anonymous memory reads
//     back as zeros, a private file mapping as the file's bytes again, and
//     a shared mapping as it was (the shared object keeps its pages).
//   - MADV_REMOVE zeroes the pages of a shared anonymous mapping, in every
//     mapping of it.
//   - MADV_DONTFORK/MADV_DOFORK and MADV_WIPEONFORK/MADV_KEEPONFORK change
//     what Fork gives the child.
//   - MADV_POPULATE_READ/WRITE fault the range in.
//   - Every other advice Linux knows is a hint minisentry ignores.
//
// Errors are Linux's: EINVAL for an unknown advice, an unaligned addr or a
// length that overflows; ENOMEM if part of the range is not mapped (the
// mapped parts are still advised); EPERM for MADV_HWPOISON and
// MADV_SOFT_OFFLINE, which need CAP_SYS_ADMIN; EINVAL or EACCES for advice
// that does not apply to a mapping.
func (mm *MemoryManager) MAdvise(ctx context.Context, addr usermem.Addr, length uint64, advice int) error {
	if !knownAdvice(advice) {
		return unix.EINVAL
	}
	if !addr.IsPageAligned() {
		return unix.EINVAL
	}
	rlen, ok := usermem.PageRoundUp(length)
	if !ok {
		return unix.EINVAL
	}
	ar, ok := addr.ToRange(rlen)
	if !ok {
		return unix.EINVAL
	}
	if ar.Length() == 0 {
		return nil
	}
	if advice == unix.MADV_HWPOISON || advice == madvSoftOffline {
		return unix.EPERM
	}

	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	switch advice {
	case unix.MADV_DONTNEED, unix.MADV_DONTNEED_LOCKED:
		return mm.walkVMAsLocked(ar, mm.decommitLocked)
	case unix.MADV_FREE:
		return mm.walkVMAsLocked(ar, func(v *vma, r usermem.AddrRange) error {
			if !v.isPrivateAnon() {
				return unix.EINVAL
			}
			return mm.decommitLocked(v, r)
		})
	case unix.MADV_REMOVE:
		return mm.walkVMAsLocked(ar, func(v *vma, r usermem.AddrRange) error {
			switch {
			case v.isPrivateAnon():
				return unix.EINVAL
			case v.shm == nil || !v.maxPerms.Write:
				return unix.EACCES
			}
			i, _ := mm.vmas.find(r.Start)
			v.shm.decommit(offsetOf(mm.vmas.segs[i], r.Start), offsetOf(mm.vmas.segs[i], r.End))
			return nil
		})
	case unix.MADV_DONTFORK, unix.MADV_DOFORK:
		return mm.walkVMAsLocked(ar, func(v *vma, r usermem.AddrRange) error {
			return mm.setVMAsLocked(r, func(v *vma) { v.dontFork = advice == unix.MADV_DONTFORK })
		})
	case unix.MADV_WIPEONFORK:
		return mm.walkVMAsLocked(ar, func(v *vma, r usermem.AddrRange) error {
			if !v.isPrivateAnon() {
				return unix.EINVAL
			}
			return mm.setVMAsLocked(r, func(v *vma) { v.wipeOnFork = true })
		})
	case unix.MADV_KEEPONFORK:
		return mm.walkVMAsLocked(ar, func(v *vma, r usermem.AddrRange) error {
			return mm.setVMAsLocked(r, func(v *vma) { v.wipeOnFork = false })
		})
	case unix.MADV_POPULATE_READ, unix.MADV_POPULATE_WRITE:
		at := usermem.Read
		if advice == unix.MADV_POPULATE_WRITE {
			at = usermem.Write
		}
		return mm.walkVMAsLocked(ar, func(v *vma, r usermem.AddrRange) error {
			return mm.populateLocked(v, r, at)
		})
	default:
		// A hint: only the range is checked.
		return mm.walkVMAsLocked(ar, func(*vma, usermem.AddrRange) error { return nil })
	}
}

// knownAdvice reports whether Linux knows advice.
func knownAdvice(advice int) bool {
	switch advice {
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_DONTNEED, unix.MADV_FREE, unix.MADV_REMOVE, unix.MADV_DONTFORK,
		unix.MADV_DOFORK, unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE, unix.MADV_HUGEPAGE,
		unix.MADV_NOHUGEPAGE, unix.MADV_DONTDUMP, unix.MADV_DODUMP, unix.MADV_WIPEONFORK,
		unix.MADV_KEEPONFORK, unix.MADV_COLD, unix.MADV_PAGEOUT, unix.MADV_POPULATE_READ,
		unix.MADV_POPULATE_WRITE, unix.MADV_DONTNEED_LOCKED, unix.MADV_COLLAPSE,
		unix.MADV_HWPOISON, madvSoftOffline:
		return true
	}
	return false
}

// walkVMAsLocked calls f on each part of ar that one vma covers, in order,
// as Linux's madvise walk does: holes are skipped but make the result
// ENOMEM, and an error from f stops the walk. f may split and merge vmas.
//
// Preconditions: mm.mappingMu is locked for writing.
func (mm *MemoryManager) walkVMAsLocked(ar usermem.AddrRange, f func(v *vma, r usermem.AddrRange) error) error {
	var holeErr error
	addr := ar.Start
	for addr < ar.End {
		i := mm.vmas.lowerBound(addr)
		if i == len(mm.vmas.segs) {
			return unix.ENOMEM
		}
		seg := mm.vmas.segs[i]
		if seg.ar.Start > addr {
			holeErr = unix.ENOMEM
			addr = seg.ar.Start
			if addr >= ar.End {
				break
			}
		}
		r := seg.ar.Intersect(usermem.AddrRange{Start: addr, End: ar.End})
		if err := f(&seg.val, r); err != nil {
			return err
		}
		addr = r.End
	}
	return holeErr
}

// decommitLocked drops the pmas of r, part of the vma v: the next access
// finds fresh memory (zeros, or the file's bytes) or the shared object's
// pages again.
//
// Preconditions: mm.mappingMu is locked for writing; r is page-aligned.
func (mm *MemoryManager) decommitLocked(v *vma, r usermem.AddrRange) error {
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	mm.removePMAsLocked(r)
	return nil
}

// setVMAsLocked applies set to the vmas in r, splitting them at r's ends,
// and merges what can merge afterwards. ENOMEM if the splits would make
// too many vmas (map_count.go).
//
// Preconditions: mm.mappingMu is locked for writing; r is page-aligned.
func (mm *MemoryManager) setVMAsLocked(r usermem.AddrRange, set func(*vma)) error {
	if err := mm.checkMapCountLocked(mm.splitsLocked(r)); err != nil {
		return err
	}
	i, j := mm.vmas.isolate(r)
	for k := i; k < j; k++ {
		set(&mm.vmas.segs[k].val)
	}
	mm.vmas.mergeAround(i, j)
	return nil
}

// populateLocked faults in r, part of the vma v, for an access of type at,
// and maps it into the address space if there is one
// (MADV_POPULATE_READ/WRITE). A vma that does not permit at is EINVAL; a
// page beyond the end of a file, EFAULT.
//
// Preconditions: mm.mappingMu is locked; r is page-aligned.
func (mm *MemoryManager) populateLocked(v *vma, r usermem.AddrRange, at usermem.AccessType) error {
	if !v.effectivePerms.SupersetOf(at) {
		return unix.EINVAL
	}
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	end, err := mm.getPMAsLocked(r, at)
	if merr := mm.mapASLocked(usermem.AddrRange{Start: r.Start, End: end}); err == nil {
		err = merr
	}
	if errors.Is(err, ErrBusError) {
		return unix.EFAULT
	}
	return err
}
