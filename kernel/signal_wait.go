package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// SigSuspend replaces the signal mask with mask and waits for a signal, as
// rt_sigsuspend(2). It always returns EINTR; the signal's handler returns
// to the old mask.
func (t *Task) SigSuspend(mask uint64) error {
	old := t.SignalMask()
	t.savedSignalMask = &old
	t.SetSignalMask(mask)
	if !t.hasDeliverableSignal() {
		<-t.Done()
	}
	return unix.EINTR
}

// Pause waits for a signal, as pause(2).
func (t *Task) Pause() error {
	if !t.hasDeliverableSignal() {
		<-t.Done()
	}
	return unix.EINTR
}

// SigTimedWait waits for one of the signals in set and takes it without
// running its handler, as rt_sigtimedwait(2). timeout < 0 waits forever;
// EAGAIN when it expires, EINTR if another signal interrupts the wait.
func (t *Task) SigTimedWait(set uint64, timeout time.Duration) (SignalInfo, error) {
	set &^= unblockable
	old := t.SignalMask()
	// While waiting, the signals of set are unblocked, so that senders
	// wake the task; they are taken here, never delivered. Those of them
	// that were blocked are still never discarded as ignored.
	t.waitSignalMask.Store(old)
	t.SetSignalMask(old &^ set)
	defer func() {
		t.SetSignalMask(old)
		t.waitSignalMask.Store(0)
	}()
	var expired <-chan time.Time
	if timeout >= 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	for {
		if info, ok := t.takeSignal(set); ok {
			return info, nil
		}
		select {
		case <-expired:
			return SignalInfo{}, unix.EAGAIN
		case <-t.Done():
			if info, ok := t.takeSignal(set); ok {
				return info, nil
			}
			if t.hasDeliverableSignal() || t.tg.mustLeave(t) {
				return SignalInfo{}, unix.EINTR
			}
			t.clearInterrupt()
		}
	}
}

// takeSignal removes a pending signal of set, the task's own first.
func (t *Task) takeSignal(set uint64) (SignalInfo, bool) {
	tg := t.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if info, ok := t.pending.dequeue(^set); ok {
		return info, true
	}
	return tg.pending.dequeue(^set)
}

// QueueSignal sends info, which the caller made, to process tgid, or to
// its thread tid if tid > 0, as rt_sigqueueinfo(2) and
// rt_tgsigqueueinfo(2). A process may not forge a signal that looks sent
// by the kernel or by kill(2) to another process: EPERM.
func (t *Task) QueueSignal(tgid, tid int32, info *SignalInfo) error {
	sig := int(info.Signo)
	if sig != 0 && !ValidSignal(sig) {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	var target *Task
	var tg *ThreadGroup
	if tid > 0 {
		target = k.tasks[ThreadID(tid)]
		if target != nil && target.tg.leader.tid != ThreadID(tgid) {
			target = nil
		}
		if target != nil {
			tg = target.tg
		}
	} else if p := k.processLocked(ThreadID(tgid)); p != nil {
		tg = p
	}
	self := tg == t.tg
	k.mu.Unlock()
	if tg == nil {
		return unix.ESRCH
	}
	if (info.Code >= 0 || info.Code == SITkill) && !self {
		return unix.EPERM
	}
	if sig == 0 {
		// The probe of sigqueue(pid, 0, value): the checks, no signal.
		return nil
	}
	if target != nil {
		return target.SendSignal(info)
	}
	return tg.SendSignal(info)
}

// SITkill is SI_TKILL, the si_code of tkill(2) and tgkill(2).
const SITkill = -6
