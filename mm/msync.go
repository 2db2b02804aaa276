package mm

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// MSync writes the shared file mappings in [addr, addr+length) back to
// their files, as msync(2) with flags.
//
// Both MS_SYNC and MS_ASYNC write the dirty pages back at once (Linux's
// MS_ASYNC does nothing, its page cache being the file: here, reads of the
// file write back first anyway, so the difference cannot be seen); MS_SYNC
// then flushes the file to its device, as fdatasync(2). MS_INVALIDATE asks
// that the mappings show the file's current contents, which they always do
// (the page cache is kept coherent with the file), so it is accepted and
// does nothing more.
//
// Errors, as Linux: EINVAL for an unknown flag, MS_SYNC with MS_ASYNC, or
// an unaligned addr; ENOMEM if the range wraps or part of it is not mapped
// (after the mapped parts are written back, except that MS_ASYNC alone
// stops at the first hole); the file's error if a write-back fails.
func (mm *MemoryManager) MSync(ctx context.Context, addr usermem.Addr, length uint64, flags int) error {
	if flags&^(unix.MS_ASYNC|unix.MS_INVALIDATE|unix.MS_SYNC) != 0 {
		return unix.EINVAL
	}
	if !addr.IsPageAligned() {
		return unix.EINVAL
	}
	if flags&unix.MS_ASYNC != 0 && flags&unix.MS_SYNC != 0 {
		return unix.EINVAL
	}
	length, ok := usermem.PageRoundUp(length)
	if !ok {
		return unix.ENOMEM
	}
	ar, ok := addr.ToRange(length)
	if !ok {
		return unix.ENOMEM
	}
	if ar.Length() == 0 {
		return nil
	}

	// Find the work under mappingMu, holding a reference on each cache,
	// and do it without: writing back and flushing take as long as the
	// host takes, and other threads may map and unmap meanwhile.
	type job struct {
		c *fileCache
		r usermem.AddrRange
	}
	var (
		jobs        []job
		err         error
		unmappedErr error
	)
	mm.mappingMu.RLock()
	start := ar.Start
	for {
		i := mm.vmas.lowerBound(start)
		if i == len(mm.vmas.segs) {
			err = unix.ENOMEM
			break
		}
		seg := mm.vmas.segs[i]
		if start < seg.ar.Start {
			if flags == unix.MS_ASYNC {
				err = unix.ENOMEM
				break
			}
			start = seg.ar.Start
			if start >= ar.End {
				err = unix.ENOMEM
				break
			}
			unmappedErr = unix.ENOMEM
		}
		if seg.val.fc != nil {
			end := min(ar.End, seg.ar.End)
			seg.val.fc.incRef()
			jobs = append(jobs, job{seg.val.fc, usermem.AddrRange{
				Start: usermem.Addr(offsetOf(seg, start)),
				End:   usermem.Addr(offsetOf(seg, end)),
			}})
		}
		start = seg.ar.End
		if start >= ar.End {
			break
		}
	}
	mm.mappingMu.RUnlock()

	for _, j := range jobs {
		if err == nil || err == unix.ENOMEM {
			if jerr := j.c.sync(j.r, flags&unix.MS_SYNC != 0); jerr != nil {
				err = jerr
			}
		}
		j.c.decRef()
	}
	if err != nil {
		return err
	}
	return unmappedErr
}

// sync writes back the dirty pages of r and, if flush, flushes the file to
// its device.
//
// Preconditions: the caller holds a reference on c; r is page-aligned.
func (c *fileCache) sync(r usermem.AddrRange, flush bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writebackLocked(r); err != nil {
		return err
	}
	if s, ok := c.file.(fileSyncer); ok && flush && c.writable {
		return s.Sync(true)
	}
	return nil
}

// MinCore reports which pages of [addr, addr+length) are resident, as
// mincore(2): one byte per page, 1 for a page the memory manager has memory
// behind (a pma, or a shared file's cached page), 0 for one it has not
// touched yet. (Linux also counts a private file mapping's untouched pages
// that its page cache holds; minisentry cannot see the host's.)
//
// Errors, as Linux: EINVAL for an unaligned addr; ENOMEM if the range
// wraps, leaves the user address range or is not all mapped, in which case
// the bytes of the pages before the first hole are returned with it.
func (mm *MemoryManager) MinCore(ctx context.Context, addr usermem.Addr, length uint64) ([]byte, error) {
	if !addr.IsPageAligned() {
		return nil, unix.EINVAL
	}
	length, ok := usermem.PageRoundUp(length)
	if !ok {
		return nil, unix.ENOMEM
	}
	ar, ok := addr.ToRange(length)
	if !ok || ar.End > linuxTaskSize {
		return nil, unix.ENOMEM
	}
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	mm.activeMu.RLock()
	defer mm.activeMu.RUnlock()
	// The vector is as long as the mapped part, not as the range: a
	// hostile length must not make the sentry allocate gigabytes.
	vec := make([]byte, 0, mm.mappedBytesLocked(ar)/usermem.PageSize)
	for page := ar.Start; page < ar.End; page += usermem.PageSize {
		vi, ok := mm.vmas.find(page)
		if !ok {
			return vec, unix.ENOMEM
		}
		var resident byte
		if _, ok := mm.pmas.find(page); ok {
			resident = 1
		} else if v := mm.vmas.segs[vi]; v.val.fc != nil && v.val.fc.isCached(offsetOf(v, page)) {
			resident = 1
		}
		vec = append(vec, resident)
	}
	return vec, nil
}
