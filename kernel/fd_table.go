package kernel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
)

// FDFlags are a descriptor's own flags, as opposed to its file's.
type FDFlags struct {
	// CloseOnExec is FD_CLOEXEC.
	CloseOnExec bool
}

// descriptor is one entry of an FDTable.
type descriptor struct {
	file  *fileRef
	flags FDFlags
}

// fileRef counts the descriptors, in every table, that refer to one open
// file description: the file is closed with the last of them.
type fileRef struct {
	fs.File
	// refs is the number of descriptors; atomic, because tables copied
	// by fork share fileRefs.
	refs atomic.Int64
}

func newFileRef(f fs.File) *fileRef {
	r := &fileRef{File: f}
	r.refs.Store(1)
	return r
}

// decRef drops a descriptor's reference and closes the file with the last.
func (r *fileRef) decRef() {
	if r.refs.Add(-1) == 0 {
		fs.CloseFile(r.File)
	}
}

// drop releases a descriptor taken out of the table: first the record
// locks that the table's process holds on the file, which POSIX ties to
// every descriptor of the file (closing any of them releases them all),
// then the descriptor's reference.
func (ft *FDTable) drop(d *descriptor) {
	fs.ReleaseRecordLocks(ft, d.file.File)
	d.file.decRef()
}

// FDTable maps descriptor numbers to files. Threads created with
// CLONE_FILES share one table; fork copies it.
type FDTable struct {
	// users counts the tasks sharing the table; the last one closes
	// every descriptor. Atomic.
	users atomic.Int64

	// mu protects fds.
	mu sync.Mutex

	// fds holds the descriptors; a nil entry is free. Its length is one
	// past the highest descriptor ever used.
	fds []*descriptor
}

// NewFDTable returns an empty table with one user.
func NewFDTable() *FDTable {
	ft := &FDTable{}
	ft.users.Store(1)
	return ft
}

// IncRef adds a user, for a thread cloned with CLONE_FILES.
func (ft *FDTable) IncRef() {
	ft.users.Add(1)
}

// DecRef drops a user; the last one closes every descriptor.
func (ft *FDTable) DecRef() {
	if ft.users.Add(-1) > 0 {
		return
	}
	ft.mu.Lock()
	fds := ft.fds
	ft.fds = nil
	ft.mu.Unlock()
	for _, d := range fds {
		if d != nil {
			ft.drop(d)
		}
	}
}

// Fork returns a copy of the table for a new process: the same files
// under the same numbers, with the same flags.
func (ft *FDTable) Fork() *FDTable {
	nt := NewFDTable()
	ft.mu.Lock()
	defer ft.mu.Unlock()
	nt.fds = make([]*descriptor, len(ft.fds))
	for i, d := range ft.fds {
		if d != nil {
			d.file.refs.Add(1)
			nt.fds[i] = &descriptor{file: d.file, flags: d.flags}
		}
	}
	return nt
}

// getLocked returns the descriptor fd, or nil.
//
// Preconditions: ft.mu is locked.
func (ft *FDTable) getLocked(fd int32) *descriptor {
	if fd < 0 || int(fd) >= len(ft.fds) {
		return nil
	}
	return ft.fds[fd]
}

// Get returns the file at fd, or EBADF.
func (ft *FDTable) Get(fd int32) (fs.File, FDFlags, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	d := ft.getLocked(fd)
	if d == nil {
		return nil, FDFlags{}, unix.EBADF
	}
	return d.file.File, d.flags, nil
}

// GetRef is Get, with a reference on the file that keeps it open, however
// the application closes fd meanwhile, until the caller calls release,
// once: for calls that use a file beyond a quick look, such as poll(2).
func (ft *FDTable) GetRef(fd int32) (f fs.File, release func(), err error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	d := ft.getLocked(fd)
	if d == nil {
		return nil, nil, unix.EBADF
	}
	// The table's own reference keeps the count above zero while ft.mu
	// is held.
	d.file.refs.Add(1)
	return d.file.File, d.file.decRef, nil
}

// setLocked installs d at fd and returns what was there.
//
// Preconditions: ft.mu is locked; fd >= 0.
func (ft *FDTable) setLocked(fd int32, d *descriptor) *descriptor {
	for int(fd) >= len(ft.fds) {
		ft.fds = append(ft.fds, nil)
	}
	old := ft.fds[fd]
	ft.fds[fd] = d
	return old
}

// lowestFreeLocked returns the lowest free descriptor at or above minFD
// and below limit: EINVAL for a minFD out of range, EMFILE if none is free.
//
// Preconditions: ft.mu is locked.
func (ft *FDTable) lowestFreeLocked(minFD int32, limit uint64) (int32, error) {
	if minFD < 0 || uint64(minFD) >= limit {
		return 0, unix.EINVAL
	}
	fd := minFD
	for int(fd) < len(ft.fds) && ft.fds[fd] != nil {
		fd++
	}
	if uint64(fd) >= limit {
		return 0, unix.EMFILE
	}
	return fd, nil
}

// NewFD installs f at the lowest free descriptor at or above minFD, below
// limit (RLIMIT_NOFILE).
func (ft *FDTable) NewFD(minFD int32, f fs.File, flags FDFlags, limit uint64) (int32, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	fd, err := ft.lowestFreeLocked(minFD, limit)
	if err != nil {
		return 0, err
	}
	ft.setLocked(fd, &descriptor{file: newFileRef(f), flags: flags})
	return fd, nil
}

// NewFDAt installs f at fd, closing what was there.
//
// Preconditions: fd >= 0.
func (ft *FDTable) NewFDAt(fd int32, f fs.File, flags FDFlags) {
	ft.mu.Lock()
	old := ft.setLocked(fd, &descriptor{file: newFileRef(f), flags: flags})
	ft.mu.Unlock()
	if old != nil {
		ft.drop(old)
	}
}

// Dup makes a new descriptor, the lowest free one at or above minFD, that
// refers to the same file as fd (dup(2), fcntl F_DUPFD). limit is
// RLIMIT_NOFILE: EMFILE if no descriptor below it is free.
func (ft *FDTable) Dup(fd, minFD int32, flags FDFlags, limit uint64) (int32, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	d := ft.getLocked(fd)
	if d == nil {
		return 0, unix.EBADF
	}
	nfd, err := ft.lowestFreeLocked(minFD, limit)
	if err != nil {
		return 0, err
	}
	d.file.refs.Add(1)
	ft.setLocked(nfd, &descriptor{file: d.file, flags: flags})
	return nfd, nil
}

// DupTo makes newFD refer to the same file as fd, closing what newFD held
// (dup2(2), dup3(2)). limit is RLIMIT_NOFILE: EBADF for a newFD at or
// above it.
func (ft *FDTable) DupTo(fd, newFD int32, flags FDFlags, limit uint64) error {
	ft.mu.Lock()
	d := ft.getLocked(fd)
	if d == nil || newFD < 0 || uint64(newFD) >= limit {
		ft.mu.Unlock()
		return unix.EBADF
	}
	d.file.refs.Add(1)
	old := ft.setLocked(newFD, &descriptor{file: d.file, flags: flags})
	ft.mu.Unlock()
	if old != nil {
		ft.drop(old)
	}
	return nil
}

// SetFlags replaces fd's descriptor flags.
func (ft *FDTable) SetFlags(fd int32, flags FDFlags) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	d := ft.getLocked(fd)
	if d == nil {
		return unix.EBADF
	}
	d.flags = flags
	return nil
}

// Remove closes fd.
func (ft *FDTable) Remove(fd int32) error {
	ft.mu.Lock()
	d := ft.getLocked(fd)
	if d == nil {
		ft.mu.Unlock()
		return unix.EBADF
	}
	ft.fds[fd] = nil
	ft.mu.Unlock()
	ft.drop(d)
	return nil
}

// RemoveRange closes the descriptors in [first, last], as close_range(2);
// with cloexec it only marks them close-on-exec.
func (ft *FDTable) RemoveRange(first, last uint32, cloexec bool) {
	ft.mu.Lock()
	var closed []*descriptor
	for fd := int64(first); fd <= int64(last) && fd < int64(len(ft.fds)); fd++ {
		d := ft.fds[fd]
		if d == nil {
			continue
		}
		if cloexec {
			d.flags.CloseOnExec = true
			continue
		}
		ft.fds[fd] = nil
		closed = append(closed, d)
	}
	ft.mu.Unlock()
	for _, d := range closed {
		ft.drop(d)
	}
}

// RemoveCloseOnExec closes every close-on-exec descriptor, as execve does.
func (ft *FDTable) RemoveCloseOnExec() {
	ft.mu.Lock()
	var closed []*descriptor
	for fd, d := range ft.fds {
		if d != nil && d.flags.CloseOnExec {
			ft.fds[fd] = nil
			closed = append(closed, d)
		}
	}
	ft.mu.Unlock()
	for _, d := range closed {
		ft.drop(d)
	}
}
