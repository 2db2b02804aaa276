// Package mm is the memory manager: it gives each application address space
// the meaning Linux gives it, and implements usermem.IO on it.
//
// A MemoryManager keeps two layers, as Linux and gVisor do:
//
//   - vmas (virtual memory areas) record what the application asked for
//     through mmap, mprotect, brk and friends: a range, its permissions,
//     whether it is private or shared, what backs it (anonymous memory, a
//     shared anonymous object, or a file) and a name such as "[heap]". They
//     are what /proc/self/maps prints.
//   - pmas (platform mapping areas) record what really backs each page that
//     has been touched: a range of the platform's MemoryFile, with the
//     permissions the page may be mapped with after copy-on-write has taken
//     Write away. They play the role of page tables. The sentry cannot read
//     the host's page tables back, so it must remember which memory it gave
//     to each page, to copy it on write and free it on munmap.
//
// pmas are created lazily, by a page fault (HandleUserFault) or by the
// sentry's own accesses (the usermem.IO methods), never by mmap except for
// the eager population of small mappings. Private anonymous memory is
// allocated in 2 MiB-aligned chunks of the address space, so one fault
// serves many pages. The platform's AddressSpace holds the host mappings
// that let the application reach its pmas; it is only a cache: a new one
// starts empty and faults everything back in.
//
// The sentry itself reads and writes application memory through the
// MemoryFile's internal mapping (MemoryFile.Window), never through the
// application's address space, so the IO methods work whether or not an
// AddressSpace exists.
//
// Lock order, outermost first:
//
//	MemoryManager.mappingMu   (vmas, brk, usage, limits)
//	  MemoryManager.activeMu  (pmas, the AddressSpace)
//	    fileCaches.mu         (the registry of shared files' page caches)
//	      fileCache.mu        (a shared file's cached pages)
//	        sharedAnon.mu     (a shared anonymous object's pages)
//	          AddressSpace internals, MemoryFile.mu
//
// fileCache.mappersMu is a leaf. Mappable methods are called with
// mappingMu held (and activeMu too, for ReadAt and Size), or with a
// fileCache's lock held, and must not call back into the memory manager.
// The same goes for the BlockReader and BlockWriter of CopyOutFrom and
// CopyInTo, which run with activeMu held; a writer may call WriteFile,
// whose locks come after activeMu. The file layer's calls (SyncFile,
// WriteFile, ChangeFile) take fileCaches.mu and fileCache.mu; ChangeFile
// then takes the activeMu of the memory managers that map the file, with
// neither held, to take away pages past a new end of file. Only Fork holds
// the locks of two memory managers at once, and the second one (the child)
// is not yet visible to anyone, so it takes none of the child's locks.
package mm

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// ErrBusError is returned by HandleUserFault for an access to a page of a
// file mapping that lies wholly beyond the end of the file (or that the file
// could not be read into). The kernel turns it into SIGBUS, as Linux does.
var ErrBusError = errors.New("mm: access to a file mapping beyond the end of the file")

// RLimInfinity is the value of an unlimited resource limit (RLIM_INFINITY).
const RLimInfinity = ^uint64(0)

// Limits are the resource limits the memory manager enforces, in bytes.
type Limits struct {
	// AS is RLIMIT_AS: the most address space the vmas may span.
	AS uint64
	// Data is RLIMIT_DATA, which minisentry applies to brk only (see
	// Brk).
	Data uint64
	// Stack is RLIMIT_STACK, which sizes the stack MapStack creates.
	Stack uint64
}

// DefaultLimits are the limits of a new MemoryManager: Linux's defaults.
var DefaultLimits = Limits{AS: RLimInfinity, Data: RLimInfinity, Stack: 8 << 20}

// MemoryManager is an application's address space, as the sentry sees it.
type MemoryManager struct {
	// p is the platform the address space lives on. Immutable.
	p platform.Platform

	// mf is p.MemoryFile(), which holds every page of the application's
	// memory. Immutable.
	mf *platform.MemoryFile

	// layout is where the address space may be mapped. Immutable.
	layout Layout

	// users is the number of references that keep the address space alive
	// (tasks using it, /proc readers...). When it drops to zero, all memory
	// is released. Accessed atomically.
	users atomic.Int32

	// mappingMu protects the vmas and everything derived from them. It is
	// Linux's mmap_lock: the application's view of its address space
	// changes only with mappingMu held for writing.
	mappingMu sync.RWMutex

	// vmas are the application's mappings. Protected by mappingMu.
	//
	// Invariants: page-aligned, within [layout.MinAddr, layout.MaxAddr);
	// neighbours that can merge are merged.
	vmas rangeSet[vma]

	// usageAS is the total length of the vmas, which RLIMIT_AS limits.
	// Protected by mappingMu.
	//
	// Invariant: usageAS == sum of the vmas' lengths.
	usageAS uint64

	// brk is the heap: [start of the heap, current program break). End is
	// the exact value the application asked for; the heap vmas span
	// [Start, End.RoundUp()). Protected by mappingMu.
	brk usermem.AddrRange

	// limits are the resource limits. Protected by mappingMu.
	limits Limits

	// activeMu protects the pmas and the AddressSpace. It is taken after
	// mappingMu. IO takes it for reading to copy through existing pmas, and
	// for writing to create them.
	activeMu sync.RWMutex

	// pmas are the memory behind the pages touched so far. Protected by
	// activeMu; creating pmas also needs mappingMu (for reading at
	// least), so that holding mappingMu for writing keeps new ones from
	// appearing. Removing them mostly happens under mappingMu too; the
	// exception is invalidateFilePages (a shared file shrank), which holds
	// activeMu alone.
	//
	// Invariants: page-aligned; every address in a pma is in a vma; each
	// pma holds one MemoryFile reference on every page of its range.
	pmas rangeSet[pma]

	// as is the platform address space, or nil if none has been asked for
	// yet (AddressSpace creates it) or the memory manager is dead.
	// Protected by activeMu.
	//
	// Invariant: as maps nothing outside the pmas, and maps each page with
	// at most its pma's effectivePerms, from the pma's MemoryFile range.
	// So a range without pmas never needs an Unmap call, and anything that
	// takes permissions away from a pma or changes its memory must unmap
	// it first.
	as platform.AddressSpace

	// dead is set once the last user is gone. Protected by activeMu.
	dead bool

	// fileCaches are the page caches of shared file mappings this memory
	// manager has made (or inherited), whose mappers it belongs to until
	// it dies. Protected by mappingMu.
	fileCaches map[*fileCache]struct{}
}

// NewMemoryManager returns an empty address space on p, with one user. Its
// layout spans p's user range with a top-down mmap area below room for the
// stack (see Layout).
func NewMemoryManager(p platform.Platform) *MemoryManager {
	mm := newMemoryManager(p, newLayout(p.MinUserAddress(), p.MaxUserAddress()))
	mm.limits = DefaultLimits
	return mm
}

// newMemoryManager returns an empty memory manager with one user and zero
// limits.
func newMemoryManager(p platform.Platform, layout Layout) *MemoryManager {
	mm := &MemoryManager{p: p, mf: p.MemoryFile(), layout: layout}
	mm.users.Store(1)
	return mm
}

// Layout returns the address space's layout.
func (mm *MemoryManager) Layout() Layout {
	return mm.layout
}

// Limits returns the resource limits.
func (mm *MemoryManager) Limits() Limits {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	return mm.limits
}

// SetLimits replaces the resource limits. Like Linux, lowering a limit below
// the current usage takes nothing away; it only makes later growth fail.
func (mm *MemoryManager) SetLimits(l Limits) {
	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	mm.limits = l
}

// IncUsers adds a user, unless the memory manager has already lost its last
// user, in which case it returns false and the caller must not use it.
func (mm *MemoryManager) IncUsers() bool {
	for {
		n := mm.users.Load()
		if n <= 0 {
			return false
		}
		if mm.users.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// DecUsers drops a user. The last one releases the AddressSpace and all
// memory; the memory manager is then empty and unusable.
func (mm *MemoryManager) DecUsers(ctx context.Context) {
	switch n := mm.users.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("mm: DecUsers without a matching user")
	}
	mm.mappingMu.Lock()
	defer mm.mappingMu.Unlock()
	// Release the address space first: with it gone, freeing the memory
	// below needs no Unmap calls (each one is a syscall in a stub).
	mm.activeMu.Lock()
	as := mm.as
	mm.as = nil
	mm.dead = true
	mm.activeMu.Unlock()
	if as != nil {
		as.Release()
	}
	// Unmapping writes back and releases the file caches this was the
	// last mapper of.
	mm.unmapLocked(usermem.AddrRange{Start: 0, End: mm.layout.MaxAddr})
	for c := range mm.fileCaches {
		c.removeMapper(mm)
	}
	mm.fileCaches = nil
}

// AddressSpace returns the platform address space the application runs in,
// creating it on the first call. A new address space is empty: the pmas
// that already exist are mapped into it again as the application faults on
// them.
func (mm *MemoryManager) AddressSpace() (platform.AddressSpace, error) {
	mm.activeMu.Lock()
	defer mm.activeMu.Unlock()
	if mm.dead {
		return nil, unix.EINVAL
	}
	if mm.as == nil {
		as, err := mm.p.NewAddressSpace()
		if err != nil {
			return nil, err
		}
		mm.as = as
	}
	return mm.as, nil
}

// unmapASLocked removes ar from the address space, if there is one.
//
// Preconditions: mm.activeMu is locked for writing; ar is page-aligned and
// within the layout.
func (mm *MemoryManager) unmapASLocked(ar usermem.AddrRange) {
	if mm.as != nil && ar.Length() != 0 {
		mm.as.Unmap(ar.Start, uint64(ar.Length()))
	}
}
