package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

func registerThread(t *kernel.SyscallTable) {
	t.Register(unix.SYS_EXIT, kernel.Syscall{Fn: Exit, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}, Ret: kernel.RetNone})
	t.Register(unix.SYS_EXIT_GROUP, kernel.Syscall{Fn: ExitGroup, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}, Ret: kernel.RetNone})
	t.Register(unix.SYS_GETPID, kernel.Syscall{Fn: Getpid, Support: kernel.Full})
	t.Register(unix.SYS_GETTID, kernel.Syscall{Fn: Gettid, Support: kernel.Full})
	t.Register(unix.SYS_GETPPID, kernel.Syscall{Fn: Getppid, Support: kernel.Full})
	t.Register(unix.SYS_SET_TID_ADDRESS, kernel.Syscall{Fn: SetTidAddress, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex}})
	t.Register(unix.SYS_SET_ROBUST_LIST, kernel.Syscall{Fn: SetRobustList, Support: kernel.Partial, Note: "recorded, not yet walked at exit", Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_GET_ROBUST_LIST, kernel.Syscall{Fn: GetRobustList, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_RSEQ, kernel.Syscall{Support: kernel.Unimplemented, Note: "ENOSYS: libcs fall back to plain sched_getcpu", Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_ARCH_PRCTL, kernel.Syscall{Fn: ArchPrctl, Support: kernel.Partial, Note: "FS and GS bases only", Args: []kernel.ArgFormat{kernel.ArchPrctlCode, kernel.ArchPrctlAddr}})
}

// Exit implements exit(2): the calling thread ends.
func Exit(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	t.PrepareExit(int(args[0].Int()) & 0xff)
	return 0, nil
}

// ExitGroup implements exit_group(2): every thread of the process ends.
func ExitGroup(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	t.PrepareGroupExit(int(args[0].Int()) & 0xff)
	return 0, nil
}

// Getpid implements getpid(2).
func Getpid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().ID()), nil
}

// Gettid implements gettid(2).
func Gettid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadID()), nil
}

// Getppid implements getppid(2). The first process has no parent in the
// sandbox's pid namespace, so it sees 0, as init in a new namespace does.
func Getppid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().ParentID()), nil
}

// SetTidAddress implements set_tid_address(2).
func SetTidAddress(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	t.SetClearChildTID(args[0].Pointer())
	return uintptr(t.ThreadID()), nil
}

// robustListHeadSize is sizeof(struct robust_list_head) on x86-64.
const robustListHeadSize = 24

// SetRobustList implements set_robust_list(2).
func SetRobustList(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[1].SizeT() != robustListHeadSize {
		return 0, unix.EINVAL
	}
	t.SetRobustList(args[0].Pointer(), uint64(args[1].SizeT()))
	return 0, nil
}

// GetRobustList implements get_robust_list(2) for the caller's threads
// (musl asks it whether the kernel supports robust mutexes at all).
func GetRobustList(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	target := t
	if tid := args[0].Int(); tid != 0 {
		target = t.Kernel().TaskByID(kernel.ThreadID(tid))
		if target == nil || target.ThreadGroup() != t.ThreadGroup() {
			return 0, unix.ESRCH
		}
	}
	head, _ := target.RobustList()
	if _, err := t.CopyOut(args[1].Pointer(), uint64(head)); err != nil {
		return 0, err
	}
	// Linux reports the size of the head it expects, whatever was set.
	_, err := t.CopyOut(args[2].Pointer(), uint64(robustListHeadSize))
	return 0, err
}

// arch_prctl(2) codes, from <asm/prctl.h> (not in golang.org/x/sys/unix).
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

// ArchPrctl implements arch_prctl(2) for the FS and GS bases, which libcs
// use for thread-local storage. The new base only reaches the CPU at the
// next switch to the application, with the other registers.
func ArchPrctl(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	regs := t.Regs()
	addr := args[1].Pointer()
	switch args[0].Int() {
	case archSetFS:
		if addr >= t.MemoryManager().Layout().MaxAddr {
			return 0, unix.EPERM
		}
		regs.Fs_base = uint64(addr)
	case archSetGS:
		if addr >= t.MemoryManager().Layout().MaxAddr {
			return 0, unix.EPERM
		}
		regs.Gs_base = uint64(addr)
	case archGetFS:
		_, err := t.CopyOut(addr, regs.Fs_base)
		return 0, err
	case archGetGS:
		_, err := t.CopyOut(addr, regs.Gs_base)
		return 0, err
	default:
		return 0, unix.EINVAL
	}
	return 0, nil
}
