package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerPipe(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PIPE, kernel.Syscall{Fn: Pipe, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.PipeFDs}})
	t.Register(unix.SYS_PIPE2, kernel.Syscall{Fn: Pipe2, Support: kernel.Partial, Note: "no O_DIRECT (packet mode)",
		Args: []kernel.ArgFormat{kernel.PipeFDs, kernel.PipeFlags}})
}

// Pipe implements pipe(2).
func Pipe(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, pipe2(t, args[0].Pointer(), 0)
}

// Pipe2 implements pipe2(2).
func Pipe2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, pipe2(t, args[0].Pointer(), args[1].Int())
}

// pipe2 creates a pipe in the sentry, installs its read end and its write
// end at the two lowest free descriptors, and stores their numbers at addr
// as int[2].
//
// Unlike Linux, which reserves the numbers and installs the files only once
// the copy succeeded, the descriptors are visible to the task's other
// threads for the duration of the copy.
func pipe2(t *kernel.Task, addr usermem.Addr, flags int32) error {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK) != 0 {
		return unix.EINVAL
	}
	creds := t.Credentials()
	r, w := fs.NewPipe(creds.EUID, creds.EGID)
	if flags&unix.O_NONBLOCK != 0 {
		r.SetStatusFlags(unix.O_NONBLOCK)
		w.SetStatusFlags(unix.O_NONBLOCK)
	}
	fdFlags := kernel.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0}
	fds := t.FDTable()
	rfd, err := fds.NewFD(0, r, fdFlags, fileLimit(t))
	if err != nil {
		r.Close()
		w.Close()
		return err
	}
	wfd, err := fds.NewFD(0, w, fdFlags, fileLimit(t))
	if err != nil {
		fds.Remove(rfd)
		w.Close()
		return err
	}
	if _, err := t.CopyOut(addr, [2]int32{rfd, wfd}); err != nil {
		fds.Remove(rfd)
		fds.Remove(wfd)
		return unix.EFAULT
	}
	return nil
}
