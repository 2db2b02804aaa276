package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerIdentity(t *kernel.SyscallTable) {
	t.Register(unix.SYS_GETUID, kernel.Syscall{Fn: Getuid, Support: kernel.Full})
	t.Register(unix.SYS_GETEUID, kernel.Syscall{Fn: Geteuid, Support: kernel.Full})
	t.Register(unix.SYS_GETGID, kernel.Syscall{Fn: Getgid, Support: kernel.Full})
	t.Register(unix.SYS_GETEGID, kernel.Syscall{Fn: Getegid, Support: kernel.Full})
}

// Getuid implements getuid(2).
func Getuid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().UID), nil
}

// Geteuid implements geteuid(2).
func Geteuid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().EUID), nil
}

// Getgid implements getgid(2).
func Getgid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().GID), nil
}

// Getegid implements getegid(2).
func Getegid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().EGID), nil
}
