package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// secret is what the canaries outside the root hold: no operation through
// the root may read it, and none may change a canary.
const secret = "SECRET: outside the root"

// escapeTree is a root in a temporary directory with canary files above
// it, at every level a "../" could reach, and symlinks inside it that try
// every way out.
type escapeTree struct {
	// top is the temporary directory; the root is top/x/y/root.
	top, root string
	// canaries are the host paths of the canary files.
	canaries []string
	// before records each canary's state, to compare after.
	before map[string]canaryState
}

// canaryState is what must not change about a canary.
type canaryState struct {
	data        string
	mode        uint32
	nlink       uint64
	mtime, ctim unix.Timespec
}

func canaryOf(t *testing.T, path string) canaryState {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("canary %s: %v", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("canary %s: %v", path, err)
	}
	return canaryState{string(data), st.Mode, st.Nlink, st.Mtim, st.Ctim}
}

func newEscapeTree(t *testing.T) *escapeTree {
	t.Helper()
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &escapeTree{top: top, root: filepath.Join(top, "x", "y", "root"), before: map[string]canaryState{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(e.root, "dir", "sub"), 0o755))
	for _, dir := range []string{top, filepath.Join(top, "x"), filepath.Join(top, "x", "y")} {
		c := filepath.Join(dir, "canary")
		must(os.WriteFile(c, []byte(secret), 0o644))
		e.canaries = append(e.canaries, c)
	}
	must(os.WriteFile(filepath.Join(e.root, "inside"), []byte("inside"), 0o644))
	must(os.WriteFile(filepath.Join(e.root, "dir", "file"), []byte("file"), 0o644))
	links := map[string]string{
		"abs":          filepath.Join(top, "canary"), // the canary's host path
		"absdir":       top,
		"rel":          "../../../canary",
		"dir/rel":      "../../../../canary",
		"dir/sub/rel":  "../../../../../../canary",
		"up":           "..",
		"dir/up":       "../..",
		"dotdots":      "dir/../../../..",
		"loop1":        "loop2",
		"loop2":        "loop1",
		"self":         "self",
		"procroot":     "/proc/self/root",
		"proccwd":      "/proc/self/cwd",
		"dir/toinside": "/inside",
	}
	for name, target := range links {
		must(os.Symlink(target, filepath.Join(e.root, name)))
	}
	for _, c := range e.canaries {
		e.before[c] = canaryOf(t, c)
	}
	return e
}

// check fails the test if a canary changed.
func (e *escapeTree) check(t *testing.T) {
	t.Helper()
	for _, c := range e.canaries {
		if got := canaryOf(t, c); got != e.before[c] {
			t.Errorf("canary %s changed: %+v, was %+v", c, got, e.before[c])
		}
	}
}

// escapes are sandbox paths that try to name a canary.
func (e *escapeTree) escapes() []string {
	return []string{
		"/../canary", "/../../canary", "/../../../canary", "/../../../../canary",
		"/dir/../../canary", "/dir/sub/../../../../canary", "//..//..//..//canary",
		"/abs", "/absdir/canary", "/rel", "/dir/rel", "/dir/sub/rel",
		"/up/canary", "/up/up/up/canary", "/dir/up/canary", "/dir/up/../../canary",
		"/dotdots/canary", "/procroot/" + e.top[1:] + "/canary", "/proccwd/canary",
		e.top + "/canary", e.top + "/x/canary",
	}
}

func openRoot(t *testing.T, dir string, readOnly bool) *Root {
	t.Helper()
	r, err := OpenRoot(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll reads an open file from its start.
func readAll(t *testing.T, f *HostFile) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := f.Read(context.Background(), usermem.BytesIOSequence(buf), 0)
	if err != nil {
		t.Fatalf("reading %s: %v", f.Name(), err)
	}
	return string(buf[:n])
}

// TestRootEscapes tries every path of escapes with every operation: each
// must fail, or act on a file inside the root; the canaries outside must
// neither be read nor change.
func TestRootEscapes(t *testing.T) {
	e := newEscapeTree(t)
	r := openRoot(t, e.root, false)
	var canaryInodes []uint64
	for _, c := range e.canaries {
		var st unix.Stat_t
		unix.Stat(c, &st)
		canaryInodes = append(canaryInodes, st.Ino)
	}
	isCanary := func(st unix.Stat_t) bool { return slices.Contains(canaryInodes, st.Ino) }
	for _, p := range e.escapes() {
		if f, err := r.Open(context.Background(), p, unix.O_RDONLY, 0, 0); err == nil {
			if got := readAll(t, f); strings.Contains(got, "SECRET") {
				t.Errorf("Open(%q) read a canary: %q", p, got)
			}
			f.DecRef()
		}
		if f, err := r.Open(context.Background(), p, unix.O_RDWR|unix.O_CREAT, 0o644, 0); err == nil {
			// Created inside the root, or opened something there.
			if !strings.HasPrefix(f.Name(), "/") {
				t.Errorf("Open(%q, O_CREAT) gave sandbox path %q", p, f.Name())
			}
			f.DecRef()
		}
		for _, follow := range []bool{true, false} {
			if st, err := r.Stat(p, follow); err == nil && isCanary(st) {
				t.Errorf("Stat(%q, follow %v) reached a canary", p, follow)
			}
		}
		r.Chmod(p, 0o777)
		r.Chown(p, -1, -1, true)
		r.Truncate(p, 0)
		r.Utimens(p, [2]unix.Timespec{{Sec: 1}, {Sec: 1}}, true)
		if err := r.Link(p, "/stolen", true); err == nil {
			if st, _ := r.Stat("/stolen", false); isCanary(st) {
				t.Errorf("Link(%q, follow) linked a canary into the root", p)
			}
			r.Unlink("/stolen")
		}
		if err := r.Link(p, "/stolen", false); err == nil {
			if st, _ := r.Stat("/stolen", false); isCanary(st) {
				t.Errorf("Link(%q) linked a canary into the root", p)
			}
			r.Unlink("/stolen")
		}
		r.Rename(p, "/stolen", 0)
		r.Unlink(p)
		e.check(t)
	}
}

// TestRootResolvesInside: ".." at the root stays there, and absolute
// symlinks are the root's, as in a chroot.
func TestRootResolvesInside(t *testing.T) {
	e := newEscapeTree(t)
	r := openRoot(t, e.root, false)
	for _, c := range []struct{ path, name, data string }{
		{"/../../inside", "/inside", "inside"},
		{"/dir/../../../dir/file", "/dir/file", "file"},
		{"/up/up/inside", "/inside", "inside"},
		{"/dir/toinside", "/inside", "inside"},
		{"/dotdots/dir/file", "/dir/file", "file"},
	} {
		f, err := r.Open(context.Background(), c.path, unix.O_RDONLY, 0, 0)
		if err != nil {
			t.Errorf("Open(%q): %v", c.path, err)
			continue
		}
		if got := readAll(t, f); got != c.data || f.Name() != c.name {
			t.Errorf("Open(%q) = %s holding %q, want %s holding %q", c.path, f.Name(), got, c.name, c.data)
		}
		f.DecRef()
	}
	for _, p := range []string{"/loop1", "/self", "/loop2/x"} {
		if _, err := r.Open(context.Background(), p, unix.O_RDONLY, 0, 0); err != unix.ELOOP {
			t.Errorf("Open(%q) = %v, want ELOOP", p, err)
		}
	}
	// An absolute host path is a path inside the root like any other.
	if _, err := r.Stat(e.top+"/canary", true); err != unix.ENOENT {
		t.Errorf("Stat of the canary's host path = %v, want ENOENT", err)
	}
}

// TestRootMagicLinks: with the host's own "/" as root, where /proc is the
// host's, the magic links that jump to a process's root or working
// directory are refused, and so is every file of the host's procfs.
func TestRootMagicLinks(t *testing.T) {
	r := openRoot(t, "/", false)
	for _, p := range []string{"/proc/self/root/etc/passwd", "/proc/self/cwd", "/proc/self/cwd/x", "/proc/self/exe", "/proc/thread-self/root"} {
		if _, err := r.Open(context.Background(), p, unix.O_RDONLY, 0, 0); err != unix.ELOOP {
			t.Errorf("Open(%q) = %v, want ELOOP", p, err)
		}
		if _, err := r.Stat(p, true); err != unix.ELOOP {
			t.Errorf("Stat(%q) = %v, want ELOOP", p, err)
		}
	}
	// Not following the last one reaches the link itself, a file of the
	// host's procfs (hostproc.go), as does any other path into it.
	for _, p := range []string{"/proc/self/root", "/proc/self/status", "/proc", "/proc/1/mem"} {
		if _, err := r.Stat(p, false); err != unix.EACCES {
			t.Errorf("Lstat(%q) = %v, want EACCES", p, err)
		}
	}
	if _, err := r.Open(context.Background(), "/proc/self/mem", unix.O_RDWR, 0, 0); err != unix.EACCES {
		t.Errorf("Open(/proc/self/mem) = %v, want EACCES", err)
	}
	// The root itself is not on the procfs.
	if _, err := r.Stat("/", false); err != nil {
		t.Errorf("Lstat(/) = %v", err)
	}
}

// TestRootRenamedDirectory: a directory descriptor keeps the sandbox path
// it was opened by. Once the directory is renamed and something else put
// at its old path, lookups relative to it go there, still inside the
// root.
func TestRootRenamedDirectory(t *testing.T) {
	e := newEscapeTree(t)
	r := openRoot(t, e.root, false)
	d, err := r.Open(context.Background(), "/dir", unix.O_RDONLY|unix.O_DIRECTORY, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.DecRef()
	if d.Name() != "/dir" {
		t.Fatalf("Name = %q, want /dir", d.Name())
	}
	if err := r.Rename("/dir", "/moved", 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Symlink("../../../..", "/dir"); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"canary", "../canary", "up/canary", "file"} {
		if f, err := r.Open(context.Background(), d.Name()+"/"+rel, unix.O_RDONLY, 0, 0); err == nil {
			if got := readAll(t, f); strings.Contains(got, "SECRET") {
				t.Errorf("%s/%s read a canary", d.Name(), rel)
			}
			f.DecRef()
		}
	}
	e.check(t)
}

// TestRootLastComponent: ".", ".." and "/" as a last component, and
// trailing slashes, get Linux's errors.
func TestRootLastComponent(t *testing.T) {
	e := newEscapeTree(t)
	r := openRoot(t, e.root, false)
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"mkdir /dir/..", r.Mkdir("/dir/..", 0o755), unix.EEXIST},
		{"mkdir /dir/.", r.Mkdir("/dir/.", 0o755), unix.EEXIST},
		{"mkdir /", r.Mkdir("/", 0o755), unix.EEXIST},
		{"rmdir /dir/.", r.Rmdir("/dir/."), unix.EINVAL},
		{"rmdir /dir/..", r.Rmdir("/dir/.."), unix.ENOTEMPTY},
		{"rmdir /", r.Rmdir("/"), unix.EBUSY},
		{"unlink /", r.Unlink("/"), unix.EISDIR},
		{"unlink /dir/..", r.Unlink("/dir/.."), unix.EISDIR},
		{"unlink /inside/", r.Unlink("/inside/"), unix.ENOTDIR},
		{"rename /dir/. /z", r.Rename("/dir/.", "/z", 0), unix.EBUSY},
		{"rename /inside /..", r.Rename("/inside", "/..", 0), unix.EBUSY},
		{"rename noreplace /inside /.", r.Rename("/inside", "/.", unix.RENAME_NOREPLACE), unix.EEXIST},
		{"symlink /dir/..", r.Symlink("x", "/dir/.."), unix.EEXIST},
		{"symlink /new/", r.Symlink("x", "/new/"), unix.ENOENT},
		{"link /inside /..", r.Link("/inside", "/..", false), unix.EEXIST},
		{"rmdir /nope/x", r.Rmdir("/nope/x"), unix.ENOENT},
		{"mkdir /inside/x", r.Mkdir("/inside/x", 0o755), unix.ENOTDIR},
		{"readlink /inside", func() error { _, err := r.Readlink("/inside"); return err }(), unix.EINVAL},
	} {
		if c.err != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.err, c.want)
		}
	}
	if err := r.Mkdir("/made/", 0o755); err != nil {
		t.Errorf("mkdir /made/ = %v", err)
	}
	if target, err := r.Readlink("/dir/toinside"); err != nil || target != "/inside" {
		t.Errorf("readlink /dir/toinside = %q, %v", target, err)
	}
	// lstat of a symlink with a trailing slash follows it, as on Linux.
	if st, err := r.Stat("/up/", false); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("lstat /up/ = %o, %v; want a directory", st.Mode, err)
	}
}

// TestRootReadOnly: in read-only mode every change fails with EROFS (or
// the error Linux gives first on a read-only mount), and nothing changes.
func TestRootReadOnly(t *testing.T) {
	e := newEscapeTree(t)
	r := openRoot(t, e.root, true)
	inside := filepath.Join(e.root, "inside")
	before := canaryOf(t, inside)
	f, err := r.Open(context.Background(), "/inside", unix.O_RDONLY, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if got := readAll(t, f); got != "inside" {
		t.Errorf("read %q", got)
	}
	open := func(p string, flags uint32) error {
		f, err := r.Open(context.Background(), p, flags, 0o644, 0)
		if err == nil {
			f.DecRef()
		}
		return err
	}
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"open O_WRONLY", open("/inside", unix.O_WRONLY), unix.EROFS},
		{"open O_RDWR", open("/inside", unix.O_RDWR), unix.EROFS},
		{"open O_TRUNC", open("/inside", unix.O_RDONLY|unix.O_TRUNC), unix.EROFS},
		{"open O_CREAT new", open("/new", unix.O_RDONLY|unix.O_CREAT), unix.EROFS},
		{"open O_CREAT missing parent", open("/nope/new", unix.O_WRONLY|unix.O_CREAT), unix.ENOENT},
		{"open O_CREAT|O_EXCL existing", open("/inside", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL), unix.EEXIST},
		{"open O_CREAT existing read-only", open("/inside", unix.O_RDONLY|unix.O_CREAT), nil},
		{"open O_APPEND", open("/inside", unix.O_WRONLY|unix.O_APPEND), unix.EROFS},
		{"open dir O_WRONLY", open("/dir", unix.O_WRONLY), unix.EISDIR},
		{"open O_TMPFILE", open("/dir", unix.O_TMPFILE|unix.O_RDWR), unix.EROFS},
		{"mkdir", r.Mkdir("/newdir", 0o755), unix.EROFS},
		{"mkdir existing", r.Mkdir("/dir", 0o755), unix.EEXIST},
		{"mknod", r.Mknod("/fifo", unix.S_IFIFO|0o644, 0), unix.EROFS},
		{"symlink", r.Symlink("x", "/newlink"), unix.EROFS},
		{"link", r.Link("/inside", "/newlink", false), unix.EROFS},
		{"link follow", r.Link("/inside", "/newlink", true), unix.EROFS},
		{"unlink", r.Unlink("/inside"), unix.EROFS},
		{"unlink missing", r.Unlink("/nope"), unix.EROFS},
		{"rmdir", r.Rmdir("/dir/sub"), unix.EROFS},
		{"rename", r.Rename("/inside", "/renamed", 0), unix.EROFS},
		{"chmod", r.Chmod("/inside", 0o600), unix.EROFS},
		{"chown", r.Chown("/inside", -1, -1, true), unix.EROFS},
		{"lchown", r.Chown("/abs", -1, -1, false), unix.EROFS},
		{"truncate", r.Truncate("/inside", 0), unix.EROFS},
		{"truncate dir", r.Truncate("/dir", 0), unix.EISDIR},
		{"utimens", r.Utimens("/inside", [2]unix.Timespec{{Sec: 1}, {Sec: 1}}, true), unix.EROFS},
		{"access W_OK", r.Access("/inside", unix.W_OK, true, false), unix.EROFS},
		{"access R_OK", r.Access("/inside", unix.R_OK, true, false), nil},
		{"fchmod", f.Chmod(0o600), unix.EROFS},
		{"fchown", f.Chown(-1, -1), unix.EROFS},
		{"futimens", f.Utimens([2]unix.Timespec{{Sec: 1}, {Sec: 1}}), unix.EROFS},
		{"ftruncate", f.Truncate(0), unix.EINVAL},
		{"fallocate", f.Allocate(0, 0, 100), unix.EBADF},
	} {
		if !errors.Is(c.err, c.want) && c.err != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.err, c.want)
		}
	}
	if sfs, err := r.Statfs("/"); err != nil || sfs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("statfs / = flags %#x, %v; want ST_RDONLY", sfs.Flags, err)
	}
	if got := canaryOf(t, inside); got != before {
		t.Errorf("/inside changed: %+v, was %+v", got, before)
	}
	for _, p := range []string{"newdir", "fifo", "newlink", "renamed", "new"} {
		if _, err := os.Lstat(filepath.Join(e.root, p)); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	e.check(t)
}

// TestReadDir lists a directory in pieces, resuming at each entry's Next,
// and sees every entry once.
func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 300 {
		name := strings.Repeat("n", i%40) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i)
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, ".", "..")
	r := openRoot(t, dir, false)
	d, err := r.Open(context.Background(), "/", unix.O_RDONLY|unix.O_DIRECTORY, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.DecRef()
	var got []string
	off := int64(0)
	for {
		ents, err := d.ReadDir(context.Background(), off)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			break
		}
		// Take three at a time, as a small getdents64 buffer would.
		for _, ent := range ents[:min(3, len(ents))] {
			got = append(got, ent.Name)
			off = ent.Next
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listed %d entries, want %d:\n%q", len(got), len(want), got)
	}
	f, err := r.Open(context.Background(), "/"+want[len(want)-1], unix.O_RDONLY, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if _, err := f.ReadDir(context.Background(), 0); err != unix.ENOTDIR {
		t.Errorf("ReadDir of a regular file = %v, want ENOTDIR", err)
	}
}

// TestSandboxPath: a file's name is its sandbox path with every symlink
// resolved, as /proc/self/fd shows it on Linux.
func TestSandboxPath(t *testing.T) {
	e := newEscapeTree(t)
	r := openRoot(t, e.root, false)
	for p, want := range map[string]string{
		"/":                  "/",
		"/dir/../inside":     "/inside",
		"/up/dir/up/dir/sub": "/dir/sub",
		"/dir/toinside":      "/inside",
	} {
		f, err := r.Open(context.Background(), p, unix.O_PATH, 0, 0)
		if err != nil {
			t.Errorf("Open(%q): %v", p, err)
			continue
		}
		if f.Name() != want {
			t.Errorf("Open(%q).Name() = %q, want %q", p, f.Name(), want)
		}
		f.DecRef()
	}
	if got, err := r.Chdir("/up/dir/sub/.."); err != nil || got != "/dir" {
		t.Errorf("Chdir = %q, %v; want /dir", got, err)
	}
	if _, err := r.Chdir("/inside"); err != unix.ENOTDIR {
		t.Errorf("Chdir(/inside) = %v, want ENOTDIR", err)
	}
}

// TestOpenFlags: open(2)'s leniency becomes what openat2(2) accepts.
func TestOpenFlags(t *testing.T) {
	for _, c := range []struct{ flags, mode, wantFlags, wantMode uint32 }{
		{unix.O_RDONLY | 0x40000000, 0o644, unix.O_RDONLY, 0},
		{unix.O_CREAT | unix.O_WRONLY, 0o100644, unix.O_CREAT | unix.O_WRONLY, 0o644},
		{unix.O_PATH | unix.O_RDWR | unix.O_CREAT | unix.O_NOFOLLOW, 0o644, unix.O_PATH | unix.O_NOFOLLOW, 0},
	} {
		if f, m := OpenFlags(c.flags, c.mode); f != c.wantFlags || m != c.wantMode {
			t.Errorf("OpenFlags(%#o, %#o) = %#o, %#o; want %#o, %#o", c.flags, c.mode, f, m, c.wantFlags, c.wantMode)
		}
	}
}
