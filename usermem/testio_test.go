package usermem

import (
	"context"

	"golang.org/x/sys/unix"
)

// This file holds IO implementations that only tests use.

// highIO is an IO whose memory is mem.Bytes placed at address base, so that
// tests can put memory right below the top of the address space. Only the
// methods the helpers use are implemented; the others panic through the nil
// embedded IO.
type highIO struct {
	IO
	// base is the address of mem.Bytes[0].
	base Addr
	// mem is the memory.
	mem BytesIO
}

// translate returns the offset into mem of addr, or ok false if addr is
// below base.
func (h highIO) translate(addr Addr) (off Addr, ok bool) {
	return addr - h.base, addr >= h.base
}

func (h highIO) CopyOut(ctx context.Context, addr Addr, src []byte, opts IOOpts) (int, error) {
	off, ok := h.translate(addr)
	if !ok && len(src) != 0 {
		return 0, unix.EFAULT
	}
	return h.mem.CopyOut(ctx, off, src, opts)
}

func (h highIO) CopyIn(ctx context.Context, addr Addr, dst []byte, opts IOOpts) (int, error) {
	off, ok := h.translate(addr)
	if !ok && len(dst) != 0 {
		return 0, unix.EFAULT
	}
	return h.mem.CopyIn(ctx, off, dst, opts)
}

// ioCall is one call recorded by recordingIO.
type ioCall struct {
	Method string
	Addr   Addr
	Len    int64
	Opts   IOOpts
}

// recordingIO is an IO that records every call it passes on to its IO.
type recordingIO struct {
	IO
	// calls are the calls so far, oldest first.
	calls *[]ioCall
}

func (r recordingIO) record(method string, addr Addr, n int64, opts IOOpts) {
	*r.calls = append(*r.calls, ioCall{method, addr, n, opts})
}

func (r recordingIO) CopyOut(ctx context.Context, addr Addr, src []byte, opts IOOpts) (int, error) {
	r.record("CopyOut", addr, int64(len(src)), opts)
	return r.IO.CopyOut(ctx, addr, src, opts)
}

func (r recordingIO) CopyIn(ctx context.Context, addr Addr, dst []byte, opts IOOpts) (int, error) {
	r.record("CopyIn", addr, int64(len(dst)), opts)
	return r.IO.CopyIn(ctx, addr, dst, opts)
}

func (r recordingIO) ZeroOut(ctx context.Context, addr Addr, toZero int64, opts IOOpts) (int64, error) {
	r.record("ZeroOut", addr, toZero, opts)
	return r.IO.ZeroOut(ctx, addr, toZero, opts)
}

func (r recordingIO) CopyOutFrom(ctx context.Context, ars AddrRangeSeq, src BlockReader, opts IOOpts) (int64, error) {
	r.record("CopyOutFrom", 0, ars.NumBytes(), opts)
	return r.IO.CopyOutFrom(ctx, ars, src, opts)
}

func (r recordingIO) CopyInTo(ctx context.Context, ars AddrRangeSeq, dst BlockWriter, opts IOOpts) (int64, error) {
	r.record("CopyInTo", 0, ars.NumBytes(), opts)
	return r.IO.CopyInTo(ctx, ars, dst, opts)
}

// scriptedIO is an IO whose CopyIn and CopyOut transfer at most n bytes (of
// zeroes, for CopyIn) and return err, wherever they are.
type scriptedIO struct {
	IO
	n   int
	err error
}

func (s scriptedIO) CopyOut(ctx context.Context, addr Addr, src []byte, opts IOOpts) (int, error) {
	return min(s.n, len(src)), s.err
}

func (s scriptedIO) CopyIn(ctx context.Context, addr Addr, dst []byte, opts IOOpts) (int, error) {
	n := min(s.n, len(dst))
	clear(dst[:n])
	return n, s.err
}
