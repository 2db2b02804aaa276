package mm

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// MemoryManager implements usermem.IO by copying through the MemoryFile's
// internal mapping: the sentry's own mapping of the pages behind the pmas.
// It never goes through the application's address space (no ptrace
// PEEK/POKE, no process_vm_readv), so it works before the application runs
// and costs a memcpy.
var _ usermem.IO = (*MemoryManager)(nil)

// checkIORange is Linux's access_ok: it returns [addr, addr+length) if that
// is a range the application could address at all. It rejects an overflow or
// a range past the top of the user address space, even of length zero, so
// that read(fd, kernel_address, 0) fails with EFAULT as on Linux.
func (mm *MemoryManager) checkIORange(addr usermem.Addr, length int64) (usermem.AddrRange, bool) {
	if length < 0 {
		return usermem.AddrRange{}, false
	}
	ar, ok := addr.ToRange(uint64(length))
	return ar, ok && ar.End <= mm.layout.MaxAddr
}

// translateIOError turns the memory manager's reasons for not reaching
// memory (EFAULT, EPERM, ErrBusError, ENOMEM) into what an access from the
// sentry reports: EFAULT, as Linux's copy_to_user does.
func translateIOError(err error) error {
	if err == nil {
		return nil
	}
	return unix.EFAULT
}

// withInternalMappings runs f on the windows of the internal mapping behind
// ars, an access of type at, and returns what f returns. If only a prefix of
// ars can be reached, f gets the windows of that prefix, and the error for
// the rest is returned when f did all it was given. f is called at most
// once, and not at all if nothing can be reached.
//
// f runs with activeMu held: it must not block for long or use the memory
// manager.
func (mm *MemoryManager) withInternalMappings(ars []usermem.AddrRange, at usermem.AccessType, ignorePermissions bool, f func(usermem.BlockSeq) (uint64, error)) (uint64, error) {
	// Fast path: the pmas exist and permit the access. Concurrent IO
	// shares activeMu.
	mm.activeMu.RLock()
	if bs, ok := mm.blocksLocked(ars, at, ignorePermissions, true); ok {
		n, err := f(bs)
		mm.activeMu.RUnlock()
		return n, err
	}
	mm.activeMu.RUnlock()

	// Slow path: check the vmas, create the pmas, and copy while still
	// holding activeMu for writing, so that nothing can take the memory
	// away in between. mappingMu is only needed to create pmas.
	mm.mappingMu.RLock()
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	ars, mmErr := mm.prepareLocked(ars, at, ignorePermissions)
	mm.mappingMu.RUnlock()
	var total uint64
	for _, ar := range ars {
		total += uint64(ar.Length())
	}
	if total == 0 && mmErr != nil {
		return 0, translateIOError(mmErr)
	}
	bs, _ := mm.blocksLocked(ars, at, ignorePermissions, false)
	n, err := f(bs)
	if err == nil && n == total {
		err = translateIOError(mmErr)
	}
	return n, err
}

// prepareLocked makes pmas cover ars for an access of type at, in order,
// and returns the prefix of ars that it could cover and the reason it
// stopped, if it did.
//
// Preconditions: mm.mappingMu is locked; mm.activeMu is locked for writing;
// every range of ars passed checkIORange.
func (mm *MemoryManager) prepareLocked(ars []usermem.AddrRange, at usermem.AccessType, ignorePermissions bool) ([]usermem.AddrRange, error) {
	for k, ar := range ars {
		if ar.Length() == 0 {
			continue
		}
		// ar.End <= MaxAddr, which is page-aligned, so this cannot wrap.
		par := usermem.AddrRange{Start: ar.Start.RoundDown(), End: ar.End.MustRoundUp()}
		end, err := mm.getVMAsLocked(par, at, ignorePermissions)
		if end > par.Start {
			if pend, perr := mm.getPMAsLocked(usermem.AddrRange{Start: par.Start, End: end}, at); perr != nil {
				end, err = pend, perr
			}
		}
		if err != nil {
			cut := usermem.AddrRange{Start: ar.Start, End: max(ar.Start, min(ar.End, end))}
			return append(ars[:k:k], cut), err
		}
	}
	return ars, nil
}

// CopyOut implements usermem.IO.CopyOut.
func (mm *MemoryManager) CopyOut(ctx context.Context, addr usermem.Addr, src []byte, opts usermem.IOOpts) (int, error) {
	ar, ok := mm.checkIORange(addr, int64(len(src)))
	if !ok {
		return 0, unix.EFAULT
	}
	if len(src) == 0 {
		return 0, nil
	}
	n, err := mm.withInternalMappings([]usermem.AddrRange{ar}, usermem.Write, opts.IgnorePermissions, func(bs usermem.BlockSeq) (uint64, error) {
		return usermem.CopySeq(bs, usermem.BlockSeq{src}), nil
	})
	return int(n), err
}

// CopyIn implements usermem.IO.CopyIn.
func (mm *MemoryManager) CopyIn(ctx context.Context, addr usermem.Addr, dst []byte, opts usermem.IOOpts) (int, error) {
	ar, ok := mm.checkIORange(addr, int64(len(dst)))
	if !ok {
		return 0, unix.EFAULT
	}
	if len(dst) == 0 {
		return 0, nil
	}
	n, err := mm.withInternalMappings([]usermem.AddrRange{ar}, usermem.Read, opts.IgnorePermissions, func(bs usermem.BlockSeq) (uint64, error) {
		return usermem.CopySeq(usermem.BlockSeq{dst}, bs), nil
	})
	return int(n), err
}

// ZeroOut implements usermem.IO.ZeroOut. A negative length is EINVAL.
func (mm *MemoryManager) ZeroOut(ctx context.Context, addr usermem.Addr, toZero int64, opts usermem.IOOpts) (int64, error) {
	if toZero < 0 {
		return 0, unix.EINVAL
	}
	ar, ok := mm.checkIORange(addr, toZero)
	if !ok {
		return 0, unix.EFAULT
	}
	if toZero == 0 {
		return 0, nil
	}
	n, err := mm.withInternalMappings([]usermem.AddrRange{ar}, usermem.Write, opts.IgnorePermissions, func(bs usermem.BlockSeq) (uint64, error) {
		return usermem.ZeroSeq(bs), nil
	})
	return int64(n), err
}

// CopyOutFrom implements usermem.IO.CopyOutFrom. src.ReadToBlocks gets the
// windows onto application memory themselves, so a file read lands in the
// application's pages with no copy in between.
//
// src runs with activeMu held, which stops this address space's faults and
// mapping changes: it must not block for long (a pipe read must not wait
// for a writer, who may need this very address space) nor use the memory
// manager.
func (mm *MemoryManager) CopyOutFrom(ctx context.Context, ars usermem.AddrRangeSeq, src usermem.BlockReader, opts usermem.IOOpts) (int64, error) {
	ranges, ok := mm.checkIORanges(ars)
	if !ok {
		return 0, unix.EFAULT
	}
	if ars.NumBytes() == 0 {
		return 0, nil
	}
	n, err := mm.withInternalMappings(ranges, usermem.Write, opts.IgnorePermissions, src.ReadToBlocks)
	return int64(n), err
}

// CopyInTo implements usermem.IO.CopyInTo. dst.WriteFromBlocks gets the
// windows onto application memory themselves. The same rules as for
// CopyOutFrom's src apply to dst.
func (mm *MemoryManager) CopyInTo(ctx context.Context, ars usermem.AddrRangeSeq, dst usermem.BlockWriter, opts usermem.IOOpts) (int64, error) {
	ranges, ok := mm.checkIORanges(ars)
	if !ok {
		return 0, unix.EFAULT
	}
	if ars.NumBytes() == 0 {
		return 0, nil
	}
	n, err := mm.withInternalMappings(ranges, usermem.Read, opts.IgnorePermissions, dst.WriteFromBlocks)
	return int64(n), err
}

// checkIORanges returns the ranges of ars, as far as its byte count goes,
// if every one of them passes checkIORange. Like Linux's import of an iovec
// array, one bad range fails the whole access before any byte moves.
func (mm *MemoryManager) checkIORanges(ars usermem.AddrRangeSeq) ([]usermem.AddrRange, bool) {
	ranges := make([]usermem.AddrRange, 0, ars.NumRanges())
	for ; !ars.IsEmpty(); ars = ars.Tail() {
		ar := ars.Head()
		if _, ok := mm.checkIORange(ar.Start, int64(ar.Length())); !ok {
			return nil, false
		}
		ranges = append(ranges, ar)
	}
	return ranges, true
}

// errAtomicity reports an atomic access whose 4 bytes are not in one
// window; it cannot happen to an aligned address and becomes EFAULT.
var errAtomicity = errors.New("mm: atomic access spans two windows")

// SwapUint32 implements usermem.IO.SwapUint32. An unaligned addr is EINVAL,
// as futex(2) reports it.
func (mm *MemoryManager) SwapUint32(ctx context.Context, addr usermem.Addr, new uint32, opts usermem.IOOpts) (uint32, error) {
	var old uint32
	err := mm.atomicIO(addr, usermem.ReadWrite, opts, func(p *uint32) {
		old = swapUint32(p, new)
	})
	return old, err
}

// CompareAndSwapUint32 implements usermem.IO.CompareAndSwapUint32. An
// unaligned addr is EINVAL.
func (mm *MemoryManager) CompareAndSwapUint32(ctx context.Context, addr usermem.Addr, old, new uint32, opts usermem.IOOpts) (uint32, error) {
	var prev uint32
	err := mm.atomicIO(addr, usermem.ReadWrite, opts, func(p *uint32) {
		prev = compareAndSwapUint32(p, old, new)
	})
	return prev, err
}

// LoadUint32 implements usermem.IO.LoadUint32. An unaligned addr is EINVAL.
func (mm *MemoryManager) LoadUint32(ctx context.Context, addr usermem.Addr, opts usermem.IOOpts) (uint32, error) {
	var val uint32
	err := mm.atomicIO(addr, usermem.Read, opts, func(p *uint32) {
		val = loadUint32(p)
	})
	return val, err
}

// atomicIO runs op on the word at addr, in place in the internal mapping.
// An aligned word never crosses a page, so it is always in one window.
func (mm *MemoryManager) atomicIO(addr usermem.Addr, at usermem.AccessType, opts usermem.IOOpts, op func(*uint32)) error {
	if addr%4 != 0 {
		return unix.EINVAL
	}
	ar, ok := mm.checkIORange(addr, 4)
	if !ok {
		return unix.EFAULT
	}
	_, err := mm.withInternalMappings([]usermem.AddrRange{ar}, at, opts.IgnorePermissions, func(bs usermem.BlockSeq) (uint64, error) {
		if len(bs) != 1 || len(bs[0]) != 4 {
			return 0, errAtomicity
		}
		op(wordAt(bs[0]))
		return 4, nil
	})
	if err == errAtomicity {
		err = unix.EFAULT
	}
	return err
}
