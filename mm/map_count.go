package mm

import (
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// The number of vmas is bounded, as Linux bounds a process's mappings by
// vm.max_map_count: mmap, mprotect, munmap, mremap and the madvise calls
// that would make a vma more than that many fail with ENOMEM. Without the
// bound a program could grow the sentry's own memory without end (the
// vmas live in the sentry's heap, not in the memory file that
// --memory-limit bounds), one mprotect of every other page at a time.
//
// The bound is the host's own vm.max_map_count, which also bounds the
// mappings of each stub process: an address space whose vmas the host
// could not map would otherwise fail only at a fault. (Each vma needs at
// least one host mapping once touched; vmas whose pages come from
// scattered parts of the memory file need more, which this does not
// count.)

// defaultMaxMapCount is Linux's default vm.max_map_count, used if the host
// does not tell its own.
const defaultMaxMapCount = 65530

// maxMapCount returns the most vmas an address space may hold.
var maxMapCount = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		return defaultMaxMapCount
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return defaultMaxMapCount
	}
	return n
})

// splitsLocked returns how many vmas splitting at ar's ends would add: one
// for each end that falls strictly inside a vma.
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) splitsLocked(ar usermem.AddrRange) int {
	n := 0
	for _, addr := range []usermem.Addr{ar.Start, ar.End} {
		if i, ok := mm.vmas.find(addr); ok && mm.vmas.segs[i].ar.Start < addr {
			n++
		}
	}
	return n
}

// checkMapCountLocked returns ENOMEM if adding more vmas would exceed the
// bound.
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) checkMapCountLocked(more int) error {
	if more > 0 && len(mm.vmas.segs)+more > maxMapCount() {
		return unix.ENOMEM
	}
	return nil
}

// protectSplitsLocked returns how many vmas mprotect of ar to perms would
// add: a split at each end of ar that falls strictly inside a vma whose
// permissions change (Linux leaves a vma alone whose flags stay the same).
//
// Preconditions: mm.mappingMu is locked.
func (mm *MemoryManager) protectSplitsLocked(ar usermem.AddrRange, perms usermem.AccessType) int {
	n := 0
	for _, addr := range []usermem.Addr{ar.Start, ar.End} {
		if i, ok := mm.vmas.find(addr); ok && mm.vmas.segs[i].ar.Start < addr && mm.vmas.segs[i].val.realPerms != perms {
			n++
		}
	}
	return n
}
