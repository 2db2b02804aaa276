package fs

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// An eventfd is a 64-bit counter behind a descriptor (eventfd(2)): a write
// adds to it, a read takes it (or, in semaphore mode, takes 1 from it). It
// lives entirely in the sentry.

// EventFDMax is the largest value an eventfd's counter holds: a write that
// would take it past waits.
const EventFDMax = 0xffff_ffff_ffff_fffe

// Anonymous inodes, which eventfds and epoll instances are, share one
// device and one inode, as on Linux, where anon_inode_getfile gives every
// such file the same inode, owned by root, mode 0600 and no file type.
var (
	anonInodeDevice = unix.Mkdev(0, 13)
	anonInodeIno    = uint64(1)
)

// anonInodeStat describes an anonymous inode for fstat(2).
func anonInodeStat() unix.Stat_t {
	return unix.Stat_t{
		Dev:     anonInodeDevice,
		Ino:     anonInodeIno,
		Nlink:   1,
		Mode:    0600,
		Blksize: 4096,
	}
}

// EventFD is an eventfd: an open file description, readable and writable.
type EventFD struct {
	// semaphore is EFD_SEMAPHORE. Immutable.
	semaphore bool

	// flags holds the status flags; O_NONBLOCK is what reads and writes
	// heed.
	flags atomic.Uint32

	// mu protects the fields below.
	mu sync.Mutex

	// value is the counter: 0 <= value <= EventFDMax.
	value uint64

	// changed, if not nil, is closed (and reset to nil) when value
	// changes. Readers and writers that must wait, and Readiness, create
	// it.
	changed chan struct{}
}

var (
	_ File     = (*EventFD)(nil)
	_ Waitable = (*EventFD)(nil)
)

// NewEventFD returns an eventfd whose counter starts at initval;
// semaphore selects EFD_SEMAPHORE. The caller sets O_NONBLOCK, which is a
// status flag, and keeps EFD_CLOEXEC, a descriptor flag.
func NewEventFD(initval uint64, semaphore bool) *EventFD {
	return &EventFD{value: initval, semaphore: semaphore}
}

// changedLocked returns the channel closed at the next change.
//
// Preconditions: e.mu is locked.
func (e *EventFD) changedLocked() chan struct{} {
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

// setLocked sets the counter and wakes whoever waits for a change.
//
// Preconditions: e.mu is locked.
func (e *EventFD) setLocked(v uint64) {
	e.value = v
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// waitLocked waits for the counter to change, or returns EINTR if ctx is
// done first. It unlocks e.mu meanwhile.
//
// Preconditions: e.mu is locked.
func (e *EventFD) waitLocked(ctx context.Context) error {
	ch := e.changedLocked()
	e.mu.Unlock()
	defer e.mu.Lock()
	return WaitForChange(ctx, []<-chan struct{}{ch}, nil)
}

// nonBlocking reports whether O_NONBLOCK is set.
func (e *EventFD) nonBlocking() bool {
	return e.flags.Load()&unix.O_NONBLOCK != 0
}

// Read implements File.Read: it waits for the counter to be non-zero, then
// takes it whole, or 1 of it in semaphore mode, and stores what it took as
// 8 bytes, native-endian. A buffer under 8 bytes is EINVAL.
func (e *EventFD) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if dst.NumBytes() < 8 {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	for e.value == 0 {
		if e.nonBlocking() {
			e.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := e.waitLocked(ctx); err != nil {
			e.mu.Unlock()
			return 0, err
		}
	}
	took := e.value
	if e.semaphore {
		took = 1
	}
	e.setLocked(e.value - took)
	e.mu.Unlock()
	// As on Linux, the counter is taken before the copy: a bad buffer
	// loses it.
	var buf [8]byte
	usermem.ByteOrder.PutUint64(buf[:], took)
	if _, err := dst.CopyOut(ctx, buf[:]); err != nil {
		return 0, err
	}
	return 8, nil
}

// Write implements File.Write: it adds the 8-byte value at the start of
// src to the counter, waiting while the sum would exceed EventFDMax. The
// value 2^64-1 is EINVAL, as is a buffer under 8 bytes.
func (e *EventFD) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	if src.NumBytes() < 8 {
		return 0, unix.EINVAL
	}
	var buf [8]byte
	if _, err := src.CopyIn(ctx, buf[:]); err != nil {
		return 0, err
	}
	add := usermem.ByteOrder.Uint64(buf[:])
	if add == ^uint64(0) {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for EventFDMax-e.value < add {
		if e.nonBlocking() {
			return 0, unix.EAGAIN
		}
		if err := e.waitLocked(ctx); err != nil {
			return 0, err
		}
	}
	// Even adding 0 wakes waiters, as on Linux: epoll in edge-triggered
	// mode sees an event.
	e.setLocked(e.value + add)
	return 8, nil
}

// Readiness implements Waitable.Readiness: readable while the counter is
// non-zero, writable while 1 more fits.
func (e *EventFD) Readiness() (int16, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var events int16
	if e.value > 0 {
		events |= unix.POLLIN | PollRdNorm
	}
	if e.value < EventFDMax {
		events |= unix.POLLOUT | PollWrNorm
	}
	return events, e.changedLocked()
}

// Value returns the counter, as /proc/self/fdinfo shows it.
func (e *EventFD) Value() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.value
}

// Seek implements File.Seek: Linux's noop_llseek, which leaves the offset
// at 0 and says so, whatever it is asked.
func (e *EventFD) Seek(offset int64, whence int) (int64, error) {
	return 0, nil
}

// Stat implements File.Stat: the anonymous inode.
func (e *EventFD) Stat() (unix.Stat_t, error) {
	return anonInodeStat(), nil
}

// Ioctl implements File.Ioctl: an eventfd has no ioctls (not even
// FIONREAD).
func (e *EventFD) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// StatusFlags implements File.StatusFlags: O_RDWR and the flags set.
func (e *EventFD) StatusFlags() (uint32, error) {
	return e.flags.Load() | unix.O_RDWR, nil
}

// SetStatusFlags implements File.SetStatusFlags. O_DIRECT is EINVAL, as
// for every file without direct I/O.
func (e *EventFD) SetStatusFlags(flags uint32) error {
	if flags&unix.O_DIRECT != 0 {
		return unix.EINVAL
	}
	e.flags.Store(flags & SettableStatusFlags)
	return nil
}

// Name implements File.Name.
func (e *EventFD) Name() string {
	return "anon_inode:[eventfd]"
}

// Close implements File.Close. Waiters hold their own references to the
// eventfd; there is nothing to release.
func (e *EventFD) Close() error {
	return nil
}
