package fs

import (
	"context"
	"math"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// What a HostFile does besides moving data: seeking, listing a directory,
// and the descriptor-based system calls on its metadata (fchmod, fchown,
// futimens, ftruncate, fallocate, fsync, fstatfs, statx). Each is the
// host's system call on the descriptor; a file of a read-only tree
// refuses changes with EROFS, as a file of a read-only mount does.

// direntHeaderSize is the size of struct linux_dirent64 before d_name.
const direntHeaderSize = 19

// dirBufSize is the size of the buffer one ReadDir reads host entries
// into: some hundreds of entries.
const dirBufSize = 16 << 10

// Root returns the root the file was opened through, or nil for a file
// from outside the tree (a standard stream).
func (f *HostFile) Root() *Root {
	return f.root
}

// Seek implements File.Seek with the host's lseek(2).
func (f *HostFile) Seek(offset int64, whence int) (int64, error) {
	return unix.Seek(f.fd, offset, whence)
}

// ReadDir implements Directory.ReadDir with the host's getdents64(2). The
// offsets are the host file system's own d_off cookies, which lseek(2)
// accepts on the directory, so a listing resumes where it stopped even if
// entries come and go meanwhile. A file that is not a directory gives
// ENOTDIR.
//
// ReadDir leaves the host's directory position after the entries it
// returns; the caller sets it with Seek to where its reader stopped.
func (f *HostFile) ReadDir(ctx context.Context, offset int64) ([]Dirent, error) {
	f.dirMu.Lock()
	defer f.dirMu.Unlock()
	if _, err := unix.Seek(f.fd, offset, unix.SEEK_SET); err != nil {
		if err == unix.ESPIPE {
			err = unix.ENOTDIR
		}
		return nil, err
	}
	buf := make([]byte, dirBufSize)
	var n int
	for {
		var err error
		n, err = unix.Getdents(f.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	return parseDirents(buf[:n]), nil
}

// parseDirents decodes host struct linux_dirent64 records: d_ino (8
// bytes), d_off (8), d_reclen (2), d_type (1), then the NUL-terminated
// name, padded.
func parseDirents(buf []byte) []Dirent {
	var ents []Dirent
	for len(buf) >= direntHeaderSize {
		reclen := int(usermem.ByteOrder.Uint16(buf[16:]))
		if reclen < direntHeaderSize || reclen > len(buf) {
			break
		}
		name := buf[direntHeaderSize:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		ents = append(ents, Dirent{
			Ino:  usermem.ByteOrder.Uint64(buf[0:]),
			Next: int64(usermem.ByteOrder.Uint64(buf[8:])),
			Type: buf[18],
			Name: string(name),
		})
		buf = buf[reclen:]
	}
	return ents
}

// readOnly reports whether the file belongs to a read-only tree.
func (f *HostFile) readOnly() bool {
	return f.root != nil && f.root.readOnly
}

// refuseChange answers a metadata change of a host device of the
// sentry's (EPERM), or of a file of a read-only tree: EBADF for an O_PATH
// descriptor (which no such call takes), EROFS otherwise. It returns nil
// for files that may change.
func (f *HostFile) refuseChange() error {
	if f.fixedAttrs {
		return unix.EPERM
	}
	if !f.readOnly() {
		return nil
	}
	if flags, err := f.StatusFlags(); err == nil && flags&unix.O_PATH != 0 {
		return unix.EBADF
	}
	return unix.EROFS
}

// Chmod changes the file's permission bits, as fchmod(2).
func (f *HostFile) Chmod(mode uint32) error {
	if err := f.refuseChange(); err != nil {
		return err
	}
	return unix.Fchmod(f.fd, mode)
}

// Chown changes the file's owner and group, as fchown(2).
func (f *HostFile) Chown(uid, gid int) error {
	if err := f.refuseChange(); err != nil {
		return err
	}
	return unix.Fchown(f.fd, uid, gid)
}

// Utimens sets the file's times, as futimens(3): utimensat(2) on the
// descriptor, which an O_PATH descriptor cannot be.
func (f *HostFile) Utimens(ts [2]unix.Timespec) error {
	if err := f.refuseChange(); err != nil {
		return err
	}
	if flags, err := f.StatusFlags(); err == nil && flags&unix.O_PATH != 0 {
		return unix.EBADF
	}
	return unix.UtimesNanoAt(f.fd, "", ts[:], unix.AT_EMPTY_PATH)
}

// Truncate sets the file's size, as ftruncate(2). A file of a read-only
// tree is never open for writing, so the host refuses it already. Shared
// mappings of the file lose the pages past its new end.
func (f *HostFile) Truncate(size int64) error {
	return f.ChangeData(size, size, false, func() error {
		return unix.Ftruncate(f.fd, size)
	})
}

// Allocate is fallocate(2) on the file. Shared mappings of the file see
// what it punches, zeroes, collapses or inserts.
func (f *HostFile) Allocate(mode uint32, offset, length int64) error {
	moves := mode&(unix.FALLOC_FL_COLLAPSE_RANGE|unix.FALLOC_FL_INSERT_RANGE) != 0
	end := offset
	if length > 0 && offset <= math.MaxInt64-length {
		end = offset + length
	}
	return f.ChangeData(offset, end, moves, func() error {
		return unix.Fallocate(f.fd, mode, offset, length)
	})
}

// Sync flushes the file to its device, as fsync(2), or as fdatasync(2)
// if dataOnly.
func (f *HostFile) Sync(dataOnly bool) error {
	if dataOnly {
		return unix.Fdatasync(f.fd)
	}
	return unix.Fsync(f.fd)
}

// Statfs describes the file's file system, as fstatfs(2).
func (f *HostFile) Statfs() (unix.Statfs_t, error) {
	var sfs unix.Statfs_t
	err := f.root.statfsFD(f.fd, &sfs)
	return sfs, err
}

// Statx describes the file as statx(2) with AT_EMPTY_PATH; flags may
// hold AT_STATX_* sync flags.
func (f *HostFile) Statx(flags, mask int) (unix.Statx_t, error) {
	var stx unix.Statx_t
	err := statxFD(f.fd, flags, mask, &stx)
	return stx, err
}

// Access checks the caller's permission to the file as faccessat2(2)
// with AT_EMPTY_PATH.
func (f *HostFile) Access(mode uint32, effective bool) error {
	return f.root.accessFD(f.fd, mode, effective)
}

// Readlink returns the target of the symbolic link the file is (an
// O_PATH|O_NOFOLLOW descriptor of one), as readlinkat(2) with an empty
// path: ENOENT for any other file.
func (f *HostFile) Readlink() (string, error) {
	return readlinkAt(f.fd, "")
}
