package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/platform"
)

func registerWrite(t *kernel.SyscallTable) {
	t.Register(unix.SYS_WRITE, kernel.Syscall{Fn: Write, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.WriteBuffer, kernel.Uint}})
	t.Register(unix.SYS_WRITEV, kernel.Syscall{Fn: Writev, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.WriteIOVec, kernel.Int}})
	t.Register(unix.SYS_PWRITE64, kernel.Syscall{Fn: Pwrite64, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.WriteBuffer, kernel.Uint, kernel.Int}})
	t.Register(unix.SYS_PWRITEV, kernel.Syscall{Fn: Pwritev, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.WriteIOVec, kernel.Int, kernel.Int}})
}

// Write implements write(2).
func Write(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return writeSingle(t, args, -1)
}

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return writeSingle(t, args, args[3].Int64())
}

// Writev implements writev(2).
func Writev(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return writeVector(t, args, -1)
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return writeVector(t, args, args[3].Int64())
}

// writeSingle writes one buffer (fd, buf, count), at offset or, for -1, at
// the file's position.
func writeSingle(t *kernel.Task, args kernel.SyscallArguments, offset int64) (uintptr, error) {
	f, err := fileAt(t, args[0].Int(), offset)
	if err != nil {
		return 0, err
	}
	src, err := t.SingleIOSequence(args[1].Pointer(), int(args[2].SizeT()), ioOpts)
	if err != nil {
		return 0, err
	}
	return sigpipe(t)(partial(f.Write(t, src, offset)))
}

// writeVector writes an iovec array (fd, iov, iovcnt).
func writeVector(t *kernel.Task, args kernel.SyscallArguments, offset int64) (uintptr, error) {
	f, err := fileAt(t, args[0].Int(), offset)
	if err != nil {
		return 0, err
	}
	src, err := t.IovecsIOSequence(args[1].Pointer(), int(args[2].Int()), ioOpts)
	if err != nil {
		return 0, err
	}
	return sigpipe(t)(partial(f.Write(t, src, offset)))
}

// sigpipe returns a filter of write results that raises SIGPIPE on the
// writer when the result is EPIPE, as Linux does for pipes and sockets.
func sigpipe(t *kernel.Task) func(uintptr, error) (uintptr, error) {
	return func(n uintptr, err error) (uintptr, error) {
		if err == unix.EPIPE {
			t.SendSignal(&kernel.SignalInfo{Signo: int32(unix.SIGPIPE), Code: platform.SI_USER})
		}
		return n, err
	}
}
