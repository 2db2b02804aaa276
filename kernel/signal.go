package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Signal actions, masks and the alternate stack. Sending and queueing is in
// signal_send.go, delivery in signal_deliver.go, the frame in
// signal_frame.go.

// numSignals is the number of signals on x86-64 Linux (1 to 64).
const numSignals = 64

// sigkill is SIGKILL's number, the status of a sandbox killed by the sentry.
const sigkill = int(unix.SIGKILL)

// SigAction is struct sigaction as the kernel takes it from
// rt_sigaction(2) on x86-64.
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// SignalStack is stack_t, as sigaltstack(2) takes it.
type SignalStack struct {
	Addr  uint64
	Flags int32
	_     int32
	Size  uint64
}

// sigaction flags, from <asm-generic/signal-defs.h> and
// <asm/signal.h> (not in golang.org/x/sys/unix).
const (
	SANoCldStop = 0x1
	SANoCldWait = 0x2
	SASigInfo   = 0x4
	SARestorer  = 0x04000000
	SAOnStack   = 0x08000000
	SARestart   = 0x10000000
	SANoDefer   = 0x40000000
	SAResetHand = 0x80000000

	// SigDfl and SigIgn are the special handlers.
	SigDfl = 0
	SigIgn = 1
)

// Flags of SignalStack, from <asm-generic/signal-defs.h> (not in
// golang.org/x/sys/unix).
const (
	// SSOnStack reports that the task runs on its alternate stack.
	SSOnStack = 1
	// SSDisable marks the alternate stack as disabled.
	SSDisable = 2
	// SSAutoDisarm clears the stack when a handler is entered.
	SSAutoDisarm = 1 << 31
	// MinSigStackSize is MINSIGSTKSZ for x86-64.
	MinSigStackSize = 2048
)

// unblockable are the signals no mask can block.
const unblockable = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGSTOP-1)

// SignalAction returns the action for signal sig (1 to 64).
func (tg *ThreadGroup) SignalAction(sig int) SigAction {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.actions[sig-1]
}

// SetSignalAction replaces the action for sig and returns the old one.
// SIGKILL and SIGSTOP cannot be changed.
func (tg *ThreadGroup) SetSignalAction(sig int, act SigAction) (SigAction, error) {
	if sig < 1 || sig > numSignals || sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
		return SigAction{}, unix.EINVAL
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	old := tg.actions[sig-1]
	act.Mask &^= unblockable
	tg.actions[sig-1] = act
	return old, nil
}

// SignalMask returns the task's blocked signals.
func (t *Task) SignalMask() uint64 {
	return t.signalMask.Load()
}

// signalMaskAtomic returns the task's blocked signals, from any goroutine.
func (t *Task) signalMaskAtomic() uint64 {
	return t.signalMask.Load()
}

// SetSignalMask replaces the task's blocked signals; SIGKILL and SIGSTOP
// are never blocked. Signals it unblocks are delivered before the task
// returns to the application.
func (t *Task) SetSignalMask(mask uint64) {
	t.signalMask.Store(mask &^ unblockable)
}

// SignalStack returns the alternate signal stack, with SS_ONSTACK set if
// the stack pointer is on it.
func (t *Task) SignalStack() SignalStack {
	st := t.altStack
	if st.Flags&SSDisable == 0 && t.onSignalStack() {
		st.Flags |= SSOnStack
	}
	return st
}

// SetSignalStack replaces the alternate signal stack, with sigaltstack(2)'s
// rules.
func (t *Task) SetSignalStack(st SignalStack) error {
	if t.onSignalStack() {
		return unix.EPERM
	}
	switch uint32(st.Flags) &^ SSAutoDisarm {
	case SSDisable:
		t.altStack = SignalStack{Flags: SSDisable}
		return nil
	case 0, SSOnStack:
		if st.Size < MinSigStackSize {
			return unix.ENOMEM
		}
		st.Flags &^= SSOnStack
		t.altStack = st
		return nil
	default:
		return unix.EINVAL
	}
}

// onSignalStack reports whether the task's stack pointer is on its
// alternate stack.
func (t *Task) onSignalStack() bool {
	st := t.altStack
	if st.Flags&SSDisable != 0 || st.Size == 0 {
		return false
	}
	sp := usermem.Addr(t.Regs().Rsp)
	return usermem.Addr(st.Addr) < sp && sp <= usermem.Addr(st.Addr+st.Size)
}
