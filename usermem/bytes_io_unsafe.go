package usermem

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// uint32At returns a pointer to the 4 bytes of memory at addr, for the
// atomic operations. sync/atomic needs a *uint32, hence unsafe.
//
// Preconditions: [addr, addr+4) lies inside b.Bytes.
func (b BytesIO) uint32At(addr Addr) *uint32 {
	p := unsafe.Pointer(&b.Bytes[addr])
	// An unaligned atomic is not atomic on every architecture (and faults on
	// some), so refuse it rather than silently lose atomicity. addr being
	// aligned is the caller's precondition; the slice being aligned is the
	// owner's: make([]byte, n) is, for n a multiple of 4.
	if uintptr(p)%4 != 0 {
		panic(fmt.Sprintf("BytesIO: 32-bit atomic at address %#x (host %p) is not 4-byte aligned", addr, p))
	}
	return (*uint32)(p)
}

// SwapUint32 implements IO.SwapUint32.
func (b BytesIO) SwapUint32(ctx context.Context, addr Addr, new uint32, opts IOOpts) (uint32, error) {
	if _, err := b.rangeCheck(addr, 4); err != nil {
		return 0, err
	}
	return atomic.SwapUint32(b.uint32At(addr), new), nil
}

// CompareAndSwapUint32 implements IO.CompareAndSwapUint32.
func (b BytesIO) CompareAndSwapUint32(ctx context.Context, addr Addr, old, new uint32, opts IOOpts) (uint32, error) {
	if _, err := b.rangeCheck(addr, 4); err != nil {
		return 0, err
	}
	p := b.uint32At(addr)
	// sync/atomic's CompareAndSwap reports only whether it swapped, but the
	// futex code needs the value it found. If the swap succeeds, that value
	// was old. If it fails, the value changed after the load, so load again:
	// either way the value returned was in memory at some instant, which is
	// what an atomic compare-and-swap promises.
	for {
		prev := atomic.LoadUint32(p)
		if prev != old {
			return prev, nil
		}
		if atomic.CompareAndSwapUint32(p, old, new) {
			return old, nil
		}
	}
}

// LoadUint32 implements IO.LoadUint32.
func (b BytesIO) LoadUint32(ctx context.Context, addr Addr, opts IOOpts) (uint32, error) {
	if _, err := b.rangeCheck(addr, 4); err != nil {
		return 0, err
	}
	return atomic.LoadUint32(b.uint32At(addr)), nil
}
