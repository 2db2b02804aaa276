package fs

import (
	"context"
	"reflect"
	"time"

	"golang.org/x/sys/unix"
)

// Readiness is how poll(2), select(2) and epoll learn when a file can be
// read or written without waiting. gVisor registers waiters on a queue that
// every file owns; minisentry keeps the idea and makes it a channel: a
// Waitable file tells its current poll(2) events together with a channel
// that it closes when they may have changed. A poller that finds nothing
// ready gathers the channels of every file it watches, selects on them (and
// on its task's Done channel, and on its timeout), and looks again once one
// closes. Wake-ups may be spurious: the poller always looks again.

// Poll events that golang.org/x/sys/unix does not define. Linux reports the
// *NORM ones along with POLLIN and POLLOUT.
const (
	PollRdNorm = 0x40
	PollRdBand = 0x80
	PollWrNorm = 0x100
	PollWrBand = 0x200
)

// DefaultEvents are the events of a file that never makes its reader or
// writer wait, such as a regular file: Linux's DEFAULT_POLLMASK.
const DefaultEvents = unix.POLLIN | unix.POLLOUT | PollRdNorm | PollWrNorm

// AlwaysReported are the events poll(2) reports whether or not they were
// asked for; epoll too adds them to every interest.
const AlwaysReported = unix.POLLERR | unix.POLLHUP | unix.POLLNVAL

// Waitable is a file whose readiness can change: a pipe, a terminal, an
// eventfd, an epoll instance.
type Waitable interface {
	// Readiness returns the poll(2) events the file is ready for now, and
	// a channel that is closed when they may have changed since. A nil
	// channel means they never change. A file returns the same channel
	// until it closes it.
	Readiness() (events int16, changed <-chan struct{})
}

// Pollable is implemented by Waitable files that know better than their
// type whether epoll(7) may watch them (a host descriptor may be a regular
// file, which Linux refuses, or a terminal, which it accepts).
type Pollable interface {
	CanPoll() bool
}

// Readiness returns f's readiness: what f says if it is Waitable, and
// otherwise DefaultEvents, forever, as Linux answers for files without a
// poll method.
func Readiness(f File) (events int16, changed <-chan struct{}) {
	if w, ok := f.(Waitable); ok {
		return w.Readiness()
	}
	return DefaultEvents, nil
}

// CanPoll reports whether epoll(7) accepts f, as Linux's file_can_poll:
// only files that have a poll method.
func CanPoll(f File) bool {
	if p, ok := f.(Pollable); ok {
		return p.CanPoll()
	}
	_, ok := f.(Waitable)
	return ok
}

// WaitForChange blocks until one of chans is closed (nil), deadline fires
// (ETIMEDOUT), or ctx is done (EINTR). Nil channels in chans are ignored;
// a nil deadline never fires; a nil ctx never ends the wait.
func WaitForChange(ctx context.Context, chans []<-chan struct{}, deadline <-chan time.Time) error {
	// reflect.Select takes any number of cases, where a select statement
	// takes a fixed set; duplicates (two descriptors of one pipe) are
	// dropped first.
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	const (
		doneCase = iota
		deadlineCase
	)
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(done)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)})
	seen := make(map[<-chan struct{}]bool, len(chans))
	for _, ch := range chans {
		if ch == nil || seen[ch] {
			continue
		}
		seen[ch] = true
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	chosen, _, _ := reflect.Select(cases)
	if chosen > deadlineCase {
		return nil
	}
	// When a change happened too, it wins, as Linux looks at the files
	// before it looks for signals and the clock.
	for _, ch := range chans {
		if isClosed(ch) {
			return nil
		}
	}
	if chosen == doneCase {
		return unix.EINTR
	}
	return unix.ETIMEDOUT
}

// isClosed reports whether ch, which is only ever closed, never sent on,
// is closed. A nil channel never is.
func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
