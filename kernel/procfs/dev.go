package procfs

import (
	"context"
	"crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// /dev holds the devices every program may open, with Linux's numbers,
// and the links to the standard streams. The devices live in the sentry,
// except /dev/tty, which is the host's.

// devKind is what a memory device (Linux's drivers/char/mem.c) does.
type devKind int

const (
	// devNull reads end of file and swallows writes.
	devNull devKind = iota
	// devZero reads zeros and swallows writes.
	devZero
	// devFull reads zeros and fails writes with ENOSPC.
	devFull
	// devRandom reads random bytes and takes writes (which feed the
	// entropy pool on Linux, and go nowhere here).
	devRandom
)

// devRoot returns /dev.
func (f *FS) devRoot() *node {
	return dirNode("/dev", 0o755, staticNodes(
		devLink("fd", "/proc/self/fd"),
		f.memDevice("full", 7, devFull),
		f.memDevice("null", 3, devNull),
		f.memDevice("random", 8, devRandom),
		devLink("stderr", "/proc/self/fd/2"),
		devLink("stdin", "/proc/self/fd/0"),
		devLink("stdout", "/proc/self/fd/1"),
		f.ttyDevice(),
		f.memDevice("urandom", 9, devRandom),
		f.memDevice("zero", 5, devZero),
	))
}

// devLink returns the link /dev/name, whose size, as on devtmpfs, is its
// target's length.
func devLink(name, target string) *node {
	n := linkNode("/dev/"+name, target)
	n.size = func() int64 { return int64(len(target)) }
	return n
}

// memDevice returns /dev/name, memory device 1:minor.
func (f *FS) memDevice(name string, minor uint32, kind devKind) *node {
	n := &node{path: "/dev/" + name, typ: unix.DT_CHR, perm: 0o666, rdev: unix.Mkdev(1, minor)}
	n.open = func(t *kernel.Task, flags uint32) (fs.File, error) {
		d := &devFile{n: n, st: f.stat(n), kind: kind}
		d.init(flags)
		return d, nil
	}
	return n
}

// ttyDevice returns /dev/tty, device 5:0: the host's own terminal, opened
// by the sentry. Without one, opening fails with ENXIO, as on Linux for a
// process with no controlling terminal.
func (f *FS) ttyDevice() *node {
	n := &node{path: "/dev/tty", typ: unix.DT_CHR, perm: 0o666, rdev: unix.Mkdev(5, 0)}
	n.open = func(t *kernel.Task, flags uint32) (fs.File, error) {
		const ignored = unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC | unix.O_DIRECTORY | unix.O_NOFOLLOW
		return fs.OpenHostDevice(f.hostTTY, flags&^ignored, "/dev/tty")
	}
	return n
}

// devFile is an open memory device.
type devFile struct {
	openFlags

	// n is the device. Immutable.
	n *node

	// st is the device's stat. Immutable.
	st unix.Stat_t

	// kind is what the device does. Immutable.
	kind devKind
}

var _ fs.File = (*devFile)(nil)

// Read implements fs.File.Read. The device has no contents to seek in:
// offset does not matter.
func (d *devFile) Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error) {
	if !d.readable() {
		return 0, unix.EBADF
	}
	switch d.kind {
	case devNull:
		return 0, nil
	case devRandom:
		return dst.CopyOutFrom(ctx, randomReader{})
	default:
		return dst.ZeroOut(ctx, dst.NumBytes())
	}
}

// Write implements fs.File.Write. Like Linux's, /dev/null and /dev/zero
// take a write without reading it: a bad buffer does not fail it.
func (d *devFile) Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error) {
	if !d.writable() {
		return 0, unix.EBADF
	}
	switch d.kind {
	case devFull:
		return 0, unix.ENOSPC
	case devRandom:
		return src.CopyInTo(ctx, usermem.BlockWriterFunc(func(srcs usermem.BlockSeq) (uint64, error) {
			return srcs.NumBytes(), nil
		}))
	default:
		return src.NumBytes(), nil
	}
}

// Seek implements fs.File.Seek: the memory devices stay at offset 0,
// wherever they are asked to go.
func (d *devFile) Seek(offset int64, whence int) (int64, error) {
	return 0, nil
}

// Stat implements fs.File.Stat.
func (d *devFile) Stat() (unix.Stat_t, error) {
	return d.st, nil
}

// Ioctl implements fs.File.Ioctl.
func (d *devFile) Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Name implements fs.File.Name.
func (d *devFile) Name() string {
	return d.n.path
}

// Close implements fs.File.Close.
func (d *devFile) Close() error {
	return nil
}

// randomReader fills memory with random bytes from the Go runtime's
// cryptographic generator, straight into the windows onto application
// memory.
type randomReader struct{}

// ReadToBlocks implements usermem.BlockReader.ReadToBlocks.
func (randomReader) ReadToBlocks(dsts usermem.BlockSeq) (uint64, error) {
	for _, d := range dsts {
		// crypto/rand.Read never fails: it panics if the host's
		// generator does.
		rand.Read(d)
	}
	return dsts.NumBytes(), nil
}
