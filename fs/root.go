package fs

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
)

// Root is the application's view of the file system: a directory of the
// host's that the application sees as "/" (the host's own "/" by default,
// DIR with --root), and whether it may change anything below it.
//
// Confinement rests on one rule: every lookup of a path is a single
// openat2(2) relative to the root's descriptor, with RESOLVE_IN_ROOT and
// RESOLVE_NO_MAGICLINKS. The host kernel then walks the path itself and
// treats the root as "/" throughout: an absolute path or an absolute
// symlink starts from it, ".." stops at it, and the /proc magic links
// (/proc/self/root, /proc/self/cwd, /proc/PID/fd/N), which jump to a
// place no path names, are refused with ELOOP. When a rename races with a
// ".." in the walk, the kernel answers EAGAIN rather than risk leaving the
// root, and the lookup is tried again. No path, however crafted, and no
// change of the tree made meanwhile, reaches a file outside the root. The
// same code runs in both modes: with the host's "/" as root it changes
// nothing.
//
// Paths given to Root's methods are sandbox paths: absolute (the kernel
// has joined a relative path with the working directory or a directory
// descriptor's path) but not cleaned, because only the walk knows what a
// ".." after a symlink means.
//
// Methods come in two kinds:
//
//   - Those that act on a path's last component without following it
//     (mkdir, unlink, rmdir, rename, link, symlink, mknod) resolve its
//     parent to an O_PATH descriptor and act with the *at system call on
//     the last component's name, which the host then looks up in that
//     directory alone. Trailing slashes stay on the name, so the host
//     applies Linux's rules for them; "." and ".." and the root itself are
//     answered here, as Linux answers them, and never reach the host.
//   - Those that follow the path, or act on it as a whole (open, stat,
//     lstat, readlink, chmod, chown, truncate, utimensat, access, statfs),
//     resolve all of it to an O_PATH descriptor (with O_NOFOLLOW for the
//     lstat-like ones) and act on that descriptor: with AT_EMPTY_PATH, or
//     through /proc/self/fd/N of the sentry's own, a magic link that the
//     sentry follows for itself, to a file already inside the root.
//
// Read-only mode behaves as a read-only mount: everything that would
// change the tree fails with EROFS, after the checks Linux makes first
// (a missing parent is still ENOENT, an existing name still EEXIST).
type Root struct {
	// fd is an O_PATH descriptor of the root directory. Immutable.
	fd int

	// hostPath is the root's path on the host, as /proc/self/fd shows
	// it. Immutable. Host paths of files below the root, read back the
	// same way, start with it; cutting it off gives their sandbox path.
	hostPath string

	// readOnly refuses every change to the tree with EROFS. Immutable.
	readOnly bool
}

// inRoot are the resolve flags of every lookup.
const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// ResolveCached is openat2(2)'s RESOLVE_CACHED (Linux 5.12), which
// golang.org/x/sys/unix lacks: answer from the dentry cache alone, or
// EAGAIN.
const ResolveCached = 0x20

// ValidResolveFlags are every openat2(2) resolve flag Linux knows.
const ValidResolveFlags = unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS |
	unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT | ResolveCached

// maxRaceRetries bounds the retries of a lookup that the host refused with
// EAGAIN because the tree changed under it.
const maxRaceRetries = 64

// OpenRoot opens dir, which must be a directory, as a root.
func OpenRoot(dir string, readOnly bool) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the root %s: %w", dir, err)
	}
	host, err := readFDLink(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reading the path of the root %s: %w", dir, err)
	}
	return &Root{fd: fd, hostPath: host, readOnly: readOnly}, nil
}

// ReadOnly reports whether the tree refuses changes.
func (r *Root) ReadOnly() bool {
	return r.readOnly
}

// HostPath returns the root's path on the host.
func (r *Root) HostPath() string {
	return r.hostPath
}

// Close closes the root's descriptor. Files opened through it stay open.
func (r *Root) Close() error {
	return unix.Close(r.fd)
}

// readFDLink returns the host path of the sentry's descriptor fd.
func readFDLink(fd int) (string, error) {
	return readlinkAt(unix.AT_FDCWD, procFDPath(fd))
}

// procFDPath is the sentry's own /proc/self/fd link for fd.
func procFDPath(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// readlinkAt reads a symbolic link, whatever its length.
func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// openat2 is the host's openat2(2), for a descriptor of the sentry's
// (close-on-exec), retried when interrupted or, unless the caller asked
// for RESOLVE_CACHED (whose EAGAIN is the answer), when a rename raced
// with the walk. resolve must confine the walk: inRoot from the root, or
// RESOLVE_BENEATH or RESOLVE_IN_ROOT from a directory below it. A file of
// the host's procfs is refused (EACCES, hostproc.go).
//
// Every lookup of the tree goes through here.
func (r *Root) openat2(dirfd int, name string, flags uint64, mode uint64, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: mode, Resolve: resolve}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(dirfd, name, &how)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && resolve&ResolveCached == 0 && try < maxRaceRetries:
			continue
		case err == nil && onHostProc(fd):
			unix.Close(fd)
			return -1, unix.EACCES
		}
		return fd, err
	}
}

// lookup resolves p to an O_PATH descriptor, following a final symlink
// if follow is set.
func (r *Root) lookup(p string, follow bool) (int, error) {
	flags := uint64(unix.O_PATH)
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	return r.openat2(r.fd, p, flags, 0, inRoot)
}

// withLookup runs f on an O_PATH descriptor of p, following a final
// symlink if follow is set.
func (r *Root) withLookup(p string, follow bool, f func(fd int) error) error {
	fd, err := r.lookup(p, follow)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return f(fd)
}

// sandboxPath returns the sandbox path of the host descriptor fd, which
// must lie below the root: its host path with the root's cut off. This is
// the path Linux would show, with every symlink resolved. fallback, the
// path fd was opened by, is cleaned and used if the host path does not
// start with the root's (a root renamed since it was opened).
func (r *Root) sandboxPath(fd int, fallback string) string {
	host, err := readFDLink(fd)
	if err == nil {
		if r.hostPath == "/" && strings.HasPrefix(host, "/") {
			return host
		}
		if rest, ok := strings.CutPrefix(host, r.hostPath); ok {
			switch {
			case rest == "":
				return "/"
			case rest[0] == '/':
				return rest
			}
		}
	}
	return path.Clean(fallback)
}

// lastKind classifies a path's last component as Linux's path walk does.
type lastKind int

const (
	lastNormal lastKind = iota
	lastDot             // "."
	lastDotDot          // ".."
	lastRoot            // none: the path is all slashes
)

// parent resolves the directory holding p's last component to an O_PATH
// descriptor, which the caller closes, and returns the component: name,
// with any trailing slashes, to hand to the host's *at call, and its kind.
// For a kind other than lastNormal, the caller answers without the host.
func (r *Root) parent(p string) (dirfd int, name string, kind lastKind, err error) {
	return r.parentAt(r.fd, p, inRoot)
}

// parentAt is parent for a path relative to dirfd, resolved with resolve
// (see openat2).
func (r *Root) parentAt(fromFD int, p string, resolve uint64) (dirfd int, name string, kind lastKind, err error) {
	trimmed := strings.TrimRight(p, "/")
	if trimmed == "" {
		if p == "" {
			return -1, "", 0, unix.ENOENT
		}
		trimmed = "/"
	}
	i := strings.LastIndexByte(trimmed, '/')
	dir, base := trimmed[:i+1], trimmed[i+1:]
	name = p[i+1:]
	switch base {
	case "":
		kind = lastRoot
	case ".":
		kind = lastDot
	case "..":
		kind = lastDotDot
	}
	if dir == "" {
		dir = "."
	}
	dirfd, err = r.openat2(fromFD, dir, unix.O_PATH|unix.O_DIRECTORY, 0, resolve)
	if err != nil {
		return -1, "", 0, err
	}
	return dirfd, name, kind, nil
}

// withParent runs f on p's parent directory and last component (see
// parent). f must answer for every kind of last component.
func (r *Root) withParent(p string, f func(dirfd int, name string, kind lastKind) error) error {
	dirfd, name, kind, err := r.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	return f(dirfd, name, kind)
}

// createReadOnly answers an attempt to create name in dirfd in read-only
// mode as Linux's filename_create does on a read-only mount: EEXIST if the
// name exists, ENOENT for a missing name with a trailing slash (unless a
// directory is made), EROFS otherwise.
func createReadOnly(dirfd int, name string, isDir bool) error {
	return refuseCreate(dirfd, name, isDir, unix.EROFS)
}

// refuseCreate answers an attempt to create name in dirfd that must fail
// with why, after the errors Linux's filename_create gives first: EEXIST
// if the name exists, ENOENT for a missing name with a trailing slash
// (unless a directory is made).
func refuseCreate(dirfd int, name string, isDir bool, why error) error {
	base := strings.TrimRight(name, "/")
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return unix.EEXIST
	}
	if base != name && !isDir {
		return unix.ENOENT
	}
	return why
}

// isTreeType reports whether a file of mode belongs to the tree itself, as
// opposed to a device, FIFO or socket merely named in it: on a read-only
// mount Linux refuses writes to the former only.
func isTreeType(mode uint32) bool {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
		return true
	}
	return false
}

// fdMode returns the file type and permission bits of a descriptor.
func fdMode(fd int) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH); err != nil {
		return 0, err
	}
	return st.Mode, nil
}

// Open flags as Linux defines them.
const (
	// ValidOpenFlags are the flags Linux knows (VALID_OPEN_FLAGS):
	// open(2) ignores the others, openat2(2) refuses them.
	ValidOpenFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
		unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | OLargeFile |
		unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH |
		unix.O_TMPFILE | unix.O_SYNC

	// OLargeFile is the kernel's O_LARGEFILE, which x86-64 libcs define
	// as 0 but may still pass (musl does), and Linux sets on every file a
	// 64-bit program opens.
	OLargeFile = 0o100000

	// PathOpenFlags are the only flags O_PATH keeps (O_PATH_FLAGS).
	PathOpenFlags = unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_PATH | unix.O_CLOEXEC

	// oTmpfileOnly is O_TMPFILE's own bit, without the O_DIRECTORY it
	// includes.
	oTmpfileOnly = unix.O_TMPFILE &^ unix.O_DIRECTORY
)

// OpenFlags turns open(2)'s and openat(2)'s arguments into what
// openat2(2), and so Root.Open, accepts: unknown flags dropped, the mode
// kept only for a file that may be created, O_PATH's ignored flags
// dropped.
func OpenFlags(flags, mode uint32) (uint32, uint32) {
	flags &= ValidOpenFlags
	if flags&unix.O_PATH != 0 {
		return flags & PathOpenFlags, 0
	}
	if flags&(unix.O_CREAT|oTmpfileOnly) == 0 {
		return flags, 0
	}
	return flags, mode & 0o7777
}

// writesTo reports whether open(2) flags open for writing.
func writesTo(flags uint32) bool {
	return flags&unix.O_ACCMODE != unix.O_RDONLY
}

// Open opens p with openat2(2)'s flags and, for a file it creates, mode
// (with the umask applied). resolve adds the application's RESOLVE_*
// flags that compose with the root's (RESOLVE_NO_XDEV,
// RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_CACHED).
//
// Opening a FIFO may wait for its other end (fifo.go); ctx ends the wait
// with EINTR.
func (r *Root) Open(ctx context.Context, p string, flags, mode uint32, resolve uint64) (*HostFile, error) {
	return r.openAt(ctx, r.fd, p, p, flags, mode, resolve|inRoot)
}

// OpenBeneath opens p relative to dir, a directory opened through r, for
// an openat2(2) whose resolve holds RESOLVE_BENEATH or RESOLVE_IN_ROOT:
// either keeps the walk inside dir, and so inside the root.
func (r *Root) OpenBeneath(ctx context.Context, dir *HostFile, p string, flags, mode uint32, resolve uint64) (*HostFile, error) {
	if dir.root != r || resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) == 0 {
		return nil, unix.EXDEV
	}
	return r.openAt(ctx, dir.fd, p, dir.name+"/"+p, flags, mode, resolve|unix.RESOLVE_NO_MAGICLINKS)
}

// openAt opens p relative to dirfd with the confining resolve flags;
// fallback is the file's sandbox path if the host cannot tell it.
func (r *Root) openAt(ctx context.Context, dirfd int, p, fallback string, flags, mode uint32, resolve uint64) (*HostFile, error) {
	if p == "" {
		return nil, unix.ENOENT
	}
	if flags&unix.O_PATH == 0 {
		// Never let a terminal become the sentry's controlling one.
		flags |= unix.O_NOCTTY
		if r.readOnly && (writesTo(flags) || flags&(unix.O_CREAT|unix.O_TRUNC|oTmpfileOnly) != 0) {
			if err := r.checkReadOnlyOpen(dirfd, p, flags, resolve); err != nil {
				return nil, err
			}
			// What is left opens an existing file, without changing it.
			flags &^= unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC
			mode = 0
		}
	}
	fd, st, err := r.openNoDev(ctx, dirfd, p, flags, mode, resolve)
	if err != nil {
		return nil, err
	}
	if r.readOnly && flags&unix.O_PATH == 0 && writesTo(flags) && isTreeType(st.Mode) {
		// Only FIFOs and sockets may be written in read-only mode. Check
		// the file opened, not the one checked before: the host may have
		// replaced it since.
		unix.Close(fd)
		return nil, unix.EROFS
	}
	f := newHostFile(fd, r.sandboxPath(fd, fallback), &st)
	f.root = r
	if flags&unix.O_TRUNC != 0 && flags&unix.O_PATH == 0 && f.regular && mm.FileCached(f.id) {
		// The host truncated the file: shared mappings of it lose
		// their pages.
		mm.ChangeFile(f.id, 0, 0, false, nil)
	}
	return f, nil
}

// checkReadOnlyOpen answers an open that may change the tree in read-only
// mode as Linux does on a read-only mount: EROFS for creating a file,
// truncating one, or writing to a regular file, directory or symlink,
// after the errors that come first (a missing parent, O_EXCL on an
// existing file, EISDIR). It returns nil if the open may go ahead, without
// O_CREAT and O_TRUNC.
func (r *Root) checkReadOnlyOpen(dirfd int, p string, flags uint32, resolve uint64) error {
	if flags&oTmpfileOnly != 0 {
		fd, err := r.openat2(dirfd, p, unix.O_PATH|unix.O_DIRECTORY, 0, resolve)
		if err != nil {
			return err
		}
		unix.Close(fd)
		return unix.EROFS
	}
	lookup := uint64(unix.O_PATH | flags&(unix.O_NOFOLLOW|unix.O_DIRECTORY))
	if flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		// O_EXCL never follows a final symlink.
		lookup |= unix.O_NOFOLLOW
	}
	fd, err := r.openat2(dirfd, p, lookup, 0, resolve)
	if err == unix.ENOENT && flags&unix.O_CREAT != 0 {
		// Creating the last component is refused; a missing parent is
		// still ENOENT.
		pfd, _, _, perr := r.parentAt(dirfd, p, resolve)
		if perr != nil {
			return perr
		}
		unix.Close(pfd)
		return unix.EROFS
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		return unix.EEXIST
	}
	m, err := fdMode(fd)
	if err != nil {
		return err
	}
	return readOnlyOpenError(m, flags)
}

// readOnlyOpenError answers an open with flags of an existing file of
// mode in read-only mode: EROFS for O_TMPFILE in a directory, EISDIR for
// a directory to create or write, EROFS for writing the tree or
// truncating, nil if the open may go ahead (without O_CREAT and O_TRUNC).
func readOnlyOpenError(mode, flags uint32) error {
	switch {
	case mode&unix.S_IFMT == unix.S_IFDIR && flags&oTmpfileOnly != 0:
		// O_TMPFILE asks for a write to the mount before anything else.
		return unix.EROFS
	case mode&unix.S_IFMT == unix.S_IFDIR && (flags&unix.O_CREAT != 0 || writesTo(flags)):
		return unix.EISDIR
	case isTreeType(mode) && writesTo(flags):
		return unix.EROFS
	case mode&unix.S_IFMT == unix.S_IFREG && flags&unix.O_TRUNC != 0:
		return unix.EROFS
	}
	return nil
}
