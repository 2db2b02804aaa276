package linux

import (
	"errors"
	"path"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/usermem"
)

// What the path system calls share: reading a path argument, resolving it
// against a directory descriptor, and sending it to the synthetic file
// systems or the host tree (kernel.LookupPath). Every path is the
// application's, and hostile: it is only ever handed to fs.Root, which
// keeps it inside the root.

// copyInPath reads a path argument: EFAULT for a bad pointer,
// ENAMETOOLONG past PATH_MAX.
func copyInPath(t *kernel.Task, addr usermem.Addr) (string, error) {
	return t.CopyInString(addr, unix.PathMax)
}

// pathAt reads the path argument at addr and returns the sandbox path it
// names relative to dirfd: ENOENT for an empty path.
func pathAt(t *kernel.Task, dirfd int32, addr usermem.Addr) (string, error) {
	p, err := copyInPath(t, addr)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", unix.ENOENT
	}
	return t.PathAt(dirfd, p)
}

// root returns the application's file system.
func root(t *kernel.Task) *fs.Root {
	return t.Kernel().Root
}

// withFile runs fn on the file at fd, which stays open until fn returns
// however the application closes fd meanwhile.
func withFile(t *kernel.Task, fd int32, fn func(f fs.File) (uintptr, error)) (uintptr, error) {
	f, release, err := t.FDTable().GetRef(fd)
	if err != nil {
		return 0, err
	}
	defer release()
	return fn(f)
}

// statPath describes the file at the sandbox path p, following a final
// symlink if follow is set.
func statPath(t *kernel.Task, p string, follow bool) (unix.Stat_t, error) {
	return kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (unix.Stat_t, bool, error) {
		return s.Stat(t, clean, follow)
	}, func(p string) (unix.Stat_t, error) {
		return root(t).Stat(p, follow)
	})
}

// hostPath returns the path on which a change to the sandbox path p must
// be made in the host tree: p itself, or where synthetic symlinks on the
// way lead (/proc/self/cwd/x). The synthetic file systems themselves
// cannot be changed: for a path they serve, a call that creates its last
// component gets EEXIST, as for any existing name, and other changes get
// EPERM. follow says whether the change follows a final symlink.
func hostPath(t *kernel.Task, p string, follow, create bool) (string, error) {
	return kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (string, bool, error) {
		_, handled, err := s.Stat(t, clean, follow)
		switch {
		case !handled:
			return "", false, nil
		case err == nil && create:
			return "", true, unix.EEXIST
		case err == nil:
			return "", true, unix.EPERM
		case create && errors.Is(err, unix.ENOENT):
			// Only the last component may be missing: a synthetic
			// directory refuses new entries.
			if _, _, err = s.Stat(t, path.Dir(clean), true); err == nil {
				err = unix.EPERM
			}
		}
		return "", true, err
	}, func(p string) (string, error) {
		return p, nil
	})
}

// fileOrCwd runs fn on the file at dirfd, or on the working directory for
// AT_FDCWD: what an empty path with AT_EMPTY_PATH names.
func fileOrCwd(t *kernel.Task, dirfd int32, fn func(f fs.File) (uintptr, error)) (uintptr, error) {
	if dirfd != unix.AT_FDCWD {
		return withFile(t, dirfd, fn)
	}
	f, err := openPath(t, t.FSContext().Cwd(), unix.O_PATH|unix.O_DIRECTORY, 0, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return fn(f)
}

// accessByMode checks a permission as Linux's generic_permission does,
// from a file's mode and owner, for files without a host behind them:
// the owner's bits, else the group's for the file's group, else the
// others'. root may read and write anything, and execute what anyone
// may. Supplementary groups are not consulted.
func accessByMode(st unix.Stat_t, creds loader.Credentials, mode uint32, effective bool) error {
	uid, gid := creds.UID, creds.GID
	if effective {
		uid, gid = creds.EUID, creds.EGID
	}
	mode &= unix.R_OK | unix.W_OK | unix.X_OK
	if uid == 0 {
		if mode&unix.X_OK == 0 || st.Mode&0o111 != 0 || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil
		}
		return unix.EACCES
	}
	perm := st.Mode & 0o7
	switch {
	case st.Uid == uid:
		perm = st.Mode >> 6 & 0o7
	case st.Gid == gid:
		perm = st.Mode >> 3 & 0o7
	}
	if perm&mode != mode {
		return unix.EACCES
	}
	return nil
}
