package mm

import (
	"context"

	"github.com/minisentry/minisentry/usermem"
)

// Fork returns a copy of the address space for a child process, as fork(2)
// makes it.
//
// Nothing is copied yet: the child's private memory is the parent's pages,
// shared copy-on-write (each memory manager holds a reference on them and
// marks its pmas needCOW), and whichever side writes first gets a copy, or
// takes the pages over if the other side has let go of them. Shared
// mappings share their object, so both sides see each other's writes.
// vmas marked MADV_DONTFORK are left out; MADV_WIPEONFORK ones come out
// empty, reading as zeros.
//
// The child has one user and no address space until AddressSpace is
// called. The parent's writable private pages are unmapped from its
// address space, so that its next write faults and breaks copy-on-write.
func (mm *MemoryManager) Fork(ctx context.Context) (*MemoryManager, error) {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	child := newMemoryManager(mm.p, mm.layout)
	child.limits = mm.limits
	child.brk = mm.brk

	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	// The parent's ranges to unmap, coalesced so that a large address
	// space costs few calls.
	var unmap []usermem.AddrRange
	for _, vseg := range mm.vmas.segs {
		v := vseg.val
		if v.dontFork {
			continue
		}
		v.incRef()
		if v.fc != nil {
			// The child's pmas of the file must be found if the
			// file shrinks.
			child.noteFileCacheLocked(v.fc)
		}
		child.vmas.segs = append(child.vmas.segs, vseg)
		child.usageAS += uint64(vseg.ar.Length())
		if v.wipeOnFork {
			continue
		}
		// Only private memory is inherited as pmas; the child finds
		// shared objects' pages again on its first fault.
		i, j := mm.pmas.isolate(vseg.ar)
		for k := i; k < j; k++ {
			seg := &mm.pmas.segs[k]
			if !seg.val.private {
				continue
			}
			if seg.val.effectivePerms.Write {
				if n := len(unmap); n > 0 && unmap[n-1].End == seg.ar.Start {
					unmap[n-1].End = seg.ar.End
				} else {
					unmap = append(unmap, seg.ar)
				}
			}
			seg.val.needCOW = true
			seg.val.effectivePerms.Write = false
			seg.val.maxPerms.Write = false
			mm.mf.IncRef(fileRange(*seg))
			child.pmas.segs = append(child.pmas.segs, *seg)
		}
	}
	// Skipped vmas and isolation may have left mergeable neighbours.
	child.vmas.mergeAll()
	child.pmas.mergeAll()
	mm.pmas.mergeAll()
	for _, ar := range unmap {
		mm.unmapASLocked(ar)
	}
	return child, nil
}
