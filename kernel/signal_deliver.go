package kernel

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// interruptedSyscall is a system call that returned EINTR because the task
// was interrupted.
type interruptedSyscall struct {
	// sysno is the call, to restart it.
	sysno uintptr
	// noSARestart is Linux's ERESTARTNOHAND: with a handler the call
	// fails even under SA_RESTART.
	noSARestart bool
}

// deliverSignals takes the task's pending signals, in order, until none is
// deliverable or one ends the process. Each signal with a handler gets a
// frame on top of the previous one, under the mask its handler runs with,
// as on Linux: the last one stacked runs first. It also settles a system
// call that a signal interrupted: restarted, or failed with EINTR.
//
// Called on the task goroutine before every return to the application.
func (t *Task) deliverSignals() {
	defer t.settleInterruptedSyscall(false, false)
	defer t.restoreSavedSignalMask()
	for !t.tg.mustLeave(t) {
		if t.waitWhileStopped() {
			return
		}
		info, act, ok := t.dequeueSignal()
		if !ok {
			return
		}
		sig := int(info.Signo)
		switch act.Handler {
		case SigIgn:
			continue
		case SigDfl:
			bit := sigBit(sig)
			switch {
			case bit&ignoreSignals != 0:
				continue
			case bit&stopSignals != 0:
				t.tg.stop(sig)
				continue
			default:
				t.explainDeath(sig)
				t.traceSignal(&info, act)
				t.tg.requestExit(ExitStatus{Signo: sig, Core: bit&coreSignals != 0})
				return
			}
		}
		t.settleInterruptedSyscall(true, act.Flags&SARestart != 0)
		t.traceSignal(&info, act)
		if err := t.setupSignalFrame(&info, act); err != nil {
			// The handler cannot run: the stack is unusable. As Linux's
			// force_sigsegv: SIGSEGV, whose own handler may still run
			// (on an alternate stack), unless SIGSEGV is what failed,
			// which then kills.
			t.log().WithField("signal", sig).Debugf("cannot build the signal frame: %v", err)
			if sig == int(unix.SIGSEGV) {
				t.tg.mu.Lock()
				t.tg.actions[sig-1].Handler = SigDfl
				t.tg.mu.Unlock()
			}
			t.forceSignal(&SignalInfo{Signo: int32(unix.SIGSEGV), Code: platform.SI_KERNEL})
			continue
		}
		mask := t.SignalMask() | act.Mask
		if act.Flags&SANoDefer == 0 {
			mask |= sigBit(sig)
		}
		t.SetSignalMask(mask)
		if act.Flags&SAResetHand != 0 {
			t.tg.mu.Lock()
			t.tg.actions[sig-1] = SigAction{}
			t.tg.mu.Unlock()
		}
	}
}

// settleInterruptedSyscall decides the fate of a system call cut short by
// an interruption. If a handler is about to run, the call restarts only
// under SA_RESTART, and never for ERESTARTNOHAND calls: it fails with the
// EINTR already in rax. With no handler it restarts, invisibly, as on
// Linux.
func (t *Task) settleInterruptedSyscall(handler, saRestart bool) {
	is := t.interrupted
	if is == nil {
		return
	}
	t.interrupted = nil
	if handler && (!saRestart || is.noSARestart) {
		return
	}
	regs := t.Regs()
	regs.Rax = uint64(is.sysno)
	regs.Rip -= syscallInstructionSize
}

// syscallInstructionSize is the length of the syscall instruction, which a
// restart executes again.
const syscallInstructionSize = 2

// dequeueSignal takes the next deliverable signal: the task's own first,
// then its process's; synchronous faults, which the kernel queues to the
// task, thus come first.
func (t *Task) dequeueSignal() (SignalInfo, SigAction, bool) {
	tg := t.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	mask := t.SignalMask()
	info, ok := t.pending.dequeue(mask)
	if !ok {
		info, ok = tg.pending.dequeue(mask)
	}
	if !ok {
		return SignalInfo{}, SigAction{}, false
	}
	return info, tg.actions[info.Signo-1], true
}

// hasDeliverableSignal reports whether a signal the task does not block
// is pending.
func (t *Task) hasDeliverableSignal() bool {
	tg := t.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return (t.pending.set|tg.pending.set)&^t.SignalMask() != 0
}

// forceSignal raises a synchronous signal (a fault, a trap) that the
// application cannot block or ignore: if it does either, the action
// reverts to the default, as Linux's force_sig_info does.
func (t *Task) forceSignal(info *SignalInfo) {
	sig := int(info.Signo)
	tg := t.tg
	tg.mu.Lock()
	blocked := t.SignalMask()&sigBit(sig) != 0
	if blocked || tg.actions[sig-1].Handler == SigIgn {
		tg.actions[sig-1].Handler = SigDfl
	}
	// A fault's signal is never refused: no limit.
	t.pending.enqueue(info, math.MaxUint64)
	tg.mu.Unlock()
	if blocked {
		t.SetSignalMask(t.SignalMask() &^ sigBit(sig))
	}
}

// faultSignal returns the siginfo of a page fault that the memory manager
// could not resolve.
func faultSignal(sig int, code int32, ev *platform.Event) *SignalInfo {
	info := &SignalInfo{Signo: int32(sig), Code: code}
	info.SetAddr(uint64(ev.Addr))
	return info
}

// stop stops the process: every task waits until SIGCONT or death.
func (tg *ThreadGroup) stop(sig int) {
	k := tg.k
	k.mu.Lock()
	tg.mu.Lock()
	if !tg.stopped {
		tg.stopped = true
		tg.stopSignal = sig
		tg.continued = make(chan struct{})
		tg.waitReport = uint32(sig)<<8 | 0x7f
		for t := range tg.tasks {
			t.interrupt()
		}
	}
	parent := tg.parent
	tg.mu.Unlock()
	if parent != nil {
		parent.sendChildSignalLocked(tg, cldStopped, int32(sig))
		parent.notifyChildEventLocked()
	}
	k.mu.Unlock()
}

// continueLocked resumes a stopped process.
//
// Preconditions: k.mu and tg.mu are locked.
func (tg *ThreadGroup) continueLocked() {
	if !tg.stopped {
		return
	}
	tg.stopped = false
	close(tg.continued)
	tg.waitReport = 0xffff
	if tg.parent != nil {
		tg.parent.notifyChildEventLocked()
		// SIGCHLD goes out once the locks are dropped.
		parent := tg.parent
		go parent.sendChildSignal(tg, cldContinued, int32(unix.SIGCONT))
	}
}

// waitWhileStopped blocks the task while its process is stopped. It
// returns true if the task must leave instead.
func (t *Task) waitWhileStopped() bool {
	for {
		t.tg.mu.Lock()
		stopped, continued := t.tg.stopped, t.tg.continued
		t.tg.mu.Unlock()
		if !stopped {
			return false
		}
		select {
		case <-continued:
		case <-t.Done():
			if t.tg.mustLeave(t) {
				return true
			}
			t.clearInterrupt()
		}
	}
}

// si_code values of SIGCHLD, from <asm-generic/siginfo.h>.
const (
	cldExited    = 1
	cldKilled    = 2
	cldDumped    = 3
	cldStopped   = 5
	cldContinued = 6
)

// sendChildSignal tells the process that its child changed state, with
// the child's exit signal (normally SIGCHLD), as Linux's do_notify_parent.
// Stops are not reported under SA_NOCLDSTOP.
func (tg *ThreadGroup) sendChildSignal(child *ThreadGroup, code int32, status int32) {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	tg.sendChildSignalLocked(child, code, status)
}

// sendChildSignalLocked is sendChildSignal for a caller that holds the
// kernel's lock: the one that makes the child a zombie or stops it, so
// that the signal is queued before a wait can see the change, as Linux
// does under tasklist_lock. (A parent that reaped a child and then set a
// SIGCHLD handler must not see that child's SIGCHLD arrive late.)
//
// Preconditions: Kernel.mu is locked.
func (tg *ThreadGroup) sendChildSignalLocked(child *ThreadGroup, code int32, status int32) {
	sig := child.exitSignal
	pid := child.leader.tid
	uid := child.leader.creds.UID
	if code == cldStopped || code == cldContinued {
		sig = int(unix.SIGCHLD)
		tg.mu.Lock()
		noStop := tg.actions[unix.SIGCHLD-1].Flags&SANoCldStop != 0
		tg.mu.Unlock()
		if noStop {
			return
		}
	}
	if !ValidSignal(sig) {
		// No signal (0), or an exit signal that is none (clone(2)
		// accepts up to 255): the parent is not told, only woken.
		return
	}
	info := SignalInfo{Signo: int32(sig), Code: code}
	info.SetPID(int32(pid))
	info.SetUID(int32(uid))
	// si_status follows si_pid and si_uid in the union.
	usermem.ByteOrder.PutUint32(info.Fields[8:12], uint32(status))
	tg.sendLocked(nil, &info)
}

// explainDeath logs why the task's process dies of sig: for SIGSEGV and
// SIGBUS from a fault, which rule fired and the mappings around the
// address. The message is a warning when the kernel is configured to
// explain crashes (minisentry does so when its standard error is a
// terminal), else a debug line: a program's own standard error stays its
// own.
func (t *Task) explainDeath(sig int) {
	log := t.log().WithField("signal", unix.SignalName(unix.Signal(sig)))
	msg := "killed by " + unix.SignalName(unix.Signal(sig))
	if (sig == int(unix.SIGSEGV) || sig == int(unix.SIGBUS)) && t.lastFault != "" {
		msg += ": " + t.lastFault
	}
	if t.k.ExplainCrashes {
		log.Warn(msg)
	} else {
		log.Debug(msg)
	}
}
