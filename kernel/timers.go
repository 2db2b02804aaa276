package kernel

import (
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// Timers: the interval timers of setitimer(2) and alarm(2), and the POSIX
// timers of timer_create(2).
//
// Each armed timer is a Go timer in the sentry (time.AfterFunc). Its
// callback counts the expiries that are due, sends the signal through the
// kernel's ordinary path (ThreadGroup.SendSignal, Task.SendSignal), as
// Linux's hrtimer callbacks call send_sigqueue, and rearms a periodic timer
// for the next multiple of its period, so that a late callback does not
// shift the timer's schedule.
//
// Overruns. Linux queues at most one signal per POSIX timer: while it is
// pending the timer is not rearmed, and when the signal is dequeued the
// expiries missed meanwhile become its si_overrun and timer_getoverrun's
// answer. minisentry has no hook in dequeueing, so it works the other way
// round: while the timer's signal is still queued, an expiry adds to the
// queued siginfo's si_overrun in place, and the signal leaves the queue
// carrying the count. The timer notices that the signal is gone the next
// time it looks (an expiry, timer_getoverrun) and remembers the count it
// carried. While the signal is pending the callback runs no more often
// than every pendingPoll, counting the expiries it skipped, so a blocked
// signal on a fast timer does not keep the sentry busy; si_overrun can then
// lag behind Linux's by up to that much.
//
// Locking. The state of every timer of a process is protected by
// ThreadGroup.mu. processTimers.sendMu serializes each expiry, from the
// decision to signal to the signal being queued, with the system calls
// that change timers, so that a timer changed or deleted never delivers a
// signal of its old setting afterwards; it comes before Kernel.mu in the
// lock order. The exit path, which holds Kernel.mu, stops the timers
// without it: a callback already past its checks may still send a signal,
// to a process that will never take it.
//
// Departures from Linux: the CPU-time timers (ITIMER_VIRTUAL, ITIMER_PROF,
// and POSIX timers on CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID)
// count wall time, as minisentry's CPU-time clocks do; an absolute
// CLOCK_REALTIME expiry is converted to a delay when it is set, and does
// not follow later changes of the host's clock.

// Interval timers of setitimer(2), from <linux/time.h>.
const (
	ITimerReal    = 0
	ITimerVirtual = 1
	ITimerProf    = 2
)

// Values of struct sigevent's sigev_notify, from <asm-generic/siginfo.h>.
const (
	// SigevSignal sends sigev_signo to the process.
	SigevSignal = 0
	// SigevNone sends nothing; the timer is only read.
	SigevNone = 1
	// SigevThread is the C library's business (it starts a thread); the
	// kernel signals the process as for SigevSignal.
	SigevThread = 2
	// SigevThreadID sends sigev_signo to the thread
	// sigev_notify_thread_id, which must be in the caller's process.
	SigevThreadID = 4
)

// SITimer is SI_TIMER, the si_code of a POSIX timer's signal.
const SITimer = -2

// MaxTimerDuration bounds the values and periods of timers, so that
// adding multiples of a period to a time cannot overflow (about 146 years;
// Linux's bound, KTIME_MAX, is twice as far).
const MaxTimerDuration = time.Duration(1 << 62)

// pendingPoll is how often, at most, a periodic timer whose signal is
// still pending checks whether it has been taken.
const pendingPoll = time.Millisecond

// TimerSetting is a timer's state as getitimer(2) and timer_gettime(2)
// report it, and as setitimer(2) and timer_settime(2) take it: the time to
// the next expiry (0: disarmed) and the period (0: a one-shot timer).
type TimerSetting struct {
	Value    time.Duration
	Interval time.Duration
}

// SigEvent is what timer_create(2) reads of struct sigevent.
type SigEvent struct {
	// Value is sigev_value, handed back as the signal's si_value.
	Value uint64
	// Signo is sigev_signo.
	Signo int32
	// Notify is sigev_notify: SigevSignal, SigevNone, SigevThread or
	// SigevThreadID.
	Notify int32
	// ThreadID is sigev_notify_thread_id, for SigevThreadID.
	ThreadID int32
}

// processTimers are a process's timers. They survive execve(2) but for the
// POSIX timers, and are not inherited across fork(2). Protected by
// ThreadGroup.mu, but for sendMu.
type processTimers struct {
	// sendMu serializes expiries with changes to the timers (see the
	// comment at the top of this file). It is taken before Kernel.mu and
	// ThreadGroup.mu.
	sendMu sync.Mutex

	// itimers are ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF.
	itimers [3]timerCore

	// posix are the timers of timer_create(2), by id.
	posix map[int32]*posixTimer

	// nextID is the id the next POSIX timer is offered first. As on Linux
	// ids count up from 0 for the life of the process, exec included,
	// skipping those in use.
	nextID int32
}

// itimerSignals are the signals of the interval timers.
var itimerSignals = [3]int{int(unix.SIGALRM), int(unix.SIGVTALRM), int(unix.SIGPROF)}

// timerCore is what every timer has: its next expiry, its period, and the
// Go timer that wakes the sentry then. Protected by ThreadGroup.mu.
type timerCore struct {
	// next is the next expiry, on the sentry's monotonic clock; zero while
	// the timer is disarmed.
	next time.Time

	// interval is the period; 0 for a one-shot timer.
	interval time.Duration

	// gtimer calls back at next (or later, see pendingPoll). It is nil
	// while the timer is disarmed, and for a timer that signals nothing.
	gtimer *time.Timer

	// seq counts the timer's settings. A callback knows the setting it was
	// armed for and does nothing once that is stale, which makes a Stop
	// that comes too late harmless.
	seq uint64
}

// setLocked arms the timer to expire value from now, then every interval;
// a zero value disarms it. fire is the Go timer's callback, given the
// setting's seq; nil arms no Go timer, for a timer whose expiries are only
// counted when it is read.
func (tc *timerCore) setLocked(now time.Time, value, interval time.Duration, fire func(seq uint64)) {
	tc.stopLocked()
	value, interval = min(value, MaxTimerDuration), min(interval, MaxTimerDuration)
	tc.interval = interval
	if value == 0 {
		return
	}
	tc.next = now.Add(value)
	if fire != nil {
		seq := tc.seq
		tc.gtimer = time.AfterFunc(value, func() { fire(seq) })
	}
}

// stopLocked disarms the timer and invalidates its pending callback. The
// period stays, for the CPU-time interval timers, which report it even
// while disarmed.
func (tc *timerCore) stopLocked() {
	tc.seq++
	if tc.gtimer != nil {
		tc.gtimer.Stop()
		tc.gtimer = nil
	}
	tc.next = time.Time{}
}

// expireLocked counts the expiries due by now and moves next past them: to
// the first multiple of the period after now for a periodic timer (as
// Linux's hrtimer_forward), to zero for a one-shot timer, which is then
// disarmed.
func (tc *timerCore) expireLocked(now time.Time) int64 {
	if tc.next.IsZero() || now.Before(tc.next) {
		return 0
	}
	if tc.interval == 0 {
		tc.next = time.Time{}
		return 1
	}
	n := int64(now.Sub(tc.next)/tc.interval) + 1
	tc.next = tc.next.Add(time.Duration(n) * tc.interval)
	return n
}

// remaining returns the time from now to the next expiry, 0 if the timer
// is disarmed. A periodic timer whose expiries have not all been counted
// yet reports the time to the next multiple of its period, never 0; a
// one-shot timer that expired before its callback ran reports 0 or less.
func (tc *timerCore) remaining(now time.Time) time.Duration {
	if tc.next.IsZero() {
		return 0
	}
	d := tc.next.Sub(now)
	if d > 0 || tc.interval == 0 {
		return d
	}
	return tc.interval - (-d)%tc.interval
}

// timerFired is the Go timer callback of tc, a timer of tg, armed for
// setting seq. It counts the expiries due, has expired send their signal,
// and rearms a periodic timer. expired runs with sendMu held and no other
// lock; it returns whether the timer's previous signal was still pending,
// and then the timer is checked again no sooner than pendingPoll.
func (tg *ThreadGroup) timerFired(tc *timerCore, seq uint64, expired func(n int64) bool) {
	ts := &tg.timers
	ts.sendMu.Lock()
	defer ts.sendMu.Unlock()
	tg.mu.Lock()
	if tc.seq != seq {
		tg.mu.Unlock()
		return
	}
	n := tc.expireLocked(time.Now())
	tg.mu.Unlock()
	pending := n > 0 && expired(n)
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tc.seq != seq || tc.next.IsZero() {
		return
	}
	d := time.Until(tc.next)
	if pending {
		d = max(d, pendingPoll)
	}
	tc.gtimer.Reset(d)
}

// ITimer returns interval timer which, as getitimer(2).
func (tg *ThreadGroup) ITimer(which int) (TimerSetting, error) {
	if which < ITimerReal || which > ITimerProf {
		return TimerSetting{}, unix.EINVAL
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.timers.itimers[which].itimerSettingLocked(time.Now()), nil
}

// itimerSettingLocked returns an interval timer's setting. An armed timer
// whose expiry is due but not yet signalled reads as 1µs, as on Linux: 0
// would say it is disarmed.
func (tc *timerCore) itimerSettingLocked(now time.Time) TimerSetting {
	s := TimerSetting{Interval: tc.interval, Value: tc.remaining(now)}
	if s.Value <= 0 && !tc.next.IsZero() {
		s.Value = time.Microsecond
	}
	return s
}

// SetITimer sets interval timer which, as setitimer(2) and alarm(2): it
// expires s.Value from now (0 disarms it) and then every s.Interval. It
// returns the previous setting.
func (tg *ThreadGroup) SetITimer(which int, s TimerSetting) (TimerSetting, error) {
	if which < ITimerReal || which > ITimerProf {
		return TimerSetting{}, unix.EINVAL
	}
	ts := &tg.timers
	ts.sendMu.Lock()
	defer ts.sendMu.Unlock()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	now := time.Now()
	tc := &ts.itimers[which]
	old := tc.itimerSettingLocked(now)
	interval := s.Interval
	if s.Value == 0 && which == ITimerReal {
		// Linux forgets ITIMER_REAL's period when it is disarmed, but
		// keeps the CPU-time timers'.
		interval = 0
	}
	sig := itimerSignals[which]
	tc.setLocked(now, s.Value, interval, func(seq uint64) {
		tg.timerFired(tc, seq, func(int64) bool { return tg.itimerExpired(sig) })
	})
	return old, nil
}

// itimerExpired sends an interval timer's signal to the process, with
// si_code SI_KERNEL as Linux's SEND_SIG_PRIV. A standard signal is pending
// at most once: while it is, the expiry is lost, as on Linux, and the
// result says that it was pending.
func (tg *ThreadGroup) itimerExpired(sig int) bool {
	tg.mu.Lock()
	pending := tg.pending.set&sigBit(sig) != 0
	tg.mu.Unlock()
	if pending {
		return true
	}
	info := SignalInfo{Signo: int32(sig), Code: platform.SI_KERNEL}
	tg.SendSignal(&info)
	return false
}

// posixTimer is a timer of timer_create(2).
type posixTimer struct {
	timerCore

	// tg is the process that owns the timer. Immutable.
	tg *ThreadGroup

	// id is the timer's id in its process. Immutable.
	id int32

	// clock is the clock the timer was created on. Immutable.
	clock int32

	// notify is SigevSignal, SigevNone or SigevThreadID; SIGEV_THREAD is
	// recorded as SigevSignal. Immutable.
	notify int32

	// signo and value are the signal and its si_value. Immutable.
	signo int32
	value uint64

	// target is the thread signalled under SigevThreadID, else nil.
	// Immutable.
	target *Task

	// The fields below are protected by tg.mu.

	// queued is set while the timer's signal is in its pending queue, as
	// far as the timer knows; queuedOverrun is the si_overrun it carries
	// now.
	queued        bool
	queuedOverrun int32

	// lastOverrun is the si_overrun of the last signal taken from the
	// queue: timer_getoverrun(2)'s answer.
	lastOverrun int32
}

// CreateTimer creates a POSIX timer on clock, as timer_create(2), and
// returns its id. clock is recorded for TimerClock; the caller has checked
// it. A nil ev is timer_create's default: SIGALRM to the process, with the
// timer's id as si_value. EINVAL if ev is not valid; as on Linux, the id
// is used up all the same. EAGAIN past RLIMIT_SIGPENDING timers.
func (tg *ThreadGroup) CreateTimer(clock int32, ev *SigEvent) (int32, error) {
	ts := &tg.timers
	tg.mu.Lock()
	if uint64(len(ts.posix)) >= tg.limits[unix.RLIMIT_SIGPENDING].Cur {
		tg.mu.Unlock()
		return 0, unix.EAGAIN
	}
	id := ts.allocIDLocked()
	tg.mu.Unlock()

	pt := &posixTimer{tg: tg, id: id, clock: clock, notify: SigevSignal, signo: int32(unix.SIGALRM), value: uint64(id)}
	if ev != nil {
		switch ev.Notify {
		case SigevThreadID:
			pt.target = tg.threadByID(ThreadID(ev.ThreadID))
			if pt.target == nil {
				return 0, unix.EINVAL
			}
			fallthrough
		case SigevSignal, SigevThread:
			if !ValidSignal(int(ev.Signo)) {
				return 0, unix.EINVAL
			}
		case SigevNone:
		default:
			return 0, unix.EINVAL
		}
		pt.notify, pt.signo, pt.value = ev.Notify, ev.Signo, ev.Value
		if pt.notify == SigevThread {
			pt.notify = SigevSignal
		}
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if ts.posix == nil {
		ts.posix = make(map[int32]*posixTimer)
	}
	ts.posix[id] = pt
	return id, nil
}

// allocIDLocked returns the next free POSIX timer id.
//
// Preconditions: tg.mu is locked; fewer than MaxInt32 timers exist.
func (ts *processTimers) allocIDLocked() int32 {
	for {
		id := ts.nextID
		ts.nextID = (ts.nextID + 1) & math.MaxInt32
		if _, used := ts.posix[id]; !used {
			return id
		}
	}
}

// threadByID returns the task of the group whose id is tid, or nil.
func (tg *ThreadGroup) threadByID(tid ThreadID) *Task {
	k := tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.tasks[tid]
	if !ok || t.tg != tg {
		return nil
	}
	return t
}

// hasTask reports whether t is a live task of the group.
func (tg *ThreadGroup) hasTask(t *Task) bool {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	_, ok := tg.tasks[t]
	return ok
}

// TimerClock returns the clock POSIX timer id was created on; EINVAL if
// there is no such timer.
func (tg *ThreadGroup) TimerClock(id int32) (int32, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	pt, ok := tg.timers.posix[id]
	if !ok {
		return 0, unix.EINVAL
	}
	return pt.clock, nil
}

// Timer returns the setting of POSIX timer id, as timer_gettime(2).
func (tg *ThreadGroup) Timer(id int32) (TimerSetting, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	pt, ok := tg.timers.posix[id]
	if !ok {
		return TimerSetting{}, unix.EINVAL
	}
	return pt.settingLocked(time.Now()), nil
}

// settingLocked returns the timer's setting. A one-shot timer that has
// expired reads as disarmed once its signal is sent (and at once under
// SIGEV_NONE); before that, as 1ns left, as on Linux.
func (pt *posixTimer) settingLocked(now time.Time) TimerSetting {
	s := TimerSetting{Interval: pt.interval, Value: pt.remaining(now)}
	if s.Value <= 0 && !pt.next.IsZero() {
		if pt.notify == SigevNone {
			s.Value = 0
		} else {
			s.Value = time.Nanosecond
		}
	}
	return s
}

// SetTimer sets POSIX timer id, as timer_settime(2): it expires s.Value
// from now (0 disarms it) and then every s.Interval. It returns the
// previous setting. As on Linux since 6.13, a signal the timer queued and
// that is still pending is dropped, and the overrun count starts again.
func (tg *ThreadGroup) SetTimer(id int32, s TimerSetting) (TimerSetting, error) {
	ts := &tg.timers
	ts.sendMu.Lock()
	defer ts.sendMu.Unlock()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	pt, ok := ts.posix[id]
	if !ok {
		return TimerSetting{}, unix.EINVAL
	}
	now := time.Now()
	old := pt.settingLocked(now)
	pt.dropQueuedLocked()
	pt.lastOverrun = 0
	interval := s.Interval
	if s.Value == 0 {
		interval = 0
	}
	var fire func(uint64)
	if pt.notify != SigevNone {
		fire = func(seq uint64) { tg.timerFired(&pt.timerCore, seq, pt.expired) }
	}
	pt.setLocked(now, s.Value, interval, fire)
	return old, nil
}

// TimerOverrun returns the overrun count of the last signal of POSIX timer
// id that was taken, as timer_getoverrun(2).
func (tg *ThreadGroup) TimerOverrun(id int32) (int32, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	pt, ok := tg.timers.posix[id]
	if !ok {
		return 0, unix.EINVAL
	}
	pt.queuedLocked()
	return pt.lastOverrun, nil
}

// DeleteTimer deletes POSIX timer id, as timer_delete(2). Its pending
// signal, if any, is dropped, as on Linux since 6.13.
func (tg *ThreadGroup) DeleteTimer(id int32) error {
	ts := &tg.timers
	ts.sendMu.Lock()
	defer ts.sendMu.Unlock()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	pt, ok := ts.posix[id]
	if !ok {
		return unix.EINVAL
	}
	delete(ts.posix, id)
	pt.stopLocked()
	pt.dropQueuedLocked()
	return nil
}

// deletePOSIXTimersForExec deletes every POSIX timer, as execve(2) does;
// the interval timers stay.
func (tg *ThreadGroup) deletePOSIXTimersForExec() {
	ts := &tg.timers
	ts.sendMu.Lock()
	defer ts.sendMu.Unlock()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for id, pt := range ts.posix {
		delete(ts.posix, id)
		pt.stopLocked()
		pt.dropQueuedLocked()
	}
}

// stopTimers stops every timer of a process that has ended.
func (tg *ThreadGroup) stopTimers() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	ts := &tg.timers
	for i := range ts.itimers {
		ts.itimers[i].stopLocked()
	}
	for id, pt := range ts.posix {
		delete(ts.posix, id)
		pt.stopLocked()
	}
}

// expired signals n expiries of the timer (n-1 of them overruns). It
// returns whether the timer's previous signal was still pending.
//
// Preconditions: tg.timers.sendMu is locked.
func (pt *posixTimer) expired(n int64) bool {
	tg := pt.tg
	if pt.target != nil && !tg.hasTask(pt.target) {
		// The thread has exited: Linux drops the signal.
		return false
	}
	tg.mu.Lock()
	if p, i := pt.queuedLocked(); i >= 0 {
		pt.queuedOverrun = addOverrun(pt.queuedOverrun, n)
		setTimerOverrun(&p.queues[pt.signo-1][i], pt.queuedOverrun)
		tg.mu.Unlock()
		return true
	}
	pt.queued, pt.queuedOverrun = true, addOverrun(0, n-1)
	info := SignalInfo{Signo: pt.signo, Code: SITimer}
	usermem.ByteOrder.PutUint32(info.Fields[0:4], uint32(pt.id))
	setTimerOverrun(&info, pt.queuedOverrun)
	usermem.ByteOrder.PutUint64(info.Fields[8:16], pt.value)
	tg.mu.Unlock()
	if pt.target != nil {
		pt.target.SendSignal(&info)
	} else {
		tg.SendSignal(&info)
	}
	return false
}

// addOverrun adds n to an overrun count, which stops at MaxInt32 as
// Linux's does (si_overrun is an int).
func addOverrun(count int32, n int64) int32 {
	return int32(min(int64(count)+n, math.MaxInt32))
}

// setTimerOverrun sets si_overrun. In the _timer member of siginfo's
// union, si_timerid comes first, then si_overrun, then si_value.
func setTimerOverrun(info *SignalInfo, overrun int32) {
	usermem.ByteOrder.PutUint32(info.Fields[4:8], uint32(overrun))
}

// pendingLocked returns the pending set the timer's signals go to.
func (pt *posixTimer) pendingLocked() *pendingSignals {
	if pt.target != nil {
		return &pt.target.pending
	}
	return &pt.tg.pending
}

// findLocked returns the index of the timer's signal in its pending queue,
// or -1.
func (pt *posixTimer) findLocked() (*pendingSignals, int) {
	p := pt.pendingLocked()
	if !ValidSignal(int(pt.signo)) {
		// A SIGEV_NONE timer, which queues nothing.
		return p, -1
	}
	for i := range p.queues[pt.signo-1] {
		info := &p.queues[pt.signo-1][i]
		if info.Code == SITimer && int32(usermem.ByteOrder.Uint32(info.Fields[0:4])) == pt.id {
			return p, i
		}
	}
	return p, -1
}

// queuedLocked returns where the timer's signal is queued, index -1 if it
// is not. If the timer finds its signal gone (delivered, waited for,
// discarded), the overrun count the signal carried becomes
// timer_getoverrun's answer.
func (pt *posixTimer) queuedLocked() (*pendingSignals, int) {
	if !pt.queued {
		return nil, -1
	}
	p, i := pt.findLocked()
	if i < 0 {
		pt.queued = false
		pt.lastOverrun = pt.queuedOverrun
	}
	return p, i
}

// dropQueuedLocked removes the timer's signal from its pending queue.
func (pt *posixTimer) dropQueuedLocked() {
	if !pt.queued {
		return
	}
	pt.queued = false
	p, i := pt.findLocked()
	if i < 0 {
		return
	}
	sig := int(pt.signo)
	q := p.queues[sig-1]
	if len(q) == 1 {
		p.queues[sig-1] = nil
		p.set &^= sigBit(sig)
		return
	}
	p.queues[sig-1] = append(q[:i:i], q[i+1:]...)
}
