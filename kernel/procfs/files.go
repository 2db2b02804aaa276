package procfs

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/usermem"
)

// oLargeFile is the kernel's O_LARGEFILE, which Linux sets on every file
// opened on x86-64 and fcntl(F_GETFL) shows. golang.org/x/sys/unix has
// glibc's value, 0, for it.
const oLargeFile = 0x8000

// keptFlags are the open(2) flags a file remembers: the access mode,
// O_PATH, and those fcntl(F_GETFL) reports.
const keptFlags = unix.O_ACCMODE | unix.O_PATH | unix.O_SYNC | unix.O_DSYNC | fs.SettableStatusFlags

// openFlags is an open file's status flags and access mode.
type openFlags struct {
	// v holds the flags. Atomic.
	v atomic.Uint32
}

// init keeps what a file remembers of flags, the open(2) flags.
func (o *openFlags) init(flags uint32) {
	o.v.Store(flags&keptFlags | oLargeFile)
}

// readable reports whether the file was opened for reading.
func (o *openFlags) readable() bool {
	flags := o.v.Load()
	return flags&unix.O_PATH == 0 && flags&unix.O_ACCMODE != unix.O_WRONLY
}

// writable reports whether the file was opened for writing.
func (o *openFlags) writable() bool {
	flags := o.v.Load()
	return flags&unix.O_PATH == 0 && flags&unix.O_ACCMODE != unix.O_RDONLY
}

// StatusFlags implements fs.File.StatusFlags.
func (o *openFlags) StatusFlags() (uint32, error) {
	return o.v.Load(), nil
}

// SetStatusFlags implements fs.File.SetStatusFlags: it changes the flags
// fcntl(F_SETFL) may change, and nothing else.
func (o *openFlags) SetStatusFlags(flags uint32) error {
	for {
		old := o.v.Load()
		nv := old&^fs.SettableStatusFlags | flags&fs.SettableStatusFlags
		if o.v.CompareAndSwap(old, nv) {
			return nil
		}
	}
}

// seekTo returns the offset lseek(2) with offset and whence moves a file
// at cur to, in mode. Directories seek as seq_files do.
func seekTo(mode seekMode, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		offset += cur
	case unix.SEEK_END:
		// The size is 0.
		if mode == seekSeq {
			return 0, unix.EINVAL
		}
	default:
		return 0, unix.EINVAL
	}
	if offset < 0 || mode == seekSized && offset > maxNonLFS {
		return 0, unix.EINVAL
	}
	return offset, nil
}

// seqFile is an open regular file of /proc: a snapshot of its contents,
// generated when it was opened, as Linux's seq_file generates them when
// first read.
type seqFile struct {
	openFlags

	// n is the node the file was opened at. Immutable.
	n *node

	// st is the file's stat, taken when it was opened. Immutable.
	st unix.Stat_t

	// data are the file's contents. Immutable.
	data []byte

	// mu protects off, and serializes reads and writes at it.
	mu sync.Mutex

	// off is the file's offset.
	off int64
}

var _ fs.File = (*seqFile)(nil)

// newSeqFile returns n opened with flags, holding data.
func newSeqFile(n *node, st unix.Stat_t, flags uint32, data []byte) *seqFile {
	f := &seqFile{n: n, st: st, data: data}
	f.init(flags)
	return f
}

// Read implements fs.File.Read.
func (f *seqFile) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if !f.readable() {
		return 0, unix.EBADF
	}
	if offset >= 0 {
		return f.readAt(ctx, dst, offset)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.readAt(ctx, dst, f.off)
	f.off += n
	return n, err
}

// readAt copies the contents from offset on to dst.
func (f *seqFile) readAt(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if offset >= int64(len(f.data)) {
		return 0, nil
	}
	n, err := dst.CopyOut(ctx, f.data[offset:])
	return int64(n), err
}

// Write implements fs.File.Write.
func (f *seqFile) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	if !f.writable() {
		return 0, unix.EBADF
	}
	if f.n.write == nil {
		return 0, f.n.writeErr
	}
	return f.n.write(ctx, src)
}

// Seek implements fs.File.Seek.
func (f *seqFile) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	off, err := seekTo(f.n.seek, f.off, offset, whence)
	if err != nil {
		return 0, err
	}
	f.off = off
	return off, nil
}

// Stat implements fs.File.Stat.
func (f *seqFile) Stat() (unix.Stat_t, error) {
	return f.st, nil
}

// Ioctl implements fs.File.Ioctl: /proc's files answer none.
func (f *seqFile) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Name implements fs.File.Name.
func (f *seqFile) Name() string {
	return f.n.path
}

// Close implements fs.File.Close.
func (f *seqFile) Close() error {
	return nil
}

// dirFile is an open directory of /proc or /dev.
type dirFile struct {
	openFlags

	// n is the directory. Immutable.
	n *node

	// st is the directory's stat, taken when it was opened. Immutable.
	st unix.Stat_t

	// mu protects the fields below.
	mu sync.Mutex

	// off is the directory offset: the index in entries of the next
	// entry to list.
	off int64

	// entries is the listing, "." and ".." first, made when the directory
	// was opened and again by each ReadDir from offset 0, as rewinddir(3)
	// expects.
	entries []fs.Dirent
}

var _ fs.Directory = (*dirFile)(nil)

// newDirFile returns n opened with flags.
func newDirFile(f *FS, n *node, flags uint32) *dirFile {
	d := &dirFile{n: n, st: f.stat(n)}
	d.init(flags)
	d.entries = d.list()
	return d
}

// list returns the directory's entries.
func (d *dirFile) list() []fs.Dirent {
	parent := pathIno(parentPath(d.n.path))
	ents := []fs.Dirent{
		{Ino: d.n.ino(), Next: 1, Type: unix.DT_DIR, Name: "."},
		{Ino: parent, Next: 2, Type: unix.DT_DIR, Name: ".."},
	}
	for _, c := range d.n.list() {
		ents = append(ents, fs.Dirent{Ino: c.ino(), Next: int64(len(ents) + 1), Type: c.typ, Name: c.name()})
	}
	return ents
}

// ReadDir implements fs.Directory.ReadDir.
func (d *dirFile) ReadDir(ctx context.Context, offset int64) ([]fs.Dirent, error) {
	if d.v.Load()&unix.O_PATH != 0 {
		return nil, unix.EBADF
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if offset == 0 {
		d.entries = d.list()
	}
	if offset < 0 || offset >= int64(len(d.entries)) {
		return nil, nil
	}
	return append([]fs.Dirent(nil), d.entries[offset:]...), nil
}

// Read implements fs.File.Read: a directory is not read, but listed.
func (d *dirFile) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if d.v.Load()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	return 0, unix.EISDIR
}

// Write implements fs.File.Write: directories are open for reading only.
func (d *dirFile) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	return 0, unix.EBADF
}

// Seek implements fs.File.Seek. Offsets are entry indexes.
func (d *dirFile) Seek(offset int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	off, err := seekTo(seekSeq, d.off, offset, whence)
	if err != nil {
		return 0, err
	}
	d.off = off
	return off, nil
}

// Stat implements fs.File.Stat.
func (d *dirFile) Stat() (unix.Stat_t, error) {
	return d.st, nil
}

// Ioctl implements fs.File.Ioctl.
func (d *dirFile) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Name implements fs.File.Name.
func (d *dirFile) Name() string {
	return d.n.path
}

// Close implements fs.File.Close.
func (d *dirFile) Close() error {
	return nil
}

// parentPath returns the directory p lies in.
func parentPath(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "/"
}
