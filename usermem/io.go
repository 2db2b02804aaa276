package usermem

import "context"

// IOOpts controls how an IO reaches memory.
type IOOpts struct {
	// IgnorePermissions ignores the application's mmap and mprotect
	// protections. The protections the mapping itself imposes (a read-only
	// file mapped shared cannot be written) still apply: the memory manager
	// records them as a vma's maximum permissions.
	IgnorePermissions bool

	// AddressSpaceActive promises that the caller's address space is active.
	// It lets an implementation copy through the address space itself; the
	// ptrace platform never does, so minisentry only carries the flag.
	AddressSpaceActive bool
}

// IO reads and writes an address space.
//
// Every method returns how much it did and the first error it met; a count
// short of what was asked always comes with a non-nil error. Errors are
// unix.Errno values, EFAULT for memory that cannot be reached.
//
// Preconditions for every method: the caller holds no memory manager lock.
type IO interface {
	// CopyOut copies len(src) bytes from src to memory at addr. It does not
	// retain src.
	CopyOut(ctx context.Context, addr Addr, src []byte, opts IOOpts) (int, error)

	// CopyIn copies len(dst) bytes from memory at addr to dst. It does not
	// retain dst.
	CopyIn(ctx context.Context, addr Addr, dst []byte, opts IOOpts) (int, error)

	// ZeroOut sets toZero bytes at addr to zero.
	//
	// Preconditions: toZero >= 0.
	ZeroOut(ctx context.Context, addr Addr, toZero int64, opts IOOpts) (int64, error)

	// CopyOutFrom copies bytes produced by src into the ranges ars, in order,
	// calling src.ReadToBlocks at most once with windows onto that memory.
	// The count is how many bytes reached memory. A short count with a nil
	// error only happens when src itself returned one.
	CopyOutFrom(ctx context.Context, ars AddrRangeSeq, src BlockReader, opts IOOpts) (int64, error)

	// CopyInTo hands the bytes in the ranges ars, in order, to dst, calling
	// dst.WriteFromBlocks at most once with windows onto that memory. A short
	// count with a nil error only happens when dst itself returned one.
	CopyInTo(ctx context.Context, ars AddrRangeSeq, dst BlockWriter, opts IOOpts) (int64, error)

	// SwapUint32 atomically stores new at addr and returns the old value.
	//
	// Preconditions: addr is 4-byte aligned.
	SwapUint32(ctx context.Context, addr Addr, new uint32, opts IOOpts) (uint32, error)

	// CompareAndSwapUint32 atomically stores new at addr if it holds old, and
	// returns the value that was there whether or not it swapped.
	//
	// Preconditions: addr is 4-byte aligned.
	CompareAndSwapUint32(ctx context.Context, addr Addr, old, new uint32, opts IOOpts) (uint32, error)

	// LoadUint32 atomically loads the value at addr.
	//
	// Preconditions: addr is 4-byte aligned.
	LoadUint32(ctx context.Context, addr Addr, opts IOOpts) (uint32, error)
}
