package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// poll(2) and select(2) ask every file they watch for its readiness (see
// fs/waitable.go); if none is ready, they wait on the files' change
// channels, the task's Done channel and a timer, and ask again.
//
// Linux restarts an interrupted poll, select, ppoll or pselect6 when no
// handler runs and fails it with EINTR when one does, SA_RESTART or not
// (ERESTARTNOHAND; poll uses a restart block to keep its deadline, which
// minisentry does not: a restarted poll waits its whole timeout again).

func registerPoll(t *kernel.SyscallTable) {
	t.Register(unix.SYS_POLL, kernel.Syscall{Fn: Poll, Support: kernel.Partial, NoSARestart: true,
		Note: "a poll restarted after a stop waits its whole timeout again", Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.Int}})
	t.Register(unix.SYS_PPOLL, kernel.Syscall{Fn: Ppoll, Support: kernel.Full, NoSARestart: true, Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.Timespec, kernel.SigSet, kernel.Uint}})
	t.Register(unix.SYS_SELECT, kernel.Syscall{Fn: Select, Support: kernel.Full, NoSARestart: true, Args: []kernel.ArgFormat{kernel.Int, kernel.Hex, kernel.Hex, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_PSELECT6, kernel.Syscall{Fn: Pselect6, Support: kernel.Full, NoSARestart: true, Args: []kernel.ArgFormat{kernel.Int, kernel.Hex, kernel.Hex, kernel.Hex, kernel.Timespec, kernel.Hex}})
}

// pollTarget is one descriptor that poll or select watches.
type pollTarget struct {
	// file is the descriptor's file; nil if the descriptor is not open
	// (or, for poll, negative).
	file fs.File

	// filter are the events that count: those asked for, and for poll
	// those always reported.
	filter int16

	// revents are the events found, those of filter the file is ready
	// for, or POLLNVAL for poll's descriptors that are not open.
	revents int16
}

// scanTargets sets the revents of every target with a file and returns how
// many have some, with the change channels of the files to wait on.
func scanTargets(targets []pollTarget) (int, []<-chan struct{}) {
	n := 0
	chans := make([]<-chan struct{}, 0, len(targets))
	for i := range targets {
		pt := &targets[i]
		if pt.file == nil {
			if pt.revents != 0 {
				n++ // POLLNVAL.
			}
			continue
		}
		events, changed := fs.Readiness(pt.file)
		pt.revents = events & pt.filter
		if pt.revents != 0 {
			n++
		}
		chans = append(chans, changed)
	}
	return n, chans
}

// interrupted reports whether the task must stop waiting.
func interrupted(t *kernel.Task) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// pollTargets waits until at least one target is ready, the timeout
// passes (< 0: never; 0: do not wait), or the task is interrupted (EINTR),
// and returns the number of targets ready. As on Linux, the files are
// always looked at once more before giving up, and an interruption ends
// even a zero timeout with EINTR if nothing is ready.
func pollTargets(t *kernel.Task, targets []pollTarget, timeout time.Duration) (int, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	for {
		n, chans := scanTargets(targets)
		if n > 0 {
			return n, nil
		}
		if timeout == 0 {
			if interrupted(t) {
				return 0, unix.EINTR
			}
			return 0, nil
		}
		switch err := fs.WaitForChange(t, chans, deadline); err {
		case nil:
		case unix.ETIMEDOUT:
			timeout = 0
		default:
			if n, _ := scanTargets(targets); n > 0 {
				return n, nil
			}
			return 0, err
		}
	}
}

// getTargetFile returns the file of fd, with a reference that release
// drops, or nil if fd is not open.
func getTargetFile(t *kernel.Task, fd int32, releases *[]func()) fs.File {
	f, release, err := t.FDTable().GetRef(fd)
	if err != nil {
		return nil
	}
	*releases = append(*releases, release)
	return f
}

// releaseAll drops the references getTargetFile took.
func releaseAll(releases []func()) {
	for _, release := range releases {
		release()
	}
}

// pollfdSize is sizeof(struct pollfd): int fd, short events, short
// revents.
const pollfdSize = 8

// doPoll implements poll(2) and ppoll(2) on the nfds struct pollfd at
// addr.
func doPoll(t *kernel.Task, addr usermem.Addr, nfds uint32, timeout time.Duration) (int, error) {
	if uint64(nfds) > fileLimit(t) {
		return 0, unix.EINVAL
	}
	buf := make([]byte, int(nfds)*pollfdSize)
	if _, err := t.CopyInBytes(addr, buf); err != nil {
		return 0, err
	}
	le := usermem.ByteOrder
	var releases []func()
	defer func() { releaseAll(releases) }()
	targets := make([]pollTarget, nfds)
	for i := range targets {
		fd := int32(le.Uint32(buf[i*pollfdSize:]))
		if fd < 0 {
			continue
		}
		pt := &targets[i]
		if pt.file = getTargetFile(t, fd, &releases); pt.file == nil {
			pt.revents = unix.POLLNVAL
			continue
		}
		pt.filter = int16(le.Uint16(buf[i*pollfdSize+4:])) | unix.POLLERR | unix.POLLHUP
	}
	n, err := pollTargets(t, targets, timeout)
	// revents go back even when interrupted (all 0 then), as on Linux.
	for i, pt := range targets {
		le.PutUint16(buf[i*pollfdSize+6:], uint16(pt.revents))
	}
	if _, cerr := t.CopyOutBytes(addr, buf); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// Poll implements poll(2).
func Poll(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	timeout := time.Duration(-1)
	if ms := args[2].Int(); ms >= 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	n, err := doPoll(t, args[0].Pointer(), args[1].Uint(), timeout)
	return uintptr(n), err
}

// waitTimeout is the timeout argument of ppoll, pselect6 and select: the
// time to wait (-1 for ever), and what writes back the time left.
type waitTimeout struct {
	// d is the timeout; -1 without one.
	d time.Duration

	// end is when it expires, for the time left.
	end time.Time

	// update writes the time left to the application; nil when nothing
	// is written back (no timeout, or a zero one, as on Linux).
	update func(left time.Duration) error
}

// copyInTimespecTimeout reads the struct timespec timeout at addr (NULL
// for none) of ppoll and pselect6.
func copyInTimespecTimeout(t *kernel.Task, addr usermem.Addr) (waitTimeout, error) {
	if addr == 0 {
		return waitTimeout{d: -1}, nil
	}
	var ts unix.Timespec
	if _, err := t.CopyIn(addr, &ts); err != nil {
		return waitTimeout{}, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return waitTimeout{}, unix.EINVAL
	}
	wt := waitTimeout{d: timespecDuration(ts)}
	wt.end = time.Now().Add(wt.d)
	if wt.d > 0 {
		wt.update = func(left time.Duration) error {
			ts := unix.NsecToTimespec(left.Nanoseconds())
			_, err := t.CopyOut(addr, &ts)
			return err
		}
	}
	return wt, nil
}

// timespecDuration converts ts, valid, to a Duration, saturating at about
// 292 years.
func timespecDuration(ts unix.Timespec) time.Duration {
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if ts.Sec >= maxSec {
		return 1<<63 - 1
	}
	return time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
}

// finish writes the time left back, if the call has a timeout to update,
// and returns err, the call's result. An interrupted call that restarts
// reads the time left, as on Linux. (Linux also refuses to restart a call
// whose time left it could not write; minisentry restarts it all the
// same.)
func (wt waitTimeout) finish(err error) error {
	if wt.update != nil {
		wt.update(max(time.Until(wt.end), 0))
	}
	return err
}

// copyInSigmask reads the signal mask of ppoll or epoll_pwait: at addr
// (NULL for none), size bytes that must be sizeof(sigset_t).
func copyInSigmask(t *kernel.Task, addr usermem.Addr, size uint) (mask uint64, ok bool, err error) {
	if addr == 0 {
		return 0, false, nil
	}
	if size != sigsetSize {
		return 0, false, unix.EINVAL
	}
	if _, err := t.CopyIn(addr, &mask); err != nil {
		return 0, false, err
	}
	return mask, true, nil
}

// withSigmask runs wait with the task's signal mask replaced by mask, if
// ok (see kernel.Task.WaitWithSignalMask).
func withSigmask(t *kernel.Task, mask uint64, ok bool, wait func() error) error {
	if !ok {
		return wait()
	}
	return t.WaitWithSignalMask(mask, wait)
}

// Ppoll implements ppoll(2).
func Ppoll(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	wt, err := copyInTimespecTimeout(t, args[2].Pointer())
	if err != nil {
		return 0, err
	}
	mask, hasMask, err := copyInSigmask(t, args[3].Pointer(), args[4].SizeT())
	if err != nil {
		return 0, err
	}
	var n int
	err = withSigmask(t, mask, hasMask, func() error {
		var err error
		n, err = doPoll(t, args[0].Pointer(), args[1].Uint(), wt.d)
		return err
	})
	return uintptr(n), wt.finish(err)
}

// fd_set bits: select's read set counts these events, its write set
// those, its exception set the last (Linux's POLLIN_SET, POLLOUT_SET and
// POLLEX_SET).
const (
	selectInEvents  = unix.POLLIN | fs.PollRdNorm | fs.PollRdBand | unix.POLLHUP | unix.POLLERR
	selectOutEvents = unix.POLLOUT | fs.PollWrNorm | fs.PollWrBand | unix.POLLERR
	selectExEvents  = unix.POLLPRI
)

// maxSelectFDs bounds select's nfds, which Linux clamps to the size of
// the descriptor table, at most fs.nr_open (2^20 by default): descriptors
// beyond are never open.
const maxSelectFDs = 1 << 20

// fdSet is an fd_set of select: bit i%64 of word i/64 for descriptor i.
type fdSet []uint64

// has reports whether fd is in the set.
func (s fdSet) has(fd int) bool {
	return s != nil && s[fd/64]&(1<<(fd%64)) != 0
}

// copyInFDSet reads the fd_set of nfds descriptors at addr; nil for NULL.
func copyInFDSet(t *kernel.Task, addr usermem.Addr, nfds int) (fdSet, error) {
	if addr == 0 {
		return nil, nil
	}
	buf := make([]byte, (nfds+63)/64*8)
	if _, err := t.CopyInBytes(addr, buf); err != nil {
		return nil, err
	}
	s := make(fdSet, len(buf)/8)
	for i := range s {
		s[i] = usermem.ByteOrder.Uint64(buf[i*8:])
	}
	return s, nil
}

// copyOutFDSet writes s at addr, if not NULL.
func copyOutFDSet(t *kernel.Task, addr usermem.Addr, s fdSet) error {
	if addr == 0 {
		return nil
	}
	buf := make([]byte, len(s)*8)
	for i, w := range s {
		usermem.ByteOrder.PutUint64(buf[i*8:], w)
	}
	_, err := t.CopyOutBytes(addr, buf)
	return err
}

// doSelect implements select(2) and pselect6(2) for the fd_sets at
// inAddr, outAddr and exAddr.
func doSelect(t *kernel.Task, nfds int32, inAddr, outAddr, exAddr usermem.Addr, timeout time.Duration) (int, error) {
	if nfds < 0 {
		return 0, unix.EINVAL
	}
	n := int(min(nfds, maxSelectFDs))
	var sets [3]fdSet
	for i, addr := range []usermem.Addr{inAddr, outAddr, exAddr} {
		s, err := copyInFDSet(t, addr, n)
		if err != nil {
			return 0, err
		}
		sets[i] = s
	}
	in, out, ex := sets[0], sets[1], sets[2]

	var releases []func()
	defer func() { releaseAll(releases) }()
	var targets []pollTarget
	var fds []int
	for fd := 0; fd < n; fd++ {
		var filter int16
		if in.has(fd) {
			filter |= selectInEvents
		}
		if out.has(fd) {
			filter |= selectOutEvents
		}
		if ex.has(fd) {
			filter |= selectExEvents
		}
		if filter == 0 {
			continue
		}
		f := getTargetFile(t, int32(fd), &releases)
		if f == nil {
			return 0, unix.EBADF
		}
		targets = append(targets, pollTarget{file: f, filter: filter})
		fds = append(fds, fd)
	}

	if _, err := pollTargets(t, targets, timeout); err != nil {
		// Interrupted: the sets are left as they were, as on Linux.
		return 0, err
	}
	var results [3]fdSet
	for i, s := range sets {
		if s != nil {
			results[i] = make(fdSet, len(s))
		}
	}
	count := 0
	for i, pt := range targets {
		fd := fds[i]
		for j, events := range []int16{selectInEvents, selectOutEvents, selectExEvents} {
			if sets[j].has(fd) && pt.revents&events != 0 {
				results[j][fd/64] |= 1 << (fd % 64)
				count++
			}
		}
	}
	for i, addr := range []usermem.Addr{inAddr, outAddr, exAddr} {
		if err := copyOutFDSet(t, addr, results[i]); err != nil {
			return 0, err
		}
	}
	return count, nil
}

// Select implements select(2). The timeval at args[4] (NULL: no timeout)
// gets the time left, as Linux writes it.
func Select(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	wt := waitTimeout{d: -1}
	if addr := args[4].Pointer(); addr != 0 {
		var tv unix.Timeval
		if _, err := t.CopyIn(addr, &tv); err != nil {
			return 0, err
		}
		// Linux normalises the microseconds before checking.
		ts := unix.Timespec{Sec: tv.Sec + tv.Usec/1e6, Nsec: tv.Usec % 1e6 * 1e3}
		if ts.Sec < 0 || ts.Nsec < 0 {
			return 0, unix.EINVAL
		}
		wt.d = timespecDuration(ts)
		wt.end = time.Now().Add(wt.d)
		if wt.d > 0 {
			wt.update = func(left time.Duration) error {
				tv := unix.NsecToTimeval(left.Nanoseconds())
				_, err := t.CopyOut(addr, &tv)
				return err
			}
		}
	}
	n, err := doSelect(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Pointer(), wt.d)
	return uintptr(n), wt.finish(err)
}

// Pselect6 implements pselect6(2), the system call behind pselect(3): its
// sixth argument points to a pair {const sigset_t *ss; size_t ss_len}.
func Pselect6(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	wt, err := copyInTimespecTimeout(t, args[4].Pointer())
	if err != nil {
		return 0, err
	}
	var mask uint64
	hasMask := false
	if addr := args[5].Pointer(); addr != 0 {
		var pair struct{ Addr, Size uint64 }
		if _, err := t.CopyIn(addr, &pair); err != nil {
			return 0, err
		}
		if mask, hasMask, err = copyInSigmask(t, usermem.Addr(pair.Addr), uint(pair.Size)); err != nil {
			return 0, err
		}
	}
	var n int
	err = withSigmask(t, mask, hasMask, func() error {
		var err error
		n, err = doSelect(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Pointer(), wt.d)
		return err
	})
	return uintptr(n), wt.finish(err)
}
