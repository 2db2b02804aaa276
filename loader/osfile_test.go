package loader

import (
	"bytes"
	"os"
	"syscall"
	"testing"

	"github.com/minisentry/minisentry/usermem"
)

func TestFileFromOS(t *testing.T) {
	path := builtProgram(t, "hello-static")
	data := readProgram(t, "hello-static")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	hf, err := FileFromOS(f)
	if err != nil {
		t.Fatalf("FileFromOS: %v", err)
	}
	// The File has its own descriptor: closing the caller's changes
	// nothing.
	f.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if hf.DeviceID() != st.Dev || hf.InodeID() != st.Ino || hf.MappedName() != path {
		t.Errorf("got device %#x, inode %d, name %q; wanted %#x, %d, %q", hf.DeviceID(), hf.InodeID(), hf.MappedName(), st.Dev, st.Ino, path)
	}
	if size, err := hf.Size(); size != int64(len(data)) || err != nil {
		t.Errorf("Size: got (%d, %v), wanted (%d, nil)", size, err, len(data))
	}
	buf := make([]byte, 100)
	if n, err := hf.ReadAt(buf, 1000); n != 100 || err != nil || !bytes.Equal(buf, data[1000:1100]) {
		t.Errorf("ReadAt(1000): got (%d, %v)", n, err)
	}

	m := newTestMM(t)
	res, err := Load(ctx, m, LoadArgs{File: hf, Filename: path, Argv: []string{path}, Random: bytes.NewReader(testRandom[:])})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Drop the caller's reference: the vmas keep the file open, and the
	// program's pages can still be read in.
	hf.DecRef()
	if n := hf.refs.Load(); n < 1 {
		t.Fatalf("after Load and DecRef, %d references: the vmas should hold some", n)
	}
	info, _ := ParseELF(bytes.NewReader(data), int64(len(data)))
	checkSegments(t, m, data, info, 0)
	if res.Entry != usermem.Addr(info.Entry) {
		t.Errorf("Entry: got %#x, wanted %#x", res.Entry, info.Entry)
	}

	// Unmapping the program drops the last references, which closes the
	// descriptor.
	last := info.Segments[len(info.Segments)-1]
	if err := m.MUnmap(ctx, 0x400000, last.End()); err != nil {
		t.Fatalf("MUnmap: %v", err)
	}
	if n := hf.refs.Load(); n != 0 {
		t.Errorf("after unmapping everything, %d references, wanted 0", n)
	}
	if _, err := hf.ReadAt(buf, 0); err == nil {
		t.Errorf("ReadAt after the last DecRef succeeded: the descriptor is still open")
	}
}

func TestFileFromOSClosed(t *testing.T) {
	f, err := os.Open(builtProgram(t, "hello-static"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := FileFromOS(f); err == nil {
		t.Errorf("FileFromOS of a closed file succeeded")
	}
}
