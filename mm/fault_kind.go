package mm

import (
	"github.com/minisentry/minisentry/usermem"
)

// FaultKind says what serving a page fault involves, for tracers: it is
// what `minisentry run --trace` shows of each fault.
type FaultKind struct {
	// Work is what HandleUserFault will do: "zero-fill" (fresh anonymous
	// memory), "file" (read a private file page in), "shared" (map a page
	// of a shared anonymous object or of a shared file's page cache, read
	// in from the file the first time), "copy-on-write" (copy, or take over,
	// pages shared since a fork), "map" (the memory exists; only the
	// address space lacks it, as after a fork or when a new address space
	// starts empty), or "none" when the fault cannot be served (nothing
	// mapped, or an access the mapping forbids).
	Work string

	// VMA is the mapping containing the address, as /proc/self/maps names
	// it ("[heap]", a path, "" for anonymous memory), and VMAStart and
	// VMAEnd its range; all zero if nothing is mapped there.
	VMA              string
	VMAStart, VMAEnd usermem.Addr
}

// ClassifyFault says what HandleUserFault(addr, at) would do now. It looks
// without changing anything, so a tracer calls it just before the fault is
// handled.
//
// It mirrors HandleUserFault's rules, including its treatment of a fault on
// writable private memory as a write (see there); the two must change
// together.
func (mm *MemoryManager) ClassifyFault(addr usermem.Addr, at usermem.AccessType) FaultKind {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	vi, ok := mm.vmas.find(addr)
	if !ok {
		return FaultKind{Work: "none"}
	}
	seg := mm.vmas.segs[vi]
	v := &seg.val
	k := FaultKind{VMA: v.hint, VMAStart: seg.ar.Start, VMAEnd: seg.ar.End}
	if k.VMA == "" && v.mappable != nil {
		k.VMA = v.mappable.MappedName()
	}
	if !at.Any() {
		at = usermem.Read
	}
	if !v.effectivePerms.SupersetOf(at) {
		k.Work = "none"
		return k
	}
	if v.private && v.effectivePerms.Write {
		at.Write = true
	}

	mm.activeMu.RLock()
	defer mm.activeMu.RUnlock()
	pi, ok := mm.pmas.find(addr)
	switch {
	case ok && at.Write && mm.pmas.segs[pi].val.needCOW:
		k.Work = "copy-on-write"
	case ok:
		k.Work = "map"
	case v.shm != nil || v.fc != nil:
		k.Work = "shared"
	case v.mappable != nil:
		k.Work = "file"
	default:
		k.Work = "zero-fill"
	}
	return k
}
