package procfs

import (
	"context"
	"hash/fnv"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// Device numbers and block sizes of the two trees. Linux gives /proc and
// devtmpfs anonymous device numbers, decided at boot; these are
// minisentry's, chosen apart from the pipes' (0:12). Programs only compare
// them with other files'.
var (
	procDevice = unix.Mkdev(0, 20)
	devDevice  = unix.Mkdev(0, 5)
)

const (
	// procBlockSize is st_blksize in /proc: a kilobyte, as Linux says.
	procBlockSize = 1024
	// devBlockSize is st_blksize in /dev: a page.
	devBlockSize = 4096
)

// A node is one file of the tree, made by its parent's lookup with what it
// needs to answer: its place, its attributes, and functions that list,
// resolve or open it. Nodes are immutable.
type node struct {
	// path is where the node lies with every link on the way resolved:
	// /proc/12/status, never /proc/self/status. It names open files in
	// /proc/PID/fd, and the inode number derives from it.
	path string

	// typ is the node's DT_* type: DT_DIR, DT_REG, DT_LNK or DT_CHR.
	typ uint8

	// perm are the permission bits.
	perm uint32

	// uid and gid own the node.
	uid, gid uint32

	// rdev is a device's number.
	rdev uint64

	// sysctl marks the files of /proc/sys, whose permissions bind root
	// too.
	sysctl bool

	// size, if not nil, returns what stat reports as the node's size,
	// which is otherwise 0 (or a /dev link's length).
	size func() int64

	// list returns a directory's children, in the order a listing shows
	// them.
	list func() []*node

	// lookup, if not nil, finds a directory's child by name, among those
	// list returns and those a listing hides (/proc/TID for a thread that
	// leads no process). Without it, child searches list.
	lookup func(name string) (*node, error)

	// target returns a symbolic link's target. The reader matters for
	// /proc/self.
	target func(t *kernel.Task) (string, error)

	// magic, for /proc/PID/fd/N, follows the link to the object it
	// stands for rather than to the path it prints.
	magic *magicLink

	// open opens a regular file or a device. Permissions have been
	// checked.
	open func(t *kernel.Task, flags uint32) (fs.File, error)

	// write, if not nil, writes a regular file that accepts writes
	// (/proc/PID/comm).
	write func(ctx context.Context, src usermem.IOSequence) (int64, error)

	// seek is how lseek(2) moves in a regular file.
	seek seekMode

	// writeErr is what writing a regular file without write fails with:
	// EIO for the system's files, EINVAL for a process's, as Linux's
	// proc_create files and seq_files answer.
	writeErr error
}

// seekMode is how lseek(2) moves in a file of /proc: Linux's files use
// one of three functions, and programs can tell them apart.
type seekMode int

const (
	// seekSeq is seq_lseek, for most files: from the start or the current
	// offset, anywhere; SEEK_END fails with EINVAL.
	seekSeq seekMode = iota
	// seekSized is generic_file_llseek on /proc, whose files say they
	// are empty and at most 2 GiB long: SEEK_END counts from 0, and no
	// offset goes past 2^31-1 (/proc/PID/cmdline and environ).
	seekSized
	// seekAny is default_llseek, for /proc/sys: like seekSized, without
	// the limit.
	seekAny
)

// maxNonLFS is the largest offset of a file without O_LARGEFILE support:
// the s_maxbytes of Linux's /proc.
const maxNonLFS = 1<<31 - 1

// magicLink is how a magic link reaches its object.
type magicLink struct {
	// open opens the object with open(2) flags.
	open func(t *kernel.Task, flags uint32) (fs.File, error)
	// stat describes the object.
	stat func(t *kernel.Task) (unix.Stat_t, error)
}

// name returns the node's name in its directory.
func (n *node) name() string {
	return path.Base(n.path)
}

// child returns the child of directory n named name.
func (n *node) child(name string) (*node, error) {
	if n.lookup != nil {
		return n.lookup(name)
	}
	for _, c := range n.list() {
		if c.name() == name {
			return c, nil
		}
	}
	return nil, unix.ENOENT
}

// ino returns the node's inode number: a hash of its path, so that it is
// the same on every lookup and differs between files.
func (n *node) ino() uint64 {
	return pathIno(n.path)
}

// pathIno returns the inode number of the file at p.
func pathIno(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	// Inode numbers are positive in every file system; keep them clear
	// of 0 and of the sign bit, which some programs print as signed.
	return h.Sum64()>>1 | 1
}

// mode returns the node's st_mode.
func (n *node) mode() uint32 {
	var ft uint32
	switch n.typ {
	case unix.DT_DIR:
		ft = unix.S_IFDIR
	case unix.DT_LNK:
		ft = unix.S_IFLNK
	case unix.DT_CHR:
		ft = unix.S_IFCHR
	default:
		ft = unix.S_IFREG
	}
	return ft | n.perm
}

// stat describes n as stat(2) does.
func (f *FS) stat(n *node) unix.Stat_t {
	st := unix.Stat_t{
		Dev:     procDevice,
		Ino:     n.ino(),
		Nlink:   1,
		Mode:    n.mode(),
		Uid:     n.uid,
		Gid:     n.gid,
		Rdev:    n.rdev,
		Blksize: procBlockSize,
		Atim:    unix.NsecToTimespec(f.created.UnixNano()),
	}
	st.Mtim, st.Ctim = st.Atim, st.Atim
	if strings.HasPrefix(n.path, "/dev") {
		st.Dev, st.Blksize = devDevice, devBlockSize
	}
	if n.size != nil {
		st.Size = n.size()
	}
	if n.typ == unix.DT_DIR {
		// A directory's "." and its subdirectories' ".." link to it.
		st.Nlink = 2
		for _, c := range n.list() {
			if c.typ == unix.DT_DIR {
				st.Nlink++
			}
		}
	}
	return st
}

// dirNode returns a directory, owned by root.
func dirNode(p string, perm uint32, list func() []*node) *node {
	return &node{path: p, typ: unix.DT_DIR, perm: perm, list: list}
}

// linkNode returns a symbolic link, owned by root, with a fixed target.
func linkNode(p, target string) *node {
	return &node{
		path:   p,
		typ:    unix.DT_LNK,
		perm:   0o777,
		target: func(*kernel.Task) (string, error) { return target, nil },
	}
}

// genNode returns a regular file, owned by root, whose contents gen
// generates at each open.
func (f *FS) genNode(p string, perm uint32, writeErr error, gen func(t *kernel.Task) ([]byte, error)) *node {
	n := &node{path: p, typ: unix.DT_REG, perm: perm, writeErr: writeErr}
	n.open = func(t *kernel.Task, flags uint32) (fs.File, error) {
		data, err := gen(t)
		if err != nil {
			return nil, err
		}
		return newSeqFile(n, f.stat(n), flags, data), nil
	}
	return n
}

// staticNodes returns a list function for a fixed set of children.
func staticNodes(nodes ...*node) func() []*node {
	return func() []*node { return nodes }
}
