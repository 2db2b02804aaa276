package kernel

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// These tests need no platform: their process has one task that blocks
// every signal, so that sending one only queues it.

// newTimerTestGroup returns a process with one task, blocking everything.
func newTimerTestGroup(t *testing.T) (*ThreadGroup, *Task) {
	t.Helper()
	k := NewKernel(Config{})
	tg := newThreadGroup(k, nil)
	task := &Task{k: k, tg: tg}
	task.SetSignalMask(^uint64(0))
	k.mu.Lock()
	k.addTaskLocked(task)
	tg.leader = task
	k.mu.Unlock()
	t.Cleanup(tg.stopTimers)
	return tg, task
}

func TestTimerCoreExpiries(t *testing.T) {
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	tc := timerCore{next: at(10), interval: 5 * time.Millisecond}
	for _, c := range []struct {
		now       int
		remaining time.Duration
		expiries  int64
		next      int
	}{
		{now: 9, remaining: time.Millisecond, expiries: 0, next: 10},
		{now: 10, remaining: 5 * time.Millisecond, expiries: 1, next: 15},
		{now: 27, remaining: 3 * time.Millisecond, expiries: 3, next: 30},
	} {
		if got := tc.remaining(at(c.now)); got != c.remaining {
			t.Errorf("at %dms: remaining %v, want %v", c.now, got, c.remaining)
		}
		if got := tc.expireLocked(at(c.now)); got != c.expiries {
			t.Errorf("at %dms: %d expiries, want %d", c.now, got, c.expiries)
		}
		if !tc.next.Equal(at(c.next)) {
			t.Errorf("at %dms: next expiry at %v, want %dms", c.now, tc.next.Sub(base), c.next)
		}
	}

	oneShot := timerCore{next: at(10)}
	if got := oneShot.expireLocked(at(50)); got != 1 || !oneShot.next.IsZero() {
		t.Errorf("one-shot timer: %d expiries, next %v; want 1, disarmed", got, oneShot.next)
	}
	if got := oneShot.remaining(at(60)); got != 0 {
		t.Errorf("disarmed timer: remaining %v, want 0", got)
	}
}

func TestPOSIXTimerIDsAndErrors(t *testing.T) {
	tg, task := newTimerTestGroup(t)
	for want := int32(0); want < 3; want++ {
		id, err := tg.CreateTimer(unix.CLOCK_MONOTONIC, nil)
		if err != nil || id != want {
			t.Fatalf("CreateTimer = %d, %v; want %d", id, err, want)
		}
	}
	if err := tg.DeleteTimer(1); err != nil {
		t.Fatalf("DeleteTimer(1): %v", err)
	}
	// Deleted ids are not offered again at once.
	if id, _ := tg.CreateTimer(unix.CLOCK_MONOTONIC, nil); id != 3 {
		t.Errorf("after deleting 1, CreateTimer = %d, want 3", id)
	}
	// A bad sigevent uses up an id, as on Linux.
	for _, ev := range []SigEvent{
		{Notify: SigevSignal, Signo: 0},
		{Notify: SigevSignal, Signo: 65},
		{Notify: 3, Signo: 1},
		{Notify: SigevThreadID, Signo: 1, ThreadID: 999},
		{Notify: SigevThreadID, Signo: 0, ThreadID: int32(task.tid)},
	} {
		if _, err := tg.CreateTimer(unix.CLOCK_MONOTONIC, &ev); !errors.Is(err, unix.EINVAL) {
			t.Errorf("CreateTimer(%+v): %v, want EINVAL", ev, err)
		}
	}
	ev := SigEvent{Notify: SigevThreadID, Signo: 1, ThreadID: int32(task.tid)}
	if id, err := tg.CreateTimer(unix.CLOCK_MONOTONIC, &ev); err != nil || id != 9 {
		t.Errorf("CreateTimer(%+v) = %d, %v; want 9", ev, id, err)
	}
	for _, err := range []error{
		tg.DeleteTimer(1),
		func() error { _, err := tg.Timer(1); return err }(),
		func() error { _, err := tg.SetTimer(1, TimerSetting{}); return err }(),
		func() error { _, err := tg.TimerOverrun(1); return err }(),
		func() error { _, err := tg.TimerClock(-1); return err }(),
	} {
		if !errors.Is(err, unix.EINVAL) {
			t.Errorf("on a deleted timer: %v, want EINVAL", err)
		}
	}

	tg.mu.Lock()
	tg.limits[unix.RLIMIT_SIGPENDING].Cur = 4
	tg.mu.Unlock()
	if _, err := tg.CreateTimer(unix.CLOCK_MONOTONIC, nil); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("CreateTimer past RLIMIT_SIGPENDING: %v, want EAGAIN", err)
	}
}

func TestSigevNoneTimer(t *testing.T) {
	tg, _ := newTimerTestGroup(t)
	id, err := tg.CreateTimer(unix.CLOCK_MONOTONIC, &SigEvent{Notify: SigevNone})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.SetTimer(id, TimerSetting{Value: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	// Expired, it reads as disarmed, and nothing was sent.
	if s, _ := tg.Timer(id); s != (TimerSetting{}) {
		t.Errorf("expired SIGEV_NONE timer reads %+v, want zero", s)
	}
	if tg.pending.set != 0 {
		t.Errorf("SIGEV_NONE timer queued signals %#x", tg.pending.set)
	}
	old, _ := tg.SetTimer(id, TimerSetting{Value: time.Hour, Interval: time.Minute})
	if old != (TimerSetting{}) {
		t.Errorf("old setting %+v, want zero", old)
	}
	s, _ := tg.Timer(id)
	if s.Interval != time.Minute || s.Value <= 59*time.Minute || s.Value > time.Hour {
		t.Errorf("timer reads %+v, want an hour and a period of a minute", s)
	}
	// A zero value disarms the timer and forgets its period.
	tg.SetTimer(id, TimerSetting{Interval: time.Minute})
	if s, _ := tg.Timer(id); s != (TimerSetting{}) {
		t.Errorf("disarmed timer reads %+v, want zero", s)
	}
}

// timerSignal returns si_timerid and si_overrun.
func timerSignal(info *SignalInfo) (id, overrun int32) {
	return int32(usermem.ByteOrder.Uint32(info.Fields[0:4])), int32(usermem.ByteOrder.Uint32(info.Fields[4:8]))
}

func TestPOSIXTimerOverruns(t *testing.T) {
	tg, task := newTimerTestGroup(t)
	sig := int32(sigRTMin + 2)
	id, err := tg.CreateTimer(unix.CLOCK_MONOTONIC, &SigEvent{Notify: SigevSignal, Signo: sig, Value: 77})
	if err != nil {
		t.Fatal(err)
	}
	tg.mu.Lock()
	pt := tg.timers.posix[id]
	tg.mu.Unlock()

	// The first expiry queues the signal; those that follow while it is
	// pending count as its overruns.
	tg.timers.sendMu.Lock()
	if pending := pt.expired(1); pending {
		t.Errorf("first expiry: signal already pending")
	}
	if pending := pt.expired(3); !pending {
		t.Errorf("second expiry: signal not pending")
	}
	tg.timers.sendMu.Unlock()
	if n, _ := tg.TimerOverrun(id); n != 0 {
		t.Errorf("timer_getoverrun before delivery = %d, want 0", n)
	}
	info, ok := task.takeSignal(sigBit(int(sig)))
	if !ok {
		t.Fatal("no signal queued")
	}
	gotID, overrun := timerSignal(&info)
	if info.Code != SITimer || gotID != id || overrun != 3 || usermem.ByteOrder.Uint64(info.Fields[8:16]) != 77 {
		t.Errorf("siginfo: code %d, timer %d, overrun %d; want %d, %d, 3", info.Code, gotID, overrun, SITimer, id)
	}
	if _, ok := task.takeSignal(sigBit(int(sig))); ok {
		t.Error("a second signal was queued")
	}
	if n, _ := tg.TimerOverrun(id); n != 3 {
		t.Errorf("timer_getoverrun after delivery = %d, want 3", n)
	}

	// Setting the timer drops its pending signal and the count.
	tg.timers.sendMu.Lock()
	pt.expired(1)
	tg.timers.sendMu.Unlock()
	tg.SetTimer(id, TimerSetting{})
	if tg.pending.set != 0 {
		t.Errorf("signals %#x still pending after timer_settime", tg.pending.set)
	}
	if n, _ := tg.TimerOverrun(id); n != 0 {
		t.Errorf("timer_getoverrun after timer_settime = %d, want 0", n)
	}
}

func TestExecKeepsIntervalTimers(t *testing.T) {
	tg, _ := newTimerTestGroup(t)
	id, _ := tg.CreateTimer(unix.CLOCK_MONOTONIC, nil)
	tg.SetTimer(id, TimerSetting{Value: time.Hour})
	tg.SetITimer(ITimerReal, TimerSetting{Value: time.Hour, Interval: time.Minute})
	tg.deletePOSIXTimersForExec()
	if _, err := tg.Timer(id); !errors.Is(err, unix.EINVAL) {
		t.Errorf("POSIX timer after exec: %v, want EINVAL", err)
	}
	if s, _ := tg.ITimer(ITimerReal); s.Value <= 59*time.Minute || s.Interval != time.Minute {
		t.Errorf("ITIMER_REAL after exec reads %+v, want an hour and a minute", s)
	}
	// Ids go on counting after exec.
	if id2, _ := tg.CreateTimer(unix.CLOCK_MONOTONIC, nil); id2 != id+1 {
		t.Errorf("first id after exec = %d, want %d", id2, id+1)
	}
	if _, err := tg.ITimer(3); !errors.Is(err, unix.EINVAL) {
		t.Errorf("ITimer(3): %v, want EINVAL", err)
	}
}
