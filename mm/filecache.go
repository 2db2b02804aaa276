package mm

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// FileID identifies a host file: its device and inode numbers, as stat(2)
// reports them (st_dev, st_ino). Every descriptor of a file, however and
// by whomever it was opened, has the same FileID; it is the key of the
// file's page cache.
type FileID struct {
	Dev uint64
	Ino uint64
}

// fileIDOf returns m's identity.
func fileIDOf(m Mappable) FileID {
	return FileID{Dev: m.DeviceID(), Ino: m.InodeID()}
}

// SharedMappable is a Mappable that may also be mapped MAP_SHARED: the
// memory manager then keeps its pages in a page cache in the MemoryFile
// (fileCache) and stores what the application writes to them back with
// WriteAt. The file layer's HostFile implements it; the loader's files do
// not, and a MAP_SHARED mapping of them is ENODEV.
type SharedMappable interface {
	Mappable

	// WriteAt writes src to the file at off, at that offset whatever the
	// file's position or O_APPEND flag, and reports a short write only
	// with an error. It is the write-back of cached pages, so it must not
	// go through WriteFile (the cache's lock is held).
	WriteAt(src []byte, off int64) (int, error)
}

// fileSyncer is implemented by files that msync(MS_SYNC) can flush to
// their device, as fdatasync(2) does: HostFile.
type fileSyncer interface {
	Sync(dataOnly bool) error
}

// fileAddrEnd is the end of every file offset range: file offsets are
// below 2^63 (off_t is signed), so they fit in a usermem.Addr, which the
// cache's rangeSet keys on.
const fileAddrEnd = usermem.Addr(1) << 63

// fileCache is the page cache of one host file, in one MemoryFile: the
// memory behind every shared mapping (MAP_SHARED) of the file, in every
// memory manager, as Linux's address_space of an inode. It plays for files
// the role sharedAnon plays for anonymous memory, with three differences:
//
//   - Pages are read in from the file on first touch (Mappable.ReadAt), in
//     runs as long as the fault window, and a page past the end of the file
//     (the page that holds the last byte is the last one) is a bus error,
//     however large the mapping.
//
//   - Pages are written back to the file (SharedMappable.WriteAt) on
//     msync, when the last mapping goes (munmap, exit), and before the file
//     is read through a descriptor (SyncFile). Which pages need it is the
//     problem: the sentry cannot read the host's dirty bits. A cached page
//     is marked dirty when a pma that may write it is created, that is one
//     in a vma whose maximum permissions include Write (every write, the
//     application's through the host mapping or the sentry's through IO,
//     goes through such a pma, and mprotect cannot raise a pma above its
//     vma's maximum). A write-back leaves a page dirty as long as some pma
//     still maps it (MemoryFile.IsExclusive: the cache's own reference is
//     the only one left): the application may write it again at any time,
//     unseen. Clean pages are never written; a page mapped writable is
//     written on every write-back while it stays mapped, whether or not it
//     changed. Tracking write faults instead (mapping pages read-only until
//     the first write, and read-only again after each write-back in every
//     address space) would write less but fault twice on every first write
//     (the platform reports a write only when the same instruction faults
//     again), which costs more under ptrace than writing a page back.
//
//   - The file also changes through descriptors, so the file layer keeps
//     the cache coherent with it (WriteFile, ChangeFile, SyncFile): a read
//     of the file first writes back the dirty pages it covers, a write
//     copies its bytes into the cached pages it covers as well as into the
//     file, and an operation that changes the file in other ways (ftruncate,
//     fallocate, copy_file_range) re-reads what it changed into the cached
//     pages and, if the file shrank, takes the pages past its new end away
//     from every address space, which then faults and gets SIGBUS.
//
// The cache lives as long as some vma maps the file: the last one going
// writes back the dirty pages and frees them all. The registry (fileCaches)
// finds a file's cache by FileID, for a new mapping and for the file layer.
//
// Lock order (see mm.go): fileCaches.mu, then fileCache.mu; mappersMu is a
// leaf. Invalidation (the file shrank) takes the activeMu of memory
// managers, so it runs with neither held.
type fileCache struct {
	// mf holds the pages. Immutable.
	mf *platform.MemoryFile

	// id is the file's identity, the registry key. Immutable.
	id FileID

	// refs is the number of vmas, in all memory managers, that map the
	// cache. Accessed atomically; it drops to zero only with fileCaches.mu
	// held (decRef).
	refs atomic.Int64

	// mu protects the fields below.
	mu sync.Mutex

	// file is what the cache reads the file through and writes it back
	// through: the file of the first mapping, replaced by the file of the
	// first writable one (opened O_RDWR) if it was not writable. The cache
	// holds a reference on it if it is a RefCountedMappable. nil once the
	// cache is dead. Protected by mu.
	file SharedMappable

	// writable is set if file was opened for writing. Until it is, no
	// mapping could write the pages, so none is dirty. Protected by mu.
	writable bool

	// pages maps file offsets (as addresses) to the memory that caches
	// them. Each page holds one MemoryFile reference for the cache; pmas
	// that map it hold references of their own. Protected by mu.
	//
	// Invariants: page-aligned; below fileAddrEnd.
	pages rangeSet[cachedPages]

	// dead is set when the last mapping has gone and the pages are freed.
	// Protected by mu.
	dead bool

	// mappersMu protects mappers.
	mappersMu sync.Mutex

	// mappers are the memory managers that have mapped the cache and may
	// hold pmas of its pages: the ones to invalidate when the file shrinks.
	// A memory manager joins when it maps the file (or is forked from one
	// that did) and leaves when it dies; one that unmapped the file before
	// that merely has nothing to invalidate. Protected by mappersMu.
	mappers map[*MemoryManager]struct{}
}

// cachedPages is the value of a run of cached pages: where the memory is,
// and whether it may differ from the file.
type cachedPages struct {
	// off is the MemoryFile offset of the run's first page.
	off uint64

	// dirty is set if the pages may have been written since they were
	// last written back (see fileCache).
	dirty bool
}

// splitAt implements segmentValue.splitAt.
func (p cachedPages) splitAt(delta uint64) cachedPages {
	p.off += delta
	return p
}

// canMergeWith implements segmentValue.canMergeWith.
func (p cachedPages) canMergeWith(n uint64, next cachedPages) bool {
	return p.off+n == next.off && p.dirty == next.dirty
}

// merged implements segmentValue.merged.
func (cachedPages) merged() {}

// memoryOf returns the memory behind r, which lies in the run seg.
func memoryOf(seg segment[cachedPages], r usermem.AddrRange) platform.FileRange {
	start := seg.val.off + uint64(r.Start-seg.ar.Start)
	return platform.FileRange{Start: start, End: start + uint64(r.Length())}
}

// fileCaches is the registry of page caches, by file.
var fileCaches struct {
	// mu protects byID. It is held for reading across every write to a
	// regular host file (WriteFile), so that no cache is created while a
	// write it would miss is under way, and for writing to create a cache
	// or to retire one (decRef), whose write-back must be over before a new
	// cache of the same file reads the file.
	mu sync.RWMutex

	// live is the number of caches in byID, for the file layer's fast
	// path: with none, reads need no look-up at all.
	live atomic.Int64

	// byID maps a file to its caches: one per MemoryFile (a process
	// normally has one; unit tests create many). Protected by mu.
	byID map[FileID][]*fileCache
}

// getFileCache returns the cache of file in mf, with a new reference for
// the caller, creating it if the file has none. writable says whether file
// was opened for writing.
//
// Preconditions: no fileCache lock is held.
func getFileCache(mf *platform.MemoryFile, file SharedMappable, writable bool) *fileCache {
	id := fileIDOf(file)
	fileCaches.mu.Lock()
	defer fileCaches.mu.Unlock()
	for _, c := range fileCaches.byID[id] {
		if c.mf == mf {
			c.refs.Add(1)
			c.mu.Lock()
			c.setFileLocked(file, writable)
			c.mu.Unlock()
			return c
		}
	}
	c := &fileCache{mf: mf, id: id, mappers: make(map[*MemoryManager]struct{})}
	c.refs.Store(1)
	c.setFileLocked(file, writable)
	if fileCaches.byID == nil {
		fileCaches.byID = make(map[FileID][]*fileCache)
	}
	fileCaches.byID[id] = append(fileCaches.byID[id], c)
	fileCaches.live.Add(1)
	return c
}

// setFileLocked makes file the one the cache goes through, if the cache has
// none yet, or if file can write and the current one cannot.
//
// Preconditions: c.mu is locked, or c is not yet published.
func (c *fileCache) setFileLocked(file SharedMappable, writable bool) {
	if c.file != nil && (c.writable || !writable) {
		return
	}
	if rc, ok := file.(RefCountedMappable); ok {
		rc.IncRef()
	}
	if rc, ok := c.file.(RefCountedMappable); ok {
		rc.DecRef()
	}
	c.file, c.writable = file, writable
}

func (c *fileCache) incRef() {
	c.refs.Add(1)
}

// decRef drops a vma's reference. The last one writes the dirty pages back,
// takes the cache out of the registry and frees its pages.
//
// Preconditions: no fileCaches or fileCache lock is held.
func (c *fileCache) decRef() {
	for {
		n := c.refs.Load()
		if n <= 1 {
			break
		}
		if c.refs.CompareAndSwap(n, n-1) {
			return
		}
	}
	fileCaches.mu.Lock()
	if c.refs.Add(-1) != 0 {
		fileCaches.mu.Unlock()
		return
	}
	c.mu.Lock()
	// A write-back error has no one left to report to (Linux would keep
	// it for the file's next fsync); the data is lost as on a failing
	// disk.
	_ = c.writebackLocked(usermem.AddrRange{Start: 0, End: fileAddrEnd})
	pages := c.pages.segs
	file := c.file
	c.pages.segs, c.file, c.dead = nil, nil, true
	c.mu.Unlock()
	cs := fileCaches.byID[c.id]
	for i, o := range cs {
		if o == c {
			cs = append(cs[:i:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(fileCaches.byID, c.id)
	} else {
		fileCaches.byID[c.id] = cs
	}
	fileCaches.live.Add(-1)
	fileCaches.mu.Unlock()

	for _, seg := range pages {
		c.mf.DecRef(memoryOf(seg, seg.ar))
	}
	if rc, ok := file.(RefCountedMappable); ok {
		rc.DecRef()
	}
}

// eofLocked returns the file offset of the end of the last page that holds
// a byte of the file: pages from there up are beyond the end of the file.
// ok is false if the size cannot be known.
//
// Preconditions: c.mu is locked; c is not dead.
func (c *fileCache) eofLocked() (eof uint64, ok bool) {
	size, err := c.file.Size()
	if err != nil || size < 0 {
		return 0, false
	}
	eof, ok = usermem.PageRoundUp(uint64(size))
	return min(eof, uint64(fileAddrEnd)), ok
}

// translate returns the memory behind the file offsets [off, end), in
// order, with a MemoryFile reference on each piece for the caller, reading
// the pages that are not cached yet from the file. If dirty is set, the
// pages are marked dirty: the caller maps them where they may be written.
//
// It stops early, with ErrBusError, at the end of the file (past the page
// holding its last byte) or at pages that cannot be read in, as Linux
// raises SIGBUS; and with the MemoryFile's error if memory runs out.
//
// Preconditions: off and end are page-aligned; off < end <= fileAddrEnd;
// the caller holds a reference on c.
func (c *fileCache) translate(off, end uint64, dirty bool) ([]shmPiece, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	eof, ok := c.eofLocked()
	if !ok || off >= eof {
		return nil, ErrBusError
	}
	var err error
	if end > eof {
		end, err = eof, ErrBusError
	}
	r := usermem.AddrRange{Start: usermem.Addr(off), End: usermem.Addr(end)}
	for addr := r.Start; addr < r.End; {
		i, found := c.pages.find(addr)
		if found {
			addr = c.pages.segs[i].ar.End
			continue
		}
		hole := usermem.AddrRange{Start: addr, End: r.End}
		if i < len(c.pages.segs) {
			hole.End = min(hole.End, c.pages.segs[i].ar.Start)
		}
		if rerr := c.readInLocked(hole); rerr != nil {
			r.End, err = hole.Start, rerr
			break
		}
		addr = hole.End
	}
	if r.Length() == 0 {
		return nil, err
	}
	i, j := c.pages.isolate(r)
	pieces := make([]shmPiece, 0, j-i)
	for k := i; k < j; k++ {
		seg := &c.pages.segs[k]
		if dirty {
			seg.val.dirty = true
		}
		fr := memoryOf(*seg, seg.ar)
		c.mf.IncRef(fr)
		pieces = append(pieces, shmPiece{off: uint64(seg.ar.Start), fr: fr})
	}
	c.pages.mergeAround(i, j)
	return pieces, err
}

// readInLocked caches hole, a run of file offsets that has no pages yet,
// with one allocation filled from the file: zeros past a short read (the
// end of the file in its last page).
//
// Preconditions: c.mu is locked; hole is page-aligned, non-empty, below
// fileAddrEnd and free of pages.
func (c *fileCache) readInLocked(hole usermem.AddrRange) error {
	fr, err := c.mf.Allocate(uint64(hole.Length()))
	if err != nil {
		return err
	}
	dst := c.mf.Window(fr)
	n, err := c.file.ReadAt(dst, int64(hole.Start))
	if err != nil && err != io.EOF || n < 0 || n > len(dst) {
		// Linux also raises SIGBUS when a page cannot be read in.
		c.mf.DecRef(fr)
		return ErrBusError
	}
	// Fresh memory reads as zero, but do not trust the reader to have
	// left the bytes past a short read alone.
	clear(dst[n:])
	i := c.pages.lowerBound(hole.Start)
	c.pages.insert(i, segment[cachedPages]{ar: hole, val: cachedPages{off: fr.Start}})
	c.pages.mergeAround(i, i+1)
	return nil
}

// isCached reports whether the page at the file offset off is cached
// (mincore).
func (c *fileCache) isCached(off uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pages.find(usermem.Addr(off))
	return ok
}

// pageSpan returns [off, end) widened to pages and clipped to file offsets.
// off < 0 counts from 0; end < 0 or past the last file offset means up to
// it.
func pageSpan(off, end int64) usermem.AddrRange {
	start := usermem.Addr(max(off, 0)).RoundDown()
	if end < 0 || uint64(end) > uint64(fileAddrEnd)-usermem.PageSize {
		return usermem.AddrRange{Start: start, End: fileAddrEnd}
	}
	return usermem.AddrRange{Start: start, End: usermem.Addr(end).MustRoundUp()}
}

// writebackLocked writes the dirty pages in r back to the file, up to the
// end of the file (Linux drops what a mapping writes past it), then marks
// clean those that no pma maps any more. It stops at the first error, with
// the pages not yet written still dirty.
//
// Preconditions: c.mu is locked; r is page-aligned.
func (c *fileCache) writebackLocked(r usermem.AddrRange) error {
	if c.dead || !c.writable {
		// Nothing could have written the pages.
		return nil
	}
	size, err := c.file.Size()
	if err != nil {
		return err
	}
	var written []usermem.AddrRange
	i, j := c.pages.span(r)
	for k := i; k < j; k++ {
		seg := c.pages.segs[k]
		if !seg.val.dirty {
			continue
		}
		wr := seg.ar.Intersect(r)
		if end := min(wr.End, usermem.Addr(max(size, 0))); wr.Start < end {
			src := c.mf.Window(memoryOf(seg, usermem.AddrRange{Start: wr.Start, End: end}))
			if err = writeFull(c.file, src, int64(wr.Start)); err != nil {
				break
			}
		}
		written = append(written, wr)
	}
	for _, wr := range written {
		c.cleanLocked(wr)
	}
	return err
}

// writeFull writes all of src to f at off.
func writeFull(f SharedMappable, src []byte, off int64) error {
	for len(src) > 0 {
		n, err := f.WriteAt(src, off)
		if err != nil {
			return err
		}
		if n <= 0 || n > len(src) {
			return io.ErrShortWrite
		}
		src, off = src[n:], off+int64(n)
	}
	return nil
}

// cleanLocked marks clean the pages of r that no pma maps: only the cache
// holds them, so nothing can write them until a new pma maps them, which
// marks them dirty again.
//
// Preconditions: c.mu is locked; r is page-aligned and cached throughout.
func (c *fileCache) cleanLocked(r usermem.AddrRange) {
	exclusive := func(addr usermem.Addr) bool {
		i, _ := c.pages.find(addr)
		page := usermem.AddrRange{Start: addr, End: addr + usermem.PageSize}
		return c.mf.IsExclusive(memoryOf(c.pages.segs[i], page))
	}
	for addr := r.Start; addr < r.End; {
		run := addr
		for run < r.End && exclusive(run) {
			run += usermem.PageSize
		}
		if run > addr {
			i, j := c.pages.isolate(usermem.AddrRange{Start: addr, End: run})
			for k := i; k < j; k++ {
				c.pages.segs[k].val.dirty = false
			}
			c.pages.mergeAround(i, j)
		}
		addr = run + usermem.PageSize
	}
}

// storeLocked copies the first n bytes of src, which a write(2) has just
// stored in the file at off, into the cached pages they cover.
//
// Preconditions: c.mu is locked; src holds at least n bytes.
func (c *fileCache) storeLocked(off int64, src usermem.BlockSeq, n int) {
	r := usermem.AddrRange{Start: usermem.Addr(off), End: usermem.Addr(off) + usermem.Addr(n)}
	i, j := c.pages.span(r)
	for k := i; k < j; k++ {
		seg := c.pages.segs[k]
		cr := seg.ar.Intersect(r)
		copyFromBlocks(c.mf.Window(memoryOf(seg, cr)), src, uint64(cr.Start-r.Start))
	}
}

// copyFromBlocks fills dst from src, starting skip bytes into src.
func copyFromBlocks(dst []byte, src usermem.BlockSeq, skip uint64) {
	for _, b := range src {
		if len(dst) == 0 {
			return
		}
		if skip >= uint64(len(b)) {
			skip -= uint64(len(b))
			continue
		}
		n := copy(dst, b[skip:])
		dst, skip = dst[n:], 0
	}
}

// refreshLocked reads the bytes of r that are cached back from the file,
// after the host changed them: zeros where the file ends before them.
//
// Preconditions: c.mu is locked; c is not dead.
func (c *fileCache) refreshLocked(r usermem.AddrRange) {
	i, j := c.pages.span(r)
	for k := i; k < j; k++ {
		seg := c.pages.segs[k]
		cr := seg.ar.Intersect(r)
		dst := c.mf.Window(memoryOf(seg, cr))
		n, err := c.file.ReadAt(dst, int64(cr.Start))
		if n < 0 || n > len(dst) || err != nil && err != io.EOF {
			// The file cannot be read: keep what the cache has, as
			// Linux keeps a page it could not read again.
			continue
		}
		clear(dst[n:])
	}
}

// truncateLocked takes the pages past the end of the file out of the cache
// and returns their memory, on which the caller inherits the cache's
// references: it drops them once no address space maps the pages (see
// invalidate).
//
// Preconditions: c.mu is locked; c is not dead.
func (c *fileCache) truncateLocked() []platform.FileRange {
	eof, ok := c.eofLocked()
	if !ok {
		return nil
	}
	i, j := c.pages.isolate(usermem.AddrRange{Start: usermem.Addr(eof), End: fileAddrEnd})
	var frs []platform.FileRange
	for k := i; k < j; k++ {
		frs = append(frs, memoryOf(c.pages.segs[k], c.pages.segs[k].ar))
	}
	c.pages.remove(i, j)
	return frs
}

// addMapper records that mm may map the cache's pages.
func (c *fileCache) addMapper(mm *MemoryManager) {
	c.mappersMu.Lock()
	defer c.mappersMu.Unlock()
	c.mappers[mm] = struct{}{}
}

// removeMapper forgets mm, which is dying.
func (c *fileCache) removeMapper(mm *MemoryManager) {
	c.mappersMu.Lock()
	defer c.mappersMu.Unlock()
	delete(c.mappers, mm)
}

// invalidate takes frs, pages truncateLocked took out of the cache, away
// from every memory manager that may map them, then drops the references
// the cache held on them. Until then no one else can be given the memory,
// so every pma that maps it maps the file's old pages.
//
// Preconditions: no memory manager, fileCaches or fileCache lock is held.
func (c *fileCache) invalidate(frs []platform.FileRange) {
	if len(frs) == 0 {
		return
	}
	c.mappersMu.Lock()
	mms := make([]*MemoryManager, 0, len(c.mappers))
	for mm := range c.mappers {
		mms = append(mms, mm)
	}
	c.mappersMu.Unlock()
	for _, mm := range mms {
		mm.invalidateFilePages(frs)
	}
	for _, fr := range frs {
		c.mf.DecRef(fr)
	}
}

// invalidateFilePages drops the pmas that map any of frs, pages a file's
// cache no longer holds because the file shrank: the next access faults,
// finds the end of the file and gets SIGBUS. It is the one change to the
// pmas made without mappingMu: only removing pmas, which no holder of
// mappingMu relies on keeping (each one checks again under activeMu).
//
// Preconditions: mm.activeMu is not locked.
func (mm *MemoryManager) invalidateFilePages(frs []platform.FileRange) {
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	var drop []usermem.AddrRange
	for _, seg := range mm.pmas.segs {
		if seg.val.private {
			// Private pages are copies, never the cache's.
			continue
		}
		pfr := fileRange(seg)
		for _, fr := range frs {
			if start, end := max(pfr.Start, fr.Start), min(pfr.End, fr.End); start < end {
				drop = append(drop, usermem.AddrRange{
					Start: seg.ar.Start + usermem.Addr(start-pfr.Start),
					End:   seg.ar.Start + usermem.Addr(end-pfr.Start),
				})
			}
		}
	}
	for _, ar := range drop {
		mm.removePMAsLocked(ar)
	}
}

// noteFileCacheLocked records that mm maps c, so that c can invalidate mm's
// pmas and mm can leave c's mappers when it dies. Caches that died since
// they were noted are forgotten on the way.
//
// Preconditions: mm.mappingMu is locked for writing, or mm is not yet
// visible to anyone (Fork's child).
func (mm *MemoryManager) noteFileCacheLocked(c *fileCache) {
	if _, ok := mm.fileCaches[c]; ok {
		return
	}
	for o := range mm.fileCaches {
		if o.refs.Load() == 0 {
			delete(mm.fileCaches, o)
		}
	}
	if mm.fileCaches == nil {
		mm.fileCaches = make(map[*fileCache]struct{})
	}
	mm.fileCaches[c] = struct{}{}
	c.addMapper(mm)
}

// lookupFileCachesLocked returns the live caches of the file id.
//
// Preconditions: fileCaches.mu is locked.
func lookupFileCachesLocked(id FileID) []*fileCache {
	return fileCaches.byID[id]
}

// FileCached reports whether the host file id has a page cache: whether a
// shared mapping of it exists somewhere. Without one, its reads and writes
// need nothing from the memory manager.
func FileCached(id FileID) bool {
	if fileCaches.live.Load() == 0 {
		return false
	}
	fileCaches.mu.RLock()
	defer fileCaches.mu.RUnlock()
	return len(lookupFileCachesLocked(id)) != 0
}

// SyncFile writes back the dirty cached pages of the host file id that
// overlap [off, end) (end < 0: to the end of the file), so that a read of
// the file through a descriptor sees what shared mappings wrote to it. It
// does nothing if the file has no page cache.
//
// Preconditions: the caller holds no fileCaches or fileCache lock (it may
// hold a memory manager's activeMu).
func SyncFile(id FileID, off, end int64) error {
	if fileCaches.live.Load() == 0 {
		return nil
	}
	fileCaches.mu.RLock()
	defer fileCaches.mu.RUnlock()
	r := pageSpan(off, end)
	for _, c := range lookupFileCachesLocked(id) {
		c.mu.Lock()
		err := c.writebackLocked(r)
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteFile runs write, which writes src (or a prefix of it) to the host
// file id and returns how many bytes it wrote, and keeps the file's page
// cache, if it has one, coherent with it: write runs with the cache locked,
// so that no write-back of older bytes can land after it, and the bytes it
// wrote are copied into the cached pages they cover, where shared mappings
// see them at once. where(n) must then return the file offset the n bytes
// went to (for a write at the file's position or with O_APPEND, only the
// file knows); it is called only when the file has a cache. If the write
// began past the end of the file, the cached bytes of the gap it left (the
// tail of the old last page) are read back from the file: zeros.
//
// Without a cache, write runs with the registry locked for reading: a
// cache created meanwhile could read the file before the write reaches it
// and keep the old bytes.
//
// Preconditions: the caller holds no fileCaches or fileCache lock (it may
// hold a memory manager's activeMu: write usually runs inside CopyInTo).
func WriteFile(id FileID, src usermem.BlockSeq, write func() (int, error), where func(n int) int64) (int, error) {
	fileCaches.mu.RLock()
	defer fileCaches.mu.RUnlock()
	cs := lookupFileCachesLocked(id)
	if len(cs) == 0 {
		return write()
	}
	for _, c := range cs {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	before := int64(-1)
	if !cs[0].dead {
		if size, err := cs[0].file.Size(); err == nil {
			before = size
		}
	}
	n, err := write()
	if n <= 0 {
		return n, err
	}
	off := where(n)
	if off < 0 {
		return n, err
	}
	for _, c := range cs {
		if c.dead {
			continue
		}
		c.storeLocked(off, src, n)
		if before >= 0 && off > before {
			c.refreshLocked(usermem.AddrRange{Start: usermem.Addr(before), End: usermem.Addr(off)})
		}
	}
	return n, err
}

// ChangeFile runs change, an operation on the host file id that changes
// it in ways WriteFile cannot describe (ftruncate, fallocate,
// copy_file_range into it), and brings the file's page cache, if it has
// one, in line with it. change may alter the bytes of [from, to) and, if
// moves is set, move everything from `from` on (fallocate's
// FALLOC_FL_COLLAPSE_RANGE and FALLOC_FL_INSERT_RANGE); the file's size
// may change either way. change may be nil for an operation already done
// (open with O_TRUNC).
//
// What it does, with the cache locked:
//   - if moves, writes back the dirty pages from `from` on first, since
//     their bytes are about to move;
//   - after change, drops the pages past the new end of the file, in the
//     cache and then (unlocked) in every address space, so that touching
//     them is SIGBUS as on Linux;
//   - reads back from the file the cached bytes of [from, to) and of
//     everything from the smaller of the old and new sizes on: what a
//     truncation removed or an extension added reads as zeros, in the last
//     page too.
//
// It returns change's error.
//
// Preconditions: the caller holds no memory manager, fileCaches or
// fileCache lock.
func ChangeFile(id FileID, from, to int64, moves bool, change func() error) error {
	type dropped struct {
		c   *fileCache
		frs []platform.FileRange
	}
	var drops []dropped
	err := func() error {
		fileCaches.mu.RLock()
		defer fileCaches.mu.RUnlock()
		var cs []*fileCache
		for _, c := range lookupFileCachesLocked(id) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.dead {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			if change == nil {
				return nil
			}
			return change()
		}
		before, err := cs[0].file.Size()
		if err != nil {
			before = 0
		}
		if moves {
			for _, c := range cs {
				if err := c.writebackLocked(pageSpan(from, -1)); err != nil {
					return err
				}
			}
		}
		if change != nil {
			if err := change(); err != nil {
				return err
			}
		}
		after, err := cs[0].file.Size()
		if err != nil {
			after = 0
		}
		changed := []usermem.AddrRange{{Start: usermem.Addr(max(min(before, after), 0)), End: fileAddrEnd}}
		if from < to {
			changed = append(changed, usermem.AddrRange{Start: usermem.Addr(max(from, 0)), End: usermem.Addr(to)})
		}
		if moves {
			changed = append(changed, usermem.AddrRange{Start: usermem.Addr(max(from, 0)), End: fileAddrEnd})
		}
		for _, c := range cs {
			drops = append(drops, dropped{c, c.truncateLocked()})
			for _, r := range changed {
				c.refreshLocked(r)
			}
		}
		return nil
	}()
	for _, d := range drops {
		d.c.invalidate(d.frs)
	}
	return err
}
