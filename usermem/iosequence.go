package usermem

import (
	"context"
	"errors"
	"io"
)

// IOSequence is a list of ranges of an address space together with the IO
// that reaches them: what Linux calls an iov_iter. It is how files, pipes and
// other code below the kernel package read and write application memory
// without seeing the memory manager: a read(2) or readv(2) handler builds one
// from the application's buffer or iovecs and hands it down.
//
// IOSequence is a value: DropFirst and TakeFirst return new sequences.
type IOSequence struct {
	// IO reaches the memory of Addrs.
	IO IO
	// Addrs are the ranges the sequence reads and writes, in order.
	Addrs AddrRangeSeq
	// Opts is passed to every IO call.
	Opts IOOpts
}

// ErrEndOfIOSequence is what an IOSequence's Writer returns when a Write does
// not fit in the bytes left in the sequence. io.Writer demands an error for
// a short write, and running out of buffer is not a fault.
var ErrEndOfIOSequence = errors.New("write beyond end of IOSequence")

// NumBytes returns the number of bytes in the sequence.
//
// Beware that a sequence of zero-length ranges has NumBytes 0, yet Linux would
// still check each range's address. Returning early on NumBytes() == 0 skips
// that check and makes, say, a zero-length read(2) at a bad address succeed
// where Linux fails it with EFAULT.
func (s IOSequence) NumBytes() int64 {
	return s.Addrs.NumBytes()
}

// DropFirst returns s without its first n bytes.
//
// Preconditions: n >= 0.
func (s IOSequence) DropFirst(n int) IOSequence {
	s.Addrs = s.Addrs.DropFirst(n)
	return s
}

// DropFirst64 returns s without its first n bytes.
//
// Preconditions: n >= 0.
func (s IOSequence) DropFirst64(n int64) IOSequence {
	s.Addrs = s.Addrs.DropFirst64(n)
	return s
}

// TakeFirst returns the first n bytes of s.
//
// Preconditions: n >= 0.
func (s IOSequence) TakeFirst(n int) IOSequence {
	s.Addrs = s.Addrs.TakeFirst(n)
	return s
}

// TakeFirst64 returns the first n bytes of s.
//
// Preconditions: n >= 0.
func (s IOSequence) TakeFirst64(n int64) IOSequence {
	s.Addrs = s.Addrs.TakeFirst64(n)
	return s
}

// CopyOut copies src to the sequence's memory and returns the number of bytes
// copied. If the sequence is shorter than src, the copy stops at its end
// without error. It does not advance s: callers DropFirst the count.
func (s IOSequence) CopyOut(ctx context.Context, src []byte) (int, error) {
	return CopyOutVec(ctx, s.IO, s.Addrs, src, s.Opts)
}

// CopyIn copies from the sequence's memory to dst and returns the number of
// bytes copied. If the sequence is shorter than dst, the copy stops at its end
// without error.
func (s IOSequence) CopyIn(ctx context.Context, dst []byte) (int, error) {
	return CopyInVec(ctx, s.IO, s.Addrs, dst, s.Opts)
}

// ZeroOut zeroes the first n bytes of the sequence's memory and returns the
// number of bytes zeroed. If the sequence is shorter than n, it stops at its
// end without error.
//
// Preconditions: n >= 0.
func (s IOSequence) ZeroOut(ctx context.Context, n int64) (int64, error) {
	return ZeroOutVec(ctx, s.IO, s.Addrs, n, s.Opts)
}

// CopyOutFrom fills the sequence's memory from src, calling src.ReadToBlocks
// at most once. See IO.CopyOutFrom.
func (s IOSequence) CopyOutFrom(ctx context.Context, src BlockReader) (int64, error) {
	return s.IO.CopyOutFrom(ctx, s.Addrs, src, s.Opts)
}

// CopyInTo hands the sequence's memory to dst, calling dst.WriteFromBlocks at
// most once. See IO.CopyInTo.
func (s IOSequence) CopyInTo(ctx context.Context, dst BlockWriter) (int64, error) {
	return s.IO.CopyInTo(ctx, s.Addrs, dst, s.Opts)
}

// Reader returns an io.Reader that reads the sequence's memory from the
// start. It returns io.EOF once the sequence is used up, possibly together
// with the last bytes.
func (s IOSequence) Reader(ctx context.Context) io.Reader {
	return &ioSequenceReadWriter{ctx: ctx, s: s}
}

// Writer returns an io.Writer that writes the sequence's memory from the
// start. A Write that does not fit writes what fits and returns
// ErrEndOfIOSequence.
func (s IOSequence) Writer(ctx context.Context) io.Writer {
	return &ioSequenceReadWriter{ctx: ctx, s: s}
}

// ioSequenceReadWriter implements IOSequence.Reader and IOSequence.Writer.
type ioSequenceReadWriter struct {
	// ctx is passed to every copy.
	ctx context.Context
	// s is what remains of the sequence: each Read or Write drops the bytes
	// it transferred.
	s IOSequence
}

// Read implements io.Reader.Read.
func (rw *ioSequenceReadWriter) Read(dst []byte) (int, error) {
	n, err := rw.s.CopyIn(rw.ctx, dst)
	rw.s = rw.s.DropFirst(n)
	// Reporting io.EOF with the last bytes spares the caller a Read that
	// could only return (0, io.EOF).
	if err == nil && rw.s.NumBytes() == 0 {
		err = io.EOF
	}
	return n, err
}

// Write implements io.Writer.Write.
func (rw *ioSequenceReadWriter) Write(src []byte) (int, error) {
	n, err := rw.s.CopyOut(rw.ctx, src)
	rw.s = rw.s.DropFirst(n)
	if err == nil && n < len(src) {
		err = ErrEndOfIOSequence
	}
	return n, err
}
