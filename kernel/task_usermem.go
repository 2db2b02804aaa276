package kernel

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// The Copy* wrappers are how system call handlers reach application memory
// (the seed's first usage pattern). They honour the application's memory
// protections, and report EFAULT for memory it cannot reach.

// MaxRWCount is Linux's MAX_RW_COUNT: the most one read or write moves.
// Larger requests are silently shortened to it.
var MaxRWCount = int(usermem.Addr(math.MaxInt32).RoundDown())

// UIOMaxIOV is UIO_MAXIOV, the most iovecs one readv or writev takes.
const UIOMaxIOV = 1024

// iovecSize is sizeof(struct iovec) on x86-64.
const iovecSize = 16

// Limits of execve(2)'s argument and environment vectors, as Linux's:
// MAX_ARG_STRLEN for one string, and a total bounded by the stack.
const (
	ExecMaxElemSize  = 32 * usermem.PageSize
	ExecMaxTotalSize = 2 << 20
)

// ioOpts are the options of every wrapper: the task's own address space is
// the one that is active.
var ioOpts = usermem.IOOpts{AddressSpaceActive: true}

// CopyIn decodes a fixed-size value (a struct of fixed-size fields, or a
// slice of them) from application memory at addr into dst, which must be a
// pointer or a slice. It returns the number of bytes read, 0 on any error.
func (t *Task) CopyIn(addr usermem.Addr, dst any) (int, error) {
	return usermem.CopyObjectIn(t, t.mm, addr, dst, ioOpts)
}

// CopyOut encodes src, a fixed-size value, into application memory at addr.
func (t *Task) CopyOut(addr usermem.Addr, src any) (int, error) {
	return usermem.CopyObjectOut(t, t.mm, addr, src, ioOpts)
}

// CopyInBytes copies len(dst) bytes from application memory at addr.
func (t *Task) CopyInBytes(addr usermem.Addr, dst []byte) (int, error) {
	return t.mm.CopyIn(t, addr, dst, ioOpts)
}

// CopyOutBytes copies src to application memory at addr.
func (t *Task) CopyOutBytes(addr usermem.Addr, src []byte) (int, error) {
	return t.mm.CopyOut(t, addr, src, ioOpts)
}

// CopyInString reads a NUL-terminated string of at most maxlen-1 bytes;
// ENAMETOOLONG if maxlen bytes hold no NUL. Paths use maxlen PATH_MAX.
func (t *Task) CopyInString(addr usermem.Addr, maxlen int) (string, error) {
	return usermem.CopyStringIn(t, t.mm, addr, maxlen, ioOpts)
}

// CopyInVector reads a NULL-terminated array of string pointers at addr,
// such as execve's argv. Each string may be at most maxElemSize bytes with
// its NUL, and all of them together maxTotalSize; E2BIG past either, as
// execve(2) says. On error it returns the strings read so far.
func (t *Task) CopyInVector(addr usermem.Addr, maxElemSize, maxTotalSize int) ([]string, error) {
	var v []string
	total := 0
	for {
		var ptr uint64
		if _, err := t.CopyIn(addr, &ptr); err != nil {
			return v, err
		}
		if ptr == 0 {
			return v, nil
		}
		if total >= maxTotalSize {
			return v, unix.E2BIG
		}
		s, err := t.CopyInString(usermem.Addr(ptr), min(maxElemSize, maxTotalSize-total))
		if err == unix.ENAMETOOLONG {
			err = unix.E2BIG
		}
		if err != nil {
			return v, err
		}
		v = append(v, s)
		total += len(s) + 1
		next, ok := addr.AddLength(8)
		if !ok {
			return v, unix.EFAULT
		}
		addr = next
	}
}

// checkIORange is Linux's access_ok: the range [addr, addr+length) must not
// wrap and must end within the user address range. It applies even when
// length is 0.
func (t *Task) checkIORange(addr usermem.Addr, length int64) (usermem.AddrRange, bool) {
	if length < 0 {
		return usermem.AddrRange{}, false
	}
	ar, ok := addr.ToRange(uint64(length))
	if !ok || ar.End > t.mm.Layout().MaxAddr {
		return usermem.AddrRange{}, false
	}
	return ar, true
}

// CopyInIovecs reads numIovecs struct iovecs at addr, as Linux's
// import_iovec, in its order: EFAULT if the array lies outside the user
// range; then, iovec by iovec, EINVAL for a length that does not fit
// ssize_t, or EFAULT where the array stops being readable; only once every
// length is known good, EFAULT for a buffer outside the user range. The
// total is shortened to MaxRWCount, later iovecs first.
func (t *Task) CopyInIovecs(addr usermem.Addr, numIovecs int) (usermem.AddrRangeSeq, error) {
	if numIovecs == 0 {
		return usermem.AddrRangeSeq{}, nil
	}
	if _, ok := t.checkIORange(addr, int64(numIovecs)*iovecSize); !ok {
		return usermem.AddrRangeSeq{}, unix.EFAULT
	}
	raw := make([]byte, numIovecs*iovecSize)
	n, copyErr := t.CopyInBytes(addr, raw)
	for i := 0; i < numIovecs; i++ {
		if (i+1)*iovecSize > n {
			return usermem.AddrRangeSeq{}, copyErr
		}
		if usermem.ByteOrder.Uint64(raw[i*iovecSize+8:]) > math.MaxInt64 {
			return usermem.AddrRangeSeq{}, unix.EINVAL
		}
	}
	ars := make([]usermem.AddrRange, numIovecs)
	remaining := int64(MaxRWCount)
	for i := range ars {
		base := usermem.Addr(usermem.ByteOrder.Uint64(raw[i*iovecSize:]))
		length := int64(usermem.ByteOrder.Uint64(raw[i*iovecSize+8:]))
		ar, ok := t.checkIORange(base, length)
		if !ok {
			return usermem.AddrRangeSeq{}, unix.EFAULT
		}
		if int64(ar.Length()) > remaining {
			ar.End = ar.Start + usermem.Addr(remaining)
		}
		remaining -= int64(ar.Length())
		ars[i] = ar
	}
	return usermem.AddrRangeSeqFromSlice(ars), nil
}

// CopyOutIovecs writes ars as struct iovecs at addr.
func (t *Task) CopyOutIovecs(addr usermem.Addr, ars usermem.AddrRangeSeq) error {
	raw := make([]byte, 0, ars.NumRanges()*iovecSize)
	for !ars.IsEmpty() {
		ar := ars.Head()
		raw = usermem.ByteOrder.AppendUint64(raw, uint64(ar.Start))
		raw = usermem.ByteOrder.AppendUint64(raw, uint64(ar.Length()))
		ars = ars.Tail()
	}
	if _, ok := t.checkIORange(addr, int64(len(raw))); !ok {
		return unix.EFAULT
	}
	_, err := t.CopyOutBytes(addr, raw)
	return err
}

// SingleIOSequence returns the IOSequence of one buffer, as read(2) and
// write(2) take it: the whole range must pass access_ok (EFAULT; a length
// that does not fit ssize_t never does), then it is shortened to
// MaxRWCount.
func (t *Task) SingleIOSequence(addr usermem.Addr, length int, opts usermem.IOOpts) (usermem.IOSequence, error) {
	ar, ok := t.checkIORange(addr, int64(length))
	if !ok {
		return usermem.IOSequence{}, unix.EFAULT
	}
	if ar.Length() > usermem.Addr(MaxRWCount) {
		ar.End = ar.Start + usermem.Addr(MaxRWCount)
	}
	return usermem.IOSequence{IO: t.mm, Addrs: usermem.AddrRangeSeqOf(ar), Opts: opts}, nil
}

// IovecsIOSequence returns the IOSequence of iovcnt iovecs at addr, as
// readv(2) and writev(2) take them: EINVAL for a count outside [0,
// UIO_MAXIOV], then CopyInIovecs's errors.
func (t *Task) IovecsIOSequence(addr usermem.Addr, iovcnt int, opts usermem.IOOpts) (usermem.IOSequence, error) {
	if iovcnt < 0 || iovcnt > UIOMaxIOV {
		return usermem.IOSequence{}, unix.EINVAL
	}
	ars, err := t.CopyInIovecs(addr, iovcnt)
	if err != nil {
		return usermem.IOSequence{}, err
	}
	return usermem.IOSequence{IO: t.mm, Addrs: ars, Opts: opts}, nil
}

// UserIO returns the task's memory as a usermem.IO, for files that copy
// structures in and out themselves (ioctl). The caller must pass ioOpts,
// which keep the application's protections.
func (t *Task) UserIO() usermem.IO {
	return t.mm
}
