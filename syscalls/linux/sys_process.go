package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerProcess(t *kernel.SyscallTable) {
	t.Register(unix.SYS_CLONE, kernel.Syscall{Fn: Clone, Support: kernel.Partial, Note: "no namespaces, no CLONE_PIDFD", Args: []kernel.ArgFormat{kernel.CloneFlags, kernel.Hex, kernel.Hex, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_CLONE3, kernel.Syscall{Support: kernel.Unimplemented, Note: "ENOSYS: libcs fall back to clone", Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_FORK, kernel.Syscall{Fn: Fork, Support: kernel.Full})
	t.Register(unix.SYS_VFORK, kernel.Syscall{Fn: Vfork, Support: kernel.Full})
	t.Register(unix.SYS_EXECVE, kernel.Syscall{Fn: Execve, Support: kernel.Partial, Note: "static ELF and #! scripts, which must be readable", Args: []kernel.ArgFormat{kernel.Path, kernel.ExecveVector, kernel.EnvVector}})
	t.Register(unix.SYS_WAIT4, kernel.Syscall{Fn: Wait4, Support: kernel.Partial, Note: "exited children only; rusage is zero", Args: []kernel.ArgFormat{kernel.Int, kernel.WaitStatus, kernel.Wait4Options, kernel.Hex}})
	t.Register(unix.SYS_WAITID, kernel.Syscall{Fn: Waitid, Support: kernel.Partial, Note: "exited children only; rusage is zero", Args: []kernel.ArgFormat{kernel.IDType, kernel.Int, kernel.Hex, kernel.WaitidOptions, kernel.Hex}})
	t.Register(unix.SYS_SETPGID, kernel.Syscall{Fn: Setpgid, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Int}})
	t.Register(unix.SYS_GETPGID, kernel.Syscall{Fn: Getpgid, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}})
	t.Register(unix.SYS_GETPGRP, kernel.Syscall{Fn: Getpgrp, Support: kernel.Full})
	t.Register(unix.SYS_SETSID, kernel.Syscall{Fn: Setsid, Support: kernel.Full})
	t.Register(unix.SYS_GETSID, kernel.Syscall{Fn: Getsid, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}})
	t.Register(unix.SYS_CLOSE_RANGE, kernel.Syscall{Fn: CloseRange, Support: kernel.Partial, Note: "no CLOSE_RANGE_UNSHARE", Args: []kernel.ArgFormat{kernel.Uint, kernel.Uint, kernel.Hex}})
}

// cloneSignalMask is CSIGNAL: the exit signal in clone(2)'s flags.
const cloneSignalMask = 0xff

// Clone implements clone(2). On x86-64 the arguments are flags, stack,
// parent_tid, child_tid, tls.
func Clone(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[0].Uint64()
	tid, err := t.Clone(kernel.CloneOptions{
		Flags:      flags &^ cloneSignalMask,
		ExitSignal: int(flags & cloneSignalMask),
		Stack:      args[1].Pointer(),
		ParentTID:  args[2].Pointer(),
		ChildTID:   args[3].Pointer(),
		TLS:        args[4].Pointer(),
	})
	return uintptr(tid), err
}

// Fork implements fork(2).
func Fork(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{ExitSignal: int(unix.SIGCHLD)})
	return uintptr(tid), err
}

// Vfork implements vfork(2): the child shares the address space and the
// parent waits until it execs or exits.
func Vfork(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{Flags: unix.CLONE_VM | unix.CLONE_VFORK, ExitSignal: int(unix.SIGCHLD)})
	return uintptr(tid), err
}

// Execve implements execve(2). argv and envp are read with Linux's limits:
// 128 KiB a string, 2 MiB in all (E2BIG beyond).
func Execve(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	path, err := t.CopyInString(args[0].Pointer(), unix.PathMax)
	if err != nil {
		return 0, err
	}
	var argv, envv []string
	if args[1].Value != 0 {
		if argv, err = t.CopyInVector(args[1].Pointer(), kernel.ExecMaxElemSize, kernel.ExecMaxTotalSize); err != nil {
			return 0, err
		}
	}
	if args[2].Value != 0 {
		if envv, err = t.CopyInVector(args[2].Pointer(), kernel.ExecMaxElemSize, kernel.ExecMaxTotalSize); err != nil {
			return 0, err
		}
	}
	if path == "" {
		return 0, unix.ENOENT
	}
	return 0, t.Execve(path, argv, envv)
}

// Wait options from <linux/wait.h> that golang.org/x/sys/unix lacks.
const (
	wNoThread = 0x20000000
	wAll      = 0x40000000
	wClone    = 0x80000000
)

// Wait4 implements wait4(2).
func Wait4(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	pid, statusAddr, options, rusageAddr := args[0].Int(), args[1].Pointer(), args[2].Uint(), args[3].Pointer()
	if options&^(unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED|wNoThread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	if pid == -1<<31 {
		// -INT_MIN has no process group to name.
		return 0, unix.ESRCH
	}
	res, err := t.Wait(kernel.WaitOptions{
		Pid:       pid,
		NoHang:    options&unix.WNOHANG != 0,
		Stopped:   options&unix.WUNTRACED != 0,
		Continued: options&unix.WCONTINUED != 0,
		Clone:     options&wClone != 0,
		All:       options&wAll != 0,
	})
	if err != nil || res.Pid == 0 {
		return 0, err
	}
	if statusAddr != 0 {
		if _, err := t.CopyOut(statusAddr, res.WaitStatus()); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		if _, err := t.CopyOut(rusageAddr, &unix.Rusage{}); err != nil {
			return 0, err
		}
	}
	return uintptr(res.Pid), nil
}

// waitid idtypes and si_code values (<linux/wait.h>, <asm-generic/siginfo.h>).
const (
	pAll  = 0
	pPid  = 1
	pPgid = 2

	cldExited    = 1
	cldKilled    = 2
	cldDumped    = 3
	cldStopped   = 5
	cldContinued = 6
)

// Waitid implements waitid(2) for exited children.
func Waitid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	idtype, id, infoAddr, options, rusageAddr := args[0].Int(), args[1].Int(), args[2].Pointer(), args[3].Uint(), args[4].Pointer()
	if options&^(unix.WNOHANG|unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED|unix.WNOWAIT|wNoThread|wAll|wClone) != 0 ||
		options&(unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED) == 0 {
		return 0, unix.EINVAL
	}
	opts := kernel.WaitOptions{
		NoHang: options&unix.WNOHANG != 0,
		NoWait: options&unix.WNOWAIT != 0,
		Clone:  options&wClone != 0,
		All:    options&wAll != 0,
	}
	switch idtype {
	case pAll:
		opts.Pid = -1
	case pPid:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		opts.Pid = id
	case pPgid:
		if id < 0 {
			return 0, unix.EINVAL
		}
		opts.Pid = -id
		if id == 0 {
			opts.Pid = 0
		}
	default:
		return 0, unix.EINVAL
	}
	opts.Stopped = options&unix.WSTOPPED != 0
	opts.Continued = options&unix.WCONTINUED != 0
	opts.IgnoreExits = options&unix.WEXITED == 0
	res, err := t.Wait(opts)
	if err != nil {
		return 0, err
	}
	if infoAddr != 0 {
		// siginfo_t: signo, errno, code, then pid, uid, status.
		var info [128]byte
		if res.Pid != 0 {
			code, status := int32(cldExited), int32(res.Status.Code)
			switch {
			case res.Report == 0xffff:
				code, status = cldContinued, int32(unix.SIGCONT)
			case res.Report != 0:
				code, status = cldStopped, int32(res.Report>>8)
			case res.Status.Signo != 0:
				code, status = cldKilled, int32(res.Status.Signo)
				if res.Status.Core {
					code = cldDumped
				}
			}
			usermem.ByteOrder.PutUint32(info[0:], uint32(unix.SIGCHLD))
			usermem.ByteOrder.PutUint32(info[8:], uint32(code))
			usermem.ByteOrder.PutUint32(info[16:], uint32(res.Pid))
			usermem.ByteOrder.PutUint32(info[20:], res.UID)
			usermem.ByteOrder.PutUint32(info[24:], uint32(status))
		}
		if _, err := t.CopyOutBytes(infoAddr, info[:]); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		if _, err := t.CopyOut(rusageAddr, &unix.Rusage{}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Setpgid implements setpgid(2).
func Setpgid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.SetProcessGroup(kernel.ThreadID(args[0].Int()), kernel.ThreadID(args[1].Int()))
}

// Getpgid implements getpgid(2).
func Getpgid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	pgid, err := t.ProcessGroup(kernel.ThreadID(args[0].Int()))
	return uintptr(pgid), err
}

// Getpgrp implements getpgrp(2).
func Getpgrp(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	pgid, err := t.ProcessGroup(0)
	return uintptr(pgid), err
}

// Setsid implements setsid(2).
func Setsid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	sid, err := t.NewSession()
	return uintptr(sid), err
}

// Getsid implements getsid(2).
func Getsid(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	sid, err := t.Session(kernel.ThreadID(args[0].Int()))
	return uintptr(sid), err
}

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC from <linux/close_range.h>.
const (
	closeRangeUnshare = 1 << 1
	closeRangeCloexec = 1 << 2
)

// CloseRange implements close_range(2).
func CloseRange(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	first, last, flags := args[0].Uint(), args[1].Uint(), args[2].Uint()
	if flags&^(closeRangeUnshare|closeRangeCloexec) != 0 || first > last {
		return 0, unix.EINVAL
	}
	t.FDTable().RemoveRange(first, last, flags&closeRangeCloexec != 0)
	return 0, nil
}
