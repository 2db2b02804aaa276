package linux

import (
	"bytes"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerPrctl(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PRCTL, kernel.Syscall{Fn: Prctl, Support: kernel.Partial,
		Note: "PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_SET_NO_NEW_PRIVS",
		Args: []kernel.ArgFormat{kernel.PrctlOption, kernel.PrctlArg, kernel.Hex, kernel.Hex, kernel.Hex}})
}

// taskCommLen is TASK_COMM_LEN: a task name holds 15 bytes and a NUL.
const taskCommLen = 16

// Prctl implements prctl(2) for the options libcs and busybox use.
func Prctl(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	switch option := args[0].Int(); option {
	case unix.PR_SET_NAME:
		// The name is read as a fixed 16-byte buffer, as Linux does: no
		// NUL is needed within it, and bytes beyond it are never read.
		buf := make([]byte, taskCommLen)
		n, err := t.CopyInBytes(args[1].Pointer(), buf)
		if n == 0 && err != nil {
			return 0, err
		}
		buf = buf[:n]
		if i := bytes.IndexByte(buf, 0); i >= 0 {
			buf = buf[:i]
		}
		if len(buf) > taskCommLen-1 {
			buf = buf[:taskCommLen-1]
		}
		t.SetName(string(buf))
		return 0, nil
	case unix.PR_GET_NAME:
		buf := make([]byte, taskCommLen)
		copy(buf, t.Name())
		_, err := t.CopyOutBytes(args[1].Pointer(), buf)
		return 0, err
	case unix.PR_GET_DUMPABLE:
		return uintptr(t.ThreadGroup().Dumpable()), nil
	case unix.PR_SET_DUMPABLE:
		d := args[1].Int()
		if d != 0 && d != 1 {
			return 0, unix.EINVAL
		}
		t.ThreadGroup().SetDumpable(d)
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		if t.NoNewPrivs() {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_NO_NEW_PRIVS:
		if args[1].Value != 1 || args[2].Value != 0 || args[3].Value != 0 || args[4].Value != 0 {
			return 0, unix.EINVAL
		}
		t.SetNoNewPrivs()
		return 0, nil
	default:
		return 0, unix.EINVAL
	}
}
