package kernel

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
)

// run is the task goroutine: it runs the application until the task exits.
func (t *Task) run() {
	// Never unlocked. The stub thread that runs this task accepts ptrace
	// requests only from this OS thread; and should the goroutine end
	// without releasing it, the Go runtime ends the locked OS thread and
	// the host kills the stub (PTRACE_O_EXITKILL).
	runtime.LockOSThread()
	defer t.exit()
	obs := t.newTaskObserver()
	if obs != nil {
		defer obs.taskExit()
	}
	for !t.exitRequested && !t.tg.mustLeave(t) {
		t.clearInterrupt()
		t.deliverSignals()
		if t.tg.mustLeave(t) {
			break
		}
		as, err := t.mm.AddressSpace()
		if err != nil {
			t.k.sentryError(t, err)
			return
		}
		if obs != nil {
			obs.beforeSwitch()
		}
		ev, err := t.pctx.Switch(as)
		if obs != nil {
			obs.afterSwitch()
		}
		if err != nil {
			t.k.sentryError(t, err)
			return
		}
		switch ev.Type {
		case platform.EventSyscall:
			t.doSyscall(ev.Sysno, obs)
		case platform.EventSyscall32:
			t.refuseSyscall32(ev.Sysno)
		case platform.EventFault:
			t.handleFault(&ev, obs)
		case platform.EventSignal:
			t.forceSignal(&ev.Signal)
		case platform.EventInterrupt:
			// Whoever interrupted changed something the loop condition
			// looks at.
		}
	}
}

// refuseSyscall32 answers a 32-bit system call with ENOSYS: minisentry
// emulates only the x86-64 ABI, and the host never runs the call.
func (t *Task) refuseSyscall32(sysno uintptr) {
	t.log().WithField("sysno", sysno).Warn("32-bit system call (int 0x80) refused with ENOSYS")
	enosys := -int64(unix.ENOSYS)
	t.Regs().Rax = uint64(enosys)
}

// handleFault resolves a page fault, or turns it into the signal Linux
// would raise: SIGSEGV with SEGV_MAPERR where nothing is mapped,
// SEGV_ACCERR where the mapping forbids the access, SIGBUS past the end of
// a mapped file. obs, if not nil, sees the fault.
func (t *Task) handleFault(ev *platform.Event, obs *taskObserver) {
	var kind mm.FaultKind
	var start time.Time
	if obs != nil {
		kind = t.mm.ClassifyFault(ev.Addr, ev.Access)
		start = time.Now()
	}
	err := t.mm.HandleUserFault(t, ev.Addr, ev.Access)
	if obs != nil {
		obs.fault(ev, kind, err, time.Since(start))
	}
	if err == nil {
		return
	}
	t.log().WithFields(map[string]any{"addr": ev.Addr, "ip": ev.IP, "access": ev.Access.String()}).
		Debugf("unresolvable page fault: %v", err)
	t.lastFault = fmt.Sprintf("ip %#x: %s", ev.IP, t.mm.ExplainFault(ev.Addr, ev.Access))
	switch {
	case errors.Is(err, mm.ErrBusError):
		t.forceSignal(faultSignal(int(unix.SIGBUS), busADRERR, ev))
	case errors.Is(err, unix.EPERM):
		t.forceSignal(faultSignal(int(unix.SIGSEGV), segvACCERR, ev))
	case errors.Is(err, unix.EFAULT):
		t.forceSignal(faultSignal(int(unix.SIGSEGV), segvMAPERR, ev))
	case errors.Is(err, unix.ENOMEM):
		// No memory is left under --memory-limit (or in the memory
		// file): the page cannot be given, and retrying the access would
		// fault forever.
		t.log().Warnf("page fault at %#x: out of memory for the application", ev.Addr)
		t.forceSignal(faultSignal(int(unix.SIGBUS), busADRERR, ev))
	default:
		// The platform failed to map.
		t.log().Warnf("page fault at %#x: %v", ev.Addr, err)
		t.forceSignal(faultSignal(int(unix.SIGBUS), busADRERR, ev))
	}
}

// si_code values of faults, from <asm-generic/siginfo.h>.
const (
	segvMAPERR = 1
	segvACCERR = 2
	busADRERR  = 2
)
