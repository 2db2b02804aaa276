package ptrace

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
)

// Linux uapi values that golang.org/x/sys/unix does not export.
const (
	// saNoCldStop is SA_NOCLDSTOP from <asm/signal.h>.
	saNoCldStop = 0x1
	// Internal restart errnos that an injected syscall may return to a
	// tracer (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND).
	errRestartSys     = 512
	errRestartNoIntr  = 513
	errRestartNoHand  = 514
	ptraceEventShift  = 16
	syscallStopSignal = int(unix.SIGTRAP) | 0x80 // with PTRACE_O_TRACESYSGOOD
)

// traceOptions are set on every stub thread: syscall stops are marked with
// 0x80 so they cannot be confused with a real SIGTRAP, and a stub dies when
// its tracer does, so no stub outlives the sentry.
const traceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL

// errStubDied means a stub thread is gone: the host killed it, or the
// sentry's own seccomp filter did.
var errStubDied = errors.New("stub thread died")

// thread is one thread of a stub process, traced by one OS thread of the
// sentry. Every method must be called from that OS thread: the host accepts
// ptrace requests for a tracee only from its tracer.
type thread struct {
	// tgid is the stub process's pid and tid the thread's. Immutable.
	tgid int32
	tid  int32

	// cpu is the CPU the thread is pinned to, or -1. Only the tracer
	// touches it.
	cpu int32

	// initRegs are registers valid in the stub: the segment selectors the
	// host gave it, used as the base of every injected syscall and of
	// every application register set. Immutable after the thread is
	// attached.
	initRegs platform.Registers
}

// waitStatus waits for the next state change of t and returns it.
// It waits only for t (__WNOTHREAD: a wait from another sentry thread must
// never steal this thread's stops) and retries when interrupted.
func (t *thread) waitStatus() (unix.WaitStatus, error) {
	for {
		var status unix.WaitStatus
		_, err := unix.Wait4(int(t.tid), &status, unix.WALL|unix.WNOTHREAD, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait4(%d): %w", t.tid, err)
		}
		if status.Exited() || status.Signaled() {
			return status, fmt.Errorf("%w: tid %d, status %#x", errStubDied, t.tid, uint32(status))
		}
		return status, nil
	}
}

// waitTrap waits until t stops with a plain SIGTRAP (an int3), swallowing
// the stops that can come in between: SIGSTOP, SIGCHLD and interrupt
// requests aimed at a thread that is busy with an injected syscall.
func (t *thread) waitTrap() error {
	for {
		status, err := t.waitStatus()
		if err != nil {
			return err
		}
		if status.StopSignal() == unix.SIGTRAP && status>>ptraceEventShift == 0 {
			return nil
		}
		if status>>ptraceEventShift != 0 || status.StopSignal() == unix.SIGSTOP || status.StopSignal() == unix.SIGCHLD {
			if err := ptraceRaw(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
				return fmt.Errorf("PTRACE_CONT %d: %w", t.tid, err)
			}
			continue
		}
		return fmt.Errorf("stub thread %d: unexpected stop %#x during an injected syscall", t.tid, uint32(status))
	}
}

// syscall runs one system call in t at the stub's syscall gadget and
// returns its result. t must be stopped; it is left stopped at the gadget's
// int3, with registers that the next user must overwrite.
func (t *thread) syscall(sysno uintptr, args ...uintptr) (uintptr, error) {
	return t.syscallAt(stubSyscallAddr, sysno, args...)
}

// syscallAt is syscall for a gadget at ip.
func (t *thread) syscallAt(ip uintptr, sysno uintptr, args ...uintptr) (uintptr, error) {
	regs := t.initRegs
	regs.Rax = uint64(sysno)
	// orig_rax -1 means "not in a syscall": the host will not try to
	// restart whatever call the thread was stopped in.
	regs.Orig_rax = ^uint64(0)
	regs.Rip = uint64(ip)
	argRegs := []*uint64{&regs.Rdi, &regs.Rsi, &regs.Rdx, &regs.R10, &regs.R8, &regs.R9}
	for i, a := range args {
		*argRegs[i] = uint64(a)
	}
	t.pin()
	for {
		counters.injections.Add(1)
		if err := setRegs(t.tid, &regs); err != nil {
			return 0, fmt.Errorf("injecting syscall %d: PTRACE_SETREGS: %w", sysno, err)
		}
		if err := ptraceRaw(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return 0, fmt.Errorf("injecting syscall %d: PTRACE_CONT: %w", sysno, err)
		}
		if err := t.waitTrap(); err != nil {
			return 0, fmt.Errorf("injecting syscall %d: %w", sysno, err)
		}
		var out platform.Registers
		if err := getRegs(t.tid, &out); err != nil {
			return 0, fmt.Errorf("injecting syscall %d: PTRACE_GETREGS: %w", sysno, err)
		}
		ret := int64(out.Rax)
		switch {
		case ret == -errRestartSys || ret == -errRestartNoIntr || ret == -errRestartNoHand:
			// A signal interrupted the call; run it again.
			continue
		case ret < 0 && ret > -4096:
			return 0, unix.Errno(-ret)
		default:
			return uintptr(ret), nil
		}
	}
}

// pin keeps t on the CPU its tracer runs on. A ptrace stop whose wake-up
// crosses CPUs costs several times more than one that stays on the same CPU,
// so each switch and injection re-pins the stub thread if its tracer has
// moved (tracers of application threads are pinned themselves; see
// context.attach).
func (t *thread) pin() {
	cpu := currentCPU()
	if cpu < 0 || cpu == t.cpu {
		return
	}
	var set unix.CPUSet
	set.Set(int(cpu))
	if unix.SchedSetaffinity(int(t.tid), &set) == nil {
		t.cpu = cpu
	}
}

// seize attaches the calling OS thread to tid, which is parked in the clone
// gadget's pause() loop, and waits for it to stop.
func seize(tgid, tid int32, initRegs *platform.Registers) (*thread, error) {
	counters.threads.Add(1)
	if err := ptraceRaw(unix.PTRACE_SEIZE, tid, 0, traceOptions); err != nil {
		return nil, fmt.Errorf("PTRACE_SEIZE %d: %w", tid, err)
	}
	t := &thread{tgid: tgid, tid: tid, cpu: -1}
	if err := ptraceRaw(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil {
		return nil, fmt.Errorf("PTRACE_INTERRUPT %d: %w", tid, err)
	}
	for {
		status, err := t.waitStatus()
		if err != nil {
			return nil, err
		}
		if status>>ptraceEventShift == unix.PTRACE_EVENT_STOP {
			break
		}
		// A signal-delivery stop that raced with the interrupt: suppress
		// the signal and wait for the interrupt stop.
		if err := ptraceRaw(unix.PTRACE_CONT, tid, 0, 0); err != nil {
			return nil, fmt.Errorf("PTRACE_CONT %d: %w", tid, err)
		}
	}
	if initRegs != nil {
		t.initRegs = *initRegs
	} else if err := getRegs(tid, &t.initRegs); err != nil {
		return nil, fmt.Errorf("PTRACE_GETREGS %d: %w", tid, err)
	}
	return t, nil
}

// exit ends t with an injected exit(0), which ends only this thread, and
// reaps it.
func (t *thread) exit() {
	regs := t.initRegs
	regs.Rax = unix.SYS_EXIT
	regs.Orig_rax = ^uint64(0)
	regs.Rip = stubSyscallAddr
	if setRegs(t.tid, &regs) == nil && ptraceRaw(unix.PTRACE_CONT, t.tid, 0, 0) == nil {
		for {
			if _, err := t.waitStatus(); err != nil {
				return // exited (or already gone)
			}
			if ptraceRaw(unix.PTRACE_CONT, t.tid, 0, 0) != nil {
				break
			}
		}
	}
	// The thread could not be made to exit on its own: kill it (this ends
	// its whole process) and reap what is left.
	unix.Tgkill(int(t.tgid), int(t.tid), unix.SIGKILL)
	for {
		if _, err := t.waitStatus(); err != nil {
			return
		}
		ptraceRaw(unix.PTRACE_CONT, t.tid, 0, 0)
	}
}
