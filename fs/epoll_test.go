package fs

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// epollAdd adds f under fd to e, failing the test on error.
func epollAdd(t *testing.T, e *Epoll, fd int32, f File, events uint32) {
	t.Helper()
	if err := e.Control(unix.EPOLL_CTL_ADD, fd, f, EpollEvent{Events: events, Data: uint64(fd)}); err != nil {
		t.Fatalf("EPOLL_CTL_ADD %d: %v", fd, err)
	}
}

// epollPoll returns what epoll_wait with timeout 0 and maxevents max
// reports.
func epollPoll(t *testing.T, e *Epoll, max int) []EpollEvent {
	t.Helper()
	events, err := e.Wait(context.Background(), max, 0)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return events
}

func TestEpollEventEncoding(t *testing.T) {
	buf := make([]byte, EpollEventSize)
	ev := EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Data: 0x1122334455667788}
	ev.Encode(buf)
	want := []byte{1, 0, 0, 0x80, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}
	if diff := cmp.Diff(want, buf); diff != "" {
		t.Errorf("packed struct epoll_event (-want +got):\n%s", diff)
	}
	if got := DecodeEpollEvent(buf); got != ev {
		t.Errorf("decoded %+v, want %+v", got, ev)
	}
}

func TestEpollControlErrors(t *testing.T) {
	e := NewEpoll()
	r, w := NewPipe(0, 0)
	regular, err := OpenHostFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	for _, tc := range []struct {
		name string
		op   int32
		fd   int32
		f    File
		ev   uint32
		want error
	}{
		{"add", unix.EPOLL_CTL_ADD, 3, r, unix.EPOLLIN, nil},
		{"add again", unix.EPOLL_CTL_ADD, 3, r, unix.EPOLLIN, unix.EEXIST},
		{"same file, other fd", unix.EPOLL_CTL_ADD, 5, r, unix.EPOLLIN, nil},
		{"mod", unix.EPOLL_CTL_MOD, 3, r, unix.EPOLLOUT, nil},
		{"mod absent", unix.EPOLL_CTL_MOD, 4, w, unix.EPOLLOUT, unix.ENOENT},
		{"del absent", unix.EPOLL_CTL_DEL, 4, w, 0, unix.ENOENT},
		{"regular file", unix.EPOLL_CTL_ADD, 6, regular, unix.EPOLLIN, unix.EPERM},
		{"itself", unix.EPOLL_CTL_ADD, 7, e, unix.EPOLLIN, unix.EINVAL},
		{"bad op", 9, 4, w, unix.EPOLLIN, unix.EINVAL},
		{"exclusive", unix.EPOLL_CTL_ADD, 4, w, unix.EPOLLOUT | unix.EPOLLEXCLUSIVE, nil},
		{"mod exclusive", unix.EPOLL_CTL_MOD, 4, w, unix.EPOLLOUT, unix.EINVAL},
		{"exclusive mod", unix.EPOLL_CTL_MOD, 3, r, unix.EPOLLIN | unix.EPOLLEXCLUSIVE, unix.EINVAL},
		{"exclusive oneshot", unix.EPOLL_CTL_ADD, 8, w, unix.EPOLLOUT | unix.EPOLLEXCLUSIVE | unix.EPOLLONESHOT, unix.EINVAL},
		{"del", unix.EPOLL_CTL_DEL, 3, r, 0, nil},
		{"del again", unix.EPOLL_CTL_DEL, 3, r, 0, unix.ENOENT},
	} {
		if err := e.Control(tc.op, tc.fd, tc.f, EpollEvent{Events: tc.ev}); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestEpollNestingLoops(t *testing.T) {
	a, b, c := NewEpoll(), NewEpoll(), NewEpoll()
	epollAdd(t, a, 1, b, unix.EPOLLIN)
	epollAdd(t, b, 2, c, unix.EPOLLIN)
	if err := c.Control(unix.EPOLL_CTL_ADD, 3, a, EpollEvent{Events: unix.EPOLLIN}); err != unix.ELOOP {
		t.Errorf("a cycle: %v, want ELOOP", err)
	}
	if err := b.Control(unix.EPOLL_CTL_ADD, 4, NewEpoll(), EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE}); err != unix.EINVAL {
		t.Errorf("exclusive epoll: %v, want EINVAL", err)
	}
	// A chain deeper than Linux allows.
	chain := []*Epoll{NewEpoll()}
	var err error
	for i := 0; i < 8 && err == nil; i++ {
		top := NewEpoll()
		err = top.Control(unix.EPOLL_CTL_ADD, 0, chain[len(chain)-1], EpollEvent{Events: unix.EPOLLIN})
		chain = append(chain, top)
	}
	if err != unix.ELOOP {
		t.Errorf("nesting 8 deep: %v, want ELOOP", err)
	}
}

func TestEpollLevelTriggered(t *testing.T) {
	ctx := context.Background()
	e := NewEpoll()
	r, w := NewPipe(0, 0)
	epollAdd(t, e, 3, r, unix.EPOLLIN)
	epollAdd(t, e, 4, w, unix.EPOLLOUT)
	if got, want := epollPoll(t, e, 10), []EpollEvent{{unix.EPOLLOUT, 4}}; !cmp.Equal(got, want) {
		t.Errorf("empty pipe: %v, want %v", got, want)
	}
	write(ctx, w, []byte("x"))
	want := []EpollEvent{{unix.EPOLLIN, 3}, {unix.EPOLLOUT, 4}}
	for i := range 2 {
		if got := epollPoll(t, e, 10); !cmp.Equal(got, want) {
			t.Errorf("poll %d: %v, want %v (level-triggered reports again)", i, got, want)
		}
	}
	// maxevents 1 takes turns.
	first, second := epollPoll(t, e, 1), epollPoll(t, e, 1)
	if len(first) != 1 || len(second) != 1 || first[0] == second[0] {
		t.Errorf("maxevents 1: %v then %v, want each entry in turn", first, second)
	}
	CloseFile(w)
	read(ctx, r, 1)
	if got, want := epollPoll(t, e, 10), []EpollEvent{{unix.EPOLLHUP, 3}}; !cmp.Equal(got, want) {
		t.Errorf("no writer: %v, want %v (EPOLLHUP without asking)", got, want)
	}
}

func TestEpollEdgeTriggered(t *testing.T) {
	ctx := context.Background()
	e := NewEpoll()
	r, w := NewPipe(0, 0)
	epollAdd(t, e, 3, r, unix.EPOLLIN|unix.EPOLLET)
	if got := epollPoll(t, e, 10); len(got) != 0 {
		t.Errorf("empty pipe: %v", got)
	}
	write(ctx, w, []byte("a"))
	if got, want := epollPoll(t, e, 10), []EpollEvent{{unix.EPOLLIN, 3}}; !cmp.Equal(got, want) {
		t.Errorf("after a write: %v, want %v", got, want)
	}
	if got := epollPoll(t, e, 10); len(got) != 0 {
		t.Errorf("no new write: %v, want nothing (edge-triggered)", got)
	}
	write(ctx, w, []byte("b"))
	if got := epollPoll(t, e, 10); len(got) != 1 {
		t.Errorf("another write, unread data: %v, want one event", got)
	}
	// EPOLL_CTL_MOD re-arms.
	if err := e.Control(unix.EPOLL_CTL_MOD, 3, r, EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Data: 9}); err != nil {
		t.Fatal(err)
	}
	if got, want := epollPoll(t, e, 10), []EpollEvent{{unix.EPOLLIN, 9}}; !cmp.Equal(got, want) {
		t.Errorf("after MOD: %v, want %v", got, want)
	}
}

func TestEpollOneShot(t *testing.T) {
	ctx := context.Background()
	e := NewEpoll()
	r, w := NewPipe(0, 0)
	write(ctx, w, []byte("a"))
	epollAdd(t, e, 3, r, unix.EPOLLIN|unix.EPOLLONESHOT)
	if got := epollPoll(t, e, 10); len(got) != 1 {
		t.Errorf("first poll: %v, want one event", got)
	}
	w.Close()
	if got := epollPoll(t, e, 10); len(got) != 0 {
		t.Errorf("after the one shot: %v, want nothing, not even EPOLLHUP", got)
	}
	if err := e.Control(unix.EPOLL_CTL_MOD, 3, r, EpollEvent{Events: unix.EPOLLIN}); err != nil {
		t.Fatal(err)
	}
	if got, want := epollPoll(t, e, 10), []EpollEvent{{unix.EPOLLIN | unix.EPOLLHUP, 0}}; !cmp.Equal(got, want) {
		t.Errorf("re-armed: %v, want %v", got, want)
	}
}

func TestEpollWaitWakesAndTimesOut(t *testing.T) {
	ctx := context.Background()
	e := NewEpoll()
	efd := NewEventFD(0, false)
	epollAdd(t, e, 3, efd, unix.EPOLLIN)

	start := time.Now()
	if got, err := e.Wait(ctx, 4, 20*time.Millisecond); len(got) != 0 || err != nil {
		t.Errorf("timed out wait: %v, %v", got, err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("timed out after %v, want >= 20ms", d)
	}

	go func() {
		time.Sleep(10 * time.Millisecond)
		efdWrite(ctx, efd, 1, 8)
	}()
	if got, err := e.Wait(ctx, 4, -1); len(got) != 1 || err != nil {
		t.Errorf("woken wait: %v, %v", got, err)
	}
	efdRead(ctx, efd, 8)

	// An EPOLL_CTL_ADD of a ready file wakes a waiter too.
	r, w := NewPipe(0, 0)
	write(ctx, w, []byte("x"))
	go func() {
		time.Sleep(10 * time.Millisecond)
		e.Control(unix.EPOLL_CTL_ADD, 4, r, EpollEvent{Events: unix.EPOLLIN, Data: 4})
	}()
	if got, err := e.Wait(ctx, 4, -1); !cmp.Equal(got, []EpollEvent{{unix.EPOLLIN, 4}}) || err != nil {
		t.Errorf("wait across an ADD: %v, %v", got, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	e2 := NewEpoll()
	epollAdd(t, e2, 3, NewEventFD(0, false), unix.EPOLLIN)
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	if got, err := e2.Wait(cctx, 4, -1); len(got) != 0 || err != unix.EINTR {
		t.Errorf("interrupted wait: %v, %v; want EINTR", got, err)
	}
}

func TestEpollNested(t *testing.T) {
	ctx := context.Background()
	outer, inner := NewEpoll(), NewEpoll()
	efd := NewEventFD(0, false)
	epollAdd(t, inner, 3, efd, unix.EPOLLIN)
	epollAdd(t, outer, 4, inner, unix.EPOLLIN)
	if ev, _ := inner.Readiness(); ev != 0 {
		t.Errorf("inner readiness %#x, want 0", ev)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		efdWrite(ctx, efd, 1, 8)
	}()
	got, err := outer.Wait(ctx, 4, 10*time.Second)
	if want := []EpollEvent{{unix.EPOLLIN, 4}}; !cmp.Equal(got, want) || err != nil {
		t.Errorf("outer wait: %v, %v; want %v", got, err, want)
	}
	if got := epollPoll(t, inner, 4); !cmp.Equal(got, []EpollEvent{{unix.EPOLLIN, 3}}) {
		t.Errorf("inner: %v", got)
	}
	inner.Close()
	outer.Close()
}

func TestEpollForgetsClosedFiles(t *testing.T) {
	ctx := context.Background()
	e := NewEpoll()
	r, w := NewPipe(0, 0)
	write(ctx, w, []byte("x"))
	epollAdd(t, e, 3, r, unix.EPOLLIN)
	CloseFile(r)
	if got := epollPoll(t, e, 10); len(got) != 0 {
		t.Errorf("after the last close: %v, want nothing", got)
	}
	epollRegistry.mu.Lock()
	_, still := epollRegistry.watchers[r]
	epollRegistry.mu.Unlock()
	if still {
		t.Error("the registry still lists the closed file")
	}
}

func TestHostFileReadiness(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r := NewHostFile(p[0], "host pipe")
	w := NewHostFile(p[1], "host pipe")
	defer w.Close()
	if !CanPoll(r) {
		t.Error("a host pipe cannot be polled")
	}
	events, changed := r.Readiness()
	if events&unix.POLLIN != 0 || changed == nil {
		t.Fatalf("empty host pipe: events %#x, channel %v", events, changed)
	}
	if _, err := unix.Write(p[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the change channel did not close after a host write")
	}
	if events, _ := r.Readiness(); events&unix.POLLIN == 0 {
		t.Errorf("host pipe with data: events %#x", events)
	}
	// Closing stops the goroutine before the descriptor goes.
	r.Close()
	r.poller.mu.Lock()
	defer r.poller.mu.Unlock()
	if r.poller.done != nil || r.poller.cancel != -1 {
		t.Error("the poller survived the close")
	}
}
