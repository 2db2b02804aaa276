package fs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// HostFile is a file backed by a descriptor of the host's, which the sentry
// owns. Data moves between the host descriptor and application memory with
// readv(2) and writev(2) straight on the windows of the memory file: no
// intermediate buffer.
//
// A HostFile is reference counted: descriptors and memory mappings of it
// each hold a reference, and the host descriptor is closed with the last.
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

	// refs counts the references.
	refs atomic.Int64

	// poller waits for the host to report a file that may block ready,
	// for Readiness (host_poll.go).
	poller hostPoller
}

// NewHostFile wraps fd, which the HostFile then owns, with one reference.
func NewHostFile(fd int, name string) *HostFile {
	f := &HostFile{fd: fd, name: name}
	f.poller.cancel = -1
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
			f.mayBlock = true
		}
	}
	f.refs.Store(1)
	return f
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
		n, err := f.writev(blocks, offset)
		return uint64(n), err
	}))
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

// Ioctl implements File.Ioctl. Only the terminal queries that libcs make
// on their standard streams are passed on: TCGETS (isatty) and TIOCGWINSZ.
func (f *HostFile) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	opts := usermem.IOOpts{AddressSpaceActive: true}
	switch cmd {
	case unix.TCGETS:
		termios, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
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

// Size returns the file's size.
func (f *HostFile) Size() (int64, error) {
	st, err := f.Stat()
	return st.Size, err
}

// MappedName implements mm.Mappable.MappedName.
func (f *HostFile) MappedName() string {
	return f.name
}

// DeviceID implements mm.Mappable.DeviceID.
func (f *HostFile) DeviceID() uint64 {
	st, _ := f.Stat()
	return st.Dev
}

// InodeID implements mm.Mappable.InodeID.
func (f *HostFile) InodeID() uint64 {
	st, _ := f.Stat()
	return st.Ino
}
