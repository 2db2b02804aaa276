package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// Timers: alarm(2), setitimer(2) and getitimer(2), and the POSIX timers of
// timer_create(2). The timers themselves live in the kernel (timers.go);
// these handlers decode and check the application's structures, and turn
// absolute expiries into delays.

func registerTimer(t *kernel.SyscallTable) {
	t.Register(unix.SYS_ALARM, kernel.Syscall{Fn: Alarm, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Uint}})
	t.Register(unix.SYS_GETITIMER, kernel.Syscall{Fn: Getitimer, Support: kernel.Partial, Note: "ITIMER_VIRTUAL and ITIMER_PROF count wall time, not CPU time", Args: []kernel.ArgFormat{kernel.Int, kernel.Hex}})
	t.Register(unix.SYS_SETITIMER, kernel.Syscall{Fn: Setitimer, Support: kernel.Partial, Note: "as getitimer", Args: []kernel.ArgFormat{kernel.Int, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_TIMER_CREATE, kernel.Syscall{Fn: TimerCreate, Support: kernel.Partial, Note: "CPU-time clocks count wall time; no per-process or per-thread CPU clocks (clock_getcpuclockid)", Args: []kernel.ArgFormat{kernel.ClockID, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_TIMER_SETTIME, kernel.Syscall{Fn: TimerSettime, Support: kernel.Partial, Note: "an absolute CLOCK_REALTIME expiry ignores later changes of the host clock; si_overrun may lag by up to 1ms", Args: []kernel.ArgFormat{kernel.Int, kernel.TimerFlags, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_TIMER_GETTIME, kernel.Syscall{Fn: TimerGettime, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int, kernel.Hex}})
	t.Register(unix.SYS_TIMER_GETOVERRUN, kernel.Syscall{Fn: TimerGetoverrun, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}})
	t.Register(unix.SYS_TIMER_DELETE, kernel.Syscall{Fn: TimerDelete, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Int}})
}

// durationOf converts seconds and nanoseconds, already checked to be in
// range, to a duration, capped at kernel.MaxTimerDuration.
func durationOf(sec, nsec int64) time.Duration {
	if sec >= int64(kernel.MaxTimerDuration/time.Second) {
		return kernel.MaxTimerDuration
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec)
}

// Alarm implements alarm(2): ITIMER_REAL set to fire once, seconds from
// now (0 cancels it). It returns the seconds that were left of the
// previous alarm, rounded as Linux rounds them: never 0 for an alarm
// still pending.
func Alarm(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	value := time.Duration(args[0].Uint()) * time.Second
	old, err := t.ThreadGroup().SetITimer(kernel.ITimerReal, kernel.TimerSetting{Value: value})
	if err != nil {
		return 0, err
	}
	sec, frac := old.Value/time.Second, old.Value%time.Second
	if sec == 0 && frac != 0 || frac >= time.Second/2 {
		sec++
	}
	return uintptr(sec), nil
}

// copyInItimerval reads a struct itimerval for setitimer(2): EINVAL
// unless both timevals are in range.
func copyInItimerval(t *kernel.Task, addr usermem.Addr) (kernel.TimerSetting, error) {
	var itv unix.Itimerval
	if _, err := t.CopyIn(addr, &itv); err != nil {
		return kernel.TimerSetting{}, err
	}
	for _, tv := range []unix.Timeval{itv.Interval, itv.Value} {
		if tv.Sec < 0 || uint64(tv.Usec) >= 1e6 {
			return kernel.TimerSetting{}, unix.EINVAL
		}
	}
	return kernel.TimerSetting{
		Value:    durationOf(itv.Value.Sec, itv.Value.Usec*1e3),
		Interval: durationOf(itv.Interval.Sec, itv.Interval.Usec*1e3),
	}, nil
}

// copyOutItimerval writes s as a struct itimerval, truncated to
// microseconds as Linux truncates it.
func copyOutItimerval(t *kernel.Task, addr usermem.Addr, s kernel.TimerSetting) error {
	itv := unix.Itimerval{
		Interval: unix.NsecToTimeval(s.Interval.Truncate(time.Microsecond).Nanoseconds()),
		Value:    unix.NsecToTimeval(s.Value.Truncate(time.Microsecond).Nanoseconds()),
	}
	_, err := t.CopyOut(addr, &itv)
	return err
}

// Getitimer implements getitimer(2).
func Getitimer(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	s, err := t.ThreadGroup().ITimer(int(args[0].Int()))
	if err != nil {
		return 0, err
	}
	return 0, copyOutItimerval(t, args[1].Pointer(), s)
}

// Setitimer implements setitimer(2). A NULL new value disarms the timer,
// a misfeature Linux still supports.
func Setitimer(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	var s kernel.TimerSetting
	if args[1].Value != 0 {
		var err error
		if s, err = copyInItimerval(t, args[1].Pointer()); err != nil {
			return 0, err
		}
	}
	old, err := t.ThreadGroup().SetITimer(int(args[0].Int()), s)
	if err != nil {
		return 0, err
	}
	if args[2].Value == 0 {
		return 0, nil
	}
	return 0, copyOutItimerval(t, args[2].Pointer(), old)
}

// sigeventSize is sizeof(struct sigevent), what Linux copies in.
const sigeventSize = 64

// timerClockSupported returns nil if timer_create(2) can make a timer on
// clock id: EOPNOTSUPP for clocks that can be read but not armed, EINVAL
// for clocks that do not exist. The alarm clocks are refused as on a
// machine without an RTC. The clocks of other processes and threads
// (negative ids) are not supported: EINVAL, as clock_gettime(2) says.
func timerClockSupported(id int32) error {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI,
		unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		return nil
	case unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE,
		unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		return unix.EOPNOTSUPP
	}
	return unix.EINVAL
}

// TimerCreate implements timer_create(2).
func TimerCreate(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	clock, evAddr, idAddr := args[0].Int(), args[1].Pointer(), args[2].Pointer()
	var ev *kernel.SigEvent
	if evAddr != 0 {
		// struct sigevent: sigev_value (8 bytes), sigev_signo,
		// sigev_notify, then a union whose first member is
		// sigev_notify_thread_id.
		buf := make([]byte, sigeventSize)
		if _, err := t.CopyInBytes(evAddr, buf); err != nil {
			return 0, err
		}
		bo := usermem.ByteOrder
		ev = &kernel.SigEvent{
			Value:    bo.Uint64(buf[0:8]),
			Signo:    int32(bo.Uint32(buf[8:12])),
			Notify:   int32(bo.Uint32(buf[12:16])),
			ThreadID: int32(bo.Uint32(buf[16:20])),
		}
	}
	if err := timerClockSupported(clock); err != nil {
		return 0, err
	}
	tg := t.ThreadGroup()
	id, err := tg.CreateTimer(clock, ev)
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(idAddr, id); err != nil {
		// As on Linux, the timer goes, and its id stays used up.
		tg.DeleteTimer(id)
		return 0, err
	}
	return 0, nil
}

// copyOutItimerspec writes s as a struct itimerspec.
func copyOutItimerspec(t *kernel.Task, addr usermem.Addr, s kernel.TimerSetting) error {
	its := unix.ItimerSpec{
		Interval: unix.NsecToTimespec(s.Interval.Nanoseconds()),
		Value:    unix.NsecToTimespec(s.Value.Nanoseconds()),
	}
	_, err := t.CopyOut(addr, &its)
	return err
}

// TimerSettime implements timer_settime(2). With TIMER_ABSTIME the expiry
// is a time on the timer's clock; one already past fires at once.
func TimerSettime(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	id, flags, newAddr, oldAddr := args[0].Int(), args[1].Int(), args[2].Pointer(), args[3].Pointer()
	if newAddr == 0 {
		return 0, unix.EINVAL
	}
	var its unix.ItimerSpec
	if _, err := t.CopyIn(newAddr, &its); err != nil {
		return 0, err
	}
	for _, ts := range []unix.Timespec{its.Interval, its.Value} {
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
	}
	tg := t.ThreadGroup()
	s := kernel.TimerSetting{
		Value:    durationOf(its.Value.Sec, its.Value.Nsec),
		Interval: durationOf(its.Interval.Sec, its.Interval.Nsec),
	}
	if flags&unix.TIMER_ABSTIME != 0 && s.Value != 0 {
		clock, err := tg.TimerClock(id)
		if err != nil {
			return 0, err
		}
		cur, err := now(clock)
		if err != nil {
			return 0, err
		}
		// A zero value would disarm the timer: an expiry already past is
		// the shortest delay instead.
		s.Value = max(s.Value-durationOf(cur.Sec, cur.Nsec), time.Nanosecond)
	}
	old, err := tg.SetTimer(id, s)
	if err != nil {
		return 0, err
	}
	if oldAddr == 0 {
		return 0, nil
	}
	return 0, copyOutItimerspec(t, oldAddr, old)
}

// TimerGettime implements timer_gettime(2).
func TimerGettime(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	s, err := t.ThreadGroup().Timer(args[0].Int())
	if err != nil {
		return 0, err
	}
	return 0, copyOutItimerspec(t, args[1].Pointer(), s)
}

// TimerGetoverrun implements timer_getoverrun(2).
func TimerGetoverrun(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	n, err := t.ThreadGroup().TimerOverrun(args[0].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// TimerDelete implements timer_delete(2).
func TimerDelete(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.ThreadGroup().DeleteTimer(args[0].Int())
}
