package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
)

func registerEventFD(t *kernel.SyscallTable) {
	t.Register(unix.SYS_EVENTFD, kernel.Syscall{Fn: EventFD, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Uint}})
	t.Register(unix.SYS_EVENTFD2, kernel.Syscall{Fn: EventFD2, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Uint, kernel.Hex}})
}

// EventFD implements eventfd(2), which takes no flags.
func EventFD(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return eventFD(t, args[0].Uint(), 0)
}

// EventFD2 implements eventfd2(2), the system call behind eventfd(3).
func EventFD2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return eventFD(t, args[0].Uint(), args[1].Int())
}

// eventFD installs a new eventfd, whose counter starts at initval, at the
// lowest free descriptor. EFD_NONBLOCK is the file's O_NONBLOCK and
// EFD_CLOEXEC the descriptor's FD_CLOEXEC.
func eventFD(t *kernel.Task, initval uint32, flags int32) (uintptr, error) {
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|unix.EFD_SEMAPHORE) != 0 {
		return 0, unix.EINVAL
	}
	e := fs.NewEventFD(uint64(initval), flags&unix.EFD_SEMAPHORE != 0)
	if flags&unix.EFD_NONBLOCK != 0 {
		e.SetStatusFlags(unix.O_NONBLOCK)
	}
	fd, err := t.FDTable().NewFD(0, e, kernel.FDFlags{CloseOnExec: flags&unix.EFD_CLOEXEC != 0}, fileLimit(t))
	return uintptr(fd), err
}
