package usermem

import (
	"context"
	"math"

	"golang.org/x/sys/unix"
)

// BytesIO implements IO on a byte slice: address a is Bytes[a]. Addresses at
// or past len(Bytes) fault with EFAULT, as unmapped memory would.
//
// It lets code written against IO (the Copy* helpers, IOSequence users such as
// files and the loader) run on a kernel buffer, and gives tests an IO whose
// behaviour is easy to predict.
type BytesIO struct {
	// Bytes is the memory. Its length is the size of the address space.
	Bytes []byte
}

// rangeCheck returns how many of the length bytes at addr lie inside Bytes,
// and the error for the rest. A zero-length access succeeds wherever it is,
// so that an empty transfer never fails.
func (b BytesIO) rangeCheck(addr Addr, length int) (int, error) {
	if length == 0 {
		return 0, nil
	}
	if length < 0 {
		return 0, unix.EINVAL
	}
	size := Addr(len(b.Bytes))
	if addr >= size {
		return 0, unix.EFAULT
	}
	end, ok := addr.AddLength(uint64(length))
	if !ok || end > size {
		return int(size - addr), unix.EFAULT
	}
	return length, nil
}

// CopyOut implements IO.CopyOut.
func (b BytesIO) CopyOut(ctx context.Context, addr Addr, src []byte, opts IOOpts) (int, error) {
	n, err := b.rangeCheck(addr, len(src))
	if n == 0 {
		return 0, err
	}
	return copy(b.Bytes[addr:addr+Addr(n)], src), err
}

// CopyIn implements IO.CopyIn.
func (b BytesIO) CopyIn(ctx context.Context, addr Addr, dst []byte, opts IOOpts) (int, error) {
	n, err := b.rangeCheck(addr, len(dst))
	if n == 0 {
		return 0, err
	}
	return copy(dst, b.Bytes[addr:addr+Addr(n)]), err
}

// ZeroOut implements IO.ZeroOut.
func (b BytesIO) ZeroOut(ctx context.Context, addr Addr, toZero int64, opts IOOpts) (int64, error) {
	// rangeCheck counts in int; on a 32-bit host a larger count could not be
	// a valid range anyway.
	if toZero > math.MaxInt {
		return 0, unix.EINVAL
	}
	n, err := b.rangeCheck(addr, int(toZero))
	if n == 0 {
		return 0, err
	}
	clear(b.Bytes[addr : addr+Addr(n)])
	return int64(n), err
}

// CopyOutFrom implements IO.CopyOutFrom.
func (b BytesIO) CopyOutFrom(ctx context.Context, ars AddrRangeSeq, src BlockReader, opts IOOpts) (int64, error) {
	dsts, rangeErr := b.blocks(ars)
	n, err := src.ReadToBlocks(dsts)
	// A failure of src explains a short count better than a fault further
	// on, which src never reached.
	if err != nil {
		return int64(n), err
	}
	return int64(n), rangeErr
}

// CopyInTo implements IO.CopyInTo.
func (b BytesIO) CopyInTo(ctx context.Context, ars AddrRangeSeq, dst BlockWriter, opts IOOpts) (int64, error) {
	srcs, rangeErr := b.blocks(ars)
	n, err := dst.WriteFromBlocks(srcs)
	if err != nil {
		return int64(n), err
	}
	return int64(n), rangeErr
}

// blocks returns windows onto the memory of ars, in order, up to the first
// byte that is out of range, and the error for that byte. Empty ranges
// contribute no window.
func (b BytesIO) blocks(ars AddrRangeSeq) (BlockSeq, error) {
	var bs BlockSeq
	for ; !ars.IsEmpty(); ars = ars.Tail() {
		ar := ars.Head()
		// Lengths in a sequence fit in an int64, which is an int on the
		// 64-bit hosts minisentry runs on.
		n, err := b.rangeCheck(ar.Start, int(ar.Length()))
		if n != 0 {
			bs = append(bs, b.Bytes[ar.Start:ar.Start+Addr(n)])
		}
		if err != nil {
			return bs, err
		}
	}
	return bs, nil
}

// BytesIOSequence returns an IOSequence over all of buf, so that code taking
// an IOSequence (a file's read or write, the loader) can work on a kernel
// buffer.
func BytesIOSequence(buf []byte) IOSequence {
	return IOSequence{
		IO:    BytesIO{Bytes: buf},
		Addrs: AddrRangeSeqOf(AddrRange{Start: 0, End: Addr(len(buf))}),
	}
}
