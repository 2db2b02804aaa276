package procfs

import (
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
)

// /proc's root: the system's files, the links to the reader's own
// directories, and a directory per process of the sandbox.

// mountsText is /proc/PID/mounts: a minimal table, made up, of what the
// sandbox sees mounted. The root is the host's tree (or --root's), which
// minisentry shows whole, as one file system.
const mountsText = "rootfs / rootfs rw 0 0\n" +
	"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n" +
	"devtmpfs /dev devtmpfs rw,nosuid,relatime,mode=755 0 0\n"

// filesystemsText is /proc/filesystems: the kinds of file system the
// sandbox knows, those /proc/mounts shows and the pipes'.
const filesystemsText = "nodev\trootfs\n" +
	"nodev\tproc\n" +
	"nodev\tdevtmpfs\n" +
	"nodev\tpipefs\n"

// procRoot returns /proc.
func (f *FS) procRoot() *node {
	n := dirNode("/proc", 0o555, nil)
	n.list = func() []*node {
		nodes := f.procSystemNodes()
		for _, tg := range f.kernel().ThreadGroups() {
			nodes = append(nodes, f.processDir(tg, tg.Leader(), "/proc/"+strconv.Itoa(int(tg.ID()))))
		}
		return nodes
	}
	n.lookup = func(name string) (*node, error) {
		for _, c := range f.procSystemNodes() {
			if c.name() == name {
				return c, nil
			}
		}
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil || id <= 0 || strconv.Itoa(int(id)) != name {
			return nil, unix.ENOENT
		}
		k := f.kernel()
		// Any live task has a directory, found but not listed if it
		// leads no process, as on Linux; a zombie's is its process's.
		if t := k.TaskByID(kernel.ThreadID(id)); t != nil {
			return f.processDir(t.ThreadGroup(), t, "/proc/"+name), nil
		}
		if tg := k.ThreadGroupByID(kernel.ThreadID(id)); tg != nil {
			return f.processDir(tg, tg.Leader(), "/proc/"+name), nil
		}
		return nil, unix.ENOENT
	}
	return n
}

// procSystemNodes returns the children of /proc that are not process
// directories, in the order a listing shows them.
func (f *FS) procSystemNodes() []*node {
	self := &node{path: "/proc/self", typ: unix.DT_LNK, perm: 0o777}
	self.target = func(t *kernel.Task) (string, error) {
		return strconv.Itoa(int(t.ThreadGroup().ID())), nil
	}
	threadSelf := &node{path: "/proc/thread-self", typ: unix.DT_LNK, perm: 0o777}
	threadSelf.target = func(t *kernel.Task) (string, error) {
		return strconv.Itoa(int(t.ThreadGroup().ID())) + "/task/" + strconv.Itoa(int(t.ThreadID())), nil
	}
	return []*node{
		f.hostFileNode("cpuinfo"),
		f.constNode("/proc/filesystems", filesystemsText),
		f.loadavgNode(),
		f.hostFileNode("meminfo"),
		linkNode("/proc/mounts", "self/mounts"),
		self,
		f.hostFileNode("stat"),
		f.sysDir(),
		threadSelf,
		f.hostFileNode("uptime"),
		f.hostFileNode("version"),
	}
}

// kernel returns the sandbox's kernel, which every lookup has bound
// before it makes a node that needs it.
func (f *FS) kernel() *kernel.Kernel {
	return f.k.Load()
}

// constNode returns a read-only system file with fixed contents.
func (f *FS) constNode(p, text string) *node {
	return f.genNode(p, 0o444, unix.EIO, func(*kernel.Task) ([]byte, error) {
		return []byte(text), nil
	})
}

// hostFileNode returns /proc/name, which shows the host's own
// /proc/name: the sandbox runs on the host's kernel, CPUs and memory, and
// counts their time (stat, uptime) as the host does.
func (f *FS) hostFileNode(name string) *node {
	return f.genNode("/proc/"+name, 0o444, unix.EIO, func(*kernel.Task) ([]byte, error) {
		return os.ReadFile(path.Join(f.hostProc, name))
	})
}

// loadavgNode returns /proc/loadavg: the host's load averages, with the
// sandbox's task count and last thread id.
func (f *FS) loadavgNode() *node {
	return f.genNode("/proc/loadavg", 0o444, unix.EIO, func(t *kernel.Task) ([]byte, error) {
		host, err := os.ReadFile(path.Join(f.hostProc, "loadavg"))
		if err != nil {
			return nil, err
		}
		k := f.kernel()
		return []byte(rewriteLoadavg(string(host), 1, k.TaskCount(), int32(k.LastThreadID()))), nil
	})
}

// sysDir returns /proc/sys, with the three kernel parameters uname(2)
// also tells.
func (f *FS) sysDir() *node {
	uname := func(field func(*unix.Utsname) *[65]byte) func(*kernel.Task) ([]byte, error) {
		return func(*kernel.Task) ([]byte, error) {
			var u unix.Utsname
			if err := unix.Uname(&u); err != nil {
				return nil, err
			}
			return append([]byte(unix.ByteSliceToString(field(&u)[:])), '\n'), nil
		}
	}
	param := func(name string, gen func(*kernel.Task) ([]byte, error)) *node {
		// Root may write hostname on Linux; the sandbox has no host
		// name of its own to change, so it is read-only here.
		n := f.genNode("/proc/sys/kernel/"+name, 0o444, unix.EACCES, gen)
		n.sysctl, n.seek = true, seekAny
		return n
	}
	kern := dirNode("/proc/sys/kernel", 0o555, staticNodes(
		param("hostname", uname(func(u *unix.Utsname) *[65]byte { return &u.Nodename })),
		param("osrelease", uname(func(u *unix.Utsname) *[65]byte { return &u.Release })),
		param("ostype", uname(func(u *unix.Utsname) *[65]byte { return &u.Sysname })),
	))
	return dirNode("/proc/sys", 0o555, staticNodes(kern))
}
