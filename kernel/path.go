package kernel

import (
	"errors"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Path lookups. A path system call names a file by a path relative to a
// directory descriptor, the working directory or the root. The kernel
// turns it into a sandbox path, absolute (PathAt); the synthetic file
// systems (/proc, /dev) are asked first about its cleaned form, and the
// host tree (fs.Root) answers the rest (LookupPath).

// maxSyntheticRedirects bounds the lookups one path may be sent on by
// synthetic symbolic links, as Linux's MAXSYMLINKS (40) bounds symlinks
// followed in one lookup.
const maxSyntheticRedirects = 40

// PathAt returns the sandbox path that p, a path system call's argument,
// names relative to dirfd: p itself if absolute, or p joined to the
// working directory (AT_FDCWD) or to the path of the directory open at
// dirfd (EBADF if none is, ENOTDIR if it is not a directory). p must not
// be empty. The result is not cleaned: only the lookup knows what a ".."
// after a symlink means.
//
// A directory descriptor stands for the path it was opened by, and the
// working directory is a path too: once a directory is renamed, lookups
// relative to it go to whatever is at its old path, where Linux would
// follow the directory itself.
func (t *Task) PathAt(dirfd int32, p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	var dir string
	if dirfd == unix.AT_FDCWD {
		dir = t.fsContext.Cwd()
	} else {
		f, _, err := t.fdTable.Get(dirfd)
		if err != nil {
			return "", err
		}
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", unix.ENOTDIR
		}
		dir = f.Name()
	}
	if strings.HasSuffix(dir, "/") {
		return dir + p, nil
	}
	return dir + "/" + p, nil
}

// LookupPath looks up the sandbox path p: synthetic asks the synthetic
// file systems with p cleaned, and host asks the host tree with p as it
// is if they do not serve it. When a synthetic symbolic link leads out of
// the synthetic tree (a SyntheticRedirect), the lookup starts again at
// the path it names.
func LookupPath[T any](t *Task, p string,
	synthetic func(s SyntheticFS, clean string) (T, bool, error),
	host func(p string) (T, error)) (T, error) {
	s := t.k.Synthetic
	for i := 0; s != nil; i++ {
		v, handled, err := synthetic(s, path.Clean(p))
		var redirect *SyntheticRedirect
		if errors.As(err, &redirect) {
			if i == maxSyntheticRedirects {
				return v, unix.ELOOP
			}
			p = redirect.Path
			continue
		}
		if handled {
			return v, err
		}
		break
	}
	return host(p)
}
