// Package procfs serves the two file systems the sentry makes up rather
// than takes from the host: /dev, the devices every program expects (null,
// zero, full, random, urandom, tty and the standard stream links), and
// /proc, the kernel's view of the sandbox's processes (self, one directory
// per process with maps, cmdline, status, stat, fd/...) and of the system
// (cpuinfo, meminfo, uptime, ...).
//
// FS implements kernel.SyntheticFS: the path system calls hand it every
// absolute path under /proc or /dev, and it answers for the whole of both
// trees, ENOENT included. A lookup walks the tree from its root, one
// component at a time, following symbolic links that stay inside the tree
// (/proc/self, /dev/stdin). A link whose target lies outside
// (/proc/self/cwd, /proc/PID/root) ends the walk with a
// kernel.SyntheticRedirect naming the path to look up instead. The "magic"
// links of /proc/PID/fd are followed as Linux follows them: to the object
// they stand for, not to the path they print.
//
// The tree is never stored. Each node is made by its parent's lookup, with
// what it needs to answer, so a process directory exists exactly as long
// as its process. Like Linux's seq_file, a file's contents are generated
// when it is opened, a snapshot that reads, preads and seeks then serve;
// directories list their entries again when read from the start.
//
// Files move data only through the usermem.IOSequence they are handed, as
// every file below the kernel does. Reading another process's memory
// (cmdline, environ) goes through its memory manager ignoring the
// application's protections, the seed's second usage pattern.
//
// Lock order: what kernel's accessors take (Kernel.mu, ThreadGroup.mu,
// Task.mu, FDTable.mu), each taken and released in turn, never nested
// here; then a file's own mu, held while its data moves.
package procfs

import (
	"path"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
)

// maxSymlinks is how many symbolic links one lookup may follow before it
// fails with ELOOP: Linux's MAXSYMLINKS.
const maxSymlinks = 40

// FS is the synthetic file system: /dev and /proc.
type FS struct {
	// created is the time every file shows as accessed, modified and
	// changed. Immutable.
	created time.Time

	// startTicks is when the sandbox started, in clock ticks since the
	// host booted: the start time /proc/PID/stat shows for every process.
	// Immutable.
	startTicks uint64

	// hostProc is the host directory the host's own system files
	// (cpuinfo, meminfo, uptime, loadavg) are read from. Immutable.
	hostProc string

	// hostTTY is the host's terminal device, which /dev/tty opens.
	// Immutable.
	hostTTY string

	// caps are the capability sets every process shows: the sentry's.
	// Immutable.
	caps capSets

	// cpus are the CPUs every process may run on, in order: the
	// sentry's; nrCPUIDs is how many CPU ids the host knows. Immutable.
	cpus     []int
	nrCPUIDs int

	// k is the kernel whose processes /proc shows: that of the first task
	// to look a path up, since the file system is made before the kernel
	// that it is part of. One FS serves one kernel.
	k atomic.Pointer[kernel.Kernel]
}

var _ kernel.SyntheticFS = (*FS)(nil)

// New returns the synthetic file system of a sandbox starting now.
func New() *FS {
	f := &FS{
		created:  time.Now(),
		hostProc: "/proc",
		hostTTY:  "/dev/tty",
		caps:     hostCaps(),
	}
	f.cpus, f.nrCPUIDs = hostCPUs()
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
		f.startTicks = uint64(ts.Nano()) / (1e9 / clockTicks)
	}
	return f
}

// bind records the kernel t belongs to, on first use.
func (f *FS) bind(t *kernel.Task) {
	if f.k.Load() == nil {
		f.k.CompareAndSwap(nil, t.Kernel())
	}
}

// inTree reports whether p, an absolute cleaned path, lies in /proc or
// /dev.
func inTree(p string) bool {
	for _, root := range []string{"/proc", "/dev"} {
		if p == root || strings.HasPrefix(p, root+"/") {
			return true
		}
	}
	return false
}

// Open implements kernel.SyntheticFS.Open.
func (f *FS) Open(t *kernel.Task, p string, flags uint32) (fs.File, bool, error) {
	f.bind(t)
	if !inTree(p) {
		return nil, false, nil
	}
	file, err := f.open(t, p, flags)
	return file, true, err
}

// Stat implements kernel.SyntheticFS.Stat.
func (f *FS) Stat(t *kernel.Task, p string, follow bool) (unix.Stat_t, bool, error) {
	f.bind(t)
	if !inTree(p) {
		return unix.Stat_t{}, false, nil
	}
	st, err := f.statPath(t, p, follow)
	return st, true, err
}

// Readlink implements kernel.SyntheticFS.Readlink.
func (f *FS) Readlink(t *kernel.Task, p string) (string, bool, error) {
	f.bind(t)
	if !inTree(p) {
		return "", false, nil
	}
	n, err := f.walk(t, p, false)
	if err != nil {
		return "", true, err
	}
	if n.typ != unix.DT_LNK {
		return "", true, unix.EINVAL
	}
	target, err := n.target(t)
	return target, true, err
}

// open opens p with open(2) flags.
func (f *FS) open(t *kernel.Task, p string, flags uint32) (fs.File, error) {
	n, err := f.walk(t, p, flags&unix.O_NOFOLLOW == 0)
	if err == unix.ENOENT && flags&unix.O_CREAT != 0 && strings.HasPrefix(p, "/dev/") {
		// /proc says ENOENT, as on Linux; /dev is the host's devtmpfs
		// on Linux, where only root may create, and the sandbox's
		// /dev is fixed.
		return nil, unix.EACCES
	}
	if err != nil {
		return nil, err
	}
	if n.typ == unix.DT_LNK {
		// A link not followed, or a magic link, which walk leaves to
		// its caller to follow.
		if flags&unix.O_NOFOLLOW != 0 {
			return nil, unix.ELOOP
		}
		return n.magic.open(t, flags)
	}
	if flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
		return nil, unix.EEXIST
	}
	if flags&unix.O_DIRECTORY != 0 && n.typ != unix.DT_DIR {
		return nil, unix.ENOTDIR
	}
	acc := flags & unix.O_ACCMODE
	if n.typ == unix.DT_DIR && (acc != unix.O_RDONLY || flags&(unix.O_CREAT|unix.O_TRUNC) != 0) {
		return nil, unix.EISDIR
	}
	if flags&unix.O_PATH == 0 && !permitted(t, n, accessWanted(flags)) {
		return nil, unix.EACCES
	}
	if n.typ == unix.DT_DIR {
		return newDirFile(f, n, flags), nil
	}
	return n.open(t, flags)
}

// statPath describes p, following a final link if follow is set.
func (f *FS) statPath(t *kernel.Task, p string, follow bool) (unix.Stat_t, error) {
	n, err := f.walk(t, p, follow)
	if err != nil {
		return unix.Stat_t{}, err
	}
	if n.typ == unix.DT_LNK && follow {
		return n.magic.stat(t)
	}
	return f.stat(n), nil
}

// accessWanted returns the permission bits (4 read, 2 write) an open
// with flags needs. O_TRUNC needs write permission, as on Linux.
func accessWanted(flags uint32) uint32 {
	var want uint32
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		want = 4
	case unix.O_WRONLY:
		want = 2
	default:
		want = 6
	}
	if flags&unix.O_TRUNC != 0 {
		want |= 2
	}
	return want
}

// permitted reports whether t may access n for want (a mask of 4 read, 2
// write, 1 search or execute), with Linux's rules: root passes every read
// and write check, and a search of a directory, except in /proc/sys,
// where root gets the owner's bits and no more.
func permitted(t *kernel.Task, n *node, want uint32) bool {
	creds := t.Credentials()
	if n.sysctl {
		bits := n.perm
		switch {
		case creds.EUID == 0:
			bits >>= 6
		case creds.EGID == 0:
			bits >>= 3
		}
		return bits&want == want
	}
	if creds.EUID == 0 && (want&1 == 0 || n.typ == unix.DT_DIR || n.perm&0o111 != 0) {
		return true
	}
	bits := n.perm
	switch {
	case creds.EUID == n.uid:
		bits >>= 6
	case creds.EGID == n.gid:
		bits >>= 3
	}
	return bits&want == want
}

// walk finds the node at p, an absolute, cleaned path in the tree. Links
// inside the tree are followed on the way, and at the end if follow is
// set, except magic links, which walk returns for the caller to follow
// to their object. A link out of the tree ends the walk with a
// kernel.SyntheticRedirect.
func (f *FS) walk(t *kernel.Task, p string, follow bool) (*node, error) {
	links := 0
restart:
	cur := f.root(p)
	names := strings.Split(strings.TrimPrefix(p, cur.path), "/")[1:]
	for i, name := range names {
		if cur.typ != unix.DT_DIR {
			return nil, unix.ENOTDIR
		}
		if !permitted(t, cur, 1) {
			return nil, unix.EACCES
		}
		child, err := cur.child(name)
		if err != nil {
			return nil, err
		}
		rest := names[i+1:]
		if child.typ != unix.DT_LNK || (len(rest) == 0 && !follow) {
			cur = child
			continue
		}
		links++
		if links > maxSymlinks {
			return nil, unix.ELOOP
		}
		if child.magic != nil && len(rest) == 0 {
			return child, nil
		}
		target, err := child.target(t)
		if err != nil {
			return nil, err
		}
		if child.magic != nil && !path.IsAbs(target) {
			// A description such as "pipe:[3]": an object with no
			// path, which has no children either.
			return nil, unix.ENOTDIR
		}
		next := resolveTarget(child.path, target, rest)
		if !inTree(next) {
			return nil, &kernel.SyntheticRedirect{Path: next}
		}
		p = next
		goto restart
	}
	return cur, nil
}

// resolveTarget returns where the link at linkPath, with target target,
// leads, with the names rest appended: an absolute, cleaned path. A
// relative target, such as /proc/self's "12", is relative to the link's
// directory.
func resolveTarget(linkPath, target string, rest []string) string {
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(linkPath), target)
	}
	return path.Join(append([]string{target}, rest...)...)
}

// root returns the root node of the tree p lies in.
//
// Preconditions: inTree(p).
func (f *FS) root(p string) *node {
	if p == "/dev" || strings.HasPrefix(p, "/dev/") {
		return f.devRoot()
	}
	return f.procRoot()
}
