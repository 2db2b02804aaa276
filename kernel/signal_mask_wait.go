package kernel

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ppoll(2), pselect6(2) and epoll_pwait(2) take a signal mask to wait
// with: the caller blocks signals everywhere but in the wait, and cannot
// miss one that arrives between its unblocking and the call. The mask
// lasts for the wait; when a signal ends it, the signal's handler still
// runs with it, and the old mask comes back when the handler returns, as
// for sigsuspend(2): the handler's frame saves the old mask
// (setupSignalFrame), and if no handler runs, deliverSignals restores it.

// WaitWithSignalMask runs wait with the signal mask replaced by mask.
// A signal already pending that mask lets through interrupts the task, so
// that wait, which must end with EINTR when the task's Done channel
// closes, does not wait. If wait returns EINTR, the old mask is kept for
// the handler's frame; otherwise it is restored at once.
func (t *Task) WaitWithSignalMask(mask uint64, wait func() error) error {
	old := t.SignalMask()
	t.SetSignalMask(mask)
	if t.hasDeliverableSignal() {
		t.interrupt()
	}
	err := wait()
	if errors.Is(err, unix.EINTR) {
		t.savedSignalMask = &old
	} else {
		t.SetSignalMask(old)
	}
	return err
}

// restoreSavedSignalMask puts back the mask that sigsuspend or a wait with
// a signal mask replaced, if no signal handler's frame took it: the
// signal that ended the wait was ignored, stopped the process, or was
// taken by another thread.
func (t *Task) restoreSavedSignalMask() {
	if t.savedSignalMask != nil {
		t.SetSignalMask(*t.savedSignalMask)
		t.savedSignalMask = nil
	}
}
