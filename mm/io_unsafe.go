package mm

import (
	"sync/atomic"
	"unsafe"
)

// wordAt returns a pointer to the 4 bytes of b, a window of the internal
// mapping, so that futex words can be updated atomically in place.
//
// Preconditions: len(b) == 4; b's address is 4-byte aligned (the memory
// file's mapping is page-aligned, and application addresses and their
// memory file offsets agree modulo the page size).
func wordAt(b []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[0]))
}

func swapUint32(p *uint32, new uint32) uint32 {
	return atomic.SwapUint32(p, new)
}

// compareAndSwapUint32 stores new at p if it holds old, and returns the
// value it held either way.
func compareAndSwapUint32(p *uint32, old, new uint32) uint32 {
	for {
		if atomic.CompareAndSwapUint32(p, old, new) {
			return old
		}
		if prev := atomic.LoadUint32(p); prev != old {
			return prev
		}
		// The word changed back to old between the failed swap and the
		// load; try again.
	}
}

func loadUint32(p *uint32) uint32 {
	return atomic.LoadUint32(p)
}
