package ptrace

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// context is a platform.Context: an application thread's registers and the
// stub thread that runs them.
type context struct {
	// regs are the application's registers while it is stopped. Owned by
	// the owning goroutine.
	regs platform.Registers

	// thread is the stub thread that runs this context, traced by the
	// owning goroutine's OS thread, and sp the process it lives in. Nil
	// until the first Switch. Owned by the owning goroutine.
	thread *thread
	sp     *subprocess

	// fpState is floating point state to load into the next stub thread
	// before it runs, or nil. Owned by the owning goroutine.
	fpState []byte

	// mu protects the fault heuristic state below, which Unmap resets from
	// other goroutines.
	mu sync.Mutex

	// lastFaultSP, lastFaultAddr and lastFaultIP describe the previous
	// Switch's fault, if it was one. ptrace does not tell whether a fault
	// was a read or a write; the platform reports a read, and if the same
	// instruction faults at the same address right after the memory
	// manager mapped it, the access must have been a write.
	lastFaultSP   *subprocess
	lastFaultAddr usermem.Addr
	lastFaultIP   usermem.Addr

	// pinned is set once the owning OS thread is pinned to a CPU. Owned by
	// the owning goroutine.
	pinned bool

	// interrupt is set by Interrupt and consumed by Switch.
	interrupt atomic.Bool

	// tgid and tid identify the stub thread for Interrupt, which may run on
	// any goroutine; 0 when there is none.
	tgid atomic.Int32
	tid  atomic.Int32
}

// Regs implements platform.Context.Regs.
func (c *context) Regs() *platform.Registers {
	return &c.regs
}

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.interrupt.Store(true)
	if tid := c.tid.Load(); tid != 0 {
		// The signal stops the stub thread if it is running; Switch
		// recognises it by its sender and the interrupt flag.
		unix.Tgkill(int(c.tgid.Load()), int(tid), unix.SIGCHLD)
	}
}

// attach gives c a stub thread in sp, traced by the calling OS thread.
//
// The first time, it also pins the calling OS thread to one CPU, chosen
// round-robin, and the stub thread follows it there. Left free, the Go
// runtime's thread and the stub thread drift apart, and every stop then
// crosses CPUs: on this project's machines that doubled the cost of a
// system call. The OS thread belongs to the task for the task's life, so
// the pinning constrains nothing else.
func (c *context) attach(sp *subprocess) error {
	if !c.pinned {
		sp.p.pinCallerThread()
		c.pinned = true
	}
	c.detach()
	t, err := sp.newThread()
	if err != nil {
		return err
	}
	c.thread, c.sp = t, sp
	c.tgid.Store(t.tgid)
	c.tid.Store(t.tid)
	sp.addContext(c)
	return nil
}

// detach ends c's stub thread, if any.
func (c *context) detach() {
	if c.thread == nil {
		return
	}
	c.tid.Store(0)
	c.sp.dropThread(c.thread, c)
	c.thread.exit()
	c.thread, c.sp = nil, nil
}

// Release implements platform.Context.Release.
func (c *context) Release() {
	c.detach()
}

// FPState implements platform.Context.FPState.
func (c *context) FPState() ([]byte, error) {
	if c.thread == nil {
		return append([]byte(nil), c.fpState...), nil
	}
	return getFPState(c.thread.tid)
}

// SetFPState implements platform.Context.SetFPState.
func (c *context) SetFPState(state []byte) error {
	if c.thread == nil {
		c.fpState = append([]byte(nil), state...)
		return nil
	}
	return setFPState(c.thread.tid, state)
}

// forgetFaultIn drops the remembered fault if it was in ar of sp.
//
// Preconditions: sp.mu is locked.
func (c *context) forgetFaultIn(sp *subprocess, ar usermem.AddrRange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastFaultSP == sp && ar.Contains(c.lastFaultAddr) {
		c.lastFaultSP = nil
	}
}

// Switch implements platform.Context.Switch.
func (c *context) Switch(as platform.AddressSpace) (platform.Event, error) {
	sp, ok := as.(*subprocess)
	if !ok {
		return platform.Event{}, fmt.Errorf("Switch: address space %T is not a ptrace address space", as)
	}
	if c.interrupt.Swap(false) {
		return platform.Event{Type: platform.EventInterrupt}, nil
	}
	if c.thread == nil || c.sp != sp {
		if err := c.attach(sp); err != nil {
			return platform.Event{}, err
		}
	}
	t := c.thread
	if c.fpState != nil {
		if err := setFPState(t.tid, c.fpState); err != nil {
			return platform.Event{}, fmt.Errorf("loading FP state: %w", err)
		}
		c.fpState = nil
	}
	t.pin()

	// The application chooses every register but the segment selectors,
	// of which it keeps only the host's user segments (selectors.go).
	regs := &c.regs
	applicationSelectors(regs, &t.initRegs)
	regs.Orig_rax = ^uint64(0)
	if err := setRegs(t.tid, regs); err != nil {
		return platform.Event{}, fmt.Errorf("PTRACE_SETREGS: %w", err)
	}
	for {
		counters.switches.Add(1)
		if err := ptraceRaw(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
			return platform.Event{}, fmt.Errorf("PTRACE_SYSEMU: %w", err)
		}
		status, err := t.waitStatus()
		if err != nil {
			return platform.Event{}, err
		}
		ev, done, err := c.decodeStop(sp, t, status)
		if err != nil || done {
			return ev, err
		}
	}
}

// decodeStop turns a ptrace stop of the running thread into an event. done
// is false for stops that the application must not see (they are
// suppressed and the thread resumed).
func (c *context) decodeStop(sp *subprocess, t *thread, status unix.WaitStatus) (ev platform.Event, done bool, err error) {
	regs := &c.regs
	sig := int(status>>8) & 0xff
	if sig == syscallStopSignal {
		if err := getRegs(t.tid, regs); err != nil {
			return ev, true, fmt.Errorf("PTRACE_GETREGS: %w", err)
		}
		arch, err := syscallArch(t.tid)
		if err != nil {
			return ev, true, fmt.Errorf("PTRACE_GET_SYSCALL_INFO: %w", err)
		}
		ev.Type = platform.EventSyscall
		if arch != unix.AUDIT_ARCH_X86_64 {
			ev.Type = platform.EventSyscall32
		}
		ev.Sysno = uintptr(regs.Orig_rax)
		ev.Args = [6]uintptr{uintptr(regs.Rdi), uintptr(regs.Rsi), uintptr(regs.Rdx), uintptr(regs.R10), uintptr(regs.R8), uintptr(regs.R9)}
		if ip := regs.Rip - syscallInsnLen; inStubPage(ip) {
			// The application jumped to one of the stub's syscall
			// instructions. The host ran nothing (SYSEMU), and the
			// call is not served either: as far as the application
			// knows, nothing is mapped there. Rewind to the
			// instruction, as if it had faulted on fetching it.
			regs.Rip, regs.Rax = ip, regs.Orig_rax
			return stubPageFault(ev, ip), true, nil
		}
		return ev, true, nil
	}
	if status>>ptraceEventShift != 0 || unix.Signal(sig) == unix.SIGSTOP {
		// Group-stops and PTRACE_INTERRUPT stops are the platform's
		// business, never the application's.
		return ev, false, nil
	}
	if err := getSignalInfo(t.tid, &ev.Signal); err != nil {
		return ev, true, fmt.Errorf("PTRACE_GETSIGINFO: %w", err)
	}
	info := &ev.Signal
	switch {
	case unix.Signal(sig) == unix.SIGCHLD && info.Code == platform.SI_TKILL && info.PID() == int32(sp.p.sentryPID):
		if c.interrupt.Swap(false) {
			ev.Type = platform.EventInterrupt
			return ev, true, getRegs(t.tid, regs)
		}
		return ev, false, nil // a late interrupt that Switch already consumed
	case info.Code <= 0 && info.Code != platform.SI_TKILL || info.Code == platform.SI_TKILL && info.PID() != int32(sp.p.sentryPID):
		// Sent by some host process: not part of the application's
		// world. Drop it.
		return ev, false, nil
	}
	if err := getRegs(t.tid, regs); err != nil {
		return ev, true, fmt.Errorf("PTRACE_GETREGS: %w", err)
	}
	ev.IP = usermem.Addr(regs.Rip)
	switch {
	case inStubPage(regs.Rip):
		// The application runs the stub's bytes (an int3, data taken
		// for code, a fault of an instruction there). Whatever the stop,
		// report the instruction fetch that a host without the stub
		// page would have refused.
		return stubPageFault(ev, regs.Rip), true, nil
	case unix.Signal(sig) == unix.SIGSYS && info.Code == platform.SYS_SECCOMP:
		// A call into the vsyscall page. The host trapped it before doing
		// anything except emulating the `ret`: undo that, and report the
		// call as an instruction fetch from the page, as on a host whose
		// vsyscall page is disabled.
		regs.Rip = info.Addr()
		regs.Rsp -= 8
		ev.Type = platform.EventFault
		ev.Addr = usermem.Addr(info.Addr())
		ev.IP = ev.Addr
		ev.Access = usermem.AccessType{Read: true, Execute: true}
		ev.Signal = platform.SignalInfo{Signo: int32(unix.SIGSEGV), Code: segvMapErr}
		ev.Signal.SetAddr(info.Addr())
		return ev, true, nil
	case info.IsFault():
		ev.Type = platform.EventFault
		ev.Addr = usermem.Addr(info.Addr())
		ev.Access = c.guessAccess(sp, ev.Addr, ev.IP)
		return ev, true, nil
	default:
		ev.Type = platform.EventSignal
		return ev, true, nil
	}
}

// syscallInsnLen is the length of the syscall instruction (0f 05), and of
// int 0x80 (cd 80): how far rip is past the instruction at a syscall stop.
const syscallInsnLen = 2

// inStubPage reports whether ip lies in the stub's page, which the
// application may not use even though the host maps it in its address
// space.
func inStubPage(ip uint64) bool {
	return ip >= stubBase && ip < stubEnd
}

// stubPageFault turns ev into the fault an application takes when it
// fetches an instruction at ip, in the stub's page: SIGSEGV with
// SEGV_MAPERR, since the memory manager has no mapping there.
func stubPageFault(ev platform.Event, ip uint64) platform.Event {
	ev.Type = platform.EventFault
	ev.Sysno = 0
	ev.Args = [6]uintptr{}
	ev.Addr = usermem.Addr(ip)
	ev.IP = ev.Addr
	ev.Access = usermem.AccessType{Read: true, Execute: true}
	ev.Signal = platform.SignalInfo{Signo: int32(unix.SIGSEGV), Code: segvMapErr}
	ev.Signal.SetAddr(ip)
	return ev
}

// segvMapErr is SEGV_MAPERR from <asm-generic/siginfo.h>, which
// golang.org/x/sys/unix does not export.
const segvMapErr = 1

// guessAccess applies the fault heuristic described on lastFaultAddr.
func (c *context) guessAccess(sp *subprocess, addr, ip usermem.Addr) usermem.AccessType {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := usermem.Read
	if addr == ip {
		at.Execute = true
	}
	if c.lastFaultSP == sp && c.lastFaultAddr == addr && c.lastFaultIP == ip {
		at.Write = true
	}
	c.lastFaultSP, c.lastFaultAddr, c.lastFaultIP = sp, addr, ip
	return at
}
