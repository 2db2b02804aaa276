package mm

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// heapHint is the name of the heap in /proc/self/maps.
const heapHint = "[heap]"

// BrkSetup places an empty heap at addr, removing any heap that existed.
// The loader calls it with the page-rounded end of the executable's
// segments. The heap is not randomised.
func (mm *MemoryManager) BrkSetup(addr usermem.Addr) {
	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	if end, ok := mm.brk.End.RoundUp(); ok && end > mm.brk.Start {
		mm.unmapLocked(usermem.AddrRange{Start: mm.brk.Start.RoundDown(), End: end})
	}
	mm.brk = usermem.AddrRange{Start: addr, End: addr}
}

// Brk moves the program break to addr and returns the new break, as brk(2).
// On failure it returns the unchanged break and the reason: EINVAL for an
// address below the start of the heap (so Brk(ctx, 0) reads the break),
// ENOMEM for one beyond RLIMIT_DATA or where the heap cannot grow. The brk
// system call ignores the error and returns the break either way.
//
// RLIMIT_DATA limits the heap's size alone; minisentry does not count the
// executable's data segment or private mmaps against it, as Linux does since
// 4.7.
func (mm *MemoryManager) Brk(ctx context.Context, addr usermem.Addr) (usermem.Addr, error) {
	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	if addr < mm.brk.Start {
		return mm.brk.End, unix.EINVAL
	}
	if uint64(addr-mm.brk.Start) > mm.limits.Data {
		return mm.brk.End, unix.ENOMEM
	}
	oldEnd, ok := mm.brk.End.RoundUp()
	newEnd, ok2 := addr.RoundUp()
	if !ok || !ok2 || newEnd > mm.layout.MaxAddr {
		return mm.brk.End, unix.ENOMEM
	}
	switch {
	case newEnd < oldEnd:
		mm.unmapLocked(usermem.AddrRange{Start: newEnd, End: oldEnd})
	case newEnd > oldEnd:
		if _, err := mm.createVMALocked(MMapOpts{
			Addr:     oldEnd,
			Fixed:    true,
			Private:  true,
			Perms:    usermem.ReadWrite,
			MaxPerms: usermem.AnyAccess,
			Hint:     heapHint,
		}, uint64(newEnd-oldEnd)); err != nil {
			return mm.brk.End, unix.ENOMEM
		}
	}
	mm.brk.End = addr
	return addr, nil
}
