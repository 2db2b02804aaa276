package kernel

import (
	"errors"
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
			t.forceSignal(int(ev.Signal.Signo), "synchronous signal", &ev)
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
// would raise.
func (t *Task) handleFault(ev *platform.Event) {
	err := t.mm.HandleUserFault(t, ev.Addr, ev.Access)
	if err == nil {
		return
	}
	sig := int(unix.SIGSEGV)
	if errors.Is(err, mm.ErrBusError) {
		sig = int(unix.SIGBUS)
	}
	t.log().WithFields(map[string]any{"addr": ev.Addr, "ip": ev.IP, "access": ev.Access.String()}).
		Debugf("unresolvable page fault: %v", err)
	t.forceSignal(sig, "page fault", ev)
}

// forceSignal raises a synchronous signal the application cannot refuse.
// Until signal delivery lands, every such signal takes its default action
// for a fault: the thread group dies of it.
func (t *Task) forceSignal(sig int, why string, ev *platform.Event) {
	if act := t.tg.SignalAction(sig); act.Handler > 1 {
		t.log().Warnf("signal %d has a handler, but handlers are not supported yet: the program dies of it", sig)
	}
	t.log().WithFields(map[string]any{"signal": sig, "ip": ev.IP, "addr": ev.Addr}).Debugf("killed by %s", why)
	t.tg.requestExit(ExitStatus{Signo: sig})
}
