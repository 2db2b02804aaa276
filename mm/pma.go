package mm

import (
	"errors"
	"io"
	"math"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// pma is a platform mapping area: the memory behind a range of touched
// pages. pmas live in MemoryManager.pmas, protected by activeMu; the range
// is the segment's.
type pma struct {
	// off is the MemoryFile offset of the pma's first page. The pma holds
	// one reference on each page of [off, off+length).
	off uint64

	// effectivePerms are the permissions the pages may be mapped with and
	// that the application's own accesses are checked against: the vma's
	// effective permissions, without Write if needCOW.
	effectivePerms usermem.AccessType

	// maxPerms are the vma's maximum permissions, without Write if
	// needCOW: what IO that ignores the application's permissions may do
	// without first breaking copy-on-write.
	maxPerms usermem.AccessType

	// needCOW is set when the pages may be shared with another memory
	// manager (after fork): they must be copied, or taken over if no one
	// else still holds them, before they are written.
	//
	// Invariant: needCOW implies private.
	needCOW bool

	// private is set when the memory belongs to this address space alone
	// (private anonymous memory, private copies of file pages), as opposed
	// to the pages of a shared object.
	private bool
}

// splitAt implements segmentValue.splitAt.
func (p pma) splitAt(delta uint64) pma {
	p.off += delta
	return p
}

// canMergeWith implements segmentValue.canMergeWith. A pma only describes a
// translation, so two pmas merge whenever the memory is contiguous and they
// would be treated alike, even across vma boundaries.
func (p pma) canMergeWith(n uint64, next pma) bool {
	return p.off+n == next.off && p.effectivePerms == next.effectivePerms &&
		p.maxPerms == next.maxPerms && p.needCOW == next.needCOW && p.private == next.private
}

// merged implements segmentValue.merged.
func (pma) merged() {}

// fileRange returns the memory behind the pma seg.
func fileRange(seg segment[pma]) platform.FileRange {
	return platform.FileRange{Start: seg.val.off, End: seg.val.off + uint64(seg.ar.Length())}
}

// newPMA returns the pma for fresh memory at off in the vma v.
func newPMA(off uint64, v *vma, private bool) pma {
	return pma{off: off, effectivePerms: v.effectivePerms, maxPerms: v.maxPerms, private: private}
}

// allocUnit is the granularity of pma creation: a fault or an IO populates
// the whole 2 MiB-aligned window of the address space around the pages it
// needs (clipped to the vma and to the pmas that already exist). One fault
// then serves 512 pages, which matters on a platform where a fault costs
// tens of microseconds; the host backs untouched pages of the window with
// nothing, so the memory cost is small.
const allocUnit = usermem.HugePageSize

// cowUnit is the granularity of copy-on-write breaks: a write to shared
// pages copies the 64 KiB-aligned block around the pages it needs, not the
// whole allocation window. Copying is the cost of a break (a 2 MiB copy
// took about as long as the rest of a fork+exec+wait together), and
// neighbouring pages are likely, not certain, to be written next.
const cowUnit = 16 * usermem.PageSize

// getPMAsLocked makes pmas cover ar and permit at: it allocates memory for
// the holes and, if at.Write, breaks copy-on-write. It returns the end of
// the prefix of ar that is covered and, if that is not all of ar, the
// error that stopped it (ErrBusError beyond the end of a file, ENOMEM when
// the MemoryFile is full).
//
// Preconditions: mm.mappingMu is locked; mm.activeMu is locked for writing;
// ar is page-aligned; vmas cover ar and permit at (getVMAsLocked).
func (mm *MemoryManager) getPMAsLocked(ar usermem.AddrRange, at usermem.AccessType) (usermem.Addr, error) {
	addr := ar.Start
	for addr < ar.End {
		vi, _ := mm.vmas.find(addr)
		v := mm.vmas.segs[vi]
		vend := min(v.ar.End, ar.End)
		var eof usermem.Addr
		if v.val.mappable != nil && v.val.fc == nil {
			// A shared mapping's cache checks the size itself,
			// under its own lock (fileCache.translate).
			eof = mm.eofLocked(v)
		}
		// Walk the vma's part of ar one allocation window at a time.
		// w+allocUnit cannot wrap: user addresses end far below 2^64.
		for w := addr.HugeRoundDown(); w < vend; w += allocUnit {
			win := usermem.AddrRange{Start: w, End: w + allocUnit}.Intersect(v.ar)
			req := win.Intersect(usermem.AddrRange{Start: addr, End: vend})
			if end, err := mm.getPMAsInWindowLocked(v, win, req, at, eof); err != nil {
				return end, err
			}
		}
		addr = vend
	}
	return ar.End, nil
}

// getPMAsInWindowLocked does getPMAsLocked's work on win, a window of one
// vma in which req is the part that is required. Failures outside req are
// ignored: the window is only a prefetch.
//
// Preconditions: as for getPMAsLocked; win and req lie in v; eof is the
// address of the end of v's file, rounded up to a page, if v is a file
// mapping.
func (mm *MemoryManager) getPMAsInWindowLocked(v segment[vma], win, req usermem.AddrRange, at usermem.AccessType, eof usermem.Addr) (usermem.Addr, error) {
	// fail reports a failure over r, if it matters.
	fail := func(r usermem.AddrRange, err error) (usermem.Addr, error) {
		if r.Overlaps(req) {
			return max(r.Start, req.Start), err
		}
		return 0, nil
	}
	addr := win.Start
	for addr < win.End {
		pi, ok := mm.pmas.find(addr)
		if ok {
			p := mm.pmas.segs[pi]
			end := min(p.ar.End, win.End)
			if at.Write && p.val.needCOW {
				cr := usermem.AddrRange{Start: addr, End: end}.Intersect(cowBlock(req))
				if v.val.effectivePerms.Execute {
					// A write to executable memory is the loader
					// zeroing a bss tail or a debugger planting a
					// breakpoint: copying the neighbours would
					// not help.
					cr = cr.Intersect(req)
				}
				if cr.Length() != 0 {
					if err := mm.breakCOWLocked(cr, &v.val); err != nil {
						if e, err := fail(cr, err); err != nil {
							return e, err
						}
					}
				}
			}
			addr = end
			continue
		}
		gap := usermem.AddrRange{Start: addr, End: win.End}
		if pi < len(mm.pmas.segs) {
			gap.End = min(gap.End, mm.pmas.segs[pi].ar.Start)
		}
		filled, err := mm.fillLocked(v, gap, eof)
		if r := gap.Intersect(req); errors.Is(err, unix.ENOMEM) && filled == gap.Start && r.Length() != 0 && r != gap {
			// Short of memory (a --memory-limit): the rest of the
			// window was only a prefetch; take the pages required.
			gap = r
			filled, err = mm.fillLocked(v, gap, eof)
		}
		if err != nil {
			if e, err := fail(usermem.AddrRange{Start: filled, End: gap.End}, err); err != nil {
				return e, err
			}
		}
		addr = gap.End
	}
	return req.End, nil
}

// cowBlock returns req widened to cowUnit boundaries.
func cowBlock(req usermem.AddrRange) usermem.AddrRange {
	start := req.Start &^ (cowUnit - 1)
	end := (req.End + cowUnit - 1) &^ (cowUnit - 1)
	if end < req.End {
		end = req.End
	}
	return usermem.AddrRange{Start: start, End: end}
}

// fillLocked creates pmas over gap, a hole in the pmas inside the vma v. It
// returns how far it got and, if not to gap.End, why.
//
// Preconditions: mm.mappingMu is locked; mm.activeMu is locked for writing;
// gap is page-aligned, non-empty, inside v and free of pmas.
func (mm *MemoryManager) fillLocked(v segment[vma], gap usermem.AddrRange, eof usermem.Addr) (usermem.Addr, error) {
	switch {
	case v.val.shm != nil:
		off := offsetOf(v, gap.Start)
		pieces, err := v.val.shm.translate(off, off+uint64(gap.Length()))
		addr := gap.Start
		for _, piece := range pieces {
			mm.mf.IncRef(piece.fr)
			n := usermem.Addr(piece.fr.Length())
			mm.insertPMALocked(usermem.AddrRange{Start: addr, End: addr + n}, newPMA(piece.fr.Start, &v.val, false))
			addr += n
		}
		return addr, err

	case v.val.fc != nil:
		// The cache marks the pages dirty if this pma may write them.
		off := offsetOf(v, gap.Start)
		pieces, err := v.val.fc.translate(off, off+uint64(gap.Length()), v.val.maxPerms.Write)
		addr := gap.Start
		for _, piece := range pieces {
			// translate took the pma's reference.
			n := usermem.Addr(piece.fr.Length())
			mm.insertPMALocked(usermem.AddrRange{Start: addr, End: addr + n}, newPMA(piece.fr.Start, &v.val, false))
			addr += n
		}
		return addr, err

	case v.val.mappable != nil:
		return mm.fillFromFileLocked(v, gap, eof)

	default:
		fr, err := mm.mf.Allocate(uint64(gap.Length()))
		if err != nil {
			return gap.Start, err
		}
		mm.insertPMALocked(gap, newPMA(fr.Start, &v.val, true))
		return gap.End, nil
	}
}

// eofLocked returns the address in the file mapping v of the end of its
// file, rounded up to a page: pages from there up are beyond the end of
// the file. It returns v's start if the file's size is unknown.
//
// Preconditions: mm.mappingMu is locked; v.val.mappable != nil.
func (mm *MemoryManager) eofLocked(v segment[vma]) usermem.Addr {
	size, err := v.val.mappable.Size()
	if err != nil || size < 0 {
		return v.ar.Start
	}
	end, ok := usermem.PageRoundUp(uint64(size))
	if !ok || end <= v.val.off {
		return v.ar.Start
	}
	if end-v.val.off >= uint64(v.ar.Length()) {
		return v.ar.End
	}
	return v.ar.Start + usermem.Addr(end-v.val.off)
}

// fillFromFileLocked gives the pages of gap, in the private file mapping v,
// private memory holding a copy of the file's bytes: zeros past the end of
// the file in its last page, and nothing at all (a bus error) for pages
// wholly beyond it. If the file is also mapped shared, what the shared
// mappings wrote is written back first, so that the copy has it, as a
// private page filled from Linux's page cache would.
//
// Preconditions: as for fillLocked; v.val.mappable != nil.
func (mm *MemoryManager) fillFromFileLocked(v segment[vma], gap usermem.AddrRange, eof usermem.Addr) (usermem.Addr, error) {
	if gap.Start >= eof {
		return gap.Start, ErrBusError
	}
	ar := usermem.AddrRange{Start: gap.Start, End: min(gap.End, eof)}
	off := offsetOf(v, ar.Start)
	if off > math.MaxInt64 {
		return gap.Start, ErrBusError
	}
	if fileCaches.live.Load() != 0 {
		if err := SyncFile(fileIDOf(v.val.mappable), int64(off), int64(off)+int64(ar.Length())); err != nil {
			return gap.Start, ErrBusError
		}
	}
	fr, err := mm.mf.Allocate(uint64(ar.Length()))
	if err != nil {
		return gap.Start, err
	}
	dst := mm.mf.Window(fr)
	n, err := v.val.mappable.ReadAt(dst, int64(off))
	if err != nil && err != io.EOF || n < 0 || n > len(dst) {
		// Linux also raises SIGBUS when a page cannot be read in.
		mm.mf.DecRef(fr)
		return gap.Start, ErrBusError
	}
	// Fresh memory reads as zero, but do not trust the reader to have
	// left the bytes past a short read alone.
	clear(dst[n:])
	mm.insertPMALocked(ar, newPMA(fr.Start, &v.val, true))
	if ar.End < gap.End {
		return ar.End, ErrBusError
	}
	return gap.End, nil
}

// breakCOWLocked gives cr, a range of one copy-on-write pma in the vma v,
// memory of its own: the pages themselves if no one else holds them any
// more, a copy otherwise.
//
// Preconditions: mm.activeMu is locked for writing; cr is page-aligned,
// non-empty and inside one pma, which is needCOW.
func (mm *MemoryManager) breakCOWLocked(cr usermem.AddrRange, v *vma) error {
	i, _ := mm.pmas.isolate(cr)
	seg := &mm.pmas.segs[i]
	fr := fileRange(*seg)
	if mm.mf.IsExclusive(fr) {
		// The other holders have gone: take the pages over. The address
		// space maps them without Write, which the next fault fixes.
		seg.val = newPMA(fr.Start, v, true)
	} else {
		nfr, err := mm.mf.Allocate(fr.Length())
		if err != nil {
			mm.pmas.mergeAround(i, i+1)
			return err
		}
		copy(mm.mf.Window(nfr), mm.mf.Window(fr))
		// The address space must stop mapping the old pages before this
		// memory manager's reference on them goes: they may be freed and
		// reused by someone else.
		mm.unmapASLocked(cr)
		mm.mf.DecRef(fr)
		seg.val = newPMA(nfr.Start, v, true)
	}
	mm.pmas.mergeAround(i, i+1)
	return nil
}

// insertPMALocked adds p over ar, merging it with its neighbours.
//
// Preconditions: mm.activeMu is locked for writing; ar is page-aligned,
// non-empty and overlaps no pma; p's memory reference is already taken.
func (mm *MemoryManager) insertPMALocked(ar usermem.AddrRange, p pma) {
	i := mm.pmas.lowerBound(ar.Start)
	mm.pmas.insert(i, segment[pma]{ar: ar, val: p})
	mm.pmas.mergeAround(i, i+1)
}

// removePMAsLocked drops the pmas in ar: it unmaps them from the address
// space and releases their memory.
//
// Preconditions: mm.activeMu is locked for writing; ar is page-aligned.
func (mm *MemoryManager) removePMAsLocked(ar usermem.AddrRange) {
	i, j := mm.pmas.isolate(ar)
	if i == j {
		// Nothing is mapped, so the address space has nothing either.
		return
	}
	mm.unmapASLocked(usermem.AddrRange{Start: mm.pmas.segs[i].ar.Start, End: mm.pmas.segs[j-1].ar.End})
	for k := i; k < j; k++ {
		mm.mf.DecRef(fileRange(mm.pmas.segs[k]))
	}
	mm.pmas.remove(i, j)
}

// blocksLocked returns the windows of the internal mapping behind ars, in
// order, merging windows that are contiguous in the MemoryFile. If check is
// set, it returns false unless pmas cover all of ars and permit at;
// otherwise the caller has just made sure they do.
//
// Preconditions: mm.activeMu is locked.
func (mm *MemoryManager) blocksLocked(ars []usermem.AddrRange, at usermem.AccessType, ignorePermissions, check bool) (usermem.BlockSeq, bool) {
	var frs []platform.FileRange
	for _, ar := range ars {
		addr := ar.Start
		for i := mm.pmas.lowerBound(addr); addr < ar.End; i++ {
			if i == len(mm.pmas.segs) || mm.pmas.segs[i].ar.Start > addr {
				return nil, false
			}
			seg := &mm.pmas.segs[i]
			if check {
				perms := seg.val.effectivePerms
				if ignorePermissions {
					perms = seg.val.maxPerms
				}
				if !perms.SupersetOf(at) {
					return nil, false
				}
			}
			end := min(seg.ar.End, ar.End)
			start := seg.val.off + uint64(addr-seg.ar.Start)
			fr := platform.FileRange{Start: start, End: start + uint64(end-addr)}
			if n := len(frs); n > 0 && frs[n-1].End == fr.Start {
				frs[n-1].End = fr.End
			} else {
				frs = append(frs, fr)
			}
			addr = end
		}
	}
	bs := make(usermem.BlockSeq, len(frs))
	for i, fr := range frs {
		bs[i] = mm.mf.Window(fr)
	}
	return bs, true
}
