// Package usermem is the vocabulary every layer of minisentry uses to talk
// about application memory: addresses (Addr), ranges of them (AddrRange,
// AddrRangeSeq), access permissions (AccessType), and the IO interface through
// which the kernel reads and writes an application's address space.
//
// The package knows nothing about how memory is really reached. mm implements
// IO on top of the memory file; BytesIO implements it on a plain byte slice so
// that tests, the loader and in-sentry buffers can use the same helpers.
//
// There are three ways to use it, and minisentry code uses no other (they are
// the seed of the project, taken from gVisor's pkg/usermem):
//
//  1. System call handlers, running on the task goroutine, use the
//     kernel.Task wrappers (CopyIn, CopyOut, CopyInBytes, CopyInString,
//     CopyInIovecs...), which apply the application's memory protections.
//  2. Code that must ignore those protections (ptrace PEEK/POKE emulation,
//     /proc/pid/mem) takes Task.MemoryManager() and calls its IO methods with
//     IOOpts.IgnorePermissions set.
//  3. Code below the kernel package (files, pipes) receives an IOSequence,
//     built by Task.SingleIOSequence or Task.IovecsIOSequence, and never sees
//     the MemoryManager.
//
// Errors are unix.Errno values (EFAULT, EINVAL, ENAMETOOLONG...), so callers
// compare them with errors.Is. The one exception is ErrEndOfIOSequence, which
// is not a failure but io.Writer's way of reporting a short write.
package usermem

import (
	"encoding/binary"
	"fmt"
)

// Page and huge page geometry of x86-64.
const (
	// PageShift is log2(PageSize).
	PageShift = 12
	// PageSize is the size of a page, the unit of mapping and protection.
	PageSize = 1 << PageShift
	// HugePageShift is log2(HugePageSize).
	HugePageShift = 21
	// HugePageSize is the size of a huge page. The memory manager allocates
	// private anonymous memory in units of this size.
	HugePageSize = 1 << HugePageShift

	pageMask     = PageSize - 1
	hugePageMask = HugePageSize - 1
)

// ByteOrder is the byte order of the application's architecture.
var ByteOrder = binary.LittleEndian

// Addr is an address in an application's address space.
type Addr uintptr

// AddLength returns v+length. ok is false if the sum wraps around, if length
// does not fit in an Addr, or if the end is exactly 0 (a range reaching the
// top of the address space cannot be represented by its end).
func (v Addr) AddLength(length uint64) (end Addr, ok bool) {
	end = v + Addr(length)
	// The second test catches a length wider than Addr on 32-bit hosts.
	ok = end >= v && uint64(Addr(length)) == length && !(end == 0 && length != 0)
	return
}

// RoundDown returns v rounded down to a page boundary.
func (v Addr) RoundDown() Addr {
	return v &^ pageMask
}

// RoundUp returns v rounded up to a page boundary. ok is false if that wraps.
func (v Addr) RoundUp() (addr Addr, ok bool) {
	addr = (v + pageMask).RoundDown()
	ok = addr >= v
	return
}

// MustRoundUp is RoundUp for callers that know v cannot wrap; it panics if it
// does.
func (v Addr) MustRoundUp() Addr {
	addr, ok := v.RoundUp()
	if !ok {
		panic(fmt.Sprintf("usermem.Addr(%#x).RoundUp() wraps", v))
	}
	return addr
}

// HugeRoundDown returns v rounded down to a huge page boundary.
func (v Addr) HugeRoundDown() Addr {
	return v &^ hugePageMask
}

// HugeRoundUp returns v rounded up to a huge page boundary. ok is false if
// that wraps.
func (v Addr) HugeRoundUp() (addr Addr, ok bool) {
	addr = (v + hugePageMask).HugeRoundDown()
	ok = addr >= v
	return
}

// PageOffset returns v's offset within its page.
func (v Addr) PageOffset() uint64 {
	return uint64(v & pageMask)
}

// IsPageAligned reports whether v is on a page boundary.
func (v Addr) IsPageAligned() bool {
	return v.PageOffset() == 0
}

// ToRange returns [v, v+length). ok is false under the same conditions as
// AddLength.
func (v Addr) ToRange(length uint64) (AddrRange, bool) {
	end, ok := v.AddLength(length)
	return AddrRange{Start: v, End: end}, ok
}

// PageRoundDown rounds x down to a page boundary. It works on uint64 so that
// file offsets wider than Addr are not truncated.
func PageRoundDown(x uint64) uint64 {
	return x &^ pageMask
}

// PageRoundUp rounds x up to a page boundary. ok is false if that wraps.
func PageRoundUp(x uint64) (addr uint64, ok bool) {
	addr = PageRoundDown(x + pageMask)
	ok = addr >= x
	return
}
