package mm

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Mappable is a file that can be mapped: the file layer implements it, and
// the memory manager reads it to fill private file mappings (the ELF
// loader's segments, mmap of a file with MAP_PRIVATE) and the page cache of
// shared ones (a SharedMappable, filecache.go).
//
// Implementations must be comparable (pointer types, typically): the memory
// manager merges neighbouring vmas of the same Mappable by comparing them
// with ==. Their methods are called with memory manager locks held and must
// not call back into the memory manager.
type Mappable interface {
	// ReadAt fills dst with the file's bytes at off. A read that reaches
	// the end of the file is short, with a nil error or io.EOF.
	ReadAt(dst []byte, off int64) (int, error)

	// Size returns the file's current size.
	Size() (int64, error)

	// MappedName is the name /proc/self/maps shows, usually the path.
	MappedName() string

	// DeviceID and InodeID identify the file in /proc/self/maps. DeviceID
	// uses the encoding of stat(2)'s st_dev (unix.Mkdev).
	DeviceID() uint64
	InodeID() uint64
}

// RefCountedMappable is a Mappable whose life the memory manager extends:
// every vma that maps it holds a reference, taken with IncRef and dropped
// with DecRef, so that the file stays readable after the application (or
// the loader) closes it, as Linux's vma->vm_file reference keeps it. A
// Mappable without these methods must stay usable for as long as the
// memory managers that map it live.
type RefCountedMappable interface {
	Mappable
	IncRef()
	DecRef()
}

// vma is a virtual memory area: one mapping as the application asked for
// it. vmas live in MemoryManager.vmas, protected by mappingMu; the range is
// the segment's.
type vma struct {
	// mappable is the file behind a file mapping, or nil for anonymous
	// memory. If it is a RefCountedMappable, the vma holds a reference on
	// it.
	//
	// Invariant: mappable != nil implies !growsDown.
	mappable Mappable

	// fc is the page cache behind a shared file mapping, or nil. The vma
	// holds one reference on it.
	//
	// Invariant: fc != nil iff mappable != nil and !private.
	fc *fileCache

	// shm is the object behind a shared anonymous mapping
	// (MAP_SHARED|MAP_ANONYMOUS), or nil. The vma holds one reference on
	// it.
	//
	// Invariant: shm != nil iff the vma is anonymous and !private.
	shm *sharedAnon

	// off is the offset in mappable or shm of the vma's first byte. It is
	// 0 for private anonymous memory.
	off uint64

	// realPerms are the permissions the application asked for, which
	// /proc/self/maps shows.
	realPerms usermem.AccessType

	// effectivePerms are the permissions the hardware really grants.
	//
	// Invariant: effectivePerms == realPerms.Effective().
	effectivePerms usermem.AccessType

	// maxPerms are the most permissions mprotect may grant and that IO
	// ignoring the application's permissions may use.
	//
	// Invariant: maxPerms == maxPerms.Effective(); maxPerms is a superset
	// of effectivePerms.
	maxPerms usermem.AccessType

	// private is true for MAP_PRIVATE: writes are never seen by other
	// mappings, and fork shares the pages copy-on-write.
	private bool

	// growsDown marks the stack (MAP_GROWSDOWN). minisentry maps the
	// whole stack up front and never grows it, but the flag keeps the
	// guard gap below it free and matters to mprotect(PROT_GROWSDOWN).
	growsDown bool

	// dontFork (MADV_DONTFORK) leaves the vma out of a forked child.
	dontFork bool

	// wipeOnFork (MADV_WIPEONFORK) gives a forked child zero-filled memory
	// in place of the vma's contents.
	//
	// Invariant: wipeOnFork implies private anonymous memory.
	wipeOnFork bool

	// hint names the vma in /proc/self/maps ("[heap]", "[stack]") in
	// place of the mappable's name.
	hint string
}

// splitAt implements segmentValue.splitAt.
func (v vma) splitAt(delta uint64) vma {
	if v.mappable != nil || v.shm != nil {
		v.off += delta
	}
	// Both halves reference the object now.
	v.incRef()
	return v
}

// canMergeWith implements segmentValue.canMergeWith. Two vmas merge if
// everything about them is equal and, when they map an object, they map
// contiguous parts of it.
func (v vma) canMergeWith(n uint64, next vma) bool {
	if v.mappable != next.mappable || v.shm != next.shm || v.fc != next.fc || v.realPerms != next.realPerms ||
		v.maxPerms != next.maxPerms || v.private != next.private || v.growsDown != next.growsDown ||
		v.dontFork != next.dontFork || v.wipeOnFork != next.wipeOnFork || v.hint != next.hint {
		return false
	}
	return (v.mappable == nil && v.shm == nil) || v.off+n == next.off
}

// merged implements segmentValue.merged.
func (v vma) merged() {
	v.release()
}

// incRef takes the references a new copy of v holds.
func (v vma) incRef() {
	if v.shm != nil {
		v.shm.incRef()
	}
	if v.fc != nil {
		v.fc.incRef()
	}
	if m, ok := v.mappable.(RefCountedMappable); ok {
		m.IncRef()
	}
}

// release drops what the vma holds, when it goes away.
func (v vma) release() {
	if v.shm != nil {
		v.shm.decRef()
	}
	if v.fc != nil {
		v.fc.decRef()
	}
	if m, ok := v.mappable.(RefCountedMappable); ok {
		m.DecRef()
	}
}

// isPrivateAnon reports whether v is private anonymous memory.
func (v *vma) isPrivateAnon() bool {
	return v.private && v.mappable == nil
}

// perms returns the permissions that govern an access to v: the
// application's, or the mapping's ceiling if the access ignores the
// application's.
func (v *vma) perms(ignorePermissions bool) usermem.AccessType {
	if ignorePermissions {
		return v.maxPerms
	}
	return v.effectivePerms
}

// offsetOf returns the object offset of addr, which is in the vma seg.
func offsetOf(seg segment[vma], addr usermem.Addr) uint64 {
	return seg.val.off + uint64(addr-seg.ar.Start)
}

// getVMAsLocked checks that vmas cover ar and permit at. It returns the end
// of the prefix of ar that passes and, if that is not all of ar, why the
// rest does not: EFAULT for a hole, EPERM for an access the vma refuses.
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) getVMAsLocked(ar usermem.AddrRange, at usermem.AccessType, ignorePermissions bool) (usermem.Addr, error) {
	addr := ar.Start
	for addr < ar.End {
		i, ok := mm.vmas.find(addr)
		if !ok {
			return addr, unix.EFAULT
		}
		seg := &mm.vmas.segs[i]
		if !seg.val.perms(ignorePermissions).SupersetOf(at) {
			return addr, unix.EPERM
		}
		addr = seg.ar.End
	}
	return ar.End, nil
}

// insertVMALocked adds v over ar, merging it with its neighbours.
//
// Preconditions: mm.mappingMu is locked for writing; ar is page-aligned,
// non-empty and overlaps no vma.
func (mm *MemoryManager) insertVMALocked(ar usermem.AddrRange, v vma) {
	i := mm.vmas.lowerBound(ar.Start)
	mm.vmas.insert(i, segment[vma]{ar: ar, val: v})
	mm.vmas.mergeAround(i, i+1)
	mm.usageAS += uint64(ar.Length())
}

// removeVMAsLocked removes the vmas in ar, splitting those that straddle its
// ends.
//
// Preconditions: mm.mappingMu is locked for writing; no pma overlaps ar.
func (mm *MemoryManager) removeVMAsLocked(ar usermem.AddrRange) {
	i, j := mm.vmas.isolate(ar)
	for k := i; k < j; k++ {
		seg := &mm.vmas.segs[k]
		mm.usageAS -= uint64(seg.ar.Length())
		seg.val.release()
	}
	mm.vmas.remove(i, j)
}

// mappedBytesLocked returns how many bytes of ar vmas cover.
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) mappedBytesLocked(ar usermem.AddrRange) uint64 {
	var n uint64
	i, j := mm.vmas.span(ar)
	for k := i; k < j; k++ {
		n += uint64(mm.vmas.segs[k].ar.Intersect(ar).Length())
	}
	return n
}
