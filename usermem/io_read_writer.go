package usermem

import (
	"context"

	"golang.org/x/sys/unix"
)

// IOReadWriter is an io.Reader and io.Writer on the memory of an IO starting
// at Addr, for code written against the io interfaces (encoding/binary,
// io.Copy...).
//
// An address space has no end of file: reads and writes fail with EFAULT when
// they reach unmapped memory, and IOReadWriter returns io.EOF only if the IO
// itself does.
type IOReadWriter struct {
	// Ctx is passed to every IO call.
	Ctx context.Context
	// IO is the address space read and written.
	IO IO
	// Addr is where the next Read or Write starts. Each call advances it by
	// the number of bytes transferred.
	Addr Addr
	// Opts is passed to every IO call.
	Opts IOOpts
}

// Read implements io.Reader.Read.
func (rw *IOReadWriter) Read(dst []byte) (int, error) {
	n, err := rw.IO.CopyIn(rw.Ctx, rw.Addr, dst, rw.Opts)
	return n, rw.advance(n, err)
}

// Write implements io.Writer.Write.
func (rw *IOReadWriter) Write(src []byte) (int, error) {
	n, err := rw.IO.CopyOut(rw.Ctx, rw.Addr, src, rw.Opts)
	return n, rw.advance(n, err)
}

// advance moves Addr past the n bytes just transferred and returns the error
// to report for the transfer, err unless Addr ran into the top of the address
// space.
func (rw *IOReadWriter) advance(n int, err error) error {
	end, ok := rw.Addr.AddLength(uint64(n))
	if ok {
		rw.Addr = end
		return err
	}
	// Addr cannot go past the top of the address space. Pin it there rather
	// than wrap to 0, where the next call would silently carry on at the
	// bottom. A failed transfer that hit the top failed because memory ran
	// out, which is EFAULT whatever the IO called it.
	rw.Addr = ^Addr(0)
	if err != nil {
		return unix.EFAULT
	}
	return nil
}
