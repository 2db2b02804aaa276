// Package fs holds the files an application's descriptors refer to. It sits
// below the kernel: a file never sees the task or its memory manager, only
// the usermem.IOSequence that a read or write moves data through (the
// seed's third usage pattern), so the same code serves read(2), readv(2),
// pread64(2) and a kernel-internal buffer alike.
//
// The files:
//
//   - HostFile, a descriptor of the host's that the sentry owns: the
//     standard streams, and every file of the application's tree.
//   - Root (root.go), the application's view of the host's file system:
//     a host directory it sees as "/", below which every path is looked
//     up with openat2(2) and RESOLVE_IN_ROOT, so that nothing outside it
//     can be reached; optionally read-only. Its methods are the path
//     system calls; opening gives HostFiles, which are also Directories.
//   - PipeFile (pipe.go), pipes that live entirely in the sentry.
//
// /proc and /dev are not here but above, in the kernel (kernel.SyntheticFS),
// because their contents are the kernel's state.
package fs

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// File is an open file description: what a file descriptor refers to. Its
// methods may block.
type File interface {
	// Read reads into dst. offset is the file position to read at, or -1
	// to read at (and advance) the file's own offset.
	Read(ctx context.Context, dst usermem.IOSequence, offset int64) (int64, error)

	// Write writes src. offset is as for Read.
	Write(ctx context.Context, src usermem.IOSequence, offset int64) (int64, error)

	// Seek moves the file offset, as lseek(2): whence is SEEK_SET,
	// SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE. Files without an offset
	// (pipes) return ESPIPE. For a Directory, the offset is where the
	// next ReadDir starts: 0 or a Dirent.Next value.
	Seek(offset int64, whence int) (int64, error)

	// Stat describes the file as fstat(2) does.
	Stat() (unix.Stat_t, error)

	// Ioctl performs an ioctl(2) whose argument, if it is a pointer, refers
	// to memory reached through uio.
	Ioctl(ctx context.Context, uio usermem.IO, cmd uint32, arg usermem.Addr) (uintptr, error)

	// StatusFlags returns the file's status flags and access mode, as
	// fcntl(F_GETFL).
	StatusFlags() (uint32, error)

	// SetStatusFlags changes the flags fcntl(F_SETFL) may change:
	// O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and O_NONBLOCK.
	SetStatusFlags(flags uint32) error

	// Name is the file's path, or a description such as "pipe:[3]", for
	// /proc/self/fd and --strace.
	Name() string

	// Close releases the file. The kernel calls it when the last
	// descriptor referring to the file is closed.
	Close() error
}
