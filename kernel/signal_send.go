package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
)

// SignalInfo is Linux's siginfo_t.
type SignalInfo = platform.SignalInfo

// pendingSignals is a set of signals waiting for delivery: a task's own, or
// its process's. A standard signal (1 to 31) is pending at most once;
// real-time signals (32 to 64) queue, up to RLIMIT_SIGPENDING instances.
type pendingSignals struct {
	// queues holds the pending instances of signal N at index N-1.
	queues [numSignals][]SignalInfo
	// set has bit N-1 set while signal N is pending.
	set uint64
	// queued counts the instances in queues.
	queued uint64
}

// enqueue adds info, unless it is a standard signal already pending. Past
// limit queued instances of real-time signals, as Linux's __send_signal
// past RLIMIT_SIGPENDING, one that carries a siginfo of its sender's
// making (sigqueue, tgkill) is refused with EAGAIN, and one from kill(2)
// is made pending without its siginfo if it is not pending already, and
// is otherwise lost. Standard signals, pending at most once each, and the
// signals of POSIX timers, which Linux allocates with the timer, are never
// refused. (Linux counts per user, this per receiver: the sentry's memory
// is bounded either way.)
func (p *pendingSignals) enqueue(info *SignalInfo, limit uint64) error {
	sig := int(info.Signo)
	pending := p.set&sigBit(sig) != 0
	switch {
	case sig < sigRTMin && pending:
		return nil
	case sig >= sigRTMin && info.Code != SITimer && p.queued >= limit:
		if info.Code != platform.SI_USER {
			return unix.EAGAIN
		}
		if pending {
			return nil
		}
		info = &SignalInfo{Signo: info.Signo, Code: platform.SI_USER}
	}
	p.queues[sig-1] = append(p.queues[sig-1], *info)
	p.set |= sigBit(sig)
	p.queued++
	return nil
}

// dequeue removes and returns the lowest-numbered pending signal not in
// mask.
func (p *pendingSignals) dequeue(mask uint64) (SignalInfo, bool) {
	ready := p.set &^ mask
	if ready == 0 {
		return SignalInfo{}, false
	}
	sig := lowestSignal(ready)
	q := p.queues[sig-1]
	info := q[0]
	p.queues[sig-1] = q[1:]
	p.queued--
	if len(q) == 1 {
		p.queues[sig-1] = nil
		p.set &^= sigBit(sig)
	}
	return info, true
}

// discard drops every pending instance of the signals in set.
func (p *pendingSignals) discard(set uint64) {
	for sig := 1; sig <= numSignals; sig++ {
		if set&sigBit(sig) != 0 {
			p.queued -= uint64(len(p.queues[sig-1]))
			p.queues[sig-1] = nil
		}
	}
	p.set &^= set
}

// sigRTMin is SIGRTMIN as the kernel numbers it.
const sigRTMin = 32

// sigBit returns signal sig's bit in a mask.
func sigBit(sig int) uint64 {
	return 1 << (sig - 1)
}

// lowestSignal returns the lowest signal in a non-empty set.
func lowestSignal(set uint64) int {
	for sig := 1; sig <= numSignals; sig++ {
		if set&sigBit(sig) != 0 {
			return sig
		}
	}
	return 0
}

// Sets of signals by default action (signal(7)).
var (
	stopSignals   = sigBit(int(unix.SIGSTOP)) | sigBit(int(unix.SIGTSTP)) | sigBit(int(unix.SIGTTIN)) | sigBit(int(unix.SIGTTOU))
	ignoreSignals = sigBit(int(unix.SIGCHLD)) | sigBit(int(unix.SIGURG)) | sigBit(int(unix.SIGWINCH)) | sigBit(int(unix.SIGCONT))
	coreSignals   = sigBit(int(unix.SIGQUIT)) | sigBit(int(unix.SIGILL)) | sigBit(int(unix.SIGTRAP)) | sigBit(int(unix.SIGABRT)) |
		sigBit(int(unix.SIGBUS)) | sigBit(int(unix.SIGFPE)) | sigBit(int(unix.SIGSEGV)) | sigBit(int(unix.SIGXCPU)) |
		sigBit(int(unix.SIGXFSZ)) | sigBit(int(unix.SIGSYS))
)

// ValidSignal reports whether sig is a signal number (1 to 64).
func ValidSignal(sig int) bool {
	return sig >= 1 && sig <= numSignals
}

// ignoredLocked reports whether sig would be discarded on arrival: its
// action ignores it and the receiving task does not block it (nor did
// before an rt_sigtimedwait that unblocked it to wait for it).
//
// Preconditions: tg.mu is locked.
func (tg *ThreadGroup) ignoredLocked(sig int, blocked bool) bool {
	if blocked {
		return false
	}
	switch tg.actions[sig-1].Handler {
	case SigIgn:
		return true
	case SigDfl:
		return ignoreSignals&sigBit(sig) != 0
	}
	return false
}

// SendSignal sends a signal to the task alone, as tgkill(2) does. EAGAIN
// if too many signals are queued already (pendingSignals.enqueue).
func (t *Task) SendSignal(info *SignalInfo) error {
	return t.tg.send(t, info)
}

// SendSignal sends a signal to the process: any of its tasks that does not
// block it may take it, as kill(2) does. EAGAIN if too many signals are
// queued already (pendingSignals.enqueue).
func (tg *ThreadGroup) SendSignal(info *SignalInfo) error {
	return tg.send(nil, info)
}

// send queues info for target, or for the whole group if target is nil,
// and wakes a task that can take it.
func (tg *ThreadGroup) send(target *Task, info *SignalInfo) error {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.sendLocked(target, info)
}

// sendLocked is send for a caller that holds the kernel's lock.
//
// Preconditions: Kernel.mu is locked.
func (tg *ThreadGroup) sendLocked(target *Task, info *SignalInfo) error {
	sig := int(info.Signo)
	if sig == int(unix.SIGKILL) {
		// Nothing blocks, catches or delays SIGKILL.
		tg.requestExitLocked(ExitStatus{Signo: sig})
		return nil
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.exiting {
		return nil
	}
	bit := sigBit(sig)
	switch {
	case bit&stopSignals != 0:
		tg.pending.discard(sigBit(int(unix.SIGCONT)))
		for t := range tg.tasks {
			t.pending.discard(sigBit(int(unix.SIGCONT)))
		}
	case sig == int(unix.SIGCONT):
		// SIGCONT resumes a stopped process whatever its action, and
		// cancels pending stops.
		tg.pending.discard(stopSignals)
		for t := range tg.tasks {
			t.pending.discard(stopSignals)
		}
		tg.continueLocked()
	}
	receiver := target
	if receiver == nil {
		receiver = tg.leader
	}
	if tg.ignoredLocked(sig, (receiver.signalMaskAtomic()|receiver.waitSignalMask.Load())&bit != 0) {
		return nil
	}
	limit := tg.limits[unix.RLIMIT_SIGPENDING].Cur
	if target != nil {
		if err := target.pending.enqueue(info, limit); err != nil {
			return err
		}
		if target.signalMaskAtomic()&bit == 0 {
			target.interruptLocked()
		}
		return nil
	}
	if err := tg.pending.enqueue(info, limit); err != nil {
		return err
	}
	// Wake one task that does not block the signal: the leader if it can
	// take it, as Linux prefers, else any other.
	if _, live := tg.tasks[tg.leader]; live && tg.leader.signalMaskAtomic()&bit == 0 {
		tg.leader.interruptLocked()
		return nil
	}
	for t := range tg.tasks {
		if t.signalMaskAtomic()&bit == 0 {
			t.interruptLocked()
			return nil
		}
	}
	return nil
}

// interruptLocked interrupts t; the name records that it is called with
// signal locks held, which interrupt does not take.
func (t *Task) interruptLocked() {
	t.interrupt()
}

// Kill sends sig, from the caller, as kill(2): pid > 0 is one process, 0
// the caller's process group, -1 every process but init and the caller,
// < -1 process group -pid. Signal 0 only checks that a target exists.
func (t *Task) Kill(pid int32, sig int) error {
	if sig < 0 || sig > numSignals {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	var targets []*ThreadGroup
	// Zombies count: kill(2) on a process that has exited but is not yet
	// reaped succeeds, and does nothing.
	for _, tg := range k.processesLocked() {
		pgid := t.tg.pgid
		switch {
		case pid > 0 && tg.leader.tid == ThreadID(pid),
			pid == 0 && tg.pgid == pgid,
			pid == -1 && tg != k.init && tg != t.tg,
			pid < -1 && tg.pgid == ThreadID(-pid):
			targets = append(targets, tg)
		}
	}
	senderPID, uid := t.tg.leader.tid, t.creds.UID
	k.mu.Unlock()
	if len(targets) == 0 {
		return unix.ESRCH
	}
	if sig == 0 {
		return nil
	}
	for _, tg := range targets {
		info := SignalInfo{Signo: int32(sig), Code: platform.SI_USER}
		info.SetPID(int32(senderPID))
		info.SetUID(int32(uid))
		tg.SendSignal(&info)
	}
	return nil
}

// Tgkill sends sig to thread tid of process tgid (-1 for any process), as
// tgkill(2) and tkill(2).
func (t *Task) Tgkill(tgid, tid int32, sig int) error {
	if sig < 0 || sig > numSignals || tid <= 0 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	target, ok := k.tasks[ThreadID(tid)]
	if ok && tgid != -1 && target.tg.leader.tid != ThreadID(tgid) {
		ok = false
	}
	senderPID, uid := t.tg.leader.tid, t.creds.UID
	k.mu.Unlock()
	if !ok {
		return unix.ESRCH
	}
	if sig == 0 {
		return nil
	}
	info := SignalInfo{Signo: int32(sig), Code: platform.SI_TKILL}
	info.SetPID(int32(senderPID))
	info.SetUID(int32(uid))
	return target.SendSignal(&info)
}

// PendingSignals returns the signals pending for the task or its process.
func (t *Task) PendingSignals() uint64 {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.pending.set | t.tg.pending.set
}

// processesLocked returns every process, zombies included.
//
// Preconditions: k.mu is locked.
func (k *Kernel) processesLocked() []*ThreadGroup {
	seen := make(map[*ThreadGroup]bool)
	var tgs []*ThreadGroup
	add := func(tg *ThreadGroup) {
		if !seen[tg] && tg.leader != nil {
			seen[tg] = true
			tgs = append(tgs, tg)
		}
	}
	for _, t := range k.tasks {
		add(t.tg)
		for child := range t.tg.children {
			add(child)
		}
	}
	return tgs
}
