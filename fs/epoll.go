package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// An epoll instance (epoll(7)) watches an interest list of files. Linux
// keeps a ready list, filled by callbacks that files run when they become
// ready; minisentry has channels instead of callbacks (waitable.go), so
// epoll_wait scans the interest list, asking each file its readiness, and
// waits on all their channels when none is ready. The cost is linear in the
// number of watched files, which Linux's design avoids; the semantics are
// Linux's:
//
//   - Level-triggered entries are reported as long as their file is ready.
//     Reported entries move to the end of the list, so that a small
//     maxevents does not starve the others, as Linux's ready list does.
//   - Edge-triggered (EPOLLET) entries are reported once per change: after
//     a report, an entry is reported again only once its file's change
//     channel has closed, that is, something happened to the file.
//   - EPOLLONESHOT entries are disabled by their first report until
//     EPOLL_CTL_MOD arms them again.
//   - An entry is keyed by descriptor number and file together, and lives
//     until EPOLL_CTL_DEL or the last close of its file (not of the
//     descriptor: a dup keeps it alive), as on Linux.
//
// Lock order: an epoll's mu, then the mu of the epoll instances it
// watches (nesting has no cycles: EPOLL_CTL_ADD refuses them with ELOOP),
// then the locks of the other files watched, then epollRegistry.mu.

// EpollEvent is a struct epoll_event: the events and the caller's data.
// In memory it is packed, 12 bytes on x86-64 (see EpollEventSize).
type EpollEvent struct {
	Events uint32
	Data   uint64
}

// EpollEventSize is sizeof(struct epoll_event) on x86-64, where the
// structure is packed: 4 bytes of events and 8 of data, unaligned.
const EpollEventSize = 12

// Encode stores ev at the start of buf as struct epoll_event.
func (ev EpollEvent) Encode(buf []byte) {
	usermem.ByteOrder.PutUint32(buf[0:], ev.Events)
	usermem.ByteOrder.PutUint64(buf[4:], ev.Data)
}

// DecodeEpollEvent reads a struct epoll_event from the start of buf.
func DecodeEpollEvent(buf []byte) EpollEvent {
	return EpollEvent{Events: usermem.ByteOrder.Uint32(buf[0:]), Data: usermem.ByteOrder.Uint64(buf[4:])}
}

const (
	// epollEventBits are the events an interest may ask for; the rest of
	// the word holds flags.
	epollEventBits = unix.EPOLLIN | unix.EPOLLPRI | unix.EPOLLOUT | unix.EPOLLERR | unix.EPOLLHUP |
		unix.EPOLLRDNORM | unix.EPOLLRDBAND | unix.EPOLLWRNORM | unix.EPOLLWRBAND | unix.EPOLLMSG | unix.EPOLLRDHUP

	// epollPrivateBits are the flags an interest keeps when
	// EPOLLONESHOT disables it (Linux's EP_PRIVATE_BITS).
	epollPrivateBits = unix.EPOLLWAKEUP | unix.EPOLLONESHOT | unix.EPOLLET | unix.EPOLLEXCLUSIVE

	// epollExclusiveOK are the bits EPOLLEXCLUSIVE may come with.
	epollExclusiveOK = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDNORM | unix.EPOLLRDBAND | unix.EPOLLWRNORM |
		unix.EPOLLWRBAND | unix.EPOLLERR | unix.EPOLLHUP | unix.EPOLLWAKEUP | unix.EPOLLET | unix.EPOLLEXCLUSIVE

	// epollMaxNests is how deep epoll instances may nest (EP_MAX_NESTS).
	epollMaxNests = 4
)

// epollKey identifies an entry: a descriptor number and the file it
// referred to when it was added.
type epollKey struct {
	fd   int32
	file File
}

// epollEntry is one interest.
type epollEntry struct {
	// key is the entry's key. Immutable.
	key epollKey

	// events is the interest: the events wanted (EPOLLERR and EPOLLHUP
	// always among them, until EPOLLONESHOT disables the entry) and the
	// flags.
	events uint32

	// data is returned with the entry's events.
	data uint64

	// pending is set for an edge-triggered entry when an event may have
	// happened since it was last reported (or armed).
	pending bool

	// last is the file's change channel when an edge-triggered entry was
	// last reported; its closing sets pending.
	last <-chan struct{}
}

// Epoll is an epoll instance, as an open file description.
type Epoll struct {
	// flags holds the status flags.
	flags atomic.Uint32

	// mu protects the fields below.
	mu sync.Mutex

	// entries is the interest list, in report order.
	entries []*epollEntry

	// index finds entries by key.
	index map[epollKey]*epollEntry

	// changed, if not nil, is the channel handed out by Readiness and
	// Wait: closed (and reset to nil) when the interest list changes, or,
	// for Readiness, when a watched file's readiness may have.
	changed chan struct{}

	// watched is the changed channel that a watch goroutine serves
	// (Readiness), if one runs.
	watched chan struct{}

	// closed is set by Close.
	closed bool
}

var (
	_ File     = (*Epoll)(nil)
	_ Waitable = (*Epoll)(nil)
)

// NewEpoll returns an epoll instance with an empty interest list.
func NewEpoll() *Epoll {
	return &Epoll{index: make(map[epollKey]*epollEntry)}
}

// changedLocked returns the channel closed at the next change.
//
// Preconditions: e.mu is locked.
func (e *Epoll) changedLocked() chan struct{} {
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

// notifyLocked wakes whoever waits on the instance.
//
// Preconditions: e.mu is locked.
func (e *Epoll) notifyLocked() {
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// epollNestMu serializes the additions of epoll instances to epoll
// instances, so that two of them cannot build a cycle together, as Linux's
// epnested_mutex does.
var epollNestMu sync.Mutex

// Control implements epoll_ctl(2) for op on descriptor fd, which refers to
// f. The caller has checked that both descriptors are valid.
func (e *Epoll) Control(op int32, fd int32, f File, ev EpollEvent) error {
	if !CanPoll(f) {
		return unix.EPERM
	}
	target, nested := f.(*Epoll)
	if target == e {
		return unix.EINVAL
	}
	ev.Events &^= unix.EPOLLWAKEUP // Needs CAP_BLOCK_SUSPEND; Linux drops it silently.
	if op != unix.EPOLL_CTL_DEL && ev.Events&unix.EPOLLEXCLUSIVE != 0 {
		if op == unix.EPOLL_CTL_MOD || nested || ev.Events&^epollExclusiveOK != 0 {
			return unix.EINVAL
		}
	}
	if op == unix.EPOLL_CTL_ADD && nested {
		epollNestMu.Lock()
		defer epollNestMu.Unlock()
		if target.reaches(e, 1) {
			return unix.ELOOP
		}
	}
	key := epollKey{fd: fd, file: f}
	e.mu.Lock()
	defer e.mu.Unlock()
	ent := e.index[key]
	switch op {
	case unix.EPOLL_CTL_ADD:
		if ent != nil {
			return unix.EEXIST
		}
		ent = &epollEntry{key: key, events: ev.Events | unix.EPOLLERR | unix.EPOLLHUP, data: ev.Data, pending: true}
		e.entries = append(e.entries, ent)
		e.index[key] = ent
		epollRegistry.add(f, e)
	case unix.EPOLL_CTL_MOD:
		if ent == nil {
			return unix.ENOENT
		}
		if ent.events&unix.EPOLLEXCLUSIVE != 0 {
			return unix.EINVAL
		}
		ent.events = ev.Events | unix.EPOLLERR | unix.EPOLLHUP
		ent.data = ev.Data
		ent.pending = true
	case unix.EPOLL_CTL_DEL:
		if ent == nil {
			return unix.ENOENT
		}
		e.removeLocked(ent)
	default:
		return unix.EINVAL
	}
	e.notifyLocked()
	return nil
}

// removeLocked takes ent off the interest list.
//
// Preconditions: e.mu is locked; ent is on the list.
func (e *Epoll) removeLocked(ent *epollEntry) {
	delete(e.index, ent.key)
	for i, other := range e.entries {
		if other == ent {
			e.entries = append(e.entries[:i], e.entries[i+1:]...)
			break
		}
	}
	stillWatched := false
	for _, other := range e.entries {
		if other.key.file == ent.key.file {
			stillWatched = true
			break
		}
	}
	if !stillWatched {
		epollRegistry.remove(ent.key.file, e)
	}
}

// forget removes every entry of f, whose last descriptor was closed.
func (e *Epoll) forget(f File) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var gone []*epollEntry
	for _, ent := range e.entries {
		if ent.key.file == f {
			gone = append(gone, ent)
		}
	}
	for _, ent := range gone {
		e.removeLocked(ent)
	}
	e.notifyLocked()
}

// reaches reports whether target is e, or is watched by e or by an epoll
// instance that e watches, however deep; or whether the nesting below e
// is deeper than Linux allows. depth is e's depth below the instance that
// would watch it.
//
// Preconditions: epollNestMu is locked.
func (e *Epoll) reaches(target *Epoll, depth int) bool {
	if e == target || depth > epollMaxNests {
		return true
	}
	e.mu.Lock()
	var children []*Epoll
	for _, ent := range e.entries {
		if child, ok := ent.key.file.(*Epoll); ok {
			children = append(children, child)
		}
	}
	e.mu.Unlock()
	for _, child := range children {
		if child.reaches(target, depth+1) {
			return true
		}
	}
	return false
}

// collectLocked scans the interest list for up to max events. With
// consume, it is epoll_wait: reporting disarms edge-triggered and one-shot
// entries and moves level-triggered ones to the end. Without, it only
// looks. It also returns the channels to wait on when nothing is ready.
//
// Preconditions: e.mu is locked; max > 0.
func (e *Epoll) collectLocked(max int, consume bool) ([]EpollEvent, []<-chan struct{}) {
	var events []EpollEvent
	var chans []<-chan struct{}
	var reported []*epollEntry
	for _, ent := range e.entries {
		if len(events) == max {
			break
		}
		if ent.events&epollEventBits == 0 {
			continue // Disabled by EPOLLONESHOT.
		}
		ready, changed := Readiness(ent.key.file)
		revents := uint32(uint16(ready)) & ent.events & epollEventBits
		if ent.events&unix.EPOLLET != 0 {
			if isClosed(ent.last) {
				ent.pending = true
			}
			if !ent.pending || revents == 0 {
				if consume && ent.pending {
					// Armed, but nothing to report after all: Linux
					// drops the entry from its ready list too.
					ent.pending, ent.last = false, changed
				}
				chans = append(chans, changed)
				continue
			}
			if consume {
				ent.pending, ent.last = false, changed
			}
		} else if revents == 0 {
			chans = append(chans, changed)
			continue
		}
		events = append(events, EpollEvent{Events: revents, Data: ent.data})
		if consume {
			if ent.events&unix.EPOLLONESHOT != 0 {
				ent.events &= epollPrivateBits
			}
			reported = append(reported, ent)
		}
	}
	if len(reported) > 0 {
		e.moveToEndLocked(reported)
	}
	return events, chans
}

// moveToEndLocked moves the entries of moved, in order, to the end of the
// interest list.
//
// Preconditions: e.mu is locked; moved are on the list.
func (e *Epoll) moveToEndLocked(moved []*epollEntry) {
	isMoved := make(map[*epollEntry]bool, len(moved))
	for _, ent := range moved {
		isMoved[ent] = true
	}
	kept := e.entries[:0]
	for _, ent := range e.entries {
		if !isMoved[ent] {
			kept = append(kept, ent)
		}
	}
	e.entries = append(kept, moved...)
}

// Wait implements epoll_wait(2): it returns up to max events (max > 0),
// waiting until one is ready, the timeout expires (timeout < 0: never; 0:
// do not wait) or ctx is done (EINTR). Events ready by then win over the
// timeout and the interruption.
func (e *Epoll) Wait(ctx context.Context, max int, timeout time.Duration) ([]EpollEvent, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	for {
		e.mu.Lock()
		events, chans := e.collectLocked(max, true)
		chans = append(chans, e.changedLocked())
		e.mu.Unlock()
		if len(events) > 0 || timeout == 0 {
			return events, nil
		}
		switch err := WaitForChange(ctx, chans, deadline); err {
		case nil:
		case unix.ETIMEDOUT:
			timeout = 0 // One last look.
		default:
			e.mu.Lock()
			events, _ := e.collectLocked(max, true)
			e.mu.Unlock()
			if len(events) > 0 {
				return events, nil
			}
			return nil, err
		}
	}
}

// Readiness implements Waitable.Readiness: an epoll instance is readable
// when epoll_wait would report something. Nested in another's interest
// list or polled, it needs to know when that changes: a goroutine waits on
// the watched files' channels on its behalf, and closes the instance's
// own.
func (e *Epoll) Readiness() (int16, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	events, chans := e.collectLocked(1, false)
	changed := e.changedLocked()
	if len(events) > 0 {
		return unix.POLLIN | PollRdNorm, changed
	}
	if e.watched != changed && !e.closed {
		e.watched = changed
		go e.watch(chans, changed)
	}
	return 0, changed
}

// watch closes changed, if it is still the instance's change channel,
// once one of chans closes. It returns early if changed closes first.
func (e *Epoll) watch(chans []<-chan struct{}, changed chan struct{}) {
	WaitForChange(nil, append(chans, changed), nil)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changed == changed {
		e.notifyLocked()
	}
}

// Read implements File.Read: an epoll instance cannot be read.
func (e *Epoll) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	return 0, unix.EINVAL
}

// Write implements File.Write: an epoll instance cannot be written.
func (e *Epoll) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	return 0, unix.EINVAL
}

// Seek implements File.Seek: Linux's noop_llseek, which leaves the offset
// at 0 and says so, whatever it is asked.
func (e *Epoll) Seek(offset int64, whence int) (int64, error) {
	return 0, nil
}

// Stat implements File.Stat: the anonymous inode.
func (e *Epoll) Stat() (unix.Stat_t, error) {
	return anonInodeStat(), nil
}

// Ioctl implements File.Ioctl: an epoll instance has no ioctls.
func (e *Epoll) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// StatusFlags implements File.StatusFlags: O_RDWR and the flags set.
func (e *Epoll) StatusFlags() (uint32, error) {
	return e.flags.Load() | unix.O_RDWR, nil
}

// SetStatusFlags implements File.SetStatusFlags, as for an eventfd.
func (e *Epoll) SetStatusFlags(flags uint32) error {
	if flags&unix.O_DIRECT != 0 {
		return unix.EINVAL
	}
	e.flags.Store(flags & SettableStatusFlags)
	return nil
}

// Name implements File.Name.
func (e *Epoll) Name() string {
	return "anon_inode:[eventpoll]"
}

// Close implements File.Close: it empties the interest list and stops the
// watch goroutine.
func (e *Epoll) Close() error {
	e.mu.Lock()
	entries := e.entries
	e.entries, e.index = nil, make(map[epollKey]*epollEntry)
	e.closed = true
	e.notifyLocked()
	e.mu.Unlock()
	for _, ent := range entries {
		epollRegistry.remove(ent.key.file, e)
	}
	return nil
}

// epollRegistry records which epoll instances watch each file, for
// CloseFile to remove their entries when the file's last descriptor goes.
var epollRegistry = registry{watchers: make(map[File]map[*Epoll]bool)}

// registry is the type of epollRegistry.
type registry struct {
	// mu protects watchers.
	mu sync.Mutex

	// watchers maps a file to the instances that have entries for it.
	watchers map[File]map[*Epoll]bool
}

// add records that e watches f.
func (r *registry) add(f File, e *Epoll) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watchers[f] == nil {
		r.watchers[f] = make(map[*Epoll]bool)
	}
	r.watchers[f][e] = true
}

// remove records that e no longer watches f.
func (r *registry) remove(f File, e *Epoll) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watchers[f], e)
	if len(r.watchers[f]) == 0 {
		delete(r.watchers, f)
	}
}

// take forgets, and returns, the instances that watch f.
func (r *registry) take(f File) []*Epoll {
	r.mu.Lock()
	defer r.mu.Unlock()
	var es []*Epoll
	for e := range r.watchers[f] {
		es = append(es, e)
	}
	delete(r.watchers, f)
	return es
}
