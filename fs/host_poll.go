package fs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// A host descriptor that may block (a terminal, a host pipe or socket) is
// ready when the host says so. Readiness asks the host with a poll(2) that
// does not wait. To learn when that answer changes, a goroutine waits in
// the host's poll(2) for the events that were missing, on behalf of every
// sandbox poller at once: at most one such goroutine per file, started by
// the first Readiness that needs it and ending when the host reports the
// file ready (closing the channel pollers wait on), when a later Readiness
// needs other events, or when the file is closed. Its host poll(2) also
// watches an eventfd of the sentry's own, which is how the goroutine is
// told to stop.

// hostPollEvents are the events asked of the host. The host reports only
// those asked for, besides POLLERR, POLLHUP and POLLNVAL.
const hostPollEvents = unix.POLLIN | unix.POLLPRI | unix.POLLOUT | unix.POLLRDHUP |
	PollRdNorm | PollRdBand | PollWrNorm | PollWrBand

// hostPoller is the state of a HostFile's waiting goroutine.
type hostPoller struct {
	// mu protects the fields below.
	mu sync.Mutex

	// changed is the channel Readiness hands out, closed by the goroutine
	// when the host reports one of the events it waits for; nil until a
	// Readiness needs one, and reset to nil once closed.
	changed chan struct{}

	// waiting are the events the running goroutine waits for; 0 if none
	// runs.
	waiting int16

	// done is closed when the running goroutine has returned; nil if none
	// was started since the last stop.
	done chan struct{}

	// cancel is the host eventfd that stops the goroutine, -1 before the
	// first goroutine. Closed with the file.
	cancel int

	// canPoll caches CanPoll's answer for character devices; canPollOnce
	// computes it.
	canPoll     bool
	canPollOnce sync.Once
}

// hostEvents asks the host, without waiting, which events fd is ready for.
func hostEvents(fd int) int16 {
	fds := []unix.PollFd{{Fd: int32(fd), Events: hostPollEvents}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return unix.POLLERR
		}
		return fds[0].Revents
	}
}

// Readiness implements Waitable.Readiness. Regular files and devices that
// never block are always ready, as on Linux; the others are as the host
// reports them.
func (f *HostFile) Readiness() (int16, <-chan struct{}) {
	if !f.mayBlock {
		return DefaultEvents, nil
	}
	p := &f.poller
	p.mu.Lock()
	defer p.mu.Unlock()
	events := hostEvents(f.fd)
	if p.done != nil && isClosed(p.done) {
		p.done, p.waiting = nil, 0
	}
	if isClosed(p.changed) {
		p.changed = nil
	}
	if events&AlwaysReported != 0 {
		// A hung-up or failed descriptor stays so: every poller wakes
		// at once, and nothing is left to wait for.
		return events, nil
	}
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	want := hostPollEvents &^ events
	if want != 0 && want != p.waiting {
		p.stopLocked()
		p.startLocked(f.fd, want)
	}
	return events, p.changed
}

// startLocked starts the goroutine that waits for the host to report fd
// ready for one of want, and then closes p.changed.
//
// Preconditions: p.mu is locked; p.changed is not nil; no goroutine runs.
func (p *hostPoller) startLocked(fd int, want int16) {
	if p.cancel < 0 {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			// Without an eventfd the goroutine could not be stopped:
			// report a change at once, and the caller polls again.
			close(p.changed)
			p.changed = nil
			return
		}
		p.cancel = efd
	}
	changed, done := p.changed, make(chan struct{})
	p.done, p.waiting = done, want
	go func(cancel int) {
		defer close(done)
		fds := []unix.PollFd{{Fd: int32(fd), Events: want}, {Fd: int32(cancel), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err != unix.EINTR {
				break
			}
		}
		if fds[1].Revents != 0 {
			// Stopped: stopLocked drains the eventfd.
			return
		}
		close(changed)
	}(p.cancel)
}

// stopLocked stops the running goroutine, if any, and waits for it to
// return: after that, nothing polls the host descriptor on the file's
// behalf.
//
// Preconditions: p.mu is locked.
func (p *hostPoller) stopLocked() {
	if p.done == nil {
		return
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(p.cancel, one)
	<-p.done
	// Whether the goroutine saw the eventfd or returned for the file just
	// before, the eventfd is left at 0 for the next one.
	var buf [8]byte
	unix.Read(p.cancel, buf[:])
	p.done, p.waiting = nil, 0
}

// release stops the goroutine and closes the eventfd, before the host
// descriptor itself is closed.
func (p *hostPoller) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
	if p.cancel >= 0 {
		unix.Close(p.cancel)
		p.cancel = -1
	}
}

// CanPoll implements Pollable.CanPoll: Linux's epoll refuses regular files
// and directories, accepts pipes and sockets, and accepts a character
// device if its driver can poll (a terminal can, /dev/null cannot). For a
// device, the host is asked once, by trying to add it to an epoll instance
// of its own.
func (f *HostFile) CanPoll() bool {
	if !f.mayBlock {
		return false
	}
	p := &f.poller
	p.canPollOnce.Do(func() {
		var st unix.Stat_t
		if unix.Fstat(f.fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			p.canPoll = true
			return
		}
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		defer unix.Close(epfd)
		p.canPoll = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, f.fd, &unix.EpollEvent{Events: unix.EPOLLIN}) == nil
	})
	return p.canPoll
}
