package fs

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// efdRead reads an eventfd as read(2) with an n-byte buffer would.
func efdRead(ctx context.Context, e *EventFD, n int) (uint64, error) {
	buf := make([]byte, n)
	got, err := e.Read(ctx, usermem.BytesIOSequence(buf), -1)
	if err != nil {
		return 0, err
	}
	if got != 8 {
		panic("eventfd read returned a count other than 8")
	}
	return binary.LittleEndian.Uint64(buf), nil
}

// efdWrite writes v to an eventfd as write(2) with an n-byte buffer would.
func efdWrite(ctx context.Context, e *EventFD, v uint64, n int) error {
	buf := make([]byte, max(n, 8))
	binary.LittleEndian.PutUint64(buf, v)
	_, err := e.Write(ctx, usermem.BytesIOSequence(buf[:n]), -1)
	return err
}

// eventually waits up to 10s for cond, polling.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waiting reports whether someone waits for the eventfd to change.
func (e *EventFD) waiting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed != nil
}

func TestEventFDCounter(t *testing.T) {
	ctx := context.Background()
	e := NewEventFD(3, false)
	e.SetStatusFlags(unix.O_NONBLOCK)
	if err := efdWrite(ctx, e, 4, 8); err != nil {
		t.Fatalf("write: %v", err)
	}
	if v, err := efdRead(ctx, e, 16); v != 7 || err != nil {
		t.Errorf("read = %d, %v; want 7 (the sum), nil", v, err)
	}
	if _, err := efdRead(ctx, e, 8); err != unix.EAGAIN {
		t.Errorf("read at 0 = %v, want EAGAIN", err)
	}
	if _, err := efdRead(ctx, e, 7); err != unix.EINVAL {
		t.Errorf("7-byte read = %v, want EINVAL", err)
	}
	if err := efdWrite(ctx, e, 1, 4); err != unix.EINVAL {
		t.Errorf("4-byte write = %v, want EINVAL", err)
	}
	if err := efdWrite(ctx, e, ^uint64(0), 8); err != unix.EINVAL {
		t.Errorf("write of 2^64-1 = %v, want EINVAL", err)
	}
	if err := efdWrite(ctx, e, EventFDMax, 8); err != nil {
		t.Errorf("write of the maximum = %v", err)
	}
	if err := efdWrite(ctx, e, 1, 8); err != unix.EAGAIN {
		t.Errorf("write past the maximum = %v, want EAGAIN", err)
	}
	if ev, _ := e.Readiness(); ev != unix.POLLIN|PollRdNorm {
		t.Errorf("full: events %#x, want POLLIN|POLLRDNORM only", ev)
	}
	if err := efdWrite(ctx, e, 0, 8); err != nil {
		t.Errorf("write of 0 at the maximum = %v", err)
	}
}

func TestEventFDSemaphore(t *testing.T) {
	ctx := context.Background()
	e := NewEventFD(2, true)
	for i := range 2 {
		if v, err := efdRead(ctx, e, 8); v != 1 || err != nil {
			t.Errorf("read %d = %d, %v; want 1, nil", i, v, err)
		}
	}
	if ev, _ := e.Readiness(); ev != unix.POLLOUT|PollWrNorm {
		t.Errorf("empty: events %#x, want POLLOUT|POLLWRNORM", ev)
	}
}

func TestEventFDBlocking(t *testing.T) {
	ctx := context.Background()
	e := NewEventFD(0, false)
	got := make(chan uint64)
	go func() {
		v, err := efdRead(ctx, e, 8)
		if err != nil {
			t.Errorf("read: %v", err)
		}
		got <- v
	}()
	eventually(t, "reader waits", e.waiting)
	_, changed := e.Readiness()
	if err := efdWrite(ctx, e, 5, 8); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != 5 {
		t.Errorf("blocked read got %d, want 5", v)
	}
	if !isClosed(changed) {
		t.Error("the change channel did not close on a write")
	}

	// A write that would overflow waits for a read.
	if err := efdWrite(ctx, e, EventFDMax-1, 8); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- efdWrite(ctx, e, 2, 8) }()
	eventually(t, "writer waits", e.waiting)
	if v, _ := efdRead(ctx, e, 8); v != EventFDMax-1 {
		t.Errorf("read %d", v)
	}
	if err := <-done; err != nil {
		t.Errorf("blocked write: %v", err)
	}
	if v, _ := efdRead(ctx, e, 8); v != 2 {
		t.Errorf("read %d after the blocked write, want 2", v)
	}
}

func TestEventFDInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := NewEventFD(0, false)
	done := make(chan error)
	go func() {
		_, err := efdRead(ctx, e, 8)
		done <- err
	}()
	eventually(t, "reader waits", e.waiting)
	cancel()
	if err := <-done; err != unix.EINTR {
		t.Errorf("interrupted read = %v, want EINTR", err)
	}
}
