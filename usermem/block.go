package usermem

import "io"

// Blocks: the zero-copy bridge between application memory and host I/O.
//
// Application memory lives in the sentry's memory file, which the sentry maps
// once into its own address space. A contiguous run of application pages is
// therefore a contiguous run of sentry memory: a plain []byte, a window onto
// the application's pages. An ordered list of such windows is a BlockSeq.
//
// IO.CopyOutFrom and IO.CopyInTo hand a BlockReader or BlockWriter the
// windows themselves, so a file read can go from a host fd straight into
// application memory with one readv(2), and a write the other way with one
// writev(2), with no buffer in between.
//
// gVisor's equivalent is package safemem, whose blocks may fault (they can
// point into memory that the host may take away) and need a SIGSEGV-tolerant
// memcpy. minisentry's windows never fault: the memory file is sparse but
// every offset inside it is backed, so an ordinary copy() is safe.

// BlockSeq is an ordered list of windows onto memory. A window may be empty.
// The windows are only valid for the duration of the call they are passed to:
// a BlockReader or BlockWriter must not retain them.
type BlockSeq [][]byte

// NumBytes returns the total length of the windows.
func (bs BlockSeq) NumBytes() uint64 {
	var n uint64
	for _, b := range bs {
		n += uint64(len(b))
	}
	return n
}

// BlockReader reads data into windows of memory.
type BlockReader interface {
	// ReadToBlocks fills dsts in order and returns how many bytes it wrote.
	// It may return a short count with a nil error (like a short read(2));
	// it must not return an error, io.EOF included, when it filled dsts.
	ReadToBlocks(dsts BlockSeq) (uint64, error)
}

// BlockWriter writes data from windows of memory.
type BlockWriter interface {
	// WriteFromBlocks consumes srcs in order and returns how many bytes it
	// used. It may return a short count with a nil error (like a short
	// write(2)); it must not return an error when it used all of srcs.
	WriteFromBlocks(srcs BlockSeq) (uint64, error)
}

// BlockReaderFunc adapts a function to BlockReader.
type BlockReaderFunc func(dsts BlockSeq) (uint64, error)

// ReadToBlocks implements BlockReader.ReadToBlocks.
func (f BlockReaderFunc) ReadToBlocks(dsts BlockSeq) (uint64, error) {
	return f(dsts)
}

// BlockWriterFunc adapts a function to BlockWriter.
type BlockWriterFunc func(srcs BlockSeq) (uint64, error)

// WriteFromBlocks implements BlockWriter.WriteFromBlocks.
func (f BlockWriterFunc) WriteFromBlocks(srcs BlockSeq) (uint64, error) {
	return f(srcs)
}

// FromIOReader returns a BlockReader that fills windows from r, one Read per
// window, stopping at the first short read: like read(2), it transfers what r
// has now, where io.ReadFull would wait (forever, on a terminal) for the
// rest. io.EOF is dropped once some bytes were read, and any error is dropped
// once every window is full, as the BlockReader contract demands; r reports
// it again on the next Read.
func FromIOReader(r io.Reader) BlockReader {
	return BlockReaderFunc(func(dsts BlockSeq) (uint64, error) {
		var done uint64
		for _, dst := range dsts {
			if len(dst) == 0 {
				continue
			}
			n, err := r.Read(dst)
			done += uint64(n)
			if n == len(dst) && err == nil {
				continue
			}
			if (err == io.EOF && done > 0) || done == dsts.NumBytes() {
				err = nil
			}
			return done, err
		}
		return done, nil
	})
}

// FromIOWriter returns a BlockWriter that writes each window to w in order,
// stopping at the first error.
func FromIOWriter(w io.Writer) BlockWriter {
	return BlockWriterFunc(func(srcs BlockSeq) (uint64, error) {
		var done uint64
		for _, src := range srcs {
			if len(src) == 0 {
				continue
			}
			n, err := w.Write(src)
			done += uint64(n)
			if err != nil {
				return done, err
			}
			if n < len(src) {
				return done, io.ErrShortWrite
			}
		}
		return done, nil
	})
}

// CopySeq copies from srcs to dsts until either runs out and returns the
// number of bytes copied.
func CopySeq(dsts, srcs BlockSeq) uint64 {
	var done uint64
	var d, s []byte
	for {
		for len(d) == 0 && len(dsts) > 0 {
			d, dsts = dsts[0], dsts[1:]
		}
		for len(s) == 0 && len(srcs) > 0 {
			s, srcs = srcs[0], srcs[1:]
		}
		if len(d) == 0 || len(s) == 0 {
			return done
		}
		n := copy(d, s)
		d, s = d[n:], s[n:]
		done += uint64(n)
	}
}

// ZeroSeq zeroes every window of dsts and returns the number of bytes zeroed.
func ZeroSeq(dsts BlockSeq) uint64 {
	var done uint64
	for _, d := range dsts {
		clear(d)
		done += uint64(len(d))
	}
	return done
}
