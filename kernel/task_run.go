package kernel

import (
	"errors"
	"fmt"
	"runtime"

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
		ev, err := t.pctx.Switch(as)
		if err != nil {
			t.k.sentryError(t, err)
			return
		}
		switch ev.Type {
		case platform.EventSyscall:
			t.doSyscall(ev.Sysno)
		case platform.EventSyscall32:
			t.refuseSyscall32(ev.Sysno)
		case platform.EventFault:
			t.handleFault(&ev)
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
// a mapped file.
func (t *Task) handleFault(ev *platform.Event) {
	err := t.mm.HandleUserFault(t, ev.Addr, ev.Access)
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
	default:
		// The memory file is full, or the platform failed to map.
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
