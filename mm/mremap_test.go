package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

func TestMRemap(t *testing.T) {
	mm, p := newTestMM(t)
	as := testAddressSpace(t, mm)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustCopyOut(t, mm, a, []byte("hello"))

	// Grow in place.
	if got, err := mm.MRemap(ctx, a, 0x2000, 0x4000, MRemapOpts{}); got != a || err != nil {
		t.Fatalf("MRemap growing in place: got (%#x, %v), wanted (%#x, nil)", got, err, a)
	}
	if want := (&vmaLine{a, a + 0x4000, "rw-p", ""}).String(); mm.MapsText() != want {
		t.Errorf("after growing in place: %q, wanted %q", mm.MapsText(), want)
	}
	mustCopyOut(t, mm, a+0x3fff, []byte{1})
	check(t, mm)

	// Blocked by a neighbour: fails without MayMove, moves with it.
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x4000, Fixed: true, Private: true})
	if _, err := mm.MRemap(ctx, a, 0x4000, 0x8000, MRemapOpts{}); err != unix.ENOMEM {
		t.Errorf("MRemap growing into a neighbour: got %v, wanted ENOMEM", err)
	}
	if err := mm.HandleUserFault(ctx, a, usermem.Write); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	usage, off := p.mf.Usage(), pmaAt(t, mm, a).off
	as.takeCalls()
	b, err := mm.MRemap(ctx, a, 0x4000, 0x8000, MRemapOpts{Move: MRemapMayMove})
	if err != nil || b == a {
		t.Fatalf("MRemap with MayMove: got (%#x, %v), wanted a new address", b, err)
	}
	if got := mustCopyIn(t, mm, b, 5); string(got) != "hello" {
		t.Errorf("moved mapping reads %q", got)
	}
	if n, err := mm.CopyIn(ctx, a, make([]byte, 1), usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
		t.Errorf("old address after the move: got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	if got := pmaAt(t, mm, b).off; got != off || p.mf.Usage() != usage {
		t.Errorf("the move copied memory: offset %#x (was %#x), usage %#x (was %#x)", got, off, p.mf.Usage(), usage)
	}
	if calls := as.takeCalls(); len(calls) != 1 || calls[0] != (asCall{Op: "unmap", Start: a, End: a + 0x4000}) {
		t.Errorf("the move: address space calls %v, wanted the old range unmapped", calls)
	}
	mustCopyOut(t, mm, b+0x7fff, []byte{1})
	check(t, mm)

	// Shrink.
	if got, err := mm.MRemap(ctx, b, 0x8000, 0x1001, MRemapOpts{Move: MRemapMayMove}); got != b || err != nil {
		t.Errorf("MRemap shrinking: got (%#x, %v), wanted (%#x, nil)", got, err, b)
	}
	if n, err := mm.CopyIn(ctx, b+0x2000, make([]byte, 1), usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
		t.Errorf("above a shrunk mapping: got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	check(t, mm)

	// MREMAP_FIXED onto an existing mapping replaces it.
	const c = 0x20000000
	mustMMap(t, mm, MMapOpts{Length: 0x4000, Addr: c, Fixed: true, Private: true, Perms: usermem.Read})
	if got, err := mm.MRemap(ctx, b, 0x2000, 0x3000, MRemapOpts{Move: MRemapMustMove, NewAddr: c + 0x1000}); got != c+0x1000 || err != nil {
		t.Fatalf("MRemap with MustMove: got (%#x, %v), wanted (%#x, nil)", got, err, c+0x1000)
	}
	if got := mustCopyIn(t, mm, c+0x1000, 5); string(got) != "hello" {
		t.Errorf("mapping moved by MREMAP_FIXED reads %q", got)
	}
	want := (&vmaLine{a + 0x4000, a + 0x5000, "---p", ""}).String() +
		(&vmaLine{c, c + 0x1000, "r--p", ""}).String() +
		(&vmaLine{c + 0x1000, c + 0x4000, "rw-p", ""}).String()
	if got := mm.MapsText(); got != want {
		t.Errorf("after MREMAP_FIXED:\n%s\nwanted:\n%s", got, want)
	}
	check(t, mm)
}

func TestMRemapErrors(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x2000, Fixed: true, Private: true, Perms: usermem.Read})
	must := MRemapOpts{Move: MRemapMustMove, NewAddr: 0x20000000}
	for _, tc := range []struct {
		desc             string
		old              usermem.Addr
		oldSize, newSize uint64
		opts             MRemapOpts
		want             error
	}{
		{"unaligned old address", a + 1, 0x1000, 0x2000, MRemapOpts{}, unix.EINVAL},
		{"new size 0", a, 0x1000, 0, MRemapOpts{}, unix.EINVAL},
		{"new size overflows", a, 0x1000, ^uint64(0), MRemapOpts{}, unix.EINVAL},
		{"old size overflows", a, ^uint64(0), 0x1000, MRemapOpts{}, unix.EINVAL},
		{"no vma", a + 0x3000, 0x1000, 0x2000, MRemapOpts{Move: MRemapMayMove}, unix.EFAULT},
		{"no vma, fixed", a + 0x3000, 0x1000, 0x2000, must, unix.EFAULT},
		{"across two vmas", a, 0x3000, 0x4000, MRemapOpts{Move: MRemapMayMove}, unix.EFAULT},
		{"old size 0 of a private mapping", a, 0, 0x1000, MRemapOpts{Move: MRemapMayMove}, unix.EINVAL},
		{"fixed unaligned", a, 0x1000, 0x1000, MRemapOpts{Move: MRemapMustMove, NewAddr: 0x20000001}, unix.EINVAL},
		{"fixed overlapping", a, 0x2000, 0x2000, MRemapOpts{Move: MRemapMustMove, NewAddr: a + 0x1000}, unix.EINVAL},
		{"fixed overlapping below", a, 0x1000, 0x2000, MRemapOpts{Move: MRemapMustMove, NewAddr: a - 0x1000}, unix.EINVAL},
		{"fixed beyond the user range", a, 0x1000, 0x1000, MRemapOpts{Move: MRemapMustMove, NewAddr: 0x7ffffffff000}, unix.EINVAL},
		{"fixed wrapping", a, 0x1000, 0x2000, MRemapOpts{Move: MRemapMustMove, NewAddr: ^usermem.Addr(0xfff)}, unix.EINVAL},
		{"fixed below MinAddr", a, 0x1000, 0x1000, MRemapOpts{Move: MRemapMustMove, NewAddr: 0x1000}, unix.EPERM},
		{"fixed into the platform's reserve", a, 0x1000, 0x1000, MRemapOpts{Move: MRemapMustMove, NewAddr: testMaxAddr}, unix.ENOMEM},
		{"no room", a, 0x1000, 1 << 50, MRemapOpts{Move: MRemapMayMove}, unix.ENOMEM},
		{"grow without move, blocked", a, 0x2000, 0x3000, MRemapOpts{}, unix.ENOMEM},
		{"shrink with a tail past the top", a, ^uint64(0) &^ 0xffff, 0x1000, MRemapOpts{}, unix.EINVAL},
	} {
		if got, err := mm.MRemap(ctx, tc.old, tc.oldSize, tc.newSize, tc.opts); err != tc.want {
			t.Errorf("%s: MRemap(%#x, %#x, %#x, %+v): got (%#x, %v), wanted %v", tc.desc, tc.old, tc.oldSize, tc.newSize, tc.opts, got, err, tc.want)
		}
		check(t, mm)
	}
}

func TestMRemapSharedCopy(t *testing.T) {
	mm, _ := newTestMM(t)
	a := mustMMap(t, mm, MMapOpts{Length: 0x2000, Perms: usermem.ReadWrite})
	mustCopyOut(t, mm, a+0x1000, []byte("shared"))
	// An old size of 0 maps the same shared memory a second time.
	b, err := mm.MRemap(ctx, a+0x1000, 0, 0x1000, MRemapOpts{Move: MRemapMayMove})
	if err != nil {
		t.Fatalf("MRemap(old size 0): %v", err)
	}
	if got := mustCopyIn(t, mm, b, 6); string(got) != "shared" {
		t.Errorf("second mapping reads %q, wanted %q", got, "shared")
	}
	mustCopyOut(t, mm, b, []byte("SHARED"))
	if got := mustCopyIn(t, mm, a+0x1000, 6); string(got) != "SHARED" {
		t.Errorf("first mapping reads %q after a write through the second", got)
	}
	check(t, mm)
}
