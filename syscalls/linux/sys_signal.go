package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerSignal(t *kernel.SyscallTable) {
	t.Register(unix.SYS_RT_SIGACTION, kernel.Syscall{Fn: RtSigaction, Support: kernel.Partial, Note: "recorded; handlers are not run yet", Args: []kernel.ArgFormat{kernel.Signal, kernel.Hex, kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_RT_SIGPROCMASK, kernel.Syscall{Fn: RtSigprocmask, Support: kernel.Partial, Note: "recorded; no signal is delivered yet", Args: []kernel.ArgFormat{kernel.Int, kernel.Hex, kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_SIGALTSTACK, kernel.Syscall{Fn: Sigaltstack, Support: kernel.Partial, Note: "recorded; no signal is delivered yet", Args: []kernel.ArgFormat{kernel.Hex, kernel.Hex}})
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
