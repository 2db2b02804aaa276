package fs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

// HostFile is a file backed by a descriptor of the host's, which the sentry
// owns. Data moves between the host descriptor and application memory with
// readv(2) and writev(2) straight on the windows of the memory file: no
// intermediate buffer.
//
// A HostFile is reference counted: descriptors and memory mappings of it
// each hold a reference, and the host descriptor is closed with the last.
//
// A regular file may be mapped MAP_SHARED, and then has a page cache in the
// memory manager (mm/filecache.go) that the mappings write to. Its reads
// and writes keep the two coherent, whichever descriptor of the file they
// go through: a read first writes back the dirty cached pages it covers
// (mm.SyncFile), a write also copies its bytes into the cached pages
// (mm.WriteFile), and ftruncate, fallocate and copy_file_range make the
// cache read back what they changed (mm.ChangeFile). A file without a
// cache pays one atomic load per read and a shared lock per write.
type HostFile struct {
	// fd is the host descriptor. Immutable; closed with the last
	// reference.
	fd int

	// name is the path or description shown for the file. Immutable. For
	// a file opened through a Root it is the file's sandbox path when it
	// was opened, every symlink resolved: what getcwd(2), /proc/self/fd
	// and lookups relative to the file as a directory use. A directory
	// renamed later is still looked up by its old path.
	name string

	// root is the root the file was opened through, or nil for a file
	// from outside the tree (a standard stream). Immutable.
	root *Root

	// dirMu serializes ReadDir's seek and read of the host directory.
	dirMu sync.Mutex

	// mayBlock is set for files whose reads and writes can wait (pipes,
	// terminals, sockets), as opposed to regular files and devices that
	// answer at once. Immutable.
	mayBlock bool

	// regular is set for a regular file, the only kind with a page cache.
	// Immutable.
	regular bool

	// device is set for a character or block device, which a file of the
	// tree can only be if opened with O_PATH (nodev.go). Immutable.
	device bool

	// fixedAttrs refuses changes to the file's owner, mode and times
	// (EPERM): set for a host device that the sentry opens by a path of
	// its own, whose inode lies outside the tree. Immutable.
	fixedAttrs bool

	// id is the file's identity, which finds its page cache. Immutable.
	id mm.FileID

	// refs counts the references.
	refs atomic.Int64

	// poller waits for the host to report a file that may block ready,
	// for Readiness (host_poll.go).
	poller hostPoller
}

// NewHostFile wraps fd, which the HostFile then owns, with one reference.
func NewHostFile(fd int, name string) *HostFile {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return newHostFile(fd, name, nil)
	}
	return newHostFile(fd, name, &st)
}

// newHostFile is NewHostFile for a descriptor whose stat the caller has
// already taken, or nil if the host could not tell it.
func newHostFile(fd int, name string, st *unix.Stat_t) *HostFile {
	f := &HostFile{fd: fd, name: name}
	f.poller.cancel = -1
	if st != nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO, unix.S_IFSOCK:
			f.mayBlock = true
		case unix.S_IFCHR:
			f.mayBlock = true
			f.device = true
		case unix.S_IFBLK:
			f.device = true
		case unix.S_IFREG:
			f.regular = true
		}
		f.id = mm.FileID{Dev: st.Dev, Ino: st.Ino}
	}
	f.refs.Store(1)
	return f
}

// OpenHostDevice opens the host's device at path with open(2) flags, for
// a synthetic file of the sentry's such as /dev/tty. The application may
// read, write and query it, but not change its owner, mode or times: its
// inode is the host's, outside any tree the application was given.
func OpenHostDevice(path string, flags uint32, name string) (*HostFile, error) {
	fd, err := openHostPath(path, flags)
	if err != nil {
		return nil, err
	}
	f := NewHostFile(fd, name)
	f.fixedAttrs = true
	return f, nil
}

// OpenHostFile opens path on the host, read-only.
func OpenHostFile(path string) (*HostFile, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return NewHostFile(fd, path), nil
}

// DupHostFile wraps a duplicate of the sentry's own descriptor fd (one of
// its standard streams). The duplicate shares the host's open file
// description, offset and O_APPEND included, so `{ echo a; minisentry run
// -- prog; } > f` appends as it would natively; the application closing it
// does not close the sentry's own.
func DupHostFile(fd int, name string) (*HostFile, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup of host fd %d: %w", fd, err)
	}
	return NewHostFile(nfd, name), nil
}

// FD returns the host descriptor.
func (f *HostFile) FD() int {
	return f.fd
}

// Read implements File.Read.
func (f *HostFile) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if err := f.waitReady(ctx, unix.POLLIN); err != nil {
		return 0, err
	}
	if err := f.SyncForRead(offset, dst.NumBytes()); err != nil {
		return 0, err
	}
	return dst.CopyOutFrom(ctx, usermem.BlockReaderFunc(func(blocks usermem.BlockSeq) (uint64, error) {
		n, err := f.readv(blocks, offset)
		return uint64(n), err
	}))
}

// waitReady waits until a file that may block is ready for event, or
// returns EINTR if ctx is done first. The memory manager holds its lock
// while a read or write moves data in or out of application memory, so
// the wait must happen before, not inside, the transfer: other threads of
// the application keep faulting meanwhile. A descriptor in non-blocking
// mode does not wait: the host answers EAGAIN itself.
func (f *HostFile) waitReady(ctx context.Context, event int16) error {
	if !f.mayBlock {
		return nil
	}
	if hostEvents(f.fd)&(event|AlwaysReported) != 0 {
		// Ready already: no need for Readiness's waiting goroutine.
		return nil
	}
	for {
		events, changed := f.Readiness()
		if events&(event|AlwaysReported) != 0 {
			return nil
		}
		if flags, err := f.StatusFlags(); err != nil || flags&unix.O_NONBLOCK != 0 {
			return nil
		}
		if err := WaitForChange(ctx, []<-chan struct{}{changed}, nil); err != nil {
			return err
		}
	}
}

// readv reads into blocks with one host readv or preadv, retrying when
// interrupted.
func (f *HostFile) readv(blocks usermem.BlockSeq, offset int64) (int, error) {
	blocks = nonEmpty(blocks)
	if len(blocks) == 0 {
		return 0, nil
	}
	for {
		var n int
		var err error
		if offset < 0 {
			n, err = unix.Readv(f.fd, blocks)
		} else {
			n, err = unix.Preadv(f.fd, blocks, offset)
		}
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// Write implements File.Write.
func (f *HostFile) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	if err := f.waitReady(ctx, unix.POLLOUT); err != nil {
		return 0, err
	}
	return src.CopyInTo(ctx, usermem.BlockWriterFunc(func(blocks usermem.BlockSeq) (uint64, error) {
		if !f.regular {
			n, err := f.writev(blocks, offset)
			return uint64(n), err
		}
		n, err := mm.WriteFile(f.id, blocks, func() (int, error) {
			return f.writev(blocks, offset)
		}, func(n int) int64 {
			return f.writtenAt(offset, n)
		})
		return uint64(n), err
	}))
}

// SyncForRead writes back what shared mappings of the file wrote to
// [offset, offset+length) (offset -1: from the file's position), so that a
// read of the host descriptor sees it. Only a file with a page cache has
// anything to do.
func (f *HostFile) SyncForRead(offset, length int64) error {
	if !f.regular || !mm.FileCached(f.id) {
		return nil
	}
	if offset < 0 {
		pos, err := unix.Seek(f.fd, 0, unix.SEEK_CUR)
		if err != nil {
			// The read will fail the same way.
			return nil
		}
		offset = pos
	}
	return mm.SyncFile(f.id, offset, offset+length)
}

// writtenAt returns the file offset a write of n bytes at offset (-1: at
// the file's position) has just gone to, for the page cache. With O_APPEND,
// Linux appends even a pwrite(2), so the bytes end where the file now ends.
func (f *HostFile) writtenAt(offset int64, n int) int64 {
	if flags, err := f.StatusFlags(); err == nil && flags&unix.O_APPEND != 0 {
		st, err := f.Stat()
		if err != nil {
			return -1
		}
		return st.Size - int64(n)
	}
	if offset >= 0 {
		return offset
	}
	pos, err := unix.Seek(f.fd, 0, unix.SEEK_CUR)
	if err != nil {
		return -1
	}
	return pos - int64(n)
}

// ChangeData runs op, which changes the bytes of [from, to) of the file
// (or, if moves, moves everything from `from` on) or its size by some
// other way than Write, so that the page cache, if the file has one,
// follows (mm.ChangeFile).
func (f *HostFile) ChangeData(from, to int64, moves bool, op func() error) error {
	if !f.regular {
		return op()
	}
	return mm.ChangeFile(f.id, from, to, moves, op)
}

// writev writes blocks with one host writev or pwritev, retrying when
// interrupted.
func (f *HostFile) writev(blocks usermem.BlockSeq, offset int64) (int, error) {
	blocks = nonEmpty(blocks)
	if len(blocks) == 0 {
		return 0, nil
	}
	for {
		var n int
		var err error
		if offset < 0 {
			n, err = unix.Writev(f.fd, blocks)
		} else {
			n, err = unix.Pwritev(f.fd, blocks, offset)
		}
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// nonEmpty drops empty windows, which the host's iovec handling would
// otherwise have to skip, and caps the count at the host's IOV_MAX.
func nonEmpty(blocks usermem.BlockSeq) usermem.BlockSeq {
	out := blocks[:0:0]
	for _, b := range blocks {
		if len(b) > 0 {
			out = append(out, b)
		}
		if len(out) == 1024 {
			break
		}
	}
	return out
}

// Stat implements File.Stat.
func (f *HostFile) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(f.fd, &st)
	return st, err
}

// linuxTermios is struct termios as the kernel's TCGETS writes it on
// x86-64: 36 bytes. Go's unix.Termios is longer (it ends with the input
// and output speeds of struct termios2), and copying it out would write
// past the application's buffer.
type linuxTermios struct {
	Iflag, Oflag, Cflag, Lflag uint32
	Line                       uint8
	Cc                         [19]uint8
}

// Ioctl implements File.Ioctl. Only the terminal queries that libcs make
// on their standard streams are passed on: TCGETS (isatty) and TIOCGWINSZ.
func (f *HostFile) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	opts := usermem.IOOpts{AddressSpaceActive: true}
	switch cmd {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		termios := linuxTermios{Iflag: t.Iflag, Oflag: t.Oflag, Cflag: t.Cflag, Lflag: t.Lflag, Line: t.Line, Cc: t.Cc}
		_, err = usermem.CopyObjectOut(ctx, uio, arg, termios, opts)
		return 0, err
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(f.fd, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		_, err = usermem.CopyObjectOut(ctx, uio, arg, ws, opts)
		return 0, err
	default:
		return 0, unix.ENOTTY
	}
}

// StatusFlags implements File.StatusFlags.
func (f *HostFile) StatusFlags() (uint32, error) {
	flags, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0)
	return uint32(flags), err
}

// SetStatusFlags implements File.SetStatusFlags. The host file description
// is shared with whoever else holds it (for the standard streams, the
// shell that started minisentry), exactly as when the program runs natively.
func (f *HostFile) SetStatusFlags(flags uint32) error {
	_, err := unix.FcntlInt(uintptr(f.fd), unix.F_SETFL, int(flags&SettableStatusFlags))
	return err
}

// SettableStatusFlags are the flags fcntl(F_SETFL) changes; it ignores
// the others.
const SettableStatusFlags = unix.O_APPEND | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME | unix.O_NONBLOCK

// Name implements File.Name.
func (f *HostFile) Name() string {
	return f.name
}

// Close implements File.Close: it drops the caller's reference.
func (f *HostFile) Close() error {
	f.DecRef()
	return nil
}

// IncRef adds a reference (mm.RefCountedMappable.IncRef).
func (f *HostFile) IncRef() {
	f.refs.Add(1)
}

// DecRef drops a reference (mm.RefCountedMappable.DecRef) and closes the
// host descriptor with the last one.
func (f *HostFile) DecRef() {
	switch n := f.refs.Add(-1); {
	case n == 0:
		f.poller.release()
		unix.Close(f.fd)
	case n < 0:
		panic(fmt.Sprintf("HostFile %s: reference count %d", f.name, n))
	}
}

// ReadAt reads from the file at off, for mappings and the loader. It
// returns io.EOF at the end of the file, as io.ReaderAt requires.
func (f *HostFile) ReadAt(dst []byte, off int64) (int, error) {
	done := 0
	for done < len(dst) {
		n, err := unix.Pread(f.fd, dst[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// WriteAt writes src to the file at off (mm.SharedMappable.WriteAt): the
// write-back of a shared mapping's pages, which must not go through the
// page cache as Write does. A descriptor opened with O_APPEND would append
// a pwrite(2); RWF_NOAPPEND keeps it at off.
func (f *HostFile) WriteAt(src []byte, off int64) (int, error) {
	flags := 0
	if fl, err := f.StatusFlags(); err == nil && fl&unix.O_APPEND != 0 {
		flags = unix.RWF_NOAPPEND
	}
	done := 0
	for done < len(src) {
		n, err := unix.Pwritev2(f.fd, [][]byte{src[done:]}, off+int64(done), flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.ErrShortWrite
		}
		done += n
	}
	return done, nil
}

// Size returns the file's size.
func (f *HostFile) Size() (int64, error) {
	st, err := f.Stat()
	return st.Size, err
}

// MappedName implements mm.Mappable.MappedName.
func (f *HostFile) MappedName() string {
	return f.name
}

// DeviceID implements mm.Mappable.DeviceID. It is the identity noted when
// the file was opened, which a file keeps, and which finds its page cache
// for mappings and descriptors alike.
func (f *HostFile) DeviceID() uint64 {
	return f.id.Dev
}

// InodeID implements mm.Mappable.InodeID.
func (f *HostFile) InodeID() uint64 {
	return f.id.Ino
}
