package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerTime(t *kernel.SyscallTable) {
	t.Register(unix.SYS_CLOCK_GETTIME, kernel.Syscall{Fn: ClockGettime, Support: kernel.Partial, Note: "CPU-time clocks count time since the sandbox started", Args: []kernel.ArgFormat{kernel.ClockID, kernel.PostTimespec}})
	t.Register(unix.SYS_CLOCK_GETRES, kernel.Syscall{Fn: ClockGetres, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.ClockID, kernel.PostTimespec}})
	t.Register(unix.SYS_GETTIMEOFDAY, kernel.Syscall{Fn: Gettimeofday, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_TIME, kernel.Syscall{Fn: Time, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex}})
	t.Register(unix.SYS_NANOSLEEP, kernel.Syscall{Fn: Nanosleep, Support: kernel.Partial, NoRestart: true, Note: "a signal without a handler ends the sleep early (EINTR) instead of restarting it", Args: []kernel.ArgFormat{kernel.Timespec, kernel.Hex}})
	t.Register(unix.SYS_CLOCK_NANOSLEEP, kernel.Syscall{Fn: ClockNanosleep, Support: kernel.Partial, NoRestart: true, Note: "as nanosleep", Args: []kernel.ArgFormat{kernel.ClockID, kernel.TimerFlags, kernel.Timespec, kernel.Hex}})
}

// sandboxStart is when the sentry started: the origin of the CPU-time
// clocks, which minisentry does not measure.
var sandboxStart = time.Now()

// clockIDs are the clocks of clock_gettime(2) that minisentry knows.
var clockIDs = map[int32]bool{
	unix.CLOCK_REALTIME: true, unix.CLOCK_MONOTONIC: true, unix.CLOCK_PROCESS_CPUTIME_ID: true,
	unix.CLOCK_THREAD_CPUTIME_ID: true, unix.CLOCK_MONOTONIC_RAW: true, unix.CLOCK_REALTIME_COARSE: true,
	unix.CLOCK_MONOTONIC_COARSE: true, unix.CLOCK_BOOTTIME: true, unix.CLOCK_REALTIME_ALARM: true,
	unix.CLOCK_BOOTTIME_ALARM: true, unix.CLOCK_TAI: true,
}

// now reads clock id.
func now(id int32) (unix.Timespec, error) {
	if !clockIDs[id] {
		return unix.Timespec{}, unix.EINVAL
	}
	if id == unix.CLOCK_PROCESS_CPUTIME_ID || id == unix.CLOCK_THREAD_CPUTIME_ID {
		return unix.NsecToTimespec(time.Since(sandboxStart).Nanoseconds()), nil
	}
	var ts unix.Timespec
	err := unix.ClockGettime(id, &ts)
	return ts, err
}

// ClockGettime implements clock_gettime(2).
func ClockGettime(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	ts, err := now(args[0].Int())
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(args[1].Pointer(), &ts)
	return 0, err
}

// ClockGetres implements clock_getres(2).
func ClockGetres(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	id := args[0].Int()
	if !clockIDs[id] {
		return 0, unix.EINVAL
	}
	if args[1].Value == 0 {
		return 0, nil
	}
	var ts unix.Timespec
	if err := unix.ClockGetres(id, &ts); err != nil {
		return 0, err
	}
	_, err := t.CopyOut(args[1].Pointer(), &ts)
	return 0, err
}

// Gettimeofday implements gettimeofday(2). The time zone, obsolete, is
// always UTC with no daylight saving.
func Gettimeofday(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	if args[0].Value != 0 {
		tv := unix.NsecToTimeval(time.Now().UnixNano())
		if _, err := t.CopyOut(args[0].Pointer(), &tv); err != nil {
			return 0, err
		}
	}
	if args[1].Value != 0 {
		var tz [2]int32
		if _, err := t.CopyOut(args[1].Pointer(), &tz); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Time implements time(2).
func Time(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	sec := time.Now().Unix()
	if args[0].Value != 0 {
		if _, err := t.CopyOut(args[0].Pointer(), sec); err != nil {
			return 0, err
		}
	}
	return uintptr(sec), nil
}

// copyInDuration reads a relative struct timespec: EINVAL unless its
// fields are in range.
func copyInDuration(t *kernel.Task, args kernel.SyscallArguments, i int) (unix.Timespec, error) {
	var ts unix.Timespec
	if _, err := t.CopyIn(args[i].Pointer(), &ts); err != nil {
		return ts, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return ts, unix.EINVAL
	}
	return ts, nil
}

// Nanosleep implements nanosleep(2). The task goroutine sleeps; the host
// does nothing on the application's behalf.
func Nanosleep(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	ts, err := copyInDuration(t, args, 0)
	if err != nil {
		return 0, err
	}
	return 0, sleepFor(t, time.Duration(ts.Nano()), args[1].Pointer())
}

// sleepFor sleeps for d unless interrupted: then it writes the time left
// at rem (if not NULL) and returns EINTR.
func sleepFor(t *kernel.Task, d time.Duration, rem usermem.Addr) error {
	start := time.Now()
	if t.Sleep(d) {
		return nil
	}
	if rem != 0 {
		left := unix.NsecToTimespec(max(d-time.Since(start), 0).Nanoseconds())
		if _, err := t.CopyOut(rem, &left); err != nil {
			return err
		}
	}
	return unix.EINTR
}

// ClockNanosleep implements clock_nanosleep(2).
func ClockNanosleep(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	id, flags := args[0].Int(), args[1].Int()
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI:
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return 0, unix.EINVAL
	default:
		if !clockIDs[id] {
			return 0, unix.EINVAL
		}
		return 0, unix.ENOTSUP
	}
	ts, err := copyInDuration(t, args, 2)
	if err != nil {
		return 0, err
	}
	d := time.Duration(ts.Nano())
	rem := args[3].Pointer()
	if flags&unix.TIMER_ABSTIME != 0 {
		cur, err := now(id)
		if err != nil {
			return 0, err
		}
		d -= time.Duration(cur.Nano())
		// An absolute sleep has no remaining time to report.
		rem = 0
	}
	if d <= 0 {
		return 0, nil
	}
	return 0, sleepFor(t, d, rem)
}
