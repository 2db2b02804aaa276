package linux

import (
	"math"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// epoll(7): the instance is an fs.Epoll; these handlers decode the
// arguments and find the files. An interrupted epoll_wait fails with
// EINTR, never restarted, handler or not, as on Linux.

func registerEpoll(t *kernel.SyscallTable) {
	t.Register(unix.SYS_EPOLL_CREATE, kernel.Syscall{Fn: EpollCreate, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}})
	t.Register(unix.SYS_EPOLL_CREATE1, kernel.Syscall{Fn: EpollCreate1, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex}})
	t.Register(unix.SYS_EPOLL_CTL, kernel.Syscall{Fn: EpollCtl, Support: kernel.Partial,
		Note: "EPOLLEXCLUSIVE wakes every waiter; nesting depth is checked downwards only",
		Args: []kernel.ArgFormat{kernel.FD, kernel.Int, kernel.FD, kernel.Hex}})
	t.Register(unix.SYS_EPOLL_WAIT, kernel.Syscall{Fn: EpollWait, Support: kernel.Full, NoRestart: true,
		Args: []kernel.ArgFormat{kernel.FD, kernel.Hex, kernel.Int, kernel.Int}})
	t.Register(unix.SYS_EPOLL_PWAIT, kernel.Syscall{Fn: EpollPwait, Support: kernel.Full, NoRestart: true,
		Args: []kernel.ArgFormat{kernel.FD, kernel.Hex, kernel.Int, kernel.Int, kernel.SigSet, kernel.Uint}})
	t.Register(unix.SYS_EPOLL_PWAIT2, kernel.Syscall{Fn: EpollPwait2, Support: kernel.Full, NoRestart: true,
		Args: []kernel.ArgFormat{kernel.FD, kernel.Hex, kernel.Int, kernel.Timespec, kernel.SigSet, kernel.Uint}})
}

// epollMaxEvents is the largest maxevents epoll_wait takes (Linux's
// EP_MAX_EVENTS).
const epollMaxEvents = math.MaxInt32 / fs.EpollEventSize

// EpollCreate implements epoll_create(2): size is only checked.
func EpollCreate(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[0].Int() <= 0 {
		return 0, unix.EINVAL
	}
	return epollCreate(t, 0)
}

// EpollCreate1 implements epoll_create1(2).
func EpollCreate1(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[0].Int()
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return epollCreate(t, flags)
}

// epollCreate installs a new epoll instance at the lowest free descriptor.
func epollCreate(t *kernel.Task, flags int32) (uintptr, error) {
	fdFlags := kernel.FDFlags{CloseOnExec: flags&unix.EPOLL_CLOEXEC != 0}
	fd, err := t.FDTable().NewFD(0, fs.NewEpoll(), fdFlags, fileLimit(t))
	return uintptr(fd), err
}

// getEpoll returns the epoll instance at fd, with a reference: EBADF if fd
// is not open, EINVAL if it is not an epoll instance.
func getEpoll(t *kernel.Task, fd int32) (*fs.Epoll, func(), error) {
	f, release, err := t.FDTable().GetRef(fd)
	if err != nil {
		return nil, nil, err
	}
	ep, ok := f.(*fs.Epoll)
	if !ok {
		release()
		return nil, nil, unix.EINVAL
	}
	return ep, release, nil
}

// EpollCtl implements epoll_ctl(2).
func EpollCtl(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	epfd, op, fd, evAddr := args[0].Int(), args[1].Int(), args[2].Int(), args[3].Pointer()
	var ev fs.EpollEvent
	if op != unix.EPOLL_CTL_DEL {
		buf := make([]byte, fs.EpollEventSize)
		if _, err := t.CopyInBytes(evAddr, buf); err != nil {
			return 0, err
		}
		ev = fs.DecodeEpollEvent(buf)
	}
	epf, releaseEp, err := t.FDTable().GetRef(epfd)
	if err != nil {
		return 0, err
	}
	defer releaseEp()
	target, releaseTarget, err := t.FDTable().GetRef(fd)
	if err != nil {
		return 0, err
	}
	defer releaseTarget()
	// Linux checks the target before the instance.
	if !fs.CanPoll(target) {
		return 0, unix.EPERM
	}
	ep, ok := epf.(*fs.Epoll)
	if !ok {
		return 0, unix.EINVAL
	}
	return 0, ep.Control(op, fd, target, ev)
}

// epollWait implements the epoll_wait family: it waits on the instance at
// epfd for up to maxevents events, which it stores at addr.
func epollWait(t *kernel.Task, epfd int32, addr usermem.Addr, maxevents int32, timeout time.Duration) (uintptr, error) {
	if maxevents <= 0 || maxevents > epollMaxEvents {
		return 0, unix.EINVAL
	}
	if _, ok := addr.ToRange(uint64(maxevents) * fs.EpollEventSize); !ok {
		return 0, unix.EFAULT
	}
	ep, release, err := getEpoll(t, epfd)
	if err != nil {
		return 0, err
	}
	defer release()
	events, err := ep.Wait(t, int(maxevents), timeout)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	buf := make([]byte, len(events)*fs.EpollEventSize)
	for i, ev := range events {
		ev.Encode(buf[i*fs.EpollEventSize:])
	}
	if _, err := t.CopyOutBytes(addr, buf); err != nil {
		return 0, err
	}
	return uintptr(len(events)), nil
}

// msTimeout converts a timeout in milliseconds, negative for none.
func msTimeout(ms int32) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// EpollWait implements epoll_wait(2).
func EpollWait(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return epollWait(t, args[0].Int(), args[1].Pointer(), args[2].Int(), msTimeout(args[3].Int()))
}

// EpollPwait implements epoll_pwait(2): epoll_wait with a signal mask for
// the wait.
func EpollPwait(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	mask, hasMask, err := copyInSigmask(t, args[4].Pointer(), args[5].SizeT())
	if err != nil {
		return 0, err
	}
	var n uintptr
	err = withSigmask(t, mask, hasMask, func() error {
		var err error
		n, err = epollWait(t, args[0].Int(), args[1].Pointer(), args[2].Int(), msTimeout(args[3].Int()))
		return err
	})
	return n, err
}

// EpollPwait2 implements epoll_pwait2(2): epoll_pwait with a struct
// timespec timeout (NULL for none).
func EpollPwait2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	wt, err := copyInTimespecTimeout(t, args[3].Pointer())
	if err != nil {
		return 0, err
	}
	mask, hasMask, err := copyInSigmask(t, args[4].Pointer(), args[5].SizeT())
	if err != nil {
		return 0, err
	}
	var n uintptr
	err = withSigmask(t, mask, hasMask, func() error {
		var err error
		n, err = epollWait(t, args[0].Int(), args[1].Pointer(), args[2].Int(), wt.d)
		return err
	})
	return n, err
}
