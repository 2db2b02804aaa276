package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerMsync(t *kernel.SyscallTable) {
	t.Register(unix.SYS_MSYNC, kernel.Syscall{Fn: Msync, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.Hex}})
	t.Register(unix.SYS_MINCORE, kernel.Syscall{Fn: Mincore, Support: kernel.Partial, Note: "an untouched page of a private file mapping is never resident",
		Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.Hex}})
}

// Msync implements msync(2): the shared file mappings of the range are
// written back to their files (mm.MemoryManager.MSync).
func Msync(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MSync(t, args[0].Pointer(), args[1].Uint64(), int(args[2].Int()))
}

// Mincore implements mincore(2). As on Linux, the vector is written up to
// the first unmapped page before the call fails with ENOMEM, and a vector
// the application cannot write is EFAULT.
func Mincore(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	vec, err := t.MemoryManager().MinCore(t, args[0].Pointer(), args[1].Uint64())
	if len(vec) > 0 {
		if _, cerr := t.CopyOutBytes(args[2].Pointer(), vec); cerr != nil {
			return 0, cerr
		}
	}
	return 0, err
}
