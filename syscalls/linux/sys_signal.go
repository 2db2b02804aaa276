package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

func registerSignal(t *kernel.SyscallTable) {
	t.Register(unix.SYS_RT_SIGACTION, kernel.Syscall{Fn: RtSigaction, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Signal, kernel.SigActionPtr, kernel.PostSigActionPtr, kernel.Uint}})
	t.Register(unix.SYS_RT_SIGPROCMASK, kernel.Syscall{Fn: RtSigprocmask, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.SigHow, kernel.SigSet, kernel.PostSigSet, kernel.Uint}})
	t.Register(unix.SYS_SIGALTSTACK, kernel.Syscall{Fn: Sigaltstack, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.SigAltStack, kernel.PostSigAltStack}})
	t.Register(unix.SYS_RT_SIGRETURN, kernel.Syscall{Fn: RtSigreturn, Support: kernel.Full, NoRestart: true})
	t.Register(unix.SYS_KILL, kernel.Syscall{Fn: Kill, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Signal}})
	t.Register(unix.SYS_TKILL, kernel.Syscall{Fn: Tkill, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Signal}})
	t.Register(unix.SYS_TGKILL, kernel.Syscall{Fn: Tgkill, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Int, kernel.Signal}})
	t.Register(unix.SYS_RT_SIGPENDING, kernel.Syscall{Fn: RtSigpending, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.PostSigSet, kernel.Uint}})
	t.Register(unix.SYS_RT_SIGSUSPEND, kernel.Syscall{Fn: RtSigsuspend, Support: kernel.Full, NoSARestart: true, Args: []kernel.ArgFormat{kernel.SigSet, kernel.Uint}})
	t.Register(unix.SYS_PAUSE, kernel.Syscall{Fn: Pause, Support: kernel.Full, NoSARestart: true})
	t.Register(unix.SYS_RT_SIGTIMEDWAIT, kernel.Syscall{Fn: RtSigtimedwait, Support: kernel.Full, NoRestart: true, Args: []kernel.ArgFormat{kernel.SigSet, kernel.Hex, kernel.Timespec, kernel.Uint}})
	t.Register(unix.SYS_RT_SIGQUEUEINFO, kernel.Syscall{Fn: RtSigqueueinfo, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Signal, kernel.Hex}})
	t.Register(unix.SYS_RT_TGSIGQUEUEINFO, kernel.Syscall{Fn: RtTgsigqueueinfo, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Int, kernel.Signal, kernel.Hex}})
}

// sigsetSize is sizeof(sigset_t) as the kernel sees it: 64 signals.
const sigsetSize = 8

// RtSigaction implements rt_sigaction(2).
func RtSigaction(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	sig, actAddr, oldAddr := int(args[0].Int()), args[1].Pointer(), args[2].Pointer()
	if args[3].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	if sig < 1 || sig > 64 {
		return 0, unix.EINVAL
	}
	old := t.ThreadGroup().SignalAction(sig)
	if actAddr != 0 {
		var act kernel.SigAction
		if _, err := t.CopyIn(actAddr, &act); err != nil {
			return 0, err
		}
		if _, err := t.ThreadGroup().SetSignalAction(sig, act); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		if _, err := t.CopyOut(oldAddr, &old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigprocmask implements rt_sigprocmask(2).
func RtSigprocmask(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	how, setAddr, oldAddr := args[0].Int(), args[1].Pointer(), args[2].Pointer()
	if args[3].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	old := t.SignalMask()
	if setAddr != 0 {
		var set uint64
		if _, err := t.CopyIn(setAddr, &set); err != nil {
			return 0, err
		}
		switch how {
		case unix.SIG_BLOCK:
			t.SetSignalMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSignalMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSignalMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if oldAddr != 0 {
		if _, err := t.CopyOut(oldAddr, old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Sigaltstack implements sigaltstack(2).
func Sigaltstack(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	ssAddr, oldAddr := args[0].Pointer(), args[1].Pointer()
	old := t.SignalStack()
	if ssAddr != 0 {
		var ss kernel.SignalStack
		if _, err := t.CopyIn(ssAddr, &ss); err != nil {
			return 0, err
		}
		if err := t.SetSignalStack(ss); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		if _, err := t.CopyOut(oldAddr, &old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigreturn implements rt_sigreturn(2). It returns the restored rax, so
// that writing the "result" leaves it as the interrupted code had it.
func RtSigreturn(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return t.SignalReturn()
}

// Kill implements kill(2).
func Kill(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.Kill(args[0].Int(), int(args[1].Int()))
}

// Tkill implements tkill(2).
func Tkill(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.Tgkill(-1, args[0].Int(), int(args[1].Int()))
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[0].Int() <= 0 {
		return 0, unix.EINVAL
	}
	return 0, t.Tgkill(args[0].Int(), args[1].Int(), int(args[2].Int()))
}

// RtSigpending implements rt_sigpending(2): the pending signals that are
// blocked.
func RtSigpending(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[1].SizeT() > sigsetSize {
		return 0, unix.EINVAL
	}
	set := t.PendingSignals() & t.SignalMask()
	_, err := t.CopyOut(args[0].Pointer(), set)
	return 0, err
}

// RtSigsuspend implements rt_sigsuspend(2).
func RtSigsuspend(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[1].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	var mask uint64
	if _, err := t.CopyIn(args[0].Pointer(), &mask); err != nil {
		return 0, err
	}
	return 0, t.SigSuspend(mask)
}

// Pause implements pause(2).
func Pause(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.Pause()
}

// RtSigtimedwait implements rt_sigtimedwait(2).
func RtSigtimedwait(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[3].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	var set uint64
	if _, err := t.CopyIn(args[0].Pointer(), &set); err != nil {
		return 0, err
	}
	timeout := time.Duration(-1)
	if args[2].Value != 0 {
		ts, err := copyInDuration(t, args, 2)
		if err != nil {
			return 0, err
		}
		timeout = time.Duration(ts.Nano())
	}
	info, err := t.SigTimedWait(set, timeout)
	if err != nil {
		return 0, err
	}
	if args[1].Value != 0 {
		buf := make([]byte, 128)
		info.CopyTo(buf)
		if _, err := t.CopyOutBytes(args[1].Pointer(), buf); err != nil {
			return 0, err
		}
	}
	return uintptr(info.Signo), nil
}

// copyInSignalInfo reads a siginfo_t for sig from addr.
func copyInSignalInfo(t *kernel.Task, addr usermem.Addr, sig int32) (*kernel.SignalInfo, error) {
	buf := make([]byte, 128)
	if _, err := t.CopyInBytes(addr, buf); err != nil {
		return nil, err
	}
	info := platform.SignalInfoFrom(buf)
	info.Signo = sig
	return &info, nil
}

// RtSigqueueinfo implements rt_sigqueueinfo(2).
func RtSigqueueinfo(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	info, err := copyInSignalInfo(t, args[2].Pointer(), args[1].Int())
	if err != nil {
		return 0, err
	}
	return 0, t.QueueSignal(args[0].Int(), 0, info)
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2).
func RtTgsigqueueinfo(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[0].Int() <= 0 || args[1].Int() <= 0 {
		return 0, unix.EINVAL
	}
	info, err := copyInSignalInfo(t, args[3].Pointer(), args[2].Int())
	if err != nil {
		return 0, err
	}
	return 0, t.QueueSignal(args[0].Int(), args[1].Int(), info)
}
