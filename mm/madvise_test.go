package mm

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

func TestMAdviseDontNeed(t *testing.T) {
	mm, p := newTestMM(t)
	as := testAddressSpace(t, mm)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	file := &testFile{data: []byte("file bytes")}
	const f = 0x10002000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: f, Fixed: true, Private: true, Perms: usermem.ReadWrite, Mappable: file})
	s := mustMMap(t, mm, MMapOpts{Length: 0x1000, Perms: usermem.ReadWrite})

	mustCopyOut(t, mm, a, []byte("anonymous"))
	mustCopyOut(t, mm, f, []byte("FILE"))
	mustCopyOut(t, mm, s, []byte("shared"))
	if err := mm.HandleUserFault(ctx, a, usermem.Write); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	as.takeCalls()

	if err := mm.MAdvise(ctx, a, 0x3000, unix.MADV_DONTNEED); err != nil {
		t.Fatalf("MADV_DONTNEED: %v", err)
	}
	if err := mm.MAdvise(ctx, s, 0x1000, unix.MADV_DONTNEED); err != nil {
		t.Fatalf("MADV_DONTNEED: %v", err)
	}
	check(t, mm)
	if _, ok := as.mapped(a); ok {
		t.Errorf("page still mapped after MADV_DONTNEED")
	}
	if got := mustCopyIn(t, mm, a, 9); !bytes.Equal(got, make([]byte, 9)) {
		t.Errorf("private anonymous memory after MADV_DONTNEED: %q, wanted zeros", got)
	}
	if got := mustCopyIn(t, mm, f, 10); string(got) != "file bytes" {
		t.Errorf("private file mapping after MADV_DONTNEED: %q, wanted the file again", got)
	}
	if got := mustCopyIn(t, mm, s, 6); string(got) != "shared" {
		t.Errorf("shared mapping after MADV_DONTNEED: %q, wanted its contents kept", got)
	}
	if err := mm.MAdvise(ctx, a, 0x3000, unix.MADV_DONTNEED); err != nil {
		t.Fatalf("MADV_DONTNEED: %v", err)
	}
	// What is left allocated is the shared object's chunk (its 0x1000 bytes)
	// and the pmas mapping it.
	if got := p.mf.Usage(); got != 0x1000 {
		t.Errorf("Usage after MADV_DONTNEED of everything private: %#x, wanted 0x1000", got)
	}
}

func TestMAdviseErrors(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x2000, Fixed: true, Private: true, Perms: usermem.Read})
	const f = 0x10004000
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: f, Fixed: true, Private: true, Perms: usermem.Read, Mappable: &testFile{data: []byte("x")}})
	s := mustMMap(t, mm, MMapOpts{Length: 0x1000, Perms: usermem.Read, MaxPerms: usermem.Read})
	for _, tc := range []struct {
		desc   string
		addr   usermem.Addr
		length uint64
		advice int
		want   error
	}{
		{"unknown advice", a, 0x1000, 5, unix.EINVAL},
		{"negative advice", a, 0x1000, -1, unix.EINVAL},
		{"unknown advice, empty range", a, 0, 1000, unix.EINVAL},
		{"unaligned", a + 1, 0x1000, unix.MADV_DONTNEED, unix.EINVAL},
		{"length overflows", a, ^uint64(0), unix.MADV_DONTNEED, unix.EINVAL},
		{"range wraps", a, ^uint64(0) &^ 0xfff, unix.MADV_DONTNEED, unix.EINVAL},
		{"empty", a, 0, unix.MADV_DONTNEED, nil},
		{"empty in a hole", a + 0x1000, 0, unix.MADV_NORMAL, nil},
		{"mapped", a, 1, unix.MADV_WILLNEED, nil},
		{"over a hole", a, 0x3000, unix.MADV_DONTNEED, unix.ENOMEM},
		{"hint over a hole", a, 0x3000, unix.MADV_SEQUENTIAL, unix.ENOMEM},
		{"beyond every vma", 0x7f0000000000, 0x1000, unix.MADV_NORMAL, unix.ENOMEM},
		{"hwpoison", a, 0x1000, unix.MADV_HWPOISON, unix.EPERM},
		{"soft offline", a, 0x1000, madvSoftOffline, unix.EPERM},
		{"free of a file mapping", f, 0x1000, unix.MADV_FREE, unix.EINVAL},
		{"free of private anonymous memory", a, 0x1000, unix.MADV_FREE, nil},
		{"remove of private anonymous memory", a, 0x1000, unix.MADV_REMOVE, unix.EINVAL},
		{"remove of a private file mapping", f, 0x1000, unix.MADV_REMOVE, unix.EACCES},
		{"remove of a read-only shared mapping", s, 0x1000, unix.MADV_REMOVE, unix.EACCES},
		{"wipeonfork of a file mapping", f, 0x1000, unix.MADV_WIPEONFORK, unix.EINVAL},
		{"wipeonfork of a shared mapping", s, 0x1000, unix.MADV_WIPEONFORK, unix.EINVAL},
		{"populate write of read-only memory", a + 0x2000, 0x1000, unix.MADV_POPULATE_WRITE, unix.EINVAL},
		{"populate read", a + 0x2000, 0x1000, unix.MADV_POPULATE_READ, nil},
		{"populate read beyond a file's end", f, 0x2000, unix.MADV_POPULATE_READ, unix.EFAULT},
	} {
		if got := mm.MAdvise(ctx, tc.addr, tc.length, tc.advice); got != tc.want {
			t.Errorf("%s: MAdvise(%#x, %#x, %d): got %v, wanted %v", tc.desc, tc.addr, tc.length, tc.advice, got, tc.want)
		}
		check(t, mm)
	}
}

func TestMAdviseRemoveShared(t *testing.T) {
	parent, _ := newTestMM(t)
	a := mustMMap(t, parent, MMapOpts{Length: 0x2000, Perms: usermem.ReadWrite})
	mustCopyOut(t, parent, a, []byte{1, 0x1000: 2})
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if err := child.MAdvise(ctx, a+0x1000, 0x1000, unix.MADV_REMOVE); err != nil {
		t.Fatalf("MADV_REMOVE: %v", err)
	}
	if got := mustCopyIn(t, parent, a, 0x1001); got[0] != 1 || got[0x1000] != 0 {
		t.Errorf("after the child's MADV_REMOVE of the second page, the parent reads %d %d, wanted 1 0", got[0], got[0x1000])
	}
}

func TestMAdvisePopulate(t *testing.T) {
	mm, _ := newTestMM(t)
	as := testAddressSpace(t, mm)
	a := mustMMap(t, mm, anon(4<<20, usermem.ReadWrite))
	mustCopyOut(t, mm, a, []byte{1})
	child, err := mm.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	defer child.DecUsers(ctx)
	if err := mm.MAdvise(ctx, a, 4<<20, unix.MADV_POPULATE_WRITE); err != nil {
		t.Fatalf("MADV_POPULATE_WRITE: %v", err)
	}
	if page, ok := as.mapped(a + 3<<20); !ok || page.perms != usermem.ReadWrite {
		t.Errorf("after MADV_POPULATE_WRITE the page is mapped %v %v, wanted rw-", ok, page.perms)
	}
	// The write populate broke copy-on-write with the child.
	if p := pmaAt(t, mm, a); p.needCOW {
		t.Errorf("after MADV_POPULATE_WRITE the pma is still needCOW: %+v", p)
	}
	check(t, mm)
}
