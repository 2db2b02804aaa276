package fs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoDev: the host's /dev as a root, which any user may open: its
// devices can be looked up and opened O_PATH, never opened for I/O or
// reopened for it; the other files of a tree open as before, whatever
// open's flags ask.
func TestNoDev(t *testing.T) {
	devs := openRoot(t, "/dev", false)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range []struct{ target, name string }{{"file", "link"}, {"/dev/null", "hostlink"}, {"made", "dangling"}} {
		if err := os.Symlink(link.target, filepath.Join(dir, link.name)); err != nil {
			t.Fatal(err)
		}
	}
	files := openRoot(t, dir, false)
	open := func(r *Root, p string, flags uint32) error {
		flags, mode := OpenFlags(flags, 0o644)
		f, err := r.Open(context.Background(), p, flags, mode, 0)
		if err == nil {
			f.DecRef()
		}
		return err
	}
	reopen := func(p string, flags uint32) error {
		f, err := devs.Open(context.Background(), p, unix.O_PATH, 0, 0)
		if err != nil {
			return err
		}
		defer f.DecRef()
		g, err := f.Reopen(context.Background(), flags)
		if err == nil {
			g.Close()
		}
		return err
	}
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"char device O_RDONLY", open(devs, "/null", unix.O_RDONLY), unix.EACCES},
		{"char device O_RDWR", open(devs, "/zero", unix.O_RDWR), unix.EACCES},
		{"char device O_CREAT", open(devs, "/null", unix.O_WRONLY|unix.O_CREAT), unix.EACCES},
		{"char device O_CREAT|O_EXCL", open(devs, "/null", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL), unix.EEXIST},
		{"char device O_NOFOLLOW", open(devs, "/null", unix.O_RDONLY|unix.O_NOFOLLOW), unix.EACCES},
		{"char device O_DIRECTORY", open(devs, "/null", unix.O_RDONLY|unix.O_DIRECTORY), unix.ENOTDIR},
		{"char device O_PATH", open(devs, "/null", unix.O_PATH), nil},
		{"reopen O_RDONLY", reopen("/null", unix.O_RDONLY), unix.EACCES},
		{"reopen O_PATH", reopen("/null", unix.O_PATH), nil},
		{"directory of devices", open(devs, "/", unix.O_RDONLY|unix.O_DIRECTORY), nil},
		{"regular file", open(files, "/file", unix.O_RDWR), nil},
		{"regular file O_CREAT", open(files, "/file", unix.O_RDWR|unix.O_CREAT), nil},
		{"new file O_CREAT", open(files, "/new", unix.O_RDWR|unix.O_CREAT), nil},
		{"symlink followed", open(files, "/link", unix.O_RDONLY), nil},
		{"symlink O_NOFOLLOW", open(files, "/link", unix.O_RDONLY|unix.O_NOFOLLOW), unix.ELOOP},
		{"symlink O_PATH|O_NOFOLLOW", open(files, "/link", unix.O_PATH|unix.O_NOFOLLOW), nil},
		{"absolute symlink stays in the root", open(files, "/hostlink", unix.O_RDONLY), unix.ENOENT},
		{"directory O_CREAT", open(files, "/", unix.O_RDONLY|unix.O_CREAT), unix.EISDIR},
		{"directory O_WRONLY", open(files, "/", unix.O_WRONLY), unix.EISDIR},
		{"missing", open(files, "/missing", unix.O_RDONLY), unix.ENOENT},
		{"mknod char device", files.Mknod("/mem", unix.S_IFCHR|0o666, unix.Mkdev(1, 1)), unix.EPERM},
		{"mknod block device", files.Mknod("/disk", unix.S_IFBLK|0o666, unix.Mkdev(8, 0)), unix.EPERM},
		{"mknod device over a file", files.Mknod("/file", unix.S_IFCHR|0o666, unix.Mkdev(1, 1)), unix.EEXIST},
		{"mknod device, missing parent", files.Mknod("/nope/mem", unix.S_IFCHR|0o666, unix.Mkdev(1, 1)), unix.ENOENT},
		{"mknod fifo", files.Mknod("/fifo", unix.S_IFIFO|0o644, 0), nil},
		{"O_CREAT|O_EXCL through a dangling symlink", open(files, "/dangling", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL), unix.EEXIST},
		{"O_CREAT through a dangling symlink", open(files, "/dangling", unix.O_RDWR|unix.O_CREAT), nil},
	} {
		if !errors.Is(c.err, c.want) || (c.err == nil) != (c.want == nil) {
			t.Errorf("%s: %v, want %v", c.what, c.err, c.want)
		}
	}
	// O_CREAT made the dangling symlink's target, as Linux does.
	if st, err := os.Lstat(filepath.Join(dir, "made")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("the dangling symlink's target: %v, %v; want a regular file", st, err)
	}
	for _, name := range []string{"mem", "disk"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was made on the host: %v", name, err)
		}
	}
	f, err := files.Open(context.Background(), "/file", unix.O_RDONLY, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if got := readAll(t, f); got != "data" {
		t.Errorf("/file reads %q through the lookup and reopen, want %q", got, "data")
	}
}
