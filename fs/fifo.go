package fs

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// Opening a FIFO of the host's tree without O_NONBLOCK waits, as on
// Linux, until the other end is opened too: a reader for a writer, a
// writer for a reader. The host's open(2) would wait in the host, where
// no signal of the application's and no exit of the sandbox can reach
// it, and a program could hang the whole sentry that way. So the open
// waits on a goroutine of its own, and the task waits in Go for it or for
// its Done channel. When the task must stop waiting, the sentry plays the
// other end for a moment, opening the FIFO the other way without
// blocking, which releases the host's open; both descriptors are then
// closed and the open fails with EINTR. Whoever else had the FIFO open
// may see that brief partner come and go. If the sentry cannot open the
// other end (the FIFO's permissions forbid it), the open fails with EINTR
// all the same, and the goroutine is left to close what the host gives it
// whenever it does.

// fifoPartnerRetry is how long the sentry waits between its attempts to
// open a FIFO's other end, while the blocked open it must release has not
// yet reached the host (a writer cannot open a FIFO that has no reader).
const fifoPartnerRetry = time.Millisecond

// fifoPartnerTries bounds those attempts.
const fifoPartnerTries = 100

// openFIFO opens the FIFO at hostPath with open(2) flags. Only an open for
// reading or for writing alone, without O_NONBLOCK, waits; it returns
// EINTR if ctx is done first.
func openFIFO(ctx context.Context, hostPath string, flags uint32) (int, error) {
	access := flags & unix.O_ACCMODE
	if flags&unix.O_NONBLOCK != 0 || access == unix.O_RDWR {
		return openHostPath(hostPath, flags)
	}
	type opened struct {
		fd  int
		err error
	}
	done := make(chan opened, 1)
	go func() {
		fd, err := openHostPath(hostPath, flags)
		done <- opened{fd, err}
	}()
	select {
	case o := <-done:
		return o.fd, o.err
	case <-ctx.Done():
	}
	partner := uint32(unix.O_RDONLY)
	if access == unix.O_RDONLY {
		partner = unix.O_WRONLY
	}
	closeOpened := func(o opened) {
		if o.err == nil {
			unix.Close(o.fd)
		}
	}
	partnerFD := -1
	for try := 0; ; try++ {
		select {
		case o := <-done:
			closeOpened(o)
			if partnerFD >= 0 {
				unix.Close(partnerFD)
			}
			return -1, unix.EINTR
		default:
		}
		if partnerFD < 0 {
			if try == fifoPartnerTries {
				go func() { closeOpened(<-done) }()
				return -1, unix.EINTR
			}
			if fd, err := openHostPath(hostPath, partner|unix.O_NONBLOCK); err == nil {
				partnerFD = fd
				continue
			}
		}
		time.Sleep(fifoPartnerRetry)
	}
}
