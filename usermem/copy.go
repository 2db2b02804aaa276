package usermem

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// CopyObjectOut encodes src as encoding/binary does, packed and in ByteOrder,
// the layout of a C struct without padding, and copies the result to memory
// at addr. It returns the number of bytes copied.
//
// Preconditions: src is a fixed-size value, a pointer to one, or a slice of
// them, as encoding/binary defines.
func CopyObjectOut(ctx context.Context, uio IO, addr Addr, src any, opts IOOpts) (int, error) {
	buf, err := binary.Append(nil, ByteOrder, src)
	if err != nil {
		panic(fmt.Sprintf("CopyObjectOut: cannot encode %T: %v", src, err))
	}
	return uio.CopyOut(ctx, addr, buf, opts)
}

// CopyObjectIn copies binary.Size(dst) bytes from memory at addr and decodes
// them into dst as encoding/binary does, packed and in ByteOrder. It returns
// the number of bytes copied.
//
// On any failure it returns 0 and leaves dst alone: a partly read object is of
// no use to the caller, so there is no partial count to report.
//
// Preconditions: dst is a pointer to a fixed-size value, or a slice of them,
// as encoding/binary defines.
func CopyObjectIn(ctx context.Context, uio IO, addr Addr, dst any, opts IOOpts) (int, error) {
	size := binary.Size(dst)
	if size < 0 {
		panic(fmt.Sprintf("CopyObjectIn: %T has no fixed size", dst))
	}
	buf := make([]byte, size)
	if _, err := uio.CopyIn(ctx, addr, buf, opts); err != nil {
		return 0, err
	}
	if _, err := binary.Decode(buf, ByteOrder, dst); err != nil {
		panic(fmt.Sprintf("CopyObjectIn: cannot decode into %T: %v", dst, err))
	}
	return size, nil
}

// CopyStringIn reads a NUL-terminated string from memory at addr, as the
// kernel reads a path or an argv element, and returns it without the NUL.
//
// The string, not counting the NUL, must be shorter than maxlen bytes: if
// maxlen bytes hold no NUL, CopyStringIn returns them with ENAMETOOLONG. If
// memory faults before a NUL is found, it returns the bytes read so far with
// the error (EFAULT). Reads are up to 64 bytes long, and one that would run
// past the top of the address space fails with EFAULT before reading: no
// application memory is mapped that high.
//
// Preconditions: maxlen >= 0.
func CopyStringIn(ctx context.Context, uio IO, addr Addr, maxlen int, opts IOOpts) (string, error) {
	const (
		// readMax is the most bytes read at a time. Strings are mostly
		// short, and reading past the NUL costs copying for nothing.
		readMax = 64
		// initBufMax is the largest buffer allocated up front, so that a
		// large maxlen (PATH_MAX is 4096) costs nothing for a short string.
		initBufMax = 256
	)
	if maxlen < 0 {
		panic(fmt.Sprintf("CopyStringIn: negative maxlen %d", maxlen))
	}
	buf := make([]byte, min(maxlen, initBufMax))
	var done int
	for done < maxlen {
		readlen := min(maxlen-done, readMax)
		end, ok := addr.AddLength(uint64(readlen))
		if !ok {
			return string(buf[:done]), unix.EFAULT
		}
		// Stop the read at a page boundary. The string may end before it,
		// and the next page may be unmapped (a string at the very end of a
		// mapping) or not yet faulted in; reading it anyway would fail or
		// fault in a page for nothing.
		if pageEnd := end.RoundDown(); pageEnd > addr {
			end = pageEnd
			readlen = int(end - addr)
		}
		if done+readlen > len(buf) {
			// Double rather than grow by readlen, so that long strings
			// are not copied over and over.
			grown := make([]byte, min(2*len(buf), maxlen))
			copy(grown, buf[:done])
			buf = grown
		}
		n, err := uio.CopyIn(ctx, addr, buf[done:done+readlen], opts)
		// A NUL in what was read ends the string, even if the read then
		// failed further on.
		if i := bytes.IndexByte(buf[done:done+n], 0); i >= 0 {
			return string(buf[:done+i]), nil
		}
		done += n
		if err != nil {
			return string(buf[:done]), err
		}
		// n == readlen: IO returns a short count only with an error.
		addr = end
	}
	return string(buf[:done]), unix.ENAMETOOLONG
}

// CopyOutVec copies src to the ranges of ars, in order, and returns the
// number of bytes copied. It copies min(len(src), ars.NumBytes()) bytes: a
// sequence shorter than src truncates the copy without error, as a short
// readv(2) into small iovecs does. It stops at the first error.
func CopyOutVec(ctx context.Context, uio IO, ars AddrRangeSeq, src []byte, opts IOOpts) (int, error) {
	var done int
	for !ars.IsEmpty() && done < len(src) {
		ar := ars.Head()
		n, err := uio.CopyOut(ctx, ar.Start, src[done:done+int(vecStep(ar, int64(len(src)-done)))], opts)
		done += n
		if err != nil {
			return done, err
		}
		// DropFirst also removes the head when it is empty, so the loop
		// moves on past zero-length ranges.
		ars = ars.DropFirst(n)
	}
	return done, nil
}

// CopyInVec copies from the ranges of ars, in order, to dst, and returns the
// number of bytes copied. Like CopyOutVec, it copies
// min(len(dst), ars.NumBytes()) bytes and stops at the first error.
func CopyInVec(ctx context.Context, uio IO, ars AddrRangeSeq, dst []byte, opts IOOpts) (int, error) {
	var done int
	for !ars.IsEmpty() && done < len(dst) {
		ar := ars.Head()
		n, err := uio.CopyIn(ctx, ar.Start, dst[done:done+int(vecStep(ar, int64(len(dst)-done)))], opts)
		done += n
		if err != nil {
			return done, err
		}
		ars = ars.DropFirst(n)
	}
	return done, nil
}

// ZeroOutVec zeroes the first toZero bytes of the ranges of ars and returns
// the number of bytes zeroed. Like CopyOutVec, it zeroes
// min(toZero, ars.NumBytes()) bytes and stops at the first error.
//
// Preconditions: toZero >= 0.
func ZeroOutVec(ctx context.Context, uio IO, ars AddrRangeSeq, toZero int64, opts IOOpts) (int64, error) {
	var done int64
	for !ars.IsEmpty() && done < toZero {
		ar := ars.Head()
		n, err := uio.ZeroOut(ctx, ar.Start, vecStep(ar, toZero-done), opts)
		done += n
		if err != nil {
			return done, err
		}
		ars = ars.DropFirst64(n)
	}
	return done, nil
}

// vecStep returns how many bytes a *Vec helper transfers at ar when remaining
// bytes are still to go: all of ar if they fit.
func vecStep(ar AddrRange, remaining int64) int64 {
	// ar comes from an AddrRangeSeq, so its length fits in an int64.
	return min(remaining, int64(ar.Length()))
}
