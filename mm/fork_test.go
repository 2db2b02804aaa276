package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// pmaAt returns the pma at addr.
func pmaAt(t *testing.T, mm *MemoryManager, addr usermem.Addr) pma {
	t.Helper()
	mm.activeMu.RLock()
	defer mm.activeMu.RUnlock()
	i, ok := mm.pmas.find(addr)
	if !ok {
		t.Fatalf("no pma at %#x", addr)
	}
	seg := mm.pmas.segs[i]
	return seg.val.splitAt(uint64(addr.RoundDown() - seg.ar.Start))
}

func TestForkCopyOnWrite(t *testing.T) {
	parent, p := newTestMM(t)
	as := testAddressSpace(t, parent)
	const a = 0x10000000
	mustMMap(t, parent, MMapOpts{Length: 0x3000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustCopyOut(t, parent, a+0x1000, []byte("parent"))
	if err := parent.HandleUserFault(ctx, a+0x1000, usermem.Write); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	usage := p.mf.Usage()
	as.takeCalls()

	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	check(t, parent)
	check(t, child)
	if child.as != nil {
		t.Errorf("the child has an address space before AddressSpace()")
	}
	if got := p.mf.Usage(); got != usage {
		t.Errorf("Fork allocated memory: Usage %#x, was %#x", got, usage)
	}
	// The parent's writable pages left its address space, so its next
	// write faults.
	if calls := as.takeCalls(); len(calls) != 1 || calls[0] != (asCall{Op: "unmap", Start: a, End: a + 0x3000}) {
		t.Errorf("Fork: parent address space calls %v, wanted one unmap of [%#x, %#x)", calls, a, a+0x3000)
	}
	if pp, cp := pmaAt(t, parent, a), pmaAt(t, child, a); !pp.needCOW || !cp.needCOW || pp.off != cp.off {
		t.Errorf("after Fork: parent pma %+v, child pma %+v, wanted both needCOW on the same memory", pp, cp)
	}

	// The parent writes: it gets a copy; the child still reads the old
	// bytes.
	if err := parent.HandleUserFault(ctx, a+0x1000, usermem.Write); err != nil {
		t.Fatalf("HandleUserFault(write) after Fork: %v", err)
	}
	if page, ok := as.mapped(a + 0x1000); !ok || !page.perms.Write {
		t.Errorf("after the write fault the page is mapped %v %v, wanted writable", ok, page.perms)
	}
	mustCopyOut(t, parent, a+0x1000, []byte("PARENT"))
	if got := mustCopyIn(t, child, a+0x1000, 6); string(got) != "parent" {
		t.Errorf("child reads %q after the parent's write, wanted %q", got, "parent")
	}
	if got := p.mf.Usage(); got != usage+0x3000 {
		t.Errorf("Usage after the parent broke copy-on-write: %#x, wanted %#x (one copy of the 3-page pma)", got, usage+0x3000)
	}
	check(t, parent)

	// The child writes: no one else holds its pages now, so it takes
	// them over without a copy.
	before := pmaAt(t, child, a)
	mustCopyOut(t, child, a+0x1000, []byte("child!"))
	if after := pmaAt(t, child, a); after.off != before.off || after.needCOW {
		t.Errorf("child's write: pma %+v, was %+v; wanted the same memory, no longer needCOW", after, before)
	}
	if got := p.mf.Usage(); got != usage+0x3000 {
		t.Errorf("Usage after the child took its pages over: %#x, wanted %#x", got, usage+0x3000)
	}
	if got := mustCopyIn(t, parent, a+0x1000, 6); string(got) != "PARENT" {
		t.Errorf("parent reads %q after the child's write", got)
	}
	check(t, child)

	child.DecUsers(ctx)
	parent.DecUsers(ctx)
	if got := p.mf.Usage(); got != 0 {
		t.Errorf("Usage after both exited: %#x", got)
	}
}

func TestForkTakeOverAfterChildExits(t *testing.T) {
	parent, p := newTestMM(t)
	a := mustMMap(t, parent, anon(0x1000, usermem.ReadWrite))
	mustCopyOut(t, parent, a, []byte("x"))
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	usage, before := p.mf.Usage(), pmaAt(t, parent, a)
	child.DecUsers(ctx)
	mustCopyOut(t, parent, a, []byte("y"))
	if after := pmaAt(t, parent, a); after.off != before.off || after.needCOW {
		t.Errorf("parent's write after the child exited: pma %+v, was %+v; wanted the page taken over", after, before)
	}
	if got := p.mf.Usage(); got != usage {
		t.Errorf("Usage: got %#x, wanted %#x (no copy)", got, usage)
	}
}

func TestForkReadOnlyPagesStayMapped(t *testing.T) {
	parent, _ := newTestMM(t)
	as := testAddressSpace(t, parent)
	a := mustMMap(t, parent, anon(0x1000, usermem.Read))
	if err := parent.HandleUserFault(ctx, a, usermem.Read); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	as.takeCalls()
	if _, err := parent.Fork(ctx); err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if calls := as.takeCalls(); len(calls) != 0 {
		t.Errorf("Fork unmapped read-only pages: %v", calls)
	}
	check(t, parent)
}

func TestForkSharedAnonymous(t *testing.T) {
	parent, p := newTestMM(t)
	a := mustMMap(t, parent, MMapOpts{Length: 0x1000, Perms: usermem.ReadWrite})
	mustCopyOut(t, parent, a, []byte("before"))
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if got := mustCopyIn(t, child, a, 6); string(got) != "before" {
		t.Errorf("child reads %q, wanted %q", got, "before")
	}
	mustCopyOut(t, child, a, []byte("child!"))
	if got := mustCopyIn(t, parent, a, 6); string(got) != "child!" {
		t.Errorf("parent reads %q after the child's write, wanted %q", got, "child!")
	}
	mustCopyOut(t, parent, a, []byte("parent"))
	if got := mustCopyIn(t, child, a, 6); string(got) != "parent" {
		t.Errorf("child reads %q after the parent's write, wanted %q", got, "parent")
	}
	check(t, parent)
	check(t, child)
	parent.DecUsers(ctx)
	if got := mustCopyIn(t, child, a, 6); string(got) != "parent" {
		t.Errorf("child reads %q after the parent exited", got)
	}
	child.DecUsers(ctx)
	if got := p.mf.Usage(); got != 0 {
		t.Errorf("Usage after both exited: %#x", got)
	}
}

func TestForkDontForkAndWipeOnFork(t *testing.T) {
	parent, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, parent, MMapOpts{Length: 0x3000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustCopyOut(t, parent, a, []byte{1, 0x10: 1, 0x1000: 2, 0x2000: 3})
	if err := parent.MAdvise(ctx, a, 0x1000, unix.MADV_DONTFORK); err != nil {
		t.Fatalf("MADV_DONTFORK: %v", err)
	}
	if err := parent.MAdvise(ctx, a+0x1000, 0x1000, unix.MADV_WIPEONFORK); err != nil {
		t.Fatalf("MADV_WIPEONFORK: %v", err)
	}
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	check(t, child)
	if n, err := child.CopyIn(ctx, a, make([]byte, 1), usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
		t.Errorf("child reads a MADV_DONTFORK page: got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	if got := mustCopyIn(t, child, a+0x1000, 1); got[0] != 0 {
		t.Errorf("child reads %d from a MADV_WIPEONFORK page, wanted 0", got[0])
	}
	if got := mustCopyIn(t, child, a+0x2000, 1); got[0] != 3 {
		t.Errorf("child reads %d from an ordinary page, wanted 3", got[0])
	}
	if got := mustCopyIn(t, parent, a+0x1000, 1); got[0] != 2 {
		t.Errorf("parent reads %d from its MADV_WIPEONFORK page, wanted 2", got[0])
	}
	// MADV_DOFORK and MADV_KEEPONFORK undo them, and the vmas merge back.
	if err := parent.MAdvise(ctx, a, 0x2000, unix.MADV_DOFORK); err != nil {
		t.Fatalf("MADV_DOFORK: %v", err)
	}
	if err := parent.MAdvise(ctx, a, 0x2000, unix.MADV_KEEPONFORK); err != nil {
		t.Fatalf("MADV_KEEPONFORK: %v", err)
	}
	if len(parent.vmas.segs) != 1 {
		t.Errorf("vmas did not merge back: %s", parent.MapsText())
	}
	check(t, parent)
}
