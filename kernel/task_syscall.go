package kernel

import (
	"errors"

	"golang.org/x/sys/unix"
)

// doSyscall runs the system call the task stopped at and puts the result in
// rax. The instruction pointer is already past the syscall instruction.
// obs, if not nil, sees the call before and after the handler.
func (t *Task) doSyscall(sysno uintptr, obs *taskObserver) {
	regs := t.Regs()
	args := SyscallArguments{{uintptr(regs.Rdi)}, {uintptr(regs.Rsi)}, {uintptr(regs.Rdx)}, {uintptr(regs.R10)}, {uintptr(regs.R8)}, {uintptr(regs.R9)}}
	sc := t.k.Syscalls.Lookup(sysno)
	if obs != nil {
		obs.enter(sysno, sc, args)
	}

	var ret uintptr
	var err error
	switch {
	case sc == nil:
		t.k.reportUnknownSyscall(t, sysno)
		err = unix.ENOSYS
	case sc.Fn == nil:
		// Known, and deliberately unimplemented (the table's note says
		// why): no log line.
		err = unix.ENOSYS
	default:
		ret, err = sc.Fn(t, args)
	}

	if err != nil {
		var errno unix.Errno
		if !errors.As(err, &errno) {
			t.log().WithField("syscall", t.k.Syscalls.Name(sysno)).Errorf("handler returned a non-errno error: %v", err)
			errno = unix.EIO
		}
		err = errno
		regs.Rax = uint64(-int64(errno))
		if errno == unix.EINTR && sc != nil && !sc.NoRestart {
			// Interrupted: the signal delivery that follows decides
			// whether the call restarts or fails (signal_deliver.go).
			t.interrupted = &interruptedSyscall{sysno: sysno, noSARestart: sc.NoSARestart}
		}
	} else {
		regs.Rax = uint64(ret)
	}
	if obs != nil {
		obs.exit(ret, err)
	}
}
