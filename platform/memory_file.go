package platform

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// FileRange is the range of offsets [Start, End) in the MemoryFile.
type FileRange struct {
	Start uint64
	End   uint64
}

// Length returns the number of bytes in fr.
func (fr FileRange) Length() uint64 {
	return fr.End - fr.Start
}

// String formats fr as "[0x1000, 0x2000)".
func (fr FileRange) String() string {
	return fmt.Sprintf("[%#x, %#x)", fr.Start, fr.End)
}

// DefaultMemoryFileSize is the size of the memory file: the most application
// memory one sandbox can hold at once. The file is sparse, so pages that were
// never touched cost nothing.
const DefaultMemoryFileSize = 64 << 30

// refChunkShift sets the granularity of the reference count table: one
// array of counters per 2 MiB of file, allocated when first needed.
const refChunkShift = usermem.HugePageShift

const pagesPerRefChunk = 1 << (refChunkShift - usermem.PageShift)

// MemoryFile is the one file that holds every page of application memory: a
// sparse memfd, mapped once and whole into the sentry (the internal
// mapping). An offset in the file is therefore also a place in the sentry's
// memory, and the memory manager copies to and from the application with
// plain copy() on slices of the internal mapping. Stub processes map ranges of
// the same file into the application's address space, so both sides see the
// same bytes.
//
// Pages are handed out by Allocate with a reference count of one. Private
// memory shared copy-on-write after fork holds one reference per memory
// manager; a page whose count drops to zero is freed and its storage returned
// to the host by punching a hole in the file.
type MemoryFile struct {
	// fd is the memfd. Immutable.
	fd int

	// mapping is the whole file mapped MAP_SHARED into the sentry.
	// Immutable; the bytes are application memory and are not protected
	// by mu.
	mapping []byte

	// mu protects the allocator state below.
	mu sync.Mutex

	// free holds freed ranges, sorted by Start, never adjacent or
	// overlapping (adjacent ranges are merged). Protected by mu.
	free []FileRange

	// next is the offset below which every page has been allocated at least
	// once; pages at or above it have never been used. Protected by mu.
	next uint64

	// refs maps a 2 MiB chunk index to the reference counts of its pages.
	// A page that is free has count 0. Protected by mu.
	refs map[uint64]*[pagesPerRefChunk]int32

	// usage is the number of bytes currently allocated. Protected by mu.
	usage uint64

	// limit, if not zero, is the most bytes that may be allocated at once
	// (minisentry run --memory-limit). Protected by mu.
	limit uint64
}

// NewMemoryFile creates a memory file of size bytes (a multiple of the huge
// page size) and maps it into the sentry.
func NewMemoryFile(size uint64) (*MemoryFile, error) {
	fd, err := unix.MemfdCreate("minisentry-memory", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ftruncate memory file: %w", err)
	}
	m, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mapping the memory file: %w", err)
	}
	return &MemoryFile{
		fd:      fd,
		mapping: m,
		refs:    make(map[uint64]*[pagesPerRefChunk]int32),
	}, nil
}

// FD returns the memfd. Stub processes receive it at a fixed descriptor.
func (f *MemoryFile) FD() int {
	return f.fd
}

// Size returns the file's size.
func (f *MemoryFile) Size() uint64 {
	return uint64(len(f.mapping))
}

// Window returns the internal mapping of fr: the application bytes
// themselves.
//
// Preconditions: fr lies within the file.
func (f *MemoryFile) Window(fr FileRange) []byte {
	return f.mapping[fr.Start:fr.End:fr.End]
}

// Usage returns the number of bytes allocated.
func (f *MemoryFile) Usage() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage
}

// SetLimit bounds the bytes allocated at once: past limit, Allocate fails
// with ENOMEM. Zero removes the bound (the file's size remains one). Memory
// already allocated stays allocated.
func (f *MemoryFile) SetLimit(limit uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = limit
}

// Available returns how many more bytes may be allocated under the limit
// set by SetLimit, or math.MaxUint64 if there is none. The file's own size
// and its fragmentation are not counted: Allocate may still fail below it.
func (f *MemoryFile) Available() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.limit == 0:
		return math.MaxUint64
	case f.usage >= f.limit:
		return 0
	default:
		return f.limit - f.usage
	}
}

// Allocate returns a page-aligned range of length bytes whose pages each
// have a reference count of one and read as zero. Allocations of a huge page
// or more are huge-page aligned in the file, which lets the host back them
// with huge pages. It fails with ENOMEM if the file is full or the
// allocation would take the bytes allocated past the limit (SetLimit).
//
// Preconditions: length is a non-zero multiple of usermem.PageSize.
func (f *MemoryFile) Allocate(length uint64) (FileRange, error) {
	if length == 0 || length%usermem.PageSize != 0 {
		panic(fmt.Sprintf("MemoryFile.Allocate(%#x): bad length", length))
	}
	align := uint64(usermem.PageSize)
	if length >= usermem.HugePageSize {
		align = usermem.HugePageSize
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit != 0 && (f.usage+length > f.limit || f.usage+length < f.usage) {
		return FileRange{}, unix.ENOMEM
	}
	fr, ok := f.takeFreeLocked(length, align)
	if !ok {
		start := (f.next + align - 1) &^ (align - 1)
		if start+length > f.Size() || start+length < start {
			return FileRange{}, unix.ENOMEM
		}
		if start > f.next {
			// The alignment gap was never used; remember it as free.
			f.insertFreeLocked(FileRange{f.next, start})
		}
		fr = FileRange{start, start + length}
		f.next = fr.End
	}
	f.addRefsLocked(fr, 1)
	f.usage += length
	return fr, nil
}

// takeFreeLocked carves an aligned range of length bytes out of the first
// free range that holds one.
//
// Preconditions: f.mu is locked.
func (f *MemoryFile) takeFreeLocked(length, align uint64) (FileRange, bool) {
	for i, r := range f.free {
		start := (r.Start + align - 1) &^ (align - 1)
		if start < r.Start || start+length > r.End {
			continue
		}
		fr := FileRange{start, start + length}
		// Replace r by what is left on either side of fr.
		var rest []FileRange
		if r.Start < fr.Start {
			rest = append(rest, FileRange{r.Start, fr.Start})
		}
		if fr.End < r.End {
			rest = append(rest, FileRange{fr.End, r.End})
		}
		f.free = append(f.free[:i], append(rest, f.free[i+1:]...)...)
		return fr, true
	}
	return FileRange{}, false
}

// insertFreeLocked adds fr to the free list, merging it with its neighbours.
//
// Preconditions: f.mu is locked; fr overlaps no free range.
func (f *MemoryFile) insertFreeLocked(fr FileRange) {
	i := sort.Search(len(f.free), func(i int) bool { return f.free[i].Start >= fr.End })
	if i < len(f.free) && f.free[i].Start == fr.End {
		fr.End = f.free[i].End
		f.free = append(f.free[:i], f.free[i+1:]...)
	}
	if i > 0 && f.free[i-1].End == fr.Start {
		f.free[i-1].End = fr.End
		return
	}
	f.free = append(f.free, FileRange{})
	copy(f.free[i+1:], f.free[i:])
	f.free[i] = fr
}

// IncRef adds a reference to every page in fr.
//
// Preconditions: every page in fr is allocated.
func (f *MemoryFile) IncRef(fr FileRange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addRefsLocked(fr, 1)
}

// DecRef drops a reference to every page in fr. Pages that lose their last
// reference are freed and their storage given back to the host.
//
// Preconditions: every page in fr is allocated.
func (f *MemoryFile) DecRef(fr FileRange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, freed := range f.addRefsLocked(fr, -1) {
		f.usage -= freed.Length()
		f.punchHole(freed)
		f.insertFreeLocked(freed)
	}
}

// IsExclusive reports whether every page in fr has exactly one reference:
// whoever holds that reference may write the pages without copying them.
func (f *MemoryFile) IsExclusive(fr FileRange) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for off := fr.Start; off < fr.End; off += usermem.PageSize {
		if *f.refLocked(off) != 1 {
			return false
		}
	}
	return true
}

// Decommit discards the contents of fr, which then reads as zero. The pages
// stay allocated.
func (f *MemoryFile) Decommit(fr FileRange) {
	f.punchHole(fr)
}

// punchHole returns fr's storage to the host.
func (f *MemoryFile) punchHole(fr FileRange) {
	// An error here only means the memory is not returned; the pages still
	// read correctly after being rewritten, so there is nothing to undo.
	_ = unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(fr.Start), int64(fr.Length()))
}

// refLocked returns the counter of the page at off.
//
// Preconditions: f.mu is locked.
func (f *MemoryFile) refLocked(off uint64) *int32 {
	chunk := off >> refChunkShift
	c := f.refs[chunk]
	if c == nil {
		c = new([pagesPerRefChunk]int32)
		f.refs[chunk] = c
	}
	return &c[(off>>usermem.PageShift)%pagesPerRefChunk]
}

// addRefsLocked adds delta to the count of every page in fr and returns the
// runs of pages whose count dropped to zero.
//
// Preconditions: f.mu is locked.
func (f *MemoryFile) addRefsLocked(fr FileRange, delta int32) []FileRange {
	var freed []FileRange
	for off := fr.Start; off < fr.End; off += usermem.PageSize {
		r := f.refLocked(off)
		*r += delta
		if *r < 0 {
			panic(fmt.Sprintf("MemoryFile: page %#x has a negative reference count", off))
		}
		if *r == 0 {
			if n := len(freed); n > 0 && freed[n-1].End == off {
				freed[n-1].End += usermem.PageSize
			} else {
				freed = append(freed, FileRange{off, off + usermem.PageSize})
			}
		}
	}
	return freed
}
