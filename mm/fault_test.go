package mm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

func TestHandleUserFaultErrors(t *testing.T) {
	mm, _ := newTestMM(t)
	testAddressSpace(t, mm)
	const a = 0x10000000
	rx := usermem.AccessType{Read: true, Execute: true}
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: usermem.Read})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Private: true, Perms: rx})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x2000, Fixed: true, Private: true, Perms: usermem.NoAccess})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x3000, Fixed: true, Private: true, Perms: usermem.Write})
	for _, tc := range []struct {
		addr usermem.Addr
		at   usermem.AccessType
		want error
	}{
		{a, usermem.Read, nil},
		{a + 0xfff, usermem.Write, unix.EPERM},
		{a, usermem.Execute, unix.EPERM},
		{a + 0x1000, usermem.Execute, nil},
		{a + 0x1000, usermem.Read, nil},
		{a + 0x2000, usermem.Read, unix.EPERM},
		{a + 0x2000, usermem.NoAccess, unix.EPERM}, // treated as a read
		{a + 0x3000, usermem.Read, nil},            // write implies read
		{a + 0x3000, usermem.Write, nil},
		{a + 0x4000, usermem.Read, unix.EFAULT},
		{0, usermem.Read, unix.EFAULT},
		{testMaxAddr, usermem.Read, unix.EFAULT},
		{^usermem.Addr(0), usermem.Write, unix.EFAULT},
	} {
		if got := mm.HandleUserFault(ctx, tc.addr, tc.at); got != tc.want {
			t.Errorf("HandleUserFault(%#x, %v): got %v, wanted %v", tc.addr, tc.at, got, tc.want)
		}
	}
	check(t, mm)
}

func TestHandleUserFaultMapsWindow(t *testing.T) {
	mm, _ := newTestMM(t)
	as := testAddressSpace(t, mm)
	// 8 MiB is placed 2 MiB-aligned.
	a := mustMMap(t, mm, anon(8<<20, usermem.ReadWrite))
	if a%usermem.HugePageSize != 0 {
		t.Fatalf("8 MiB mapping at %#x, not 2 MiB-aligned", a)
	}
	if err := mm.HandleUserFault(ctx, a+3<<20+5, usermem.Read); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	calls := as.takeCalls()
	if len(calls) != 1 || calls[0].Start != a+2<<20 || calls[0].End != a+4<<20 || calls[0].Perms != "rw-" {
		t.Errorf("fault at +3 MiB: calls %v, wanted one rw- map of [%#x, %#x)", calls, a+2<<20, a+4<<20)
	}
	// The neighbouring window is allocated and mapped on its own fault,
	// alone, although its pma merges with the first.
	if err := mm.HandleUserFault(ctx, a+4<<20, usermem.Write); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	calls = as.takeCalls()
	if len(calls) != 1 || calls[0].Start != a+4<<20 || calls[0].End != a+6<<20 {
		t.Errorf("fault at +4 MiB: calls %v, wanted one map of [%#x, %#x)", calls, a+4<<20, a+6<<20)
	}
	if len(mm.pmas.segs) != 1 {
		t.Errorf("pmas of contiguous memory did not merge: %v", mm.pmas.segs)
	}

	// The window is clipped to the vma.
	const b = 0x10100000 // 1 MiB into a 2 MiB window
	mustMMap(t, mm, MMapOpts{Length: 0x3000, Addr: b, Fixed: true, Private: true, Perms: usermem.Read})
	as.takeCalls()
	if err := mm.HandleUserFault(ctx, b+0x1000, usermem.Read); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	want := []asCall{{Op: "map", Start: b, End: b + 0x3000, Off: mm.pmas.segs[0].val.off, Perms: "r--"}}
	if diff := cmp.Diff(want, as.takeCalls()); diff != "" {
		t.Errorf("fault in a 3-page vma: -want +got:\n%s", diff)
	}
	check(t, mm)
}

// TestHandleUserFaultHostOutOfMappings: when the host refuses a mapping
// with ENOMEM (the stub process has as many as vm.max_map_count allows),
// the fault drops every host mapping and maps again; the memory is still
// there, and the pages dropped fault back in.
func TestHandleUserFaultHostOutOfMappings(t *testing.T) {
	mm, _ := newTestMM(t)
	as := testAddressSpace(t, mm)
	as.maxPages = 3 * (2 << 20) / usermem.PageSize / 2 // one and a half windows
	a := mustMMap(t, mm, anon(4<<20, usermem.ReadWrite))
	if _, err := mm.CopyOut(ctx, a, []byte("first"), usermem.IOOpts{}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []usermem.Addr{a, a + 2<<20, a} {
		if err := mm.HandleUserFault(ctx, addr, usermem.Write); err != nil {
			t.Fatalf("HandleUserFault(%#x): %v", addr, err)
		}
		if _, ok := as.pages[addr]; !ok {
			t.Errorf("after the fault at %#x, the page is not mapped", addr)
		}
	}
	var calls []string
	for _, c := range as.takeCalls() {
		calls = append(calls, c.Op)
	}
	// The first window; the second, refused (and so not recorded), a
	// flush, the second; the first again, refused, a flush, the first.
	if diff := cmp.Diff([]string{"map", "unmap", "map", "unmap", "map"}, calls); diff != "" {
		t.Errorf("address space calls (-want +got):\n%s", diff)
	}
	buf := make([]byte, 5)
	if _, err := mm.CopyIn(ctx, a, buf, usermem.IOOpts{}); err != nil || string(buf) != "first" {
		t.Errorf("the first page holds %q, %v; want %q", buf, err, "first")
	}
	check(t, mm)
}

func TestHandleUserFaultWithoutAddressSpace(t *testing.T) {
	mm, _ := newTestMM(t)
	a := mustMMap(t, mm, anon(0x1000, usermem.ReadWrite))
	if err := mm.HandleUserFault(ctx, a, usermem.Write); err != nil {
		t.Errorf("HandleUserFault without an address space: %v", err)
	}
	check(t, mm)
}

func TestHandleUserFaultShared(t *testing.T) {
	mm, _ := newTestMM(t)
	as := testAddressSpace(t, mm)
	a := mustMMap(t, mm, MMapOpts{Length: 0x2000, Perms: usermem.ReadWrite})
	// A shared object's pages are mapped writable on a read fault: there
	// is no copy-on-write to wait for.
	if err := mm.HandleUserFault(ctx, a, usermem.Read); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	if page, ok := as.mapped(a + 0x1000); !ok || page.perms != usermem.ReadWrite {
		t.Errorf("shared page after a read fault: mapped %v %v, wanted rw-", ok, page.perms)
	}
	// Grown past its object by mremap, the mapping raises SIGBUS there.
	if _, err := mm.MRemap(ctx, a, 0x2000, 0x3000, MRemapOpts{Move: MRemapMayMove}); err != nil {
		t.Fatalf("MRemap: %v", err)
	}
	i, _ := mm.vmas.find(a)
	b := mm.vmas.segs[i].ar.Start
	if err := mm.HandleUserFault(ctx, b+0x2000, usermem.Read); err != ErrBusError {
		t.Errorf("fault beyond a shared object: got %v, wanted ErrBusError", err)
	}
	if n, err := mm.CopyIn(ctx, b+0x1ffc, make([]byte, 8), usermem.IOOpts{}); n != 4 || err != unix.EFAULT {
		t.Errorf("CopyIn across the end of a shared object: got (%d, %v), wanted (4, EFAULT)", n, err)
	}
	check(t, mm)
}
