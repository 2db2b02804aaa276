package fs

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
)

// The operations of a Root on paths, other than Open (root.go explains how
// each kind resolves its path). Errors are host errnos, which are Linux's.

// Stat describes p as stat(2) does, or as lstat(2) if follow is false.
func (r *Root) Stat(p string, follow bool) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := r.withLookup(p, follow, func(fd int) error {
		return unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH)
	})
	return st, err
}

// Statx describes p as statx(2) does. flags may hold AT_STATX_* sync
// flags; mask is statx's.
func (r *Root) Statx(p string, follow bool, flags, mask int) (unix.Statx_t, error) {
	var stx unix.Statx_t
	err := r.withLookup(p, follow, func(fd int) error {
		return statxFD(fd, flags, mask, &stx)
	})
	return stx, err
}

// AtStatxSyncType is statx(2)'s AT_STATX_SYNC_TYPE, the mask of its
// AT_STATX_* sync flags, which golang.org/x/sys/unix lacks.
const AtStatxSyncType = 0x6000

// statxFD is the host's statx(2) of a descriptor.
func statxFD(fd, flags, mask int, stx *unix.Statx_t) error {
	return unix.Statx(fd, "", unix.AT_EMPTY_PATH|flags&AtStatxSyncType, mask, stx)
}

// Statfs describes the file system holding p, as statfs(2).
func (r *Root) Statfs(p string) (unix.Statfs_t, error) {
	var sfs unix.Statfs_t
	err := r.withLookup(p, true, func(fd int) error {
		return r.statfsFD(fd, &sfs)
	})
	return sfs, err
}

// statfsFD is the host's fstatfs(2) of a descriptor below the root, which
// reports a read-only tree as a read-only mount.
func (r *Root) statfsFD(fd int, sfs *unix.Statfs_t) error {
	if err := unix.Fstatfs(fd, sfs); err != nil {
		return err
	}
	if r != nil && r.readOnly {
		sfs.Flags |= unix.ST_RDONLY
	}
	return nil
}

// Access checks the caller's permission to p as access(2) does; mode is
// F_OK or any of R_OK, W_OK and X_OK. effective checks with the effective
// ids (AT_EACCESS) rather than the real ones. The sentry's ids are the
// application's.
func (r *Root) Access(p string, mode uint32, follow, effective bool) error {
	return r.withLookup(p, follow, func(fd int) error {
		return r.accessFD(fd, mode, effective)
	})
}

// accessFD is Access for a descriptor below the root: in read-only mode,
// asking for W_OK on a regular file, directory or symlink is EROFS, as on
// a read-only mount.
func (r *Root) accessFD(fd int, mode uint32, effective bool) error {
	if r != nil && r.readOnly && mode&unix.W_OK != 0 {
		m, err := fdMode(fd)
		if err != nil {
			return err
		}
		if isTreeType(m) {
			return unix.EROFS
		}
	}
	flags := unix.AT_EMPTY_PATH
	if effective {
		flags |= unix.AT_EACCESS
	}
	return unix.Faccessat2(fd, "", mode, flags)
}

// Readlink returns the target of the symbolic link p: EINVAL if p is not
// one.
func (r *Root) Readlink(p string) (string, error) {
	var target string
	err := r.withLookup(p, false, func(fd int) error {
		var err error
		target, err = readlinkAt(fd, "")
		if err == unix.ENOENT {
			// An empty name on a descriptor that is not a symlink.
			err = unix.EINVAL
		}
		return err
	})
	return target, err
}

// Chdir resolves p for chdir(2): it must be a directory the caller may
// search. It returns the directory's sandbox path, every symlink resolved,
// as getcwd(2) shows it.
func (r *Root) Chdir(p string) (string, error) {
	fd, err := r.openat2(r.fd, p, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	if err := unix.Faccessat2(fd, "", unix.X_OK, unix.AT_EMPTY_PATH|unix.AT_EACCESS); err != nil {
		return "", err
	}
	return r.sandboxPath(fd, p), nil
}

// Mkdir makes the directory p with mode (the umask applied).
func (r *Root) Mkdir(p string, mode uint32) error {
	return r.withParent(p, func(dirfd int, name string, kind lastKind) error {
		switch {
		case kind != lastNormal:
			return unix.EEXIST
		case r.readOnly:
			return createReadOnly(dirfd, name, true)
		}
		return unix.Mkdirat(dirfd, name, mode)
	})
}

// Mknod makes the file p of mode's type (regular, FIFO, socket, or the
// whiteout device 0:0; other devices are refused, nodev.go) with mode's
// permissions (the umask applied), as mknod(2).
func (r *Root) Mknod(p string, mode uint32, dev uint64) error {
	return r.withParent(p, func(dirfd int, name string, kind lastKind) error {
		switch {
		case kind != lastNormal:
			return unix.EEXIST
		case r.readOnly:
			return createReadOnly(dirfd, name, false)
		}
		if err := mayMknod(mode, dev); err != nil {
			return refuseCreate(dirfd, name, false, err)
		}
		return unix.Mknodat(dirfd, name, mode, int(dev))
	})
}

// Symlink makes p a symbolic link to target. The target is stored as
// given: it is resolved, inside the root, only when followed.
func (r *Root) Symlink(target, p string) error {
	return r.withParent(p, func(dirfd int, name string, kind lastKind) error {
		switch {
		case kind != lastNormal:
			return unix.EEXIST
		case r.readOnly:
			return createReadOnly(dirfd, name, false)
		}
		return unix.Symlinkat(target, dirfd, name)
	})
}

// Unlink removes the name p, which must not be a directory.
func (r *Root) Unlink(p string) error {
	return r.withParent(p, func(dirfd int, name string, kind lastKind) error {
		switch {
		case kind != lastNormal:
			return unix.EISDIR
		case r.readOnly:
			return unix.EROFS
		}
		return unix.Unlinkat(dirfd, name, 0)
	})
}

// Rmdir removes the empty directory p.
func (r *Root) Rmdir(p string) error {
	return r.withParent(p, func(dirfd int, name string, kind lastKind) error {
		switch {
		case kind == lastDot:
			return unix.EINVAL
		case kind == lastDotDot:
			return unix.ENOTEMPTY
		case kind == lastRoot:
			return unix.EBUSY
		case r.readOnly:
			return unix.EROFS
		}
		return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	})
}

// Rename renames oldPath to newPath with renameat2(2)'s flags
// (RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT), which the caller
// has checked.
func (r *Root) Rename(oldPath, newPath string, flags uint) error {
	return r.withParent(oldPath, func(oldDir int, oldName string, oldKind lastKind) error {
		return r.withParent(newPath, func(newDir int, newName string, newKind lastKind) error {
			switch {
			case oldKind != lastNormal:
				return unix.EBUSY
			case newKind != lastNormal && flags&unix.RENAME_NOREPLACE != 0:
				return unix.EEXIST
			case newKind != lastNormal:
				return unix.EBUSY
			case r.readOnly:
				return unix.EROFS
			}
			return unix.Renameat2(oldDir, oldName, newDir, newName, flags)
		})
	})
}

// Link makes newPath a hard link to oldPath, following a final symlink of
// oldPath if follow is set (linkat(2)'s AT_SYMLINK_FOLLOW).
func (r *Root) Link(oldPath, newPath string, follow bool) error {
	if follow {
		return r.withLookup(oldPath, true, func(fd int) error {
			return r.linkFD(fd, newPath)
		})
	}
	return r.withParent(oldPath, func(oldDir int, oldName string, oldKind lastKind) error {
		return r.withParent(newPath, func(newDir int, newName string, newKind lastKind) error {
			switch {
			case newKind != lastNormal:
				return unix.EEXIST
			case oldKind != lastNormal:
				// A directory: never linked.
				return unix.EPERM
			case r.readOnly:
				return createReadOnly(newDir, newName, false)
			}
			return unix.Linkat(oldDir, oldName, newDir, newName, 0)
		})
	})
}

// LinkFile makes newPath a hard link to f, a file opened through r
// (linkat(2) with AT_EMPTY_PATH). As on Linux, only a caller with
// CAP_DAC_READ_SEARCH may: the host checks the sentry's.
func (r *Root) LinkFile(f *HostFile, newPath string) error {
	if f.root != r {
		return unix.EXDEV
	}
	return r.withParent(newPath, func(newDir int, newName string, newKind lastKind) error {
		switch {
		case newKind != lastNormal:
			return unix.EEXIST
		case r.readOnly:
			return createReadOnly(newDir, newName, false)
		}
		return unix.Linkat(f.fd, "", newDir, newName, unix.AT_EMPTY_PATH)
	})
}

// linkFD makes newPath a hard link to the file of the O_PATH descriptor
// fd, through the sentry's own /proc/self/fd link, as open(2) documents
// for O_TMPFILE files.
func (r *Root) linkFD(fd int, newPath string) error {
	return r.withParent(newPath, func(newDir int, newName string, newKind lastKind) error {
		switch {
		case newKind != lastNormal:
			return unix.EEXIST
		case r.readOnly:
			return createReadOnly(newDir, newName, false)
		}
		return unix.Linkat(unix.AT_FDCWD, procFDPath(fd), newDir, newName, unix.AT_SYMLINK_FOLLOW)
	})
}

// Chmod changes p's permission bits, following a final symlink.
func (r *Root) Chmod(p string, mode uint32) error {
	return r.withLookup(p, true, func(fd int) error {
		if r.readOnly {
			return unix.EROFS
		}
		return unix.Fchmodat(unix.AT_FDCWD, procFDPath(fd), mode, 0)
	})
}

// Chown changes p's owner and group (-1 leaves one alone), following a
// final symlink if follow is set.
func (r *Root) Chown(p string, uid, gid int, follow bool) error {
	return r.withLookup(p, follow, func(fd int) error {
		if r.readOnly {
			return unix.EROFS
		}
		return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH)
	})
}

// Truncate sets the size of the regular file p, as truncate(2).
func (r *Root) Truncate(p string, size int64) error {
	return r.withLookup(p, true, func(fd int) error {
		if r.readOnly {
			m, err := fdMode(fd)
			switch {
			case err != nil:
				return err
			case m&unix.S_IFMT == unix.S_IFDIR:
				return unix.EISDIR
			case m&unix.S_IFMT != unix.S_IFREG:
				return unix.EINVAL
			}
			return unix.EROFS
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return unix.Truncate(procFDPath(fd), size)
		}
		// Shared mappings of the file lose the pages past its new end.
		return mm.ChangeFile(mm.FileID{Dev: st.Dev, Ino: st.Ino}, size, size, false, func() error {
			return unix.Truncate(procFDPath(fd), size)
		})
	})
}

// Utimens sets p's access and modification times as utimensat(2) does
// (UTIME_NOW and UTIME_OMIT included), following a final symlink if
// follow is set.
func (r *Root) Utimens(p string, ts [2]unix.Timespec, follow bool) error {
	return r.withLookup(p, follow, func(fd int) error {
		if r.readOnly {
			return unix.EROFS
		}
		return unix.UtimesNanoAt(fd, "", ts[:], unix.AT_EMPTY_PATH)
	})
}
