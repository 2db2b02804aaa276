package mm

import (
	"context"
	"math"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// MMapOpts describes a mapping to create. The mmap system call fills it
// from its arguments; the loader and MapStack use it directly.
type MMapOpts struct {
	// Length is the mapping's length in bytes; it is rounded up to pages.
	Length uint64

	// Offset is the offset in Mappable of the mapping's first byte. It
	// must be page-aligned. It is ignored for anonymous mappings.
	Offset uint64

	// Addr is where to map: a hint, or the address itself if Fixed.
	Addr usermem.Addr

	// Fixed requires the mapping at Addr, which must be page-aligned.
	Fixed bool

	// Unmap lets a Fixed mapping replace what is mapped at Addr
	// (MAP_FIXED). Fixed without Unmap is MAP_FIXED_NOREPLACE: EEXIST if
	// anything is mapped there.
	Unmap bool

	// Map32Bit places the mapping in the second gigabyte (MAP_32BIT).
	Map32Bit bool

	// Private makes the mapping copy-on-write (MAP_PRIVATE) rather than
	// shared (MAP_SHARED).
	Private bool

	// GrowsDown marks a stack (MAP_GROWSDOWN); only for anonymous
	// mappings.
	GrowsDown bool

	// Precommit asks for the memory at once (MAP_POPULATE).
	Precommit bool

	// Perms are the permissions the application asked for.
	Perms usermem.AccessType

	// MaxPerms are the most permissions the mapping may ever have (a
	// shared mapping of a file opened read-only cannot be made writable).
	// The zero value means no limit, as for anonymous and private
	// mappings.
	MaxPerms usermem.AccessType

	// Mappable is the file to map, or nil for anonymous memory.
	Mappable Mappable

	// Hint names the mapping in /proc/self/maps ("[heap]", "[stack]").
	Hint string
}

// MMap creates a mapping, as mmap(2), and returns its address.
//
// A shared file mapping maps the file's page cache (filecache.go), which
// every shared mapping of the file shares; its Mappable must be a
// SharedMappable (ENODEV otherwise, the error Linux gives for a file that
// cannot be mapped), and MaxPerms must leave Write out if the file was not
// opened for writing.
//
// Small private anonymous mappings (up to 2 MiB) and Precommit mappings are
// populated at once if the application is running, which saves it the
// faults; PROT_NONE mappings (reservations) are left alone.
func (mm *MemoryManager) MMap(ctx context.Context, opts MMapOpts) (usermem.Addr, error) {
	if opts.Length == 0 {
		return 0, unix.EINVAL
	}
	length, ok := usermem.PageRoundUp(opts.Length)
	if !ok {
		return 0, unix.ENOMEM
	}
	if opts.Mappable != nil {
		if opts.Offset%usermem.PageSize != 0 {
			return 0, unix.EINVAL
		}
		// Linux refuses a mapping that reaches past the largest file
		// offset.
		if end := opts.Offset + length; end < opts.Offset || end > math.MaxInt64 {
			return 0, unix.EOVERFLOW
		}
		if _, ok := opts.Mappable.(SharedMappable); !ok && !opts.Private {
			return 0, unix.ENODEV
		}
	} else {
		opts.Offset = 0
	}
	if opts.Fixed && !opts.Addr.IsPageAligned() {
		return 0, unix.EINVAL
	}
	if opts.Unmap && !opts.Fixed {
		return 0, unix.EINVAL
	}
	if opts.GrowsDown && opts.Mappable != nil {
		return 0, unix.EINVAL
	}
	if opts.MaxPerms == usermem.NoAccess {
		opts.MaxPerms = usermem.AnyAccess
	}
	opts.MaxPerms = opts.MaxPerms.Effective()
	if !opts.MaxPerms.SupersetOf(opts.Perms.Effective()) {
		return 0, unix.EACCES
	}

	mm.mappingMu.Lock()
	ar, err := mm.createVMALocked(opts, length)
	mm.mappingMu.Unlock()
	if err != nil {
		return 0, err
	}
	if opts.Perms.Any() && (opts.Precommit || (opts.Mappable == nil && opts.Private && length <= usermem.HugePageSize)) {
		mm.populate(ar)
	}
	return ar.Start, nil
}

// createVMALocked finds room for a mapping of length bytes described by
// opts, checks RLIMIT_AS, and creates the vma.
//
// Preconditions: mm.mappingMu is locked for writing; opts passed MMap's
// checks; length is a non-zero multiple of the page size.
func (mm *MemoryManager) createVMALocked(opts MMapOpts, length uint64) (usermem.AddrRange, error) {
	addr, err := mm.findAvailableLocked(length, findOpts{addr: opts.Addr, fixed: opts.Fixed, unmap: opts.Unmap, map32Bit: opts.Map32Bit})
	if err != nil {
		return usermem.AddrRange{}, err
	}
	ar := usermem.AddrRange{Start: addr, End: addr + usermem.Addr(length)}
	usage := mm.usageAS + length
	if opts.Unmap {
		usage -= mm.mappedBytesLocked(ar)
	}
	if usage > mm.limits.AS {
		return usermem.AddrRange{}, unix.ENOMEM
	}
	more := 1
	if opts.Unmap {
		more += mm.splitsLocked(ar)
	}
	if err := mm.checkMapCountLocked(more); err != nil {
		return usermem.AddrRange{}, err
	}
	if opts.Unmap {
		mm.unmapLocked(ar)
	}
	v := vma{
		mappable:       opts.Mappable,
		off:            opts.Offset,
		realPerms:      opts.Perms,
		effectivePerms: opts.Perms.Effective(),
		maxPerms:       opts.MaxPerms,
		private:        opts.Private,
		growsDown:      opts.GrowsDown,
		hint:           opts.Hint,
	}
	switch {
	case opts.Mappable == nil && !opts.Private:
		v.shm = newSharedAnon(mm.mf, length)
	case !opts.Private:
		v.fc = getFileCache(mm.mf, opts.Mappable.(SharedMappable), opts.MaxPerms.Write)
		mm.noteFileCacheLocked(v.fc)
	}
	if m, ok := opts.Mappable.(RefCountedMappable); ok {
		m.IncRef()
	}
	mm.insertVMALocked(ar, v)
	return ar, nil
}

// MUnmap removes the mappings in [addr, addr+length), as munmap(2).
// Unmapping a range with nothing mapped is not an error.
func (mm *MemoryManager) MUnmap(ctx context.Context, addr usermem.Addr, length uint64) error {
	ar, err := munmapRange(addr, length)
	if err != nil {
		return err
	}
	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	// Unmapping the middle of a vma leaves two.
	if i, ok := mm.vmas.find(ar.Start); ok && mm.vmas.segs[i].ar.Start < ar.Start && ar.End < mm.vmas.segs[i].ar.End {
		if err := mm.checkMapCountLocked(1); err != nil {
			return err
		}
	}
	mm.unmapLocked(ar)
	return nil
}

// munmapRange validates munmap's arguments as Linux does and returns the
// page-aligned range to unmap.
func munmapRange(addr usermem.Addr, length uint64) (usermem.AddrRange, error) {
	if !addr.IsPageAligned() || length == 0 {
		return usermem.AddrRange{}, unix.EINVAL
	}
	length, ok := usermem.PageRoundUp(length)
	if !ok {
		return usermem.AddrRange{}, unix.EINVAL
	}
	ar, ok := addr.ToRange(length)
	if !ok || ar.End > linuxTaskSize {
		return usermem.AddrRange{}, unix.EINVAL
	}
	return ar, nil
}

// unmapLocked removes everything mapped in ar: the address space's
// mappings, the pmas and their memory, and the vmas. Parts of ar outside
// the layout hold nothing and are ignored.
//
// Preconditions: mm.mappingMu is locked for writing; ar is page-aligned.
func (mm *MemoryManager) unmapLocked(ar usermem.AddrRange) {
	ar = ar.Intersect(usermem.AddrRange{Start: 0, End: mm.layout.MaxAddr})
	if ar.Length() == 0 {
		return
	}
	mm.activeMu.Lock()
	mm.removePMAsLocked(ar)
	mm.activeMu.Unlock()
	mm.removeVMAsLocked(ar)
}

// MProtect changes the permissions of [addr, addr+length), as mprotect(2).
// growsDown (PROT_GROWSDOWN) extends the range down to the start of the
// grows-down vma that contains addr.
//
// As on Linux, the range must be mapped throughout (ENOMEM otherwise), and
// the vmas before a failure keep their new permissions.
func (mm *MemoryManager) MProtect(addr usermem.Addr, length uint64, perms usermem.AccessType, growsDown bool) error {
	if !addr.IsPageAligned() {
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	length, ok := usermem.PageRoundUp(length)
	if !ok {
		return unix.ENOMEM
	}
	ar, ok := addr.ToRange(length)
	if !ok {
		return unix.ENOMEM
	}
	effective := perms.Effective()

	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	vi := mm.vmas.lowerBound(ar.Start)
	if vi == len(mm.vmas.segs) {
		return unix.ENOMEM
	}
	if first := mm.vmas.segs[vi]; growsDown {
		if first.ar.Start >= ar.End {
			return unix.ENOMEM
		}
		if !first.val.growsDown {
			return unix.EINVAL
		}
		ar.Start = first.ar.Start
	} else if first.ar.Start > ar.Start {
		return unix.ENOMEM
	}

	if err := mm.checkMapCountLocked(mm.protectSplitsLocked(ar, perms)); err != nil {
		return err
	}
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	var (
		err    error
		shrunk usermem.AddrRange // the span whose permissions shrank
		addrOK = ar.Start        // the end of what was changed
	)
	for addrOK < ar.End {
		i, ok := mm.vmas.find(addrOK)
		if !ok {
			err = unix.ENOMEM
			break
		}
		if !mm.vmas.segs[i].val.maxPerms.SupersetOf(effective) {
			err = unix.EACCES
			break
		}
		r := mm.vmas.segs[i].ar.Intersect(usermem.AddrRange{Start: addrOK, End: ar.End})
		i, _ = mm.vmas.isolate(r)
		v := &mm.vmas.segs[i].val
		if !effective.SupersetOf(v.effectivePerms) {
			if shrunk.Length() == 0 {
				shrunk.Start = r.Start
			}
			shrunk.End = r.End
		}
		v.realPerms, v.effectivePerms = perms, effective
		pi, pj := mm.pmas.isolate(r)
		for k := pi; k < pj; k++ {
			p := &mm.pmas.segs[k].val
			p.effectivePerms = effective
			if p.needCOW {
				p.effectivePerms.Write = false
			}
		}
		addrOK = r.End
	}
	// Accesses that lost permission must fault again: drop them from the
	// address space, in one call for the whole span (only where pmas, and
	// so host mappings, exist).
	if pi, pj := mm.pmas.span(shrunk); pi != pj {
		mm.unmapASLocked(shrunk.Intersect(usermem.AddrRange{Start: mm.pmas.segs[pi].ar.Start, End: mm.pmas.segs[pj-1].ar.End}))
	}
	changed := usermem.AddrRange{Start: ar.Start, End: addrOK}
	mm.vmas.mergeAround(mm.vmas.span(changed))
	mm.pmas.mergeAround(mm.pmas.span(changed))
	return err
}

// MapStack creates the stack, as exec does: a private read-write grows-down
// mapping named "[stack]", at the top of the address space, whose size is
// RLIMIT_STACK (8 MiB if unlimited, at most 128 MiB). minisentry does not
// grow stacks on demand; the whole size is mapped up front (and costs
// nothing until touched).
func (mm *MemoryManager) MapStack(ctx context.Context) (usermem.AddrRange, error) {
	const (
		defaultStack = 8 << 20
		maxStack     = 128 << 20
	)
	size := mm.Limits().Stack
	switch {
	case size == RLimInfinity:
		size = defaultStack
	case size > maxStack:
		size = maxStack
	}
	size = usermem.PageRoundDown(size)
	if size == 0 || size > uint64(mm.layout.MaxAddr-mm.layout.MinAddr) {
		return usermem.AddrRange{}, unix.ENOMEM
	}
	addr, err := mm.MMap(ctx, MMapOpts{
		Length:    size,
		Addr:      mm.layout.MaxAddr - usermem.Addr(size),
		Fixed:     true,
		Private:   true,
		GrowsDown: true,
		Perms:     usermem.ReadWrite,
		MaxPerms:  usermem.AnyAccess,
		Hint:      "[stack]",
	})
	if err != nil {
		return usermem.AddrRange{}, unix.ENOMEM
	}
	return usermem.AddrRange{Start: addr, End: addr + usermem.Addr(size)}, nil
}
