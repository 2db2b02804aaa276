package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerRead(t *kernel.SyscallTable) {
	t.Register(unix.SYS_READ, kernel.Syscall{Fn: Read, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.ReadBuffer, kernel.Uint}})
	t.Register(unix.SYS_READV, kernel.Syscall{Fn: Readv, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.ReadIOVec, kernel.Int}})
	t.Register(unix.SYS_PREAD64, kernel.Syscall{Fn: Pread64, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.ReadBuffer, kernel.Uint, kernel.Int}})
	t.Register(unix.SYS_PREADV, kernel.Syscall{Fn: Preadv, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.ReadIOVec, kernel.Int, kernel.Int}})
}

// ioOpts are the options of application buffers passed to files.
var ioOpts = usermem.IOOpts{AddressSpaceActive: true}

// Read implements read(2).
func Read(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readSingle(t, args, -1)
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readSingle(t, args, args[3].Int64())
}

// Readv implements readv(2).
func Readv(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readVector(t, args, -1)
}

// Preadv implements preadv(2).
func Preadv(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readVector(t, args, args[3].Int64())
}

// readSingle reads into one buffer (fd, buf, count), at offset or, for -1,
// at the file's position. Errors come in Linux's order: the descriptor,
// the offset, the buffer.
func readSingle(t *kernel.Task, args kernel.SyscallArguments, offset int64) (uintptr, error) {
	f, err := fileAt(t, args[0].Int(), offset)
	if err != nil {
		return 0, err
	}
	dst, err := t.SingleIOSequence(args[1].Pointer(), int(args[2].SizeT()), ioOpts)
	if err != nil {
		return 0, err
	}
	return partial(f.Read(t, dst, offset))
}

// readVector reads into an iovec array (fd, iov, iovcnt).
func readVector(t *kernel.Task, args kernel.SyscallArguments, offset int64) (uintptr, error) {
	f, err := fileAt(t, args[0].Int(), offset)
	if err != nil {
		return 0, err
	}
	dst, err := t.IovecsIOSequence(args[1].Pointer(), int(args[2].Int()), ioOpts)
	if err != nil {
		return 0, err
	}
	return partial(f.Read(t, dst, offset))
}

// fileAt returns the file at descriptor fd, checking that an explicit
// offset (not -1) is not negative.
func fileAt(t *kernel.Task, fd int32, offset int64) (fs.File, error) {
	f, _, err := t.FDTable().Get(fd)
	if err != nil {
		return nil, err
	}
	if offset < -1 {
		return nil, unix.EINVAL
	}
	return f, nil
}

// partial turns a file's (count, error) into a system call result: as on
// Linux, a transfer that moved some bytes before failing reports the bytes.
func partial(n int64, err error) (uintptr, error) {
	if n > 0 {
		return uintptr(n), nil
	}
	return 0, err
}
