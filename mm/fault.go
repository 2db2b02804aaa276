package mm

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// HandleUserFault resolves a page fault the application took at addr with
// an access of type at, and maps the memory into the address space so that
// the application can resume.
//
// It returns:
//   - nil: the page is mapped; resume the application.
//   - unix.EFAULT: no vma covers addr; the kernel raises SIGSEGV with
//     SEGV_MAPERR.
//   - unix.EPERM: the vma does not permit at; SIGSEGV with SEGV_ACCERR.
//   - ErrBusError: the page lies beyond the end of a mapped file; SIGBUS.
//   - anything else (unix.ENOMEM when the MemoryFile is full, or an error
//     of the platform's address space): the fault cannot be served; Linux
//     would invoke the OOM killer, and the kernel should kill the task.
//
// Besides the faulting page, it maps the rest of the 2 MiB-aligned window
// around it that the vma covers and pmas back, so that the neighbouring
// pages do not fault. It maps only that window, not whole pmas: pmas merge
// as they grow, and mapping an ever larger pma on every fault would make
// touching a large region quadratic.
func (mm *MemoryManager) HandleUserFault(ctx context.Context, addr usermem.Addr, at usermem.AccessType) error {
	if addr >= mm.layout.MaxAddr {
		return unix.EFAULT
	}
	if !at.Any() {
		at = usermem.Read
	}
	page := usermem.AddrRange{Start: addr.RoundDown(), End: addr.RoundDown() + usermem.PageSize}

	mm.mappingMu.RLock()
	if _, err := mm.getVMAsLocked(page, at, false); err != nil {
		mm.mappingMu.RUnlock()
		return err
	}
	vi, _ := mm.vmas.find(addr)
	win := usermem.AddrRange{Start: addr.HugeRoundDown(), End: addr.HugeRoundDown() + allocUnit}.Intersect(mm.vmas.segs[vi].ar)
	// The platform cannot tell a write fault from a read: it reports a
	// read, and a write only when the same instruction faults again. On
	// writable private memory a fault is most often a write (a stack, a
	// heap, data after fork), and a second fault costs far more than the
	// copy, so such faults break copy-on-write at once.
	populate := at
	if v := &mm.vmas.segs[vi].val; v.private && v.effectivePerms.Write {
		populate.Write = true
	}
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	_, err := mm.getPMAsLocked(page, populate)
	mm.mappingMu.RUnlock()
	if err != nil {
		return err
	}
	return mm.mapASLocked(win)
}

// mapASLocked maps the pmas in ar into the address space, if there is one,
// each with its effective permissions. Neighbouring pmas that could share
// one host mapping go in one MapFile call.
//
// The host bounds the mappings of each stub process (vm.max_map_count),
// and pmas whose memory lies in scattered parts of the memory file need
// one host mapping each, so an address space can run out of them with
// fewer vmas than the bound of map_count.go. The host mappings are only a
// cache of the pmas: when the host refuses one with ENOMEM, every mapping
// of the address space is dropped, as a TLB is flushed, and the mapping is
// tried again; faults bring back what is still used.
//
// Preconditions: mm.activeMu is locked for writing; ar is page-aligned.
func (mm *MemoryManager) mapASLocked(ar usermem.AddrRange) error {
	if mm.as == nil {
		return nil
	}
	var (
		run   usermem.AddrRange
		fr    platform.FileRange
		perms usermem.AccessType
	)
	flush := func() error {
		if run.Length() == 0 || !perms.Any() {
			return nil
		}
		err := mm.as.MapFile(run.Start, fr, perms)
		if errors.Is(err, unix.ENOMEM) {
			mm.as.Unmap(mm.layout.MinAddr, uint64(mm.layout.MaxAddr-mm.layout.MinAddr))
			err = mm.as.MapFile(run.Start, fr, perms)
		}
		return err
	}
	i, j := mm.pmas.span(ar)
	for k := i; k < j; k++ {
		seg := &mm.pmas.segs[k]
		sar := seg.ar.Intersect(ar)
		start := seg.val.off + uint64(sar.Start-seg.ar.Start)
		sfr := platform.FileRange{Start: start, End: start + uint64(sar.Length())}
		if run.Length() != 0 && run.End == sar.Start && fr.End == sfr.Start && perms == seg.val.effectivePerms {
			run.End, fr.End = sar.End, sfr.End
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		run, fr, perms = sar, sfr, seg.val.effectivePerms
	}
	return flush()
}

// populate creates the pmas of ar, a new mapping, and maps them into the
// address space, to spare the application the faults. It does nothing if
// there is no address space yet (the application has not run, and the
// memory would only be allocated early). Failures are ignored: the faults
// will report them.
func (mm *MemoryManager) populate(ar usermem.AddrRange) {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	if mm.as == nil {
		return
	}
	// The mapping may have changed since it was made; populate what is
	// still there. An access type of NoAccess passes any vma and breaks
	// no copy-on-write.
	end, _ := mm.getVMAsLocked(ar, usermem.NoAccess, false)
	ar.End = end
	if ar.Length() == 0 {
		return
	}
	end, _ = mm.getPMAsLocked(ar, usermem.NoAccess)
	ar.End = end
	_ = mm.mapASLocked(ar)
}
