package mm

import (
	"sync"
	"sync/atomic"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// sharedAnon is the memory behind a shared anonymous mapping
// (MAP_SHARED|MAP_ANONYMOUS): an object of fixed size whose pages every vma
// mapping it sees, in this memory manager and in every one forked from it.
// Linux backs such a mapping with an unlinked shmem file ("/dev/zero
// (deleted)" in /proc/self/maps); sharedAnon keeps its pages in the
// MemoryFile, by offset, and allocates them in 2 MiB chunks on first touch.
//
// Access beyond the object's size (after mremap grew a mapping of it) is a
// bus error, as it is on Linux.
type sharedAnon struct {
	// mf holds the pages. Immutable.
	mf *platform.MemoryFile

	// size is the object's size, page-aligned. Immutable.
	size uint64

	// id is the inode number /proc/self/maps shows. Immutable.
	id uint64

	// refs is the number of vmas, in all memory managers, that map the
	// object. Accessed atomically.
	refs atomic.Int64

	// mu protects chunks.
	mu sync.Mutex

	// chunks maps a chunk index (offset / shmChunkSize) to the memory of
	// that chunk, which holds one MemoryFile reference per page for the
	// object. pmas that map it hold references of their own, so the pages
	// outlive the object while some address space still maps them.
	// Protected by mu.
	chunks map[uint64]platform.FileRange
}

// shmChunkSize is the allocation unit of shared anonymous memory.
const shmChunkSize = usermem.HugePageSize

// nextSharedAnonID numbers shared anonymous objects. Linux's shmem inode
// numbers are as arbitrary.
var nextSharedAnonID atomic.Uint64

// newSharedAnon returns an object of size bytes with one reference.
//
// Preconditions: size is page-aligned.
func newSharedAnon(mf *platform.MemoryFile, size uint64) *sharedAnon {
	s := &sharedAnon{
		mf:     mf,
		size:   size,
		id:     nextSharedAnonID.Add(1),
		chunks: make(map[uint64]platform.FileRange),
	}
	s.refs.Store(1)
	return s
}

func (s *sharedAnon) incRef() {
	s.refs.Add(1)
}

// decRef drops a reference. The last one frees the object's own references
// on its pages.
func (s *sharedAnon) decRef() {
	if s.refs.Add(-1) != 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fr := range s.chunks {
		s.mf.DecRef(fr)
	}
	s.chunks = nil
}

// shmPiece is a run of the object's offsets and the memory behind it.
type shmPiece struct {
	off uint64
	fr  platform.FileRange
}

// translate returns the memory behind the object's offsets [off, end), in
// order, allocating chunks that were never touched. It stops early at the
// object's end (returning ErrBusError) or if memory runs out.
//
// Preconditions: off and end are page-aligned; off < end.
func (s *sharedAnon) translate(off, end uint64) ([]shmPiece, error) {
	if off >= s.size {
		return nil, ErrBusError
	}
	var err error
	if end > s.size {
		end, err = s.size, ErrBusError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var pieces []shmPiece
	for off < end {
		idx := off / shmChunkSize
		chunkStart := idx * shmChunkSize
		fr, ok := s.chunks[idx]
		if !ok {
			var aerr error
			fr, aerr = s.mf.Allocate(min(chunkStart+shmChunkSize, s.size) - chunkStart)
			if aerr != nil {
				return pieces, aerr
			}
			s.chunks[idx] = fr
		}
		n := min(end, chunkStart+fr.Length()) - off
		start := fr.Start + (off - chunkStart)
		pieces = append(pieces, shmPiece{off: off, fr: platform.FileRange{Start: start, End: start + n}})
		off += n
	}
	return pieces, err
}

// decommit makes the object's offsets [off, end) read as zero
// (MADV_REMOVE), in every mapping of it.
//
// Preconditions: off and end are page-aligned.
func (s *sharedAnon) decommit(off, end uint64) {
	end = min(end, s.size)
	s.mu.Lock()
	defer s.mu.Unlock()
	for off < end {
		idx := off / shmChunkSize
		chunkStart := idx * shmChunkSize
		n := min(end, chunkStart+shmChunkSize) - off
		if fr, ok := s.chunks[idx]; ok {
			start := fr.Start + (off - chunkStart)
			s.mf.Decommit(platform.FileRange{Start: start, End: start + n})
		}
		off += n
	}
}
