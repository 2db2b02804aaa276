package linux

import (
	"math"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/kernel/futex"
	"github.com/minisentry/minisentry/usermem"
)

func registerFutex(t *kernel.SyscallTable) {
	t.Register(unix.SYS_FUTEX, kernel.Syscall{Fn: Futex, Support: kernel.Partial, Note: "no PI futexes", Args: []kernel.ArgFormat{kernel.Hex, kernel.FutexOp, kernel.Int, kernel.FutexTimeout, kernel.Hex, kernel.FutexVal3}})
}

// futexTimeout is a decoded futex timeout.
type futexTimeout struct {
	// forever is set when there is no timeout, or one too far away for a
	// timer (Linux saturates such a deadline at KTIME_MAX, 292 years).
	forever bool

	// d is how long to wait from the system call's start; zero or less
	// for a deadline already past.
	d time.Duration
}

// timer returns the channel the wait takes as its timeout, and a function
// to release the timer.
func (ft futexTimeout) timer() (<-chan time.Time, func()) {
	if ft.forever {
		return nil, func() {}
	}
	tm := time.NewTimer(max(ft.d, 0))
	return tm.C, func() { tm.Stop() }
}

// futexHasTimeout reports whether cmd's fourth argument is a timeout
// (Linux's futex_cmd_has_timeout); for the other operations it is a
// number, val2.
func futexHasTimeout(cmd int32) bool {
	switch cmd {
	case futex.OpWait, futex.OpLockPI, futex.OpLockPI2, futex.OpWaitBitset, futex.OpWaitRequeuePI:
		return true
	}
	return false
}

// copyInFutexTimeout reads the timeout at addr, as futex_init_timeout
// decodes it: FUTEX_WAIT's is relative, to CLOCK_MONOTONIC (a relative
// timeout is the same on any clock); the others' are absolute, on
// CLOCK_REALTIME if FUTEX_CLOCK_REALTIME is set and CLOCK_MONOTONIC
// otherwise. EFAULT if it cannot be read, EINVAL if a field is out of
// range.
//
// The deadline of an absolute timeout is turned into a duration once, at
// the start: a later change of the realtime clock does not move it.
func copyInFutexTimeout(t *kernel.Task, addr usermem.Addr, cmd, op int32) (futexTimeout, error) {
	var ts unix.Timespec
	if _, err := t.CopyIn(addr, &ts); err != nil {
		return futexTimeout{}, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return futexTimeout{}, unix.EINVAL
	}
	if cmd != futex.OpWait {
		clock := int32(unix.CLOCK_MONOTONIC)
		if op&futex.FlagClockRealtime != 0 {
			clock = unix.CLOCK_REALTIME
		}
		cur, err := now(clock)
		if err != nil {
			return futexTimeout{}, err
		}
		// Both are valid timespecs, so this cannot overflow; the
		// difference may be negative (a deadline already past).
		ts.Sec -= cur.Sec
		ts.Nsec -= cur.Nsec
	}
	if ts.Sec >= math.MaxInt64/int64(time.Second)-1 {
		return futexTimeout{forever: true}, nil
	}
	return futexTimeout{d: time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)}, nil
}

// futexKey returns the key of the futex word at addr in t's address space.
func futexKey(t *kernel.Task, addr usermem.Addr, op int32) (futex.Key, error) {
	return futex.KeyFor(t, t.MemoryManager(), addr, op&futex.FlagPrivate != 0)
}

// Futex implements futex(2): FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE,
// FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, FUTEX_WAIT_BITSET and FUTEX_WAKE_BITSET,
// private or shared, on the kernel's futex.Manager. The priority-inheritance
// operations return ENOSYS, as on a kernel built without
// CONFIG_FUTEX_PI. Errors are checked in Linux's order: the timeout, then
// the flags, then the operation's own arguments, keys and values.
//
// The words are reached through the task's memory manager, as the usermem.IO
// of the futex operations (which need its atomics, not the Copy*
// wrappers); the timeout through CopyIn.
func Futex(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	addr := args[0].Pointer()
	op := args[1].Int()
	val := args[2].Uint()
	addr2 := args[4].Pointer()
	val3 := args[5].Uint()
	cmd := op &^ (futex.FlagPrivate | futex.FlagClockRealtime)

	timeout := futexTimeout{forever: true}
	if futexHasTimeout(cmd) && args[3].Value != 0 {
		var err error
		if timeout, err = copyInFutexTimeout(t, args[3].Pointer(), cmd, op); err != nil {
			return 0, err
		}
	}
	// For the other operations the timeout argument is val2, a count.
	val2 := int(int32(uint32(args[3].Value)))

	if op&futex.FlagClockRealtime != 0 {
		switch cmd {
		case futex.OpWaitBitset, futex.OpWaitRequeuePI, futex.OpLockPI2:
		default:
			// Linux 4.5 allowed it with FUTEX_WAIT, and 5.13 took that
			// back (FUTEX_WAIT's timeout is relative anyway).
			return 0, unix.ENOSYS
		}
	}

	futexes := t.Kernel().Futexes()
	mm := t.MemoryManager()
	switch cmd {
	case futex.OpWait, futex.OpWaitBitset:
		bitset := uint32(futex.BitsetMatchAny)
		if cmd == futex.OpWaitBitset {
			bitset = val3
		}
		if bitset == 0 {
			return 0, unix.EINVAL
		}
		key, err := futexKey(t, addr, op)
		if err != nil {
			return 0, err
		}
		ch, stop := timeout.timer()
		defer stop()
		return 0, futexes.Wait(t, mm, key, addr, val, bitset, ch)

	case futex.OpWake, futex.OpWakeBitset:
		bitset := uint32(futex.BitsetMatchAny)
		if cmd == futex.OpWakeBitset {
			bitset = val3
		}
		if bitset == 0 {
			return 0, unix.EINVAL
		}
		key, err := futexKey(t, addr, op)
		if err != nil {
			return 0, err
		}
		return uintptr(futexes.Wake(key, bitset, int(int32(val)))), nil

	case futex.OpRequeue, futex.OpCmpRequeue:
		nwake, nrequeue := int(int32(val)), val2
		if nwake < 0 || nrequeue < 0 {
			return 0, unix.EINVAL
		}
		key1, err := futexKey(t, addr, op)
		if err != nil {
			return 0, err
		}
		key2, err := futexKey(t, addr2, op)
		if err != nil {
			return 0, err
		}
		if cmd == futex.OpRequeue {
			return uintptr(futexes.Requeue(key1, key2, nwake, nrequeue)), nil
		}
		n, err := futexes.CmpRequeue(t, mm, key1, key2, addr, val3, nwake, nrequeue)
		return uintptr(n), err

	case futex.OpWakeOp:
		key1, err := futexKey(t, addr, op)
		if err != nil {
			return 0, err
		}
		key2, err := futexKey(t, addr2, op)
		if err != nil {
			return 0, err
		}
		n, err := futexes.WakeOp(t, mm, key1, key2, addr2, int(int32(val)), val2, val3)
		return uintptr(n), err

	default:
		// FUTEX_FD, the PI operations and anything unknown.
		return 0, unix.ENOSYS
	}
}
