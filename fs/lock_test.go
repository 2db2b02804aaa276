package fs

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// lockFile returns a file for lock tests: a pipe end, whose inode is its
// own, so that tests running in parallel do not share locks.
func lockFile(t *testing.T) File {
	t.Helper()
	r, w := NewPipe(0, 0)
	t.Cleanup(func() {
		for _, o := range []LockOwner{owner1, owner2, owner3} {
			ReleaseRecordLocks(o.ID, r)
		}
		CloseFile(r)
		CloseFile(w)
	})
	return r
}

// owners are POSIX lock owners, standing for processes 1, 2 and 3.
var (
	owner1 = LockOwner{ID: "table 1", PID: 1}
	owner2 = LockOwner{ID: "table 2", PID: 2}
	owner3 = LockOwner{ID: "table 3", PID: 3}
)

// rng is a LockRange.
func rng(start, end int64) LockRange {
	return LockRange{Start: start, End: end}
}

// setLock takes a lock without waiting.
func setLock(f File, o LockOwner, typ int16, r LockRange) error {
	return SetRecordLock(context.Background(), f, o, typ, r, false)
}

// locksOf lists the record locks on f, sorted by owner pid and start.
func locksOf(t *testing.T, f File) []RecordLock {
	t.Helper()
	key, err := fileLockKey(f)
	if err != nil {
		t.Fatal(err)
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	var out []RecordLock
	if fl := locks.files[key]; fl != nil {
		for _, l := range fl.records {
			out = append(out, l.RecordLock)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PID != out[j].PID {
			return out[i].PID < out[j].PID
		}
		return out[i].Range.Start < out[j].Range.Start
	})
	return out
}

func TestComputeLockRange(t *testing.T) {
	for _, tc := range []struct {
		base, start, length int64
		want                LockRange
		err                 error
	}{
		{0, 0, 0, rng(0, MaxOffset), nil},
		{0, 10, 5, rng(10, 14), nil},
		{100, -10, 5, rng(90, 94), nil},
		{0, 10, -5, rng(5, 9), nil},
		{0, 10, -10, rng(0, 9), nil},
		{0, 10, -11, LockRange{}, unix.EINVAL},
		{0, -1, 5, LockRange{}, unix.EINVAL},
		{0, MaxOffset, 2, LockRange{}, unix.EOVERFLOW},
		{0, MaxOffset, 1, rng(MaxOffset, MaxOffset), nil},
		{10, MaxOffset, 1, LockRange{}, unix.EINVAL},
	} {
		got, err := ComputeLockRange(tc.base, tc.start, tc.length)
		if got != tc.want || err != tc.err {
			t.Errorf("ComputeLockRange(%d, %d, %d) = %v, %v; want %v, %v", tc.base, tc.start, tc.length, got, err, tc.want, tc.err)
		}
	}
}

func TestRecordLockConflicts(t *testing.T) {
	f := lockFile(t)
	if err := setLock(f, owner1, unix.F_RDLCK, rng(0, 99)); err != nil {
		t.Fatal(err)
	}
	if err := setLock(f, owner2, unix.F_RDLCK, rng(50, 149)); err != nil {
		t.Errorf("two read locks: %v", err)
	}
	if err := setLock(f, owner3, unix.F_WRLCK, rng(120, 130)); err != unix.EAGAIN {
		t.Errorf("write lock over a read lock: %v, want EAGAIN", err)
	}
	if err := setLock(f, owner3, unix.F_WRLCK, rng(150, MaxOffset)); err != nil {
		t.Errorf("write lock next to the others: %v", err)
	}
	// An owner's own locks never conflict.
	if err := setLock(f, owner1, unix.F_WRLCK, rng(0, 49)); err != nil {
		t.Errorf("upgrading the unshared part: %v", err)
	}
	got, found, err := TestRecordLock(f, owner2, unix.F_RDLCK, rng(0, 10))
	if want := (RecordLock{Type: unix.F_WRLCK, Range: rng(0, 49), PID: 1}); !found || got != want || err != nil {
		t.Errorf("F_GETLK: %+v, %v, %v; want %+v", got, found, err, want)
	}
	if _, found, _ := TestRecordLock(f, owner1, unix.F_WRLCK, rng(0, 49)); found {
		t.Error("F_GETLK reports the caller's own lock")
	}
	if _, found, _ := TestRecordLock(f, owner2, unix.F_RDLCK, rng(60, 99)); found {
		t.Error("F_GETLK reports a read lock as conflicting with a read lock")
	}
}

func TestRecordLockReportOrder(t *testing.T) {
	f := lockFile(t)
	setLock(f, owner1, unix.F_RDLCK, rng(90, 99))
	setLock(f, owner2, unix.F_RDLCK, rng(0, 9))
	setLock(f, owner1, unix.F_RDLCK, rng(50, 54))
	// Linux's order: owner 1's locks by start, then owner 2's.
	want := []RecordLock{{unix.F_RDLCK, rng(50, 54), 1}, {unix.F_RDLCK, rng(90, 99), 1}, {unix.F_RDLCK, rng(0, 9), 2}}
	key, _ := fileLockKey(f)
	locks.mu.Lock()
	var got []RecordLock
	for _, l := range locks.files[key].records {
		got = append(got, l.RecordLock)
	}
	locks.mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if l, _, _ := TestRecordLock(f, owner3, unix.F_WRLCK, rng(0, MaxOffset)); l != want[0] {
		t.Errorf("F_GETLK reports %+v, want the first in Linux's order, %+v", l, want[0])
	}
}

func TestRecordLockSplitAndMerge(t *testing.T) {
	f := lockFile(t)
	steps := []struct {
		typ  int16
		r    LockRange
		want []RecordLock
	}{
		{unix.F_WRLCK, rng(0, 99), []RecordLock{{unix.F_WRLCK, rng(0, 99), 1}}},
		// A read lock in the middle splits the write lock in three.
		{unix.F_RDLCK, rng(40, 59), []RecordLock{{unix.F_WRLCK, rng(0, 39), 1}, {unix.F_RDLCK, rng(40, 59), 1}, {unix.F_WRLCK, rng(60, 99), 1}}},
		// Unlocking across two of them cuts both.
		{unix.F_UNLCK, rng(30, 49), []RecordLock{{unix.F_WRLCK, rng(0, 29), 1}, {unix.F_RDLCK, rng(50, 59), 1}, {unix.F_WRLCK, rng(60, 99), 1}}},
		// An adjacent lock of the same type merges.
		{unix.F_WRLCK, rng(100, 109), []RecordLock{{unix.F_WRLCK, rng(0, 29), 1}, {unix.F_RDLCK, rng(50, 59), 1}, {unix.F_WRLCK, rng(60, 109), 1}}},
		// Overwriting the read lock joins the write locks around it.
		{unix.F_WRLCK, rng(30, 59), []RecordLock{{unix.F_WRLCK, rng(0, 109), 1}}},
		{unix.F_RDLCK, rng(200, MaxOffset), []RecordLock{{unix.F_WRLCK, rng(0, 109), 1}, {unix.F_RDLCK, rng(200, MaxOffset), 1}}},
		{unix.F_UNLCK, rng(0, MaxOffset), nil},
	}
	for i, s := range steps {
		if err := setLock(f, owner1, s.typ, s.r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if diff := cmp.Diff(s.want, locksOf(t, f)); diff != "" {
			t.Errorf("step %d: type %d on %v (-want +got):\n%s", i, s.typ, s.r, diff)
		}
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	if n := locks.held[owner1.ID]; n != 0 {
		t.Errorf("owner 1 still counted with %d locks", n)
	}
}

func TestRecordLockWait(t *testing.T) {
	f := lockFile(t)
	if err := setLock(f, owner1, unix.F_WRLCK, rng(0, 9)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		done <- SetRecordLock(context.Background(), f, owner2, unix.F_WRLCK, rng(5, 5), true)
	}()
	eventually(t, "owner 2 waits", func() bool {
		locks.mu.Lock()
		defer locks.mu.Unlock()
		return locks.waitingFor[owner2.ID] == owner1.ID
	})
	// Releasing another part does not satisfy it.
	setLock(f, owner1, unix.F_UNLCK, rng(0, 4))
	select {
	case err := <-done:
		t.Fatalf("woke with %v while still blocked", err)
	case <-time.After(20 * time.Millisecond):
	}
	// Closing any descriptor of the file releases owner 1's locks.
	ReleaseRecordLocks(owner1.ID, f)
	if err := <-done; err != nil {
		t.Errorf("F_SETLKW: %v", err)
	}
	if diff := cmp.Diff([]RecordLock{{unix.F_WRLCK, rng(5, 5), 2}}, locksOf(t, f)); diff != "" {
		t.Errorf("locks (-want +got):\n%s", diff)
	}
}

func TestRecordLockInterrupted(t *testing.T) {
	f := lockFile(t)
	setLock(f, owner1, unix.F_RDLCK, rng(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- SetRecordLock(ctx, f, owner2, unix.F_WRLCK, rng(0, 0), true) }()
	eventually(t, "owner 2 waits", func() bool {
		locks.mu.Lock()
		defer locks.mu.Unlock()
		return locks.waitingFor[owner2.ID] != nil
	})
	cancel()
	if err := <-done; err != unix.EINTR {
		t.Errorf("interrupted F_SETLKW: %v, want EINTR", err)
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	if _, ok := locks.waitingFor[owner2.ID]; ok {
		t.Error("owner 2 still marked waiting")
	}
}

func TestRecordLockDeadlock(t *testing.T) {
	f, g := lockFile(t), lockFile(t)
	setLock(f, owner1, unix.F_WRLCK, rng(0, 0))
	setLock(g, owner2, unix.F_WRLCK, rng(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- SetRecordLock(ctx, g, owner1, unix.F_WRLCK, rng(0, 0), true) }()
	eventually(t, "owner 1 waits", func() bool {
		locks.mu.Lock()
		defer locks.mu.Unlock()
		return locks.waitingFor[owner1.ID] == owner2.ID
	})
	if err := SetRecordLock(ctx, f, owner2, unix.F_WRLCK, rng(0, 0), true); err != unix.EDEADLK {
		t.Errorf("closing the cycle: %v, want EDEADLK", err)
	}
	// OFD locks are not checked, as on Linux: they just wait.
	ofd := LockOwner{ID: g, PID: -1}
	ctx2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if err := SetRecordLock(ctx2, f, ofd, unix.F_WRLCK, rng(0, 0), true); err != unix.EINTR {
		t.Errorf("OFD lock: %v, want EINTR after waiting", err)
	}
	ReleaseRecordLocks(owner2.ID, g)
	if err := <-done; err != nil {
		t.Errorf("owner 1: %v", err)
	}
}

func TestFlock(t *testing.T) {
	ctx := context.Background()
	f := lockFile(t)
	// Two open file descriptions of one file: the lock key is the inode.
	a, b := f, File(&PipeFile{p: f.(*PipeFile).p})
	if err := Flock(ctx, a, unix.LOCK_SH, true); err != nil {
		t.Fatal(err)
	}
	if err := Flock(ctx, b, unix.LOCK_SH, true); err != nil {
		t.Errorf("two shared locks: %v", err)
	}
	if err := Flock(ctx, b, unix.LOCK_EX, true); err != unix.EWOULDBLOCK {
		t.Errorf("upgrade with another shared lock: %v, want EWOULDBLOCK", err)
	}
	// The failed conversion dropped b's shared lock, as on Linux.
	if err := Flock(ctx, a, unix.LOCK_EX, true); err != nil {
		t.Errorf("a's upgrade once b lost its lock: %v", err)
	}
	done := make(chan error)
	go func() { done <- Flock(ctx, b, unix.LOCK_SH, false) }()
	select {
	case err := <-done:
		t.Fatalf("LOCK_SH did not wait: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	// The last close of a's description releases its lock.
	releaseDescriptionLocks(a)
	if err := <-done; err != nil {
		t.Errorf("blocked LOCK_SH: %v", err)
	}
	if err := Flock(ctx, b, unix.LOCK_UN, false); err != nil {
		t.Errorf("LOCK_UN: %v", err)
	}
	key, _ := fileLockKey(f)
	locks.mu.Lock()
	defer locks.mu.Unlock()
	if locks.files[key] != nil {
		t.Error("the table keeps an entry for a file without locks")
	}
}

func TestFlockInterrupted(t *testing.T) {
	f := lockFile(t)
	other := File(&PipeFile{p: f.(*PipeFile).p})
	if err := Flock(context.Background(), f, unix.LOCK_EX, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := Flock(ctx, other, unix.LOCK_EX, false); err != unix.EINTR {
		t.Errorf("interrupted LOCK_EX: %v, want EINTR", err)
	}
	releaseDescriptionLocks(f)
}
