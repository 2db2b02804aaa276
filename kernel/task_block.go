package kernel

import (
	"context"
	"sync"
	"time"
)

// A task blocks in Go, never in the host on the application's behalf: a
// handler that must wait (a pipe read, wait4, a futex) selects on the
// task's Done channel besides what it waits for. The channel is closed when
// the task must stop waiting (its group is exiting, a signal needs it), and
// the handler then returns EINTR.
//
// Task implements context.Context with that channel, so code below the
// kernel (files, the futex manager) can wait the same way without knowing
// about tasks.

// interruptState is a task's interruption channel.
type interruptState struct {
	// mu protects ch.
	mu sync.Mutex

	// ch is closed to interrupt the task; interrupted tasks get a new one
	// once they have handled the interruption.
	ch chan struct{}
}

// Done implements context.Context.Done: a channel closed when the task must
// stop blocking.
func (t *Task) Done() <-chan struct{} {
	t.intr.mu.Lock()
	defer t.intr.mu.Unlock()
	if t.intr.ch == nil {
		t.intr.ch = make(chan struct{})
	}
	return t.intr.ch
}

// Err implements context.Context.Err.
func (t *Task) Err() error {
	select {
	case <-t.Done():
		return context.Canceled
	default:
		return nil
	}
}

// Deadline implements context.Context.Deadline: tasks have none.
func (t *Task) Deadline() (time.Time, bool) {
	return time.Time{}, false
}

// Value implements context.Context.Value.
func (t *Task) Value(key any) any {
	return nil
}

// interrupt wakes the task: out of a blocking wait, or out of the
// application if it is running.
func (t *Task) interrupt() {
	t.intr.mu.Lock()
	if t.intr.ch == nil {
		t.intr.ch = make(chan struct{})
	}
	select {
	case <-t.intr.ch:
	default:
		close(t.intr.ch)
	}
	t.intr.mu.Unlock()
	t.pctx.Interrupt()
}

// clearInterrupt readies a fresh channel once the task has handled what
// interrupted it.
func (t *Task) clearInterrupt() {
	t.intr.mu.Lock()
	defer t.intr.mu.Unlock()
	select {
	case <-t.intr.ch:
		t.intr.ch = nil
	default:
	}
}

// Sleep blocks the task for d, or until it is interrupted (false).
func (t *Task) Sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.Done():
		return false
	}
}
