package fs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Pipes live entirely in the sentry: pipe(2) creates a ring buffer and two
// PipeFiles, its read end and its write end. Data moves between the ring
// and application memory with one copy, straight onto the windows that
// IOSequence.CopyOutFrom and CopyInTo hand out.
//
// Those windows are only handed out while the memory manager holds its
// lock, which stops the application's faults: a reader that waited for a
// writer inside ReadToBlocks would hold it while the writer, perhaps a
// thread of the same process, needs it to fault its buffer in. So a read or
// write first waits, without the memory manager's lock, until the pipe is
// ready, and then moves the data under the pipe's own lock, without ever
// waiting. Lock order: pipe.mu, then the memory manager's locks.
//
// Like Linux's, the pipe serves any number of readers and writers;
// atomicity of small writes is all it promises them.

const (
	// PipeBuf is PIPE_BUF: a write of at most this many bytes is atomic,
	// its bytes contiguous in the pipe, never split nor interleaved with
	// another write's.
	PipeBuf = 4096

	// PipeCapacity is the size of a pipe's buffer, Linux's default: 16
	// pages.
	PipeCapacity = 64 << 10

	// pipeBlockSize is what fstat(2) reports as st_blksize: a page, as on
	// Linux.
	pipeBlockSize = 4096
)

// pipeDevice is the st_dev of every pipe: an anonymous device number of
// minisentry's choosing, standing for Linux's pipefs. Programs only compare
// it with another file's.
var pipeDevice = unix.Mkdev(0, 12)

// lastPipeIno numbers pipes for st_ino and their names, "pipe:[INO]".
var lastPipeIno atomic.Uint64

// fionread is FIONREAD, the same request as TIOCINQ on x86-64.
const fionread = unix.TIOCINQ

// pipe is the object both ends share: the ring buffer and who is still
// attached to it.
type pipe struct {
	// ino is the pipe's inode number. Immutable.
	ino uint64

	// uid and gid own the pipe in fstat(2). Immutable.
	uid, gid uint32

	// mu protects the fields below. A data transfer holds it throughout,
	// memory manager locks included.
	mu sync.Mutex

	// buf is the ring, allocated by the first write. len(buf) is 0 or
	// PipeCapacity.
	buf []byte

	// head is the index in buf of the first unread byte.
	head int

	// size is the number of unread bytes, starting at head and wrapping
	// around the end of buf.
	size int

	// readers and writers count the open read ends and write ends.
	readers, writers int

	// readWait, if not nil, is closed, and then reset to nil, when the
	// pipe may have become readable to a waiting reader: data arrived or
	// the last writer left. A reader that must wait creates it.
	readWait chan struct{}

	// writeWait is readWait's counterpart for writers: closed when space
	// was freed or the last reader left.
	writeWait chan struct{}

	// atime, mtime and ctime are the pipe's times for fstat(2): reads
	// set the first, writes the other two.
	atime, mtime, ctime time.Time
}

// PipeFile is one end of a pipe: an open file description that is either
// read-only or write-only.
type PipeFile struct {
	// p is the pipe. Immutable.
	p *pipe

	// write is set for the write end and clear for the read end.
	// Immutable.
	write bool

	// flags holds the status flags fcntl(F_SETFL) may change (see
	// SettableStatusFlags); O_NONBLOCK is what reads and writes heed.
	flags atomic.Uint32

	// closed is set by Close.
	closed atomic.Bool
}

var _ File = (*PipeFile)(nil)

// NewPipe creates a pipe, empty, owned by uid and gid (the creator's
// effective ids), and returns its read end and its write end, each an open
// file description of its own with no status flags set.
func NewPipe(uid, gid uint32) (r, w *PipeFile) {
	now := time.Now()
	p := &pipe{
		ino:     lastPipeIno.Add(1),
		uid:     uid,
		gid:     gid,
		readers: 1,
		writers: 1,
		atime:   now,
		mtime:   now,
		ctime:   now,
	}
	return &PipeFile{p: p}, &PipeFile{p: p, write: true}
}

// notify wakes every waiter on *ch.
//
// Preconditions: the pipe's mu is locked.
func notify(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
		*ch = nil
	}
}

// waitLocked waits until *ch is closed, or returns EINTR if ctx is done
// first. It unlocks mu while it waits: the caller must check the pipe again.
//
// Preconditions: p.mu is locked; ch is &p.readWait or &p.writeWait.
func (p *pipe) waitLocked(ctx context.Context, ch *chan struct{}) error {
	if *ch == nil {
		*ch = make(chan struct{})
	}
	c := *ch
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		// When both happened, the pipe being ready wins, as Linux checks
		// its condition before pending signals.
		select {
		case <-c:
			return nil
		default:
			return unix.EINTR
		}
	}
}

// windowsLocked returns windows onto the n bytes of the ring that start at
// index off, modulo its size: one window, or two if they wrap around.
//
// Preconditions: p.mu is locked; len(p.buf) > 0; 0 <= n <= len(p.buf).
func (p *pipe) windowsLocked(off, n int) usermem.BlockSeq {
	off %= len(p.buf)
	if off+n <= len(p.buf) {
		return usermem.BlockSeq{p.buf[off : off+n]}
	}
	return usermem.BlockSeq{p.buf[off:], p.buf[:n-(len(p.buf)-off)]}
}

// ringReader is the pipe as the BlockReader of a read: it copies unread
// bytes out of the ring without consuming them.
//
// Preconditions for ReadToBlocks: p.mu is locked.
type ringReader pipe

// ReadToBlocks implements usermem.BlockReader.ReadToBlocks.
func (r *ringReader) ReadToBlocks(dsts usermem.BlockSeq) (uint64, error) {
	p := (*pipe)(r)
	n := min(uint64(p.size), dsts.NumBytes())
	return usermem.CopySeq(dsts, p.windowsLocked(p.head, int(n))), nil
}

// ringWriter is the pipe as the BlockWriter of a write: it copies bytes into
// the ring's free space without committing them.
//
// Preconditions for WriteFromBlocks: p.mu is locked; p.buf is allocated.
type ringWriter pipe

// WriteFromBlocks implements usermem.BlockWriter.WriteFromBlocks.
func (w *ringWriter) WriteFromBlocks(srcs usermem.BlockSeq) (uint64, error) {
	p := (*pipe)(w)
	n := min(uint64(len(p.buf)-p.size), srcs.NumBytes())
	return usermem.CopySeq(p.windowsLocked(p.head+p.size, int(n)), srcs), nil
}

// nonBlocking reports whether O_NONBLOCK is set on the end.
func (f *PipeFile) nonBlocking() bool {
	return f.flags.Load()&unix.O_NONBLOCK != 0
}

// Read implements File.Read. It waits until the pipe holds data or has no
// writer left (end of file, 0), then returns what the pipe holds, up to
// dst's length.
func (f *PipeFile) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if offset != -1 {
		return 0, unix.ESPIPE
	}
	if f.write {
		return 0, unix.EBADF
	}
	if dst.NumBytes() == 0 {
		return 0, nil
	}
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.size == 0 {
		if p.writers == 0 {
			return 0, nil
		}
		if f.nonBlocking() {
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(ctx, &p.readWait); err != nil {
			return 0, err
		}
	}
	n, err := dst.TakeFirst64(int64(p.size)).CopyOutFrom(ctx, (*ringReader)(p))
	if n > 0 {
		p.head = (p.head + int(n)) % len(p.buf)
		p.size -= int(n)
		if f.flags.Load()&unix.O_NOATIME == 0 {
			p.atime = time.Now()
		}
		notify(&p.writeWait)
	}
	return n, err
}

// Write implements File.Write. A write of at most PipeBuf bytes waits until
// it fits, then goes in whole. A longer one goes in as space frees,
// PipeBuf bytes or its remainder at a time at least, and returns once all
// of it is in, or earlier with the count written if interrupted. Without
// a reader, it fails with EPIPE; the caller raises SIGPIPE.
func (f *PipeFile) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	if offset != -1 {
		return 0, unix.ESPIPE
	}
	if !f.write {
		return 0, unix.EBADF
	}
	total := src.NumBytes()
	if total == 0 {
		return 0, nil
	}
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var done int64
	for {
		if p.readers == 0 {
			return done, unix.EPIPE
		}
		remaining := total - done
		free := int64(PipeCapacity - p.size)
		// Waiting for PipeBuf bytes of space, rather than any, keeps a
		// short write atomic and spares a long one a wakeup per byte
		// that a slow reader frees; Linux waits for a free page.
		if free < min(remaining, PipeBuf) {
			if f.nonBlocking() {
				if done == 0 {
					return 0, unix.EAGAIN
				}
				return done, nil
			}
			if err := p.waitLocked(ctx, &p.writeWait); err != nil {
				return done, err
			}
			continue
		}
		if p.buf == nil {
			p.buf = make([]byte, PipeCapacity)
		}
		n, err := src.DropFirst64(done).TakeFirst64(min(remaining, free)).CopyInTo(ctx, (*ringWriter)(p))
		if err != nil && total <= PipeBuf {
			// An atomic write goes in whole or not at all: drop the
			// bytes copied before the fault.
			n = 0
		}
		if n > 0 {
			p.size += int(n)
			done += n
			p.mtime = time.Now()
			p.ctime = p.mtime
			notify(&p.readWait)
		}
		if err != nil || done == total {
			return done, err
		}
	}
}

// Stat implements File.Stat: a FIFO, readable and writable by its owner,
// as Linux's pipefs describes it.
func (f *PipeFile) Stat() (unix.Stat_t, error) {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return unix.Stat_t{
		Dev:     pipeDevice,
		Ino:     p.ino,
		Nlink:   1,
		Mode:    unix.S_IFIFO | 0600,
		Uid:     p.uid,
		Gid:     p.gid,
		Blksize: pipeBlockSize,
		Atim:    unix.NsecToTimespec(p.atime.UnixNano()),
		Mtim:    unix.NsecToTimespec(p.mtime.UnixNano()),
		Ctim:    unix.NsecToTimespec(p.ctime.UnixNano()),
	}, nil
}

// Seek implements File.Seek: a pipe has no offset.
func (f *PipeFile) Seek(offset int64, whence int) (int64, error) {
	return 0, unix.ESPIPE
}

// Ioctl implements File.Ioctl: FIONREAD, on either end, stores the number
// of unread bytes as an int at arg.
func (f *PipeFile) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	if cmd != fionread {
		return 0, unix.ENOTTY
	}
	p := f.p
	p.mu.Lock()
	n := int32(p.size)
	p.mu.Unlock()
	_, err := usermem.CopyObjectOut(ctx, uio, arg, n, usermem.IOOpts{AddressSpaceActive: true})
	return 0, err
}

// StatusFlags implements File.StatusFlags: the access mode, O_RDONLY or
// O_WRONLY, and the flags set.
func (f *PipeFile) StatusFlags() (uint32, error) {
	flags := f.flags.Load()
	if f.write {
		flags |= unix.O_WRONLY
	}
	return flags, nil
}

// SetStatusFlags implements File.SetStatusFlags. O_NONBLOCK is the one
// that matters; O_APPEND, O_ASYNC and O_NOATIME are kept and shown (no
// SIGIO is sent yet). O_DIRECT would turn on packet mode, which minisentry
// does not implement: it fails with EINVAL, as pipe2(O_DIRECT) does, rather
// than be ignored.
func (f *PipeFile) SetStatusFlags(flags uint32) error {
	if flags&unix.O_DIRECT != 0 {
		return unix.EINVAL
	}
	f.flags.Store(flags & SettableStatusFlags)
	return nil
}

// Name implements File.Name: "pipe:[INO]", as /proc/self/fd shows it.
func (f *PipeFile) Name() string {
	return fmt.Sprintf("pipe:[%d]", f.p.ino)
}

// Close implements File.Close: it detaches the end from the pipe. When
// the last read end goes, waiting writers wake to fail with EPIPE; when
// the last write end goes, waiting readers wake to read what is left and
// then end of file.
func (f *PipeFile) Close() error {
	if f.closed.Swap(true) {
		panic(fmt.Sprintf("%s closed twice", f.Name()))
	}
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.write {
		p.writers--
		if p.writers == 0 {
			notify(&p.readWait)
		}
	} else {
		p.readers--
		if p.readers == 0 {
			notify(&p.writeWait)
		}
	}
	return nil
}

// Readiness returns the poll(2) events the end is ready for, and a channel
// that is closed when they may have changed, for poll, select and epoll to
// wait on.
func (f *PipeFile) Readiness() (events int16, changed <-chan struct{}) {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := &p.readWait
	if f.write {
		ch = &p.writeWait
	}
	if *ch == nil {
		*ch = make(chan struct{})
	}
	return f.eventsLocked(), *ch
}

// Events returns the poll(2) events the end is ready for. The read end
// reports POLLIN when the pipe holds data and POLLHUP when no writer is
// left; the write end reports POLLOUT when PipeBuf bytes fit, so that a
// write of up to PipeBuf bytes goes in without waiting, and POLLERR when no
// reader is left.
func (f *PipeFile) Events() int16 {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	return f.eventsLocked()
}

// eventsLocked implements Events.
//
// Preconditions: f.p.mu is locked.
func (f *PipeFile) eventsLocked() int16 {
	p := f.p
	var events int16
	if f.write {
		if PipeCapacity-p.size >= PipeBuf {
			events |= unix.POLLOUT | PollWrNorm
		}
		if p.readers == 0 {
			events |= unix.POLLERR
		}
	} else {
		if p.size > 0 {
			events |= unix.POLLIN | PollRdNorm
		}
		if p.writers == 0 {
			events |= unix.POLLHUP
		}
	}
	return events
}
