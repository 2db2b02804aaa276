package tests

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The file system: files.c compared with a native run in a fresh
// directory, busybox's file applets likewise, and the confinement of
// --root and --read-only, which have no native counterpart and are
// checked against canary files.

func init() {
	programs["files"] = staticLibcs
	programs["confine"] = staticLibcs
}

// freshDir returns a path for a directory that prepare creates empty
// before each run, native and under minisentry, so that both runs see the
// same path and the same (empty) directory.
func freshDir(t *testing.T) (dir string, prepare func(t *testing.T)) {
	t.Helper()
	parent, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(parent, "work")
	return dir, func(t *testing.T) {
		t.Helper()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	forEach(t, "files", func(t *testing.T, bin string) {
		dir, prepare := freshDir(t)
		compare(t, bin, invocation{args: []string{dir}, prepare: prepare}, 0)
	})
}

// fixtureTime is the time of every file of the busybox fixture, so that
// listings that show times are the same in every run.
var fixtureTime = time.Date(2024, 2, 29, 12, 34, 56, 0, time.UTC)

// busyboxFixture returns a directory for busybox to work in, and a prepare
// function that fills it afresh: a few files, a subtree, a symlink, all
// with fixed times.
func busyboxFixture(t *testing.T) (dir string, prepare func(t *testing.T)) {
	t.Helper()
	dir, fresh := freshDir(t)
	return dir, func(t *testing.T) {
		t.Helper()
		fresh(t)
		files := map[string]string{
			"a":                "one\ntwo\nthree\n",
			"b":                "banana\napple\ncherry\napple\n",
			"sub/c":            strings.Repeat("c", 5000),
			"sub/deep/d":       "deep\n",
			"sub/deep/er/e.md": "# e\n",
		}
		for name, data := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		// Directories last: creating their entries changed their times.
		var paths []string
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			paths = append(paths, path)
			return err
		})
		paths = append(paths, filepath.Dir(dir))
		for i := len(paths) - 1; i >= 0; i-- {
			if err := os.Chtimes(paths[i], fixtureTime, fixtureTime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// treeOf describes every file below dir: type and permissions, size,
// contents' digest or link target. Times are left out: files the applets
// create have the time of the run.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(&b, "%s %v", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			fmt.Fprintf(&b, " -> %s", target)
		case info.Mode().IsRegular():
			data, _ := os.ReadFile(path)
			fmt.Fprintf(&b, " %d %x", len(data), sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestBusyboxFiles runs busybox's file applets in the fixture, natively
// and under minisentry, and compares what they print and the tree they
// leave.
func TestBusyboxFiles(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%v: the busybox tests need Debian's busybox-static; %s", err, installHint)
	}
	cases := [][]string{
		{"ls", "-la"},
		{"ls", "-laR", "."},
		{"ls", "-lL", "link", "sub/deep"},
		{"ls", "-d", "sub/deep/er/../..", "/"},
		{"cat", "a", "link", "sub/deep/d"},
		{"cat", "missing"},
		{"wc", "a", "b", "sub/c"},
		{"sort", "-u", "b"},
		{"sha256sum", "a", "sub/c"},
		{"cp", "a", "copied"},
		{"cp", "-a", "sub", "sub2"},
		{"cp", "-r", "sub", "/proc/nonexistent/x"},
		{"mv", "a", "sub/deep/moved"},
		{"mv", "sub", "newsub"},
		{"rm", "b", "link"},
		{"rm", "-r", "sub"},
		{"rm", "sub"},
		{"rmdir", "sub/deep/er"},
		{"mkdir", "-p", "x/y/z"},
		{"mkdir", "sub"},
		{"ln", "-s", "../a", "sub/sym"},
		{"ln", "a", "hard"},
		{"chmod", "-R", "go-rwx", "sub"},
		{"touch", "-d", "2001-02-03 04:05:06", "a", "new"},
		{"find", "."},
		{"find", ".", "-name", "*.md", "-o", "-type", "l"},
		{"du", "-a", "sub"},
		{"stat", "-c", "%n %s %a %F %h", "a", "sub", "link"},
		{"readlink", "-f", "link"},
		{"realpath", "sub/deep/../deep/er"},
		{"tar", "-cf", "out.tar", "sub"},
		{"gzip", "-k", "b"},
		{"head", "-c", "10", "sub/c"},
		{"tail", "-n", "2", "b"},
		{"dd", "if=sub/c", "of=part", "bs=1000", "skip=2", "count=2", "status=none"},
		{"sh", "-c", "cd sub/deep && pwd && ls && cd .. && pwd && echo > x && ls -a"},
		{"sh", "-c", "ls nonexistent; echo status $?; ls -l a > list && cat list"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			dir, prepare := busyboxFixture(t)
			inv := invocation{args: args, dir: dir, prepare: prepare}
			noteInputs()
			native, nativeHow := runNative(t, busybox, inv)
			nativeTree := treeOf(t, dir)
			requireSentry(t)
			got, gotHow := runSentry(t, busybox, inv)
			gotTree := treeOf(t, dir)
			if diff := cmp.Diff(native, got); diff != "" {
				t.Errorf("busybox %s differs under minisentry (-native +minisentry):\n%s\nnatively: %s\nunder minisentry: %s",
					strings.Join(args, " "), diff, nativeHow, gotHow)
			}
			if diff := cmp.Diff(nativeTree, gotTree); diff != "" {
				t.Errorf("busybox %s leaves a different tree under minisentry (-native +minisentry):\n%s", strings.Join(args, " "), diff)
			}
		})
	}
}

// canaries puts a file with a secret in each of the directories, and
// returns a function that fails the test if any changed since.
func canaries(t *testing.T, dirs ...string) (paths []string, check func()) {
	t.Helper()
	const secret = "SECRET: outside the root\n"
	before := map[string]string{}
	describe := func(path string) string {
		info, err := os.Lstat(path)
		if err != nil {
			return err.Error()
		}
		data, _ := os.ReadFile(path)
		return fmt.Sprintf("%v %v %q", info.Mode(), info.ModTime(), data)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, "canary")
		if err := os.WriteFile(path, []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		before[path] = describe(path)
	}
	return paths, func() {
		t.Helper()
		for _, path := range paths {
			if got := describe(path); got != before[path] {
				t.Errorf("canary %s changed: %s, was %s", path, got, before[path])
			}
		}
	}
}

// confinedRoot makes top/x/root with the confine program in it, and
// canaries in top and top/x.
func confinedRoot(t *testing.T, bin string) (root string, canaryPaths []string, check func()) {
	t.Helper()
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(top, "x", "root")
	if err := os.MkdirAll(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "confine"), prog, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "inside"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	canaryPaths, check = canaries(t, top, filepath.Join(top, "x"))
	return root, canaryPaths, check
}

// TestRootConfines: under --root, confine tries every escape it knows;
// each must fail or stay inside, and the canaries outside must be neither
// read nor changed.
func TestRootConfines(t *testing.T) {
	t.Parallel()
	forEach(t, "confine", func(t *testing.T, bin string) {
		requireSentry(t)
		noteInputs()
		root, canaryPaths, check := confinedRoot(t, bin)
		inv := invocation{args: append([]string{"escape"}, canaryPaths...)}
		got, how := runSentry(t, "/confine", inv, "--root", root)
		if got.Status != 0 || strings.Contains(got.Stdout, "SECRET") || !strings.HasSuffix(got.Stdout, "0 checks failed\n") {
			t.Errorf("confine escape under --root %s: %s\n%s", root, how, showOutcome(got))
		}
		check()
	})
}

// TestReadOnly: under --read-only, every change to the tree fails with
// EROFS, and the tree stays as it was.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	forEach(t, "confine", func(t *testing.T, bin string) {
		requireSentry(t)
		noteInputs()
		root, _, check := confinedRoot(t, bin)
		before := treeOf(t, root)
		got, how := runSentry(t, "/confine", invocation{args: []string{"readonly"}}, "--root", root, "--read-only")
		if got.Status != 0 || !strings.HasSuffix(got.Stdout, "0 checks failed\n") {
			t.Errorf("confine readonly under --read-only: %s\n%s", how, showOutcome(got))
		}
		if after := treeOf(t, root); after != before {
			t.Errorf("the tree changed under --read-only:\n%s", cmp.Diff(before, after))
		}
		check()
	}, "glibc")
}

// TestRootBusybox: busybox, copied into a root, sees only the root, with
// the working directory at its top.
func TestRootBusybox(t *testing.T) {
	t.Parallel()
	requireSentry(t)
	noteInputs()
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(top, "root")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", busybox, filepath.Join(root, "bin", "busybox")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	_, check := canaries(t, top)
	inv := invocation{args: []string{"sh", "-c", "pwd; cd ..; pwd; ls /; ls ..; cat ../canary /../canary; echo hello > /written; cat /written"}}
	got, how := runSentry(t, "/bin/busybox", inv, "--root", root)
	want := "/\n/\nbin\nbin\nhello\n"
	if got.Stdout != want || strings.Contains(got.Stderr, "SECRET") {
		t.Errorf("under --root: %s, stdout %q, want %q\n%s", how, got.Stdout, want, showOutcome(got))
	}
	check()
	// Without --root, --read-only protects the host's tree.
	target := filepath.Join(top, "created")
	got, how = runSentry(t, busybox, invocation{args: []string{"touch", target}}, "--read-only")
	if _, err := os.Stat(target); err == nil || got.Status == 0 || !strings.Contains(got.Stderr, "Read-only file system") {
		t.Errorf("touch under --read-only: %s, and %s exists: %v\n%s", how, target, err == nil, showOutcome(got))
	}
}
