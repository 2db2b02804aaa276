package procfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// These tests use the parts of the tree that need no running kernel: /dev,
// /proc/sys and the host's files. A task with no kernel, root's
// credentials and nothing else, looks them up. Process directories are
// tested by tests/programs/procdev.c, natively and under minisentry.

// rootTask is a task outside any kernel, with root's ids.
var rootTask = &kernel.Task{}

// mustOpen opens p or fails the test.
func mustOpen(t *testing.T, f *FS, p string, flags uint32) fs.File {
	t.Helper()
	file, handled, err := f.Open(rootTask, p, flags)
	if !handled || err != nil {
		t.Fatalf("Open(%q, %#x) = handled %v, %v", p, flags, handled, err)
	}
	return file
}

// readAll reads file from its offset to the end, n bytes at a time.
func readAll(t *testing.T, file fs.File, n int) []byte {
	t.Helper()
	var out []byte
	for {
		buf := make([]byte, n)
		got, err := file.Read(context.Background(), usermem.BytesIOSequence(buf), -1)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if got == 0 {
			return out
		}
		out = append(out, buf[:got]...)
	}
}

// listNames lists dir with ReadDir from offset 0.
func listNames(t *testing.T, dir fs.File) []string {
	t.Helper()
	d, ok := dir.(fs.Directory)
	if !ok {
		t.Fatalf("%s is not a Directory", dir.Name())
	}
	ents, err := d.ReadDir(context.Background(), 0)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	var names []string
	for i, e := range ents {
		if e.Next != int64(i+1) {
			t.Errorf("%s: entry %q has Next %d, want %d", dir.Name(), e.Name, e.Next, i+1)
		}
		names = append(names, e.Name)
	}
	return names
}

func TestNotInTree(t *testing.T) {
	f := New()
	for _, p := range []string{"/", "/devices", "/procfs", "/tmp/proc", "/etc/passwd"} {
		if _, handled, _ := f.Open(rootTask, p, unix.O_RDONLY); handled {
			t.Errorf("Open(%q) handled", p)
		}
		if _, handled, _ := f.Stat(rootTask, p, true); handled {
			t.Errorf("Stat(%q) handled", p)
		}
		if _, handled, _ := f.Readlink(rootTask, p); handled {
			t.Errorf("Readlink(%q) handled", p)
		}
	}
}

func TestDevStat(t *testing.T) {
	f := New()
	for _, c := range []struct {
		name         string
		mode         uint32
		major, minor uint32
		size         int64
	}{
		{"null", unix.S_IFCHR | 0o666, 1, 3, 0},
		{"zero", unix.S_IFCHR | 0o666, 1, 5, 0},
		{"full", unix.S_IFCHR | 0o666, 1, 7, 0},
		{"random", unix.S_IFCHR | 0o666, 1, 8, 0},
		{"urandom", unix.S_IFCHR | 0o666, 1, 9, 0},
		{"tty", unix.S_IFCHR | 0o666, 5, 0, 0},
		{"stdin", unix.S_IFLNK | 0o777, 0, 0, 15},
		{"stdout", unix.S_IFLNK | 0o777, 0, 0, 15},
		{"stderr", unix.S_IFLNK | 0o777, 0, 0, 15},
		{"fd", unix.S_IFLNK | 0o777, 0, 0, 13},
	} {
		p := "/dev/" + c.name
		st, handled, err := f.Stat(rootTask, p, false)
		if !handled || err != nil {
			t.Errorf("Stat(%q) = handled %v, %v", p, handled, err)
			continue
		}
		if st.Mode != c.mode || unix.Major(st.Rdev) != c.major || unix.Minor(st.Rdev) != c.minor || st.Size != c.size {
			t.Errorf("Stat(%q): mode %#o rdev %d:%d size %d, want %#o %d:%d %d",
				p, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Size, c.mode, c.major, c.minor, c.size)
		}
		if st.Dev != devDevice || st.Nlink != 1 || st.Blksize != devBlockSize {
			t.Errorf("Stat(%q): dev %#x nlink %d blksize %d", p, st.Dev, st.Nlink, st.Blksize)
		}
		again, _, _ := f.Stat(rootTask, p, false)
		if again.Ino != st.Ino || st.Ino == 0 {
			t.Errorf("Stat(%q): inode %d, then %d", p, st.Ino, again.Ino)
		}
	}

	st, _, err := f.Stat(rootTask, "/dev", true)
	if err != nil || st.Mode != unix.S_IFDIR|0o755 || st.Nlink != 2 {
		t.Errorf("Stat(/dev) = mode %#o nlink %d, %v", st.Mode, st.Nlink, err)
	}
}

func TestDevListing(t *testing.T) {
	f := New()
	dir := mustOpen(t, f, "/dev", unix.O_RDONLY|unix.O_DIRECTORY)
	want := []string{".", "..", "fd", "full", "null", "random", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	if diff := cmp.Diff(want, listNames(t, dir)); diff != "" {
		t.Errorf("/dev lists (-want +got):\n%s", diff)
	}
	d := dir.(fs.Directory)
	ents, _ := d.ReadDir(context.Background(), 5)
	if len(ents) != len(want)-5 || ents[0].Name != want[5] {
		t.Errorf("ReadDir(5) starts at %q with %d entries", ents[0].Name, len(ents))
	}
	if ents, _ := d.ReadDir(context.Background(), int64(len(want))); len(ents) != 0 {
		t.Errorf("ReadDir past the end = %v", ents)
	}
	if _, err := dir.Read(context.Background(), usermem.BytesIOSequence(make([]byte, 8)), -1); err != unix.EISDIR {
		t.Errorf("Read of /dev: %v, want EISDIR", err)
	}
}

func TestDevLinks(t *testing.T) {
	f := New()
	for name, want := range map[string]string{
		"stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "fd": "/proc/self/fd",
	} {
		got, handled, err := f.Readlink(rootTask, "/dev/"+name)
		if !handled || err != nil || got != want {
			t.Errorf("Readlink(/dev/%s) = %q, %v, %v, want %q", name, got, handled, err, want)
		}
	}
	if _, _, err := f.Readlink(rootTask, "/dev/null"); err != unix.EINVAL {
		t.Errorf("Readlink(/dev/null): %v, want EINVAL", err)
	}
	if _, _, err := f.Open(rootTask, "/dev/stdin", unix.O_RDONLY|unix.O_NOFOLLOW); err != unix.ELOOP {
		t.Errorf("Open(/dev/stdin, O_NOFOLLOW): %v, want ELOOP", err)
	}
}

func TestOpenErrors(t *testing.T) {
	f := New()
	for _, c := range []struct {
		path  string
		flags uint32
		want  error
	}{
		{"/dev/nothing", unix.O_RDONLY, unix.ENOENT},
		{"/dev/nothing", unix.O_WRONLY | unix.O_CREAT, unix.EACCES},
		{"/dev/null", unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL, unix.EEXIST},
		{"/dev/null", unix.O_RDONLY | unix.O_DIRECTORY, unix.ENOTDIR},
		{"/dev/null/x", unix.O_RDONLY, unix.ENOTDIR},
		{"/dev", unix.O_WRONLY, unix.EISDIR},
		{"/dev", unix.O_RDONLY | unix.O_CREAT, unix.EISDIR},
		{"/proc/nothing", unix.O_WRONLY | unix.O_CREAT, unix.ENOENT},
		{"/proc/0", unix.O_RDONLY, unix.ENOENT},
		{"/proc/007", unix.O_RDONLY, unix.ENOENT},
		{"/proc/sys/kernel/ostype", unix.O_WRONLY, unix.EACCES},
		{"/proc/sys/kernel/ostype", unix.O_RDONLY | unix.O_TRUNC, unix.EACCES},
		{"/proc/sys/kernel/ostype/x", unix.O_RDONLY, unix.ENOTDIR},
		{"/proc/self", unix.O_RDONLY | unix.O_NOFOLLOW, unix.ELOOP},
	} {
		_, handled, err := f.Open(rootTask, c.path, c.flags)
		if !handled || err != c.want {
			t.Errorf("Open(%q, %#x) = handled %v, %v, want %v", c.path, c.flags, handled, err, c.want)
		}
	}
}

func TestDevReadWrite(t *testing.T) {
	f := New()
	ctx := context.Background()
	read := func(p string, n int) ([]byte, error) {
		file := mustOpen(t, f, p, unix.O_RDWR)
		buf := bytes.Repeat([]byte{0xaa}, n)
		got, err := file.Read(ctx, usermem.BytesIOSequence(buf), -1)
		return buf[:got], err
	}
	write := func(p string, n int) (int64, error) {
		file := mustOpen(t, f, p, unix.O_RDWR)
		return file.Write(ctx, usermem.BytesIOSequence(make([]byte, n)), -1)
	}

	if got, err := read("/dev/null", 16); len(got) != 0 || err != nil {
		t.Errorf("/dev/null read %d bytes, %v", len(got), err)
	}
	for _, p := range []string{"/dev/zero", "/dev/full"} {
		if got, err := read(p, 4096); err != nil || !bytes.Equal(got, make([]byte, 4096)) {
			t.Errorf("%s read %d bytes, %v, not all zero", p, len(got), err)
		}
	}
	for _, p := range []string{"/dev/random", "/dev/urandom"} {
		a, errA := read(p, 32)
		b, errB := read(p, 32)
		if errA != nil || errB != nil || len(a) != 32 || bytes.Equal(a, b) {
			t.Errorf("%s read %x (%v) then %x (%v)", p, a, errA, b, errB)
		}
	}
	for _, p := range []string{"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"} {
		if n, err := write(p, 100); n != 100 || err != nil {
			t.Errorf("%s write = %d, %v, want 100", p, n, err)
		}
	}
	if n, err := write("/dev/full", 100); n != 0 || err != unix.ENOSPC {
		t.Errorf("/dev/full write = %d, %v, want ENOSPC", n, err)
	}

	// Linux's /dev/null takes any buffer, even one it could not read.
	null := mustOpen(t, f, "/dev/null", unix.O_WRONLY)
	bad := usermem.IOSequence{IO: usermem.BytesIO{}, Addrs: usermem.AddrRangeSeqOf(usermem.AddrRange{Start: 0x1000, End: 0x2000})}
	if n, err := null.Write(ctx, bad, -1); n != 0x1000 || err != nil {
		t.Errorf("/dev/null write of a bad buffer = %d, %v", n, err)
	}
	zero := mustOpen(t, f, "/dev/zero", unix.O_RDONLY)
	if _, err := zero.Read(ctx, bad, -1); err != unix.EFAULT {
		t.Errorf("/dev/zero read into a bad buffer: %v, want EFAULT", err)
	}

	// Access modes.
	ro := mustOpen(t, f, "/dev/null", unix.O_RDONLY)
	if _, err := ro.Write(ctx, usermem.BytesIOSequence(make([]byte, 1)), -1); err != unix.EBADF {
		t.Errorf("write on O_RDONLY: %v, want EBADF", err)
	}
	wo := mustOpen(t, f, "/dev/zero", unix.O_WRONLY|unix.O_APPEND)
	if _, err := wo.Read(ctx, usermem.BytesIOSequence(make([]byte, 1)), -1); err != unix.EBADF {
		t.Errorf("read on O_WRONLY: %v, want EBADF", err)
	}
	if flags, _ := wo.StatusFlags(); flags != unix.O_WRONLY|unix.O_APPEND|oLargeFile {
		t.Errorf("StatusFlags = %#x", flags)
	}
	if off, err := wo.Seek(100, unix.SEEK_SET); off != 0 || err != nil {
		t.Errorf("Seek on /dev/zero = %d, %v, want 0", off, err)
	}
	st, _ := wo.Stat()
	if st.Rdev != unix.Mkdev(1, 5) || wo.Name() != "/dev/zero" {
		t.Errorf("fstat of /dev/zero: rdev %#x, name %q", st.Rdev, wo.Name())
	}
}

func TestSeqFile(t *testing.T) {
	ctx := context.Background()
	n := &node{path: "/proc/test", typ: unix.DT_REG, perm: 0o444, writeErr: unix.EIO}
	data := []byte("0123456789abcdef")
	file := newSeqFile(n, unix.Stat_t{}, unix.O_RDONLY, data)

	if got := readAll(t, file, 5); !bytes.Equal(got, data) {
		t.Errorf("read %q, want %q", got, data)
	}
	buf := make([]byte, 4)
	if got, err := file.Read(ctx, usermem.BytesIOSequence(buf), 10); got != 4 || err != nil || string(buf) != "abcd" {
		t.Errorf("pread at 10 = %d %q, %v", got, buf, err)
	}
	if got, err := file.Read(ctx, usermem.BytesIOSequence(buf), 100); got != 0 || err != nil {
		t.Errorf("pread past the end = %d, %v", got, err)
	}
	for _, c := range []struct {
		off    int64
		whence int
		want   int64
		err    error
	}{
		{3, unix.SEEK_SET, 3, nil},
		{2, unix.SEEK_CUR, 5, nil},
		{-6, unix.SEEK_CUR, 0, unix.EINVAL},
		{0, unix.SEEK_END, 0, unix.EINVAL},
		{-1, unix.SEEK_SET, 0, unix.EINVAL},
	} {
		if got, err := file.Seek(c.off, c.whence); got != c.want || err != c.err {
			t.Errorf("Seek(%d, %d) = %d, %v, want %d, %v", c.off, c.whence, got, err, c.want, c.err)
		}
	}
	if got := readAll(t, file, 100); string(got) != "56789abcdef" {
		t.Errorf("read after seeking to 5: %q", got)
	}
	for _, c := range []struct {
		mode   seekMode
		off    int64
		whence int
		want   int64
		err    error
	}{
		{seekSized, 3, unix.SEEK_END, 3, nil},
		{seekSized, -1, unix.SEEK_END, 0, unix.EINVAL},
		{seekSized, 1 << 31, unix.SEEK_SET, 0, unix.EINVAL},
		{seekSized, 1<<31 - 1, unix.SEEK_SET, 1<<31 - 1, nil},
		{seekAny, 1 << 40, unix.SEEK_SET, 1 << 40, nil},
		{seekAny, 7, unix.SEEK_END, 7, nil},
		{seekSeq, 1 << 40, unix.SEEK_SET, 1 << 40, nil},
		{seekSeq, 0, unix.SEEK_DATA, 0, unix.EINVAL},
	} {
		sn := &node{path: "/proc/test", typ: unix.DT_REG, seek: c.mode}
		f := newSeqFile(sn, unix.Stat_t{}, unix.O_RDONLY, data)
		if got, err := f.Seek(c.off, c.whence); got != c.want || err != c.err {
			t.Errorf("mode %d: Seek(%d, %d) = %d, %v, want %d, %v", c.mode, c.off, c.whence, got, err, c.want, c.err)
		}
	}

	if _, err := file.Write(ctx, usermem.BytesIOSequence(buf), -1); err != unix.EBADF {
		t.Errorf("write on O_RDONLY: %v, want EBADF", err)
	}
	wfile := newSeqFile(n, unix.Stat_t{}, unix.O_RDWR, data)
	if _, err := wfile.Write(ctx, usermem.BytesIOSequence(buf), -1); err != unix.EIO {
		t.Errorf("write: %v, want EIO", err)
	}
	pfile := newSeqFile(n, unix.Stat_t{}, unix.O_PATH, data)
	if _, err := pfile.Read(ctx, usermem.BytesIOSequence(buf), -1); err != unix.EBADF {
		t.Errorf("read of O_PATH: %v, want EBADF", err)
	}
}

func TestProcSys(t *testing.T) {
	f := New()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{
		"ostype":    u.Sysname[:],
		"osrelease": u.Release[:],
		"hostname":  u.Nodename[:],
	} {
		file := mustOpen(t, f, "/proc/sys/kernel/"+name, unix.O_RDONLY)
		if got := string(readAll(t, file, 3)); got != unix.ByteSliceToString(want)+"\n" {
			t.Errorf("/proc/sys/kernel/%s = %q", name, got)
		}
		st, _ := file.Stat()
		if st.Mode != unix.S_IFREG|0o444 || st.Dev != procDevice || st.Blksize != procBlockSize {
			t.Errorf("/proc/sys/kernel/%s: mode %#o dev %#x blksize %d", name, st.Mode, st.Dev, st.Blksize)
		}
	}
	if diff := cmp.Diff([]string{".", "..", "kernel"}, listNames(t, mustOpen(t, f, "/proc/sys", unix.O_RDONLY))); diff != "" {
		t.Errorf("/proc/sys lists (-want +got):\n%s", diff)
	}
	st, _, err := f.Stat(rootTask, "/proc/sys", true)
	if err != nil || st.Mode != unix.S_IFDIR|0o555 || st.Nlink != 3 {
		t.Errorf("Stat(/proc/sys) = mode %#o nlink %d, %v", st.Mode, st.Nlink, err)
	}
}

func TestProcSystemFiles(t *testing.T) {
	f := New()
	f.hostProc = t.TempDir()
	for _, name := range []string{"cpuinfo", "meminfo", "stat", "uptime", "version"} {
		want := "host's " + name + "\n"
		if err := os.WriteFile(filepath.Join(f.hostProc, name), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		file := mustOpen(t, f, "/proc/"+name, unix.O_RDWR)
		if got := string(readAll(t, file, 7)); got != want {
			t.Errorf("/proc/%s = %q, want %q", name, got, want)
		}
		if _, err := file.Write(context.Background(), usermem.BytesIOSequence([]byte("x")), -1); err != unix.EIO {
			t.Errorf("write to /proc/%s: %v, want EIO", name, err)
		}
		if file.Name() != "/proc/"+name {
			t.Errorf("Name() = %q", file.Name())
		}
	}
	if got := string(readAll(t, mustOpen(t, f, "/proc/filesystems", unix.O_RDONLY), 10)); got != filesystemsText {
		t.Errorf("/proc/filesystems = %q", got)
	}
	if got, _, err := f.Readlink(rootTask, "/proc/mounts"); got != "self/mounts" || err != nil {
		t.Errorf("Readlink(/proc/mounts) = %q, %v", got, err)
	}
}
