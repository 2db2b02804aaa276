package kernel

import (
	"sync"

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
	// refs is protected by the FDTable.mu of every table holding it;
	// tables are not shared across processes until fork lands, so one
	// lock suffices for now.
	refs int
}

// FDTable maps descriptor numbers to files.
type FDTable struct {
	// mu protects fds.
	mu sync.Mutex

	// fds holds the descriptors; a nil entry is free. Its length is one
	// past the highest descriptor ever used.
	fds []*descriptor
}

// NewFDTable returns an empty table.
func NewFDTable() *FDTable {
	return &FDTable{}
}

// Get returns the file at fd, or EBADF.
func (ft *FDTable) Get(fd int32) (fs.File, FDFlags, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if fd < 0 || int(fd) >= len(ft.fds) || ft.fds[fd] == nil {
		return nil, FDFlags{}, unix.EBADF
	}
	d := ft.fds[fd]
	return d.file.File, d.flags, nil
}

// Dup makes a new descriptor, the lowest free one at or above minFD, that
// refers to the same file as fd (dup(2), fcntl F_DUPFD). limit is
// RLIMIT_NOFILE: EMFILE if no descriptor below it is free.
func (ft *FDTable) Dup(fd, minFD int32, flags FDFlags, limit uint64) (int32, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if fd < 0 || int(fd) >= len(ft.fds) || ft.fds[fd] == nil {
		return 0, unix.EBADF
	}
	if minFD < 0 || uint64(minFD) >= limit {
		return 0, unix.EINVAL
	}
	nfd := minFD
	for int(nfd) < len(ft.fds) && ft.fds[nfd] != nil {
		nfd++
	}
	if uint64(nfd) >= limit {
		return 0, unix.EMFILE
	}
	for int(nfd) >= len(ft.fds) {
		ft.fds = append(ft.fds, nil)
	}
	ref := ft.fds[fd].file
	ref.refs++
	ft.fds[nfd] = &descriptor{file: ref, flags: flags}
	return nfd, nil
}

// DupTo makes newFD refer to the same file as fd, closing what newFD held
// (dup2(2), dup3(2)). limit is RLIMIT_NOFILE: EBADF for a newFD at or
// above it.
func (ft *FDTable) DupTo(fd, newFD int32, flags FDFlags, limit uint64) error {
	ft.mu.Lock()
	if fd < 0 || int(fd) >= len(ft.fds) || ft.fds[fd] == nil || newFD < 0 || uint64(newFD) >= limit {
		ft.mu.Unlock()
		return unix.EBADF
	}
	for int(newFD) >= len(ft.fds) {
		ft.fds = append(ft.fds, nil)
	}
	ref := ft.fds[fd].file
	ref.refs++
	old := ft.fds[newFD]
	ft.fds[newFD] = &descriptor{file: ref, flags: flags}
	ft.mu.Unlock()
	if old != nil {
		ft.release(old)
	}
	return nil
}

// SetFlags replaces fd's descriptor flags.
func (ft *FDTable) SetFlags(fd int32, flags FDFlags) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if fd < 0 || int(fd) >= len(ft.fds) || ft.fds[fd] == nil {
		return unix.EBADF
	}
	ft.fds[fd].flags = flags
	return nil
}

// NewFDAt installs f at fd, closing what was there.
//
// Preconditions: fd >= 0.
func (ft *FDTable) NewFDAt(fd int32, f fs.File, flags FDFlags) {
	ft.mu.Lock()
	for int(fd) >= len(ft.fds) {
		ft.fds = append(ft.fds, nil)
	}
	old := ft.fds[fd]
	ft.fds[fd] = &descriptor{file: &fileRef{File: f, refs: 1}, flags: flags}
	ft.mu.Unlock()
	if old != nil {
		ft.release(old)
	}
}

// Remove closes fd.
func (ft *FDTable) Remove(fd int32) error {
	ft.mu.Lock()
	if fd < 0 || int(fd) >= len(ft.fds) || ft.fds[fd] == nil {
		ft.mu.Unlock()
		return unix.EBADF
	}
	d := ft.fds[fd]
	ft.fds[fd] = nil
	ft.mu.Unlock()
	ft.release(d)
	return nil
}

// release drops d's reference to its file and closes the file with the
// last one.
func (ft *FDTable) release(d *descriptor) {
	ft.mu.Lock()
	d.file.refs--
	last := d.file.refs == 0
	ft.mu.Unlock()
	if last {
		d.file.Close()
	}
}

// DecRef closes every descriptor of a table that is no longer used.
func (ft *FDTable) DecRef() {
	ft.mu.Lock()
	fds := ft.fds
	ft.fds = nil
	ft.mu.Unlock()
	for _, d := range fds {
		if d != nil {
			ft.release(d)
		}
	}
}
