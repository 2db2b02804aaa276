package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerLimits(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PRLIMIT64, kernel.Syscall{Fn: Prlimit64, Support: kernel.Partial, Note: "own process only", Args: []kernel.ArgFormat{kernel.Int, kernel.RlimitResource, kernel.RlimitPtr, kernel.PostRlimitPtr}})
	t.Register(unix.SYS_GETRLIMIT, kernel.Syscall{Fn: Getrlimit, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.RlimitResource, kernel.PostRlimitPtr}})
	t.Register(unix.SYS_SETRLIMIT, kernel.Syscall{Fn: Setrlimit, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.RlimitResource, kernel.RlimitPtr}})
}

// Prlimit64 implements prlimit64(2) for the calling process.
func Prlimit64(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	pid, resource := args[0].Int(), int(args[1].Int())
	if pid != 0 && kernel.ThreadID(pid) != t.ThreadGroup().ID() {
		return 0, unix.ESRCH
	}
	if !kernel.ValidLimit(resource) {
		return 0, unix.EINVAL
	}
	old := t.ThreadGroup().Limit(resource)
	if args[2].Value != 0 {
		var rl kernel.Rlimit
		if _, err := t.CopyIn(args[2].Pointer(), &rl); err != nil {
			return 0, err
		}
		if _, err := t.SetLimit(resource, rl); err != nil {
			return 0, err
		}
	}
	if args[3].Value != 0 {
		if _, err := t.CopyOut(args[3].Pointer(), &old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Getrlimit implements getrlimit(2).
func Getrlimit(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	resource := int(args[0].Int())
	if !kernel.ValidLimit(resource) {
		return 0, unix.EINVAL
	}
	rl := t.ThreadGroup().Limit(resource)
	_, err := t.CopyOut(args[1].Pointer(), &rl)
	return 0, err
}

// Setrlimit implements setrlimit(2).
func Setrlimit(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	resource := int(args[0].Int())
	if !kernel.ValidLimit(resource) {
		return 0, unix.EINVAL
	}
	var rl kernel.Rlimit
	if _, err := t.CopyIn(args[1].Pointer(), &rl); err != nil {
		return 0, err
	}
	_, err := t.SetLimit(resource, rl)
	return 0, err
}
