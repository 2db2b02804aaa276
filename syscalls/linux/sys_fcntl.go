package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerFcntl(t *kernel.SyscallTable) {
	t.Register(unix.SYS_DUP, kernel.Syscall{Fn: Dup, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD}})
	t.Register(unix.SYS_DUP2, kernel.Syscall{Fn: Dup2, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.FD}})
	t.Register(unix.SYS_DUP3, kernel.Syscall{Fn: Dup3, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.FD, kernel.PipeFlags}})
	t.Register(unix.SYS_FCNTL, kernel.Syscall{Fn: Fcntl, Support: kernel.Partial, Note: "F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, and the record locks: F_GETLK, F_SETLK, F_SETLKW and their F_OFD_ forms",
		Args: []kernel.ArgFormat{kernel.FD, kernel.FcntlCmd, kernel.FcntlArg}})
}

// fileLimit returns RLIMIT_NOFILE, the bound on descriptor numbers.
func fileLimit(t *kernel.Task) uint64 {
	return t.ThreadGroup().Limit(unix.RLIMIT_NOFILE).Cur
}

// Dup implements dup(2).
func Dup(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	fd, err := t.FDTable().Dup(args[0].Int(), 0, kernel.FDFlags{}, fileLimit(t))
	return uintptr(fd), err
}

// Dup2 implements dup2(2). Unlike dup3, duplicating a descriptor onto
// itself is allowed and does nothing, once the descriptor is known valid.
func Dup2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	oldFD, newFD := args[0].Int(), args[1].Int()
	if oldFD == newFD {
		if _, _, err := t.FDTable().Get(oldFD); err != nil {
			return 0, err
		}
		return uintptr(newFD), nil
	}
	return uintptr(newFD), t.FDTable().DupTo(oldFD, newFD, kernel.FDFlags{}, fileLimit(t))
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	oldFD, newFD, flags := args[0].Int(), args[1].Int(), args[2].Int()
	if flags&^unix.O_CLOEXEC != 0 || oldFD == newFD {
		return 0, unix.EINVAL
	}
	return uintptr(newFD), t.FDTable().DupTo(oldFD, newFD, kernel.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0}, fileLimit(t))
}

// Fcntl implements fcntl(2) for descriptor and status flags, and record
// locks (sys_lock.go).
func Fcntl(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	fd, cmd := args[0].Int(), args[1].Int()
	f, fdFlags, err := t.FDTable().Get(fd)
	if err != nil {
		return 0, err
	}
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		nfd, err := t.FDTable().Dup(fd, args[2].Int(), kernel.FDFlags{CloseOnExec: cmd == unix.F_DUPFD_CLOEXEC}, fileLimit(t))
		return uintptr(nfd), err
	case unix.F_GETFD:
		if fdFlags.CloseOnExec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, t.FDTable().SetFlags(fd, kernel.FDFlags{CloseOnExec: args[2].Int()&unix.FD_CLOEXEC != 0})
	case unix.F_GETFL:
		flags, err := f.StatusFlags()
		return uintptr(flags), err
	case unix.F_SETFL:
		return 0, f.SetStatusFlags(args[2].Uint())
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		return 0, fcntlLock(t, f, cmd, args[2].Pointer())
	default:
		return 0, unix.EINVAL
	}
}
