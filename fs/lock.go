package fs

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// Advisory locks: fcntl(2)'s record locks (F_SETLK, F_SETLKW, F_GETLK and
// their F_OFD_ counterparts) and flock(2).
//
// Every host descriptor belongs to the sentry, one host process, so the
// host would never make two sandbox processes' locks conflict. The locks
// therefore live here, in one table for the whole sentry process, keyed by
// the file's device and inode numbers: Linux keeps them with the inode,
// which every sandbox in the process shares too.
//
// Linux's rules, kept here:
//   - A record lock belongs to an owner. A POSIX lock's owner is the
//     process's descriptor table (Linux's files_struct, the kernel's
//     FDTable): the process loses all its locks on a file when it closes
//     any descriptor of that file, and at exit; a child of fork owns none
//     of its parent's. An open file description lock's (OFD) owner is the
//     description, which loses them with its last descriptor.
//   - Locks of different owners conflict where their ranges overlap and
//     one of them is a write lock. An owner's own locks never conflict
//     with each other: a new lock replaces the owner's locks under its
//     range, splitting them, and merges with its own adjacent or
//     overlapping locks of the same type.
//   - flock(2) locks belong to the open file description and cover the
//     whole file; they do not interact with record locks.
//
// Lock order: lockTable.mu is a leaf.

// MaxOffset is Linux's OFFSET_MAX: the end of a record lock that extends
// to the end of the file, wherever that comes to be.
const MaxOffset = math.MaxInt64

// LockRange is the range of bytes a record lock covers, Start and End
// included. 0 <= Start <= End <= MaxOffset.
type LockRange struct {
	Start, End int64
}

// overlaps reports whether r and o share a byte.
func (r LockRange) overlaps(o LockRange) bool {
	return r.Start <= o.End && o.Start <= r.End
}

// touches reports whether r and o overlap or are adjacent.
func (r LockRange) touches(o LockRange) bool {
	return r.overlaps(o) || r.End < MaxOffset && r.End+1 == o.Start || o.End < MaxOffset && o.End+1 == r.Start
}

// ComputeLockRange turns a struct flock's l_start and l_len, relative to
// base (0, the file offset or the file size, as l_whence says), into a
// range, as Linux's flock_to_posix_lock: l_len 0 means to the end of the
// file and beyond; a negative l_len covers the bytes before start. EINVAL
// for a range starting before 0 (Linux's sum wraps around, as Go's does,
// so a start too large is negative too); EOVERFLOW for one ending past
// MaxOffset.
func ComputeLockRange(base, start, length int64) (LockRange, error) {
	start += base
	if start < 0 {
		return LockRange{}, unix.EINVAL
	}
	switch {
	case length > 0:
		if length-1 > MaxOffset-start {
			return LockRange{}, unix.EOVERFLOW
		}
		return LockRange{start, start + length - 1}, nil
	case length < 0:
		if start+length < 0 {
			return LockRange{}, unix.EINVAL
		}
		return LockRange{start + length, start - 1}, nil
	default:
		return LockRange{start, MaxOffset}, nil
	}
}

// LockOwner identifies who holds a record lock.
type LockOwner struct {
	// ID is the holder, compared with ==: the kernel's FDTable for a
	// process's POSIX locks, the File for OFD locks.
	ID any

	// PID is what F_GETLK reports for the owner's locks: the process's id
	// for POSIX locks, -1 for OFD locks, as Linux reports them.
	PID int32
}

// ofd reports whether the owner's locks are OFD locks.
func (o LockOwner) ofd() bool {
	return o.PID < 0
}

// RecordLock is a record lock, as F_GETLK reports it.
type RecordLock struct {
	// Type is F_RDLCK or F_WRLCK.
	Type int16

	// Range is what the lock covers.
	Range LockRange

	// PID is the owner's LockOwner.PID.
	PID int32
}

// heldLock is a RecordLock in the table.
type heldLock struct {
	RecordLock

	// owner is LockOwner.ID.
	owner any
}

// conflicts reports whether l keeps owner from taking a lock of type typ
// on r.
func (l *heldLock) conflicts(owner any, typ int16, r LockRange) bool {
	return l.owner != owner && (l.Type == unix.F_WRLCK || typ == unix.F_WRLCK) && l.Range.overlaps(r)
}

// flockLock is a flock(2) lock.
type flockLock struct {
	// owner is the open file description.
	owner File

	// exclusive is set for LOCK_EX, clear for LOCK_SH.
	exclusive bool
}

// lockKey identifies a file: its device and inode numbers.
type lockKey struct {
	dev, ino uint64
}

// fileLocks are the locks on one file.
type fileLocks struct {
	// records are the record locks. An owner's locks never overlap, and
	// its locks of one type are never adjacent.
	records []heldLock

	// flocks are the flock(2) locks: one per open file description at
	// most.
	flocks []flockLock

	// changed, if not nil, is closed (and reset to nil) when a lock is
	// released or weakened: waiters look again.
	changed chan struct{}
}

// lockTable is the type of locks.
type lockTable struct {
	// mu protects the fields below.
	mu sync.Mutex

	// files maps files to their locks; files without locks or waiters
	// have no entry.
	files map[lockKey]*fileLocks

	// held counts the locks each owner (a LockOwner.ID, or the File of
	// flock locks) holds, on every file: closing a descriptor of an owner
	// without locks needs no more work.
	held map[any]int

	// waitingFor maps the owner of a POSIX lock request that waits
	// (F_SETLKW) to the owner of a lock it waits for, for deadlock
	// detection.
	waitingFor map[any]any
}

// locks is the sentry's lock table.
var locks = lockTable{
	files:      make(map[lockKey]*fileLocks),
	held:       make(map[any]int),
	waitingFor: make(map[any]any),
}

// fileLockKey returns f's key in the lock table.
func fileLockKey(f File) (lockKey, error) {
	st, err := f.Stat()
	if err != nil {
		return lockKey{}, err
	}
	return lockKey{dev: st.Dev, ino: st.Ino}, nil
}

// getLocked returns the locks of key, creating an entry if needed.
//
// Preconditions: lt.mu is locked.
func (lt *lockTable) getLocked(key lockKey) *fileLocks {
	fl := lt.files[key]
	if fl == nil {
		fl = &fileLocks{}
		lt.files[key] = fl
	}
	return fl
}

// notifyLocked wakes the waiters on fl, and drops fl from the table if it
// holds no lock.
//
// Preconditions: lt.mu is locked.
func (lt *lockTable) notifyLocked(key lockKey, fl *fileLocks) {
	if fl.changed != nil {
		close(fl.changed)
		fl.changed = nil
	}
	if len(fl.records) == 0 && len(fl.flocks) == 0 {
		delete(lt.files, key)
	}
}

// countLocked adds n to owner's count of held locks.
//
// Preconditions: lt.mu is locked.
func (lt *lockTable) countLocked(owner any, n int) {
	if c := lt.held[owner] + n; c > 0 {
		lt.held[owner] = c
	} else {
		delete(lt.held, owner)
	}
}

// waitLocked waits for a change to fl, unlocking lt.mu meanwhile: EINTR if
// ctx is done first.
//
// Preconditions: lt.mu is locked.
func (lt *lockTable) waitLocked(ctx context.Context, fl *fileLocks) error {
	if fl.changed == nil {
		fl.changed = make(chan struct{})
	}
	ch := fl.changed
	lt.mu.Unlock()
	defer lt.mu.Lock()
	return WaitForChange(ctx, []<-chan struct{}{ch}, nil)
}

// TestRecordLock implements F_GETLK: it returns a lock that keeps owner
// from taking a lock of type typ (F_RDLCK or F_WRLCK) on r, if any.
func TestRecordLock(f File, owner LockOwner, typ int16, r LockRange) (RecordLock, bool, error) {
	key, err := fileLockKey(f)
	if err != nil {
		return RecordLock{}, false, err
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[key]
	if fl == nil {
		return RecordLock{}, false, nil
	}
	for i := range fl.records {
		if l := &fl.records[i]; l.conflicts(owner.ID, typ, r) {
			return l.RecordLock, true, nil
		}
	}
	return RecordLock{}, false, nil
}

// SetRecordLock implements F_SETLK (wait false) and F_SETLKW (wait true):
// owner takes a lock of type typ on r, or releases its locks there
// (F_UNLCK). A conflicting lock makes it fail with EAGAIN, or wait until
// none is left, failing with EINTR if ctx is done first and EDEADLK if
// the wait would never end: the lock's owner waits, perhaps through
// others, for one of owner's (POSIX locks only, as on Linux).
func SetRecordLock(ctx context.Context, f File, owner LockOwner, typ int16, r LockRange, wait bool) error {
	key, err := fileLockKey(f)
	if err != nil {
		return err
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	for {
		fl := locks.getLocked(key)
		var blocker *heldLock
		if typ != unix.F_UNLCK {
			for i := range fl.records {
				if l := &fl.records[i]; l.conflicts(owner.ID, typ, r) {
					blocker = l
					break
				}
			}
		}
		if blocker == nil {
			locks.replaceLocked(key, fl, owner, typ, r)
			return nil
		}
		if !wait {
			locks.notifyLocked(key, fl) // Drops fl if it was made for this.
			return unix.EAGAIN
		}
		if !owner.ofd() {
			if locks.deadlockLocked(owner.ID, blocker.owner) {
				return unix.EDEADLK
			}
			locks.waitingFor[owner.ID] = blocker.owner
		}
		err := locks.waitLocked(ctx, fl)
		delete(locks.waitingFor, owner.ID)
		if err != nil {
			if fl := locks.files[key]; fl != nil {
				locks.notifyLocked(key, fl)
			}
			return err
		}
	}
}

// deadlockLocked reports whether waiting for blocker's lock would close a
// cycle back to owner. Like Linux, it gives up (no deadlock) after a few
// steps.
//
// Preconditions: locks.mu is locked.
func (lt *lockTable) deadlockLocked(owner, blocker any) bool {
	const maxSteps = 10 // Linux's MAX_DEADLK_ITERATIONS.
	for i := 0; i < maxSteps; i++ {
		if blocker == owner {
			return true
		}
		next, ok := lt.waitingFor[blocker]
		if !ok {
			return false
		}
		blocker = next
	}
	return false
}

// replaceLocked makes owner's locks on r be of type typ (none for
// F_UNLCK): owner's locks there are cut away, and a new lock merges with
// owner's adjacent and overlapping locks of its type.
//
// The records stay in Linux's order, which F_GETLK shows by reporting the
// first conflicting lock: an owner's locks together, sorted by start, the
// owners in the order of their first lock.
//
// Preconditions: locks.mu is locked; the new lock conflicts with no
// other owner's.
func (lt *lockTable) replaceLocked(key lockKey, fl *fileLocks, owner LockOwner, typ int16, r LockRange) {
	others := make([]heldLock, 0, len(fl.records))
	var mine []heldLock
	pos, before := -1, 0
	for _, l := range fl.records {
		if l.owner != owner.ID {
			others = append(others, l)
			continue
		}
		if pos < 0 {
			pos = len(others)
		}
		before++
		switch {
		case l.Type == typ && l.Range.touches(r):
			// Merge: the new lock takes the old one in.
			r.Start, r.End = min(r.Start, l.Range.Start), max(r.End, l.Range.End)
		case l.Range.overlaps(r):
			// Cut: keep what lies outside r.
			if l.Range.Start < r.Start {
				left := l
				left.Range.End = r.Start - 1
				mine = append(mine, left)
			}
			if l.Range.End > r.End {
				right := l
				right.Range.Start = r.End + 1
				mine = append(mine, right)
			}
		default:
			mine = append(mine, l)
		}
	}
	if typ != unix.F_UNLCK {
		mine = append(mine, heldLock{RecordLock: RecordLock{Type: typ, Range: r, PID: owner.PID}, owner: owner.ID})
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Range.Start < mine[j].Range.Start })
	if pos < 0 {
		pos = len(others)
	}
	fl.records = slices.Concat(others[:pos], mine, others[pos:])
	lt.countLocked(owner.ID, len(mine)-before)
	// Waiters may now get what owner released, or what it turned from a
	// write lock into a read lock.
	lt.notifyLocked(key, fl)
}

// ReleaseRecordLocks releases every record lock owner holds on f: the
// kernel calls it when a process closes a descriptor of f (owner its
// FDTable), and CloseFile when an open file description goes (owner the
// description, for its OFD locks).
func ReleaseRecordLocks(owner any, f File) {
	locks.mu.Lock()
	held := locks.held[owner] > 0
	locks.mu.Unlock()
	if !held {
		return
	}
	key, err := fileLockKey(f)
	if err != nil {
		return
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[key]
	if fl == nil {
		return
	}
	locks.replaceLocked(key, fl, LockOwner{ID: owner}, unix.F_UNLCK, LockRange{0, MaxOffset})
}

// Flock implements flock(2) on the open file description f: how is
// LOCK_SH, LOCK_EX or LOCK_UN. A conflicting lock makes it fail with
// EWOULDBLOCK (EAGAIN) if nonBlocking, or wait until none is left
// (EINTR if ctx is done first). Converting a lock is not atomic, as on
// Linux: the old lock goes first, and stays gone if the new one cannot be
// had.
func Flock(ctx context.Context, f File, how int, nonBlocking bool) error {
	key, err := fileLockKey(f)
	if err != nil {
		return err
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.getLocked(key)
	exclusive := how == unix.LOCK_EX
	for i, l := range fl.flocks {
		if l.owner != f {
			continue
		}
		if how != unix.LOCK_UN && l.exclusive == exclusive {
			return nil
		}
		fl.flocks = append(fl.flocks[:i], fl.flocks[i+1:]...)
		locks.countLocked(f, -1)
		locks.notifyLocked(key, fl)
		break
	}
	if how == unix.LOCK_UN {
		locks.notifyLocked(key, fl)
		return nil
	}
	for {
		fl = locks.getLocked(key)
		conflict := false
		for _, l := range fl.flocks {
			if l.exclusive || exclusive {
				conflict = true
				break
			}
		}
		if !conflict {
			fl.flocks = append(fl.flocks, flockLock{owner: f, exclusive: exclusive})
			locks.countLocked(f, 1)
			return nil
		}
		if nonBlocking {
			locks.notifyLocked(key, fl)
			return unix.EWOULDBLOCK
		}
		if err := locks.waitLocked(ctx, fl); err != nil {
			if fl := locks.files[key]; fl != nil {
				locks.notifyLocked(key, fl)
			}
			return err
		}
	}
}

// releaseDescriptionLocks releases the flock(2) and OFD locks of the open
// file description f, whose last descriptor is gone.
func releaseDescriptionLocks(f File) {
	locks.mu.Lock()
	held := locks.held[File(f)] > 0
	locks.mu.Unlock()
	if !held {
		return
	}
	key, err := fileLockKey(f)
	if err != nil {
		return
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[key]
	if fl == nil {
		return
	}
	for i, l := range fl.flocks {
		if l.owner == f {
			fl.flocks = append(fl.flocks[:i], fl.flocks[i+1:]...)
			locks.countLocked(f, -1)
			break
		}
	}
	locks.replaceLocked(key, fl, LockOwner{ID: f}, unix.F_UNLCK, LockRange{0, MaxOffset})
}
