package mm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

func TestMMapPlacement(t *testing.T) {
	mm, _ := newTestMM(t)
	base := mm.Layout().TopDownBase
	for _, tc := range []struct {
		desc string
		opts MMapOpts
		want usermem.Addr
	}{
		{"first page goes just below the top-down base", anon(1, usermem.Read), base - 0x1000},
		{"the next one below it", anon(0x2000, usermem.Read), base - 0x3000},
		{"2 MiB or more is 2 MiB-aligned", anon(4<<20, usermem.Read), (base - 0x3000 - 4<<20).HugeRoundDown()},
		{"a free hint is taken", MMapOpts{Length: 0x1000, Addr: 0x20000000, Private: true}, 0x20000000},
		{"an unaligned hint is rounded down", MMapOpts{Length: 0x1000, Addr: 0x20001234, Private: true}, 0x20001000},
		{"a taken hint is ignored; the highest gap is used", MMapOpts{Length: 0x1000, Addr: 0x20000000, Private: true}, base - 0x4000},
		{"a hint below MinAddr is ignored", MMapOpts{Length: 0x1000, Addr: 0x1000, Private: true}, base - 0x5000},
		{"MAP_32BIT goes to the second gigabyte", MMapOpts{Length: 0x1000, Map32Bit: true, Private: true}, 1 << 30},
		{"and then above it", MMapOpts{Length: 0x1000, Map32Bit: true, Private: true}, 1<<30 + 0x1000},
		{"MAP_FIXED", MMapOpts{Length: 0x1000, Addr: 0x30000000, Fixed: true, Private: true}, 0x30000000},
	} {
		addr, err := mm.MMap(ctx, tc.opts)
		if addr != tc.want || err != nil {
			t.Errorf("%s: MMap: got (%#x, %v), wanted (%#x, nil)", tc.desc, addr, err, tc.want)
		}
		check(t, mm)
	}
}

func TestMMapStackGuardGap(t *testing.T) {
	mm, _ := newTestMM(t)
	stack, err := mm.MapStack(ctx)
	if err != nil {
		t.Fatalf("MapStack: %v", err)
	}
	if want := (usermem.AddrRange{Start: testMaxAddr - 8<<20, End: testMaxAddr}); stack != want {
		t.Fatalf("MapStack: got %v, wanted %v", stack, want)
	}
	// A hint touching the stack's guard gap is not taken.
	addr := mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: stack.Start - 0x1000, Private: true})
	if addr >= stack.Start-guardBytes {
		t.Errorf("MMap with a hint in the guard gap: got %#x, inside the gap below %#x", addr, stack.Start)
	}
	// MAP_FIXED may go there.
	if addr, err := mm.MMap(ctx, MMapOpts{Length: 0x1000, Addr: stack.Start - 0x1000, Fixed: true, Private: true}); addr != stack.Start-0x1000 || err != nil {
		t.Errorf("MMap fixed in the guard gap: got (%#x, %v)", addr, err)
	}
	// A second stack does not fit.
	if _, err := mm.MapStack(ctx); err != unix.ENOMEM {
		t.Errorf("second MapStack: got %v, wanted ENOMEM", err)
	}
}

func TestMapStackSize(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  uint64
		err   error
	}{
		{RLimInfinity, 8 << 20, nil},
		{1 << 20, 1 << 20, nil},
		{1<<20 + 123, 1 << 20, nil},
		{1 << 40, 128 << 20, nil},
		{0, 0, unix.ENOMEM},
		{100, 0, unix.ENOMEM},
	} {
		mm, _ := newTestMM(t)
		mm.SetLimits(Limits{AS: RLimInfinity, Data: RLimInfinity, Stack: tc.limit})
		ar, err := mm.MapStack(ctx)
		if err != tc.err || (err == nil && (uint64(ar.Length()) != tc.want || ar.End != testMaxAddr)) {
			t.Errorf("MapStack with RLIMIT_STACK %#x: got (%v, %v), wanted %#x bytes ending at %#x, error %v", tc.limit, ar, err, tc.want, testMaxAddr, tc.err)
		}
	}
}

func TestMMapFixedReplaces(t *testing.T) {
	mm, p := newTestMM(t)
	as := testAddressSpace(t, mm)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x4000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustCopyOut(t, mm, a, bytes.Repeat([]byte{1}, 0x4000))
	usage := p.mf.Usage()
	if _, err := mm.MMap(ctx, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Private: true, Perms: usermem.ReadWrite}); err != unix.EEXIST {
		t.Errorf("MAP_FIXED_NOREPLACE over a mapping: got %v, wanted EEXIST", err)
	}
	as.takeCalls()
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Unmap: true, Private: true, Perms: usermem.ReadWrite})
	check(t, mm)
	if got := mustCopyIn(t, mm, a, 0x4000); !bytes.Equal(got[0x1000:0x2000], make([]byte, 0x1000)) || got[0] != 1 || got[0x2000] != 1 {
		t.Errorf("after MAP_FIXED over the second page, the pages read %d %d %d, wanted 1 0 1", got[0], got[0x1000], got[0x2000])
	}
	if got := as.takeCalls(); len(got) == 0 || got[0] != (asCall{Op: "unmap", Start: a + 0x1000, End: a + 0x2000}) {
		t.Errorf("MAP_FIXED over touched memory: address space calls %v, wanted an unmap of the replaced page first", got)
	}
	// The replaced page was freed; the new one is allocated within the
	// 2 MiB window, which clips to the new vma's single page.
	if got := p.mf.Usage(); got != usage {
		t.Errorf("Usage after replacing a touched page: got %#x, wanted %#x", got, usage)
	}
}

func TestMMapPopulatesSmallMappings(t *testing.T) {
	mm, _ := newTestMM(t)
	// Without an address space, nothing is populated.
	addr := mustMMap(t, mm, anon(0x3000, usermem.ReadWrite))
	if len(mm.pmas.segs) != 0 {
		t.Errorf("MMap without an address space created pmas: %v", mm.pmas.segs)
	}
	as := testAddressSpace(t, mm)
	addr = mustMMap(t, mm, anon(0x3000, usermem.ReadWrite))
	want := []asCall{{Op: "map", Start: addr, End: addr + 0x3000, Off: mm.pmas.segs[0].val.off, Perms: "rw-"}}
	if diff := cmp.Diff(want, as.takeCalls()); diff != "" {
		t.Errorf("small MMap with an address space: calls -want +got:\n%s", diff)
	}
	// A reservation gets nothing.
	mustMMap(t, mm, anon(0x3000, usermem.NoAccess))
	if got := as.takeCalls(); len(got) != 0 || len(mm.pmas.segs) != 1 {
		t.Errorf("PROT_NONE MMap: calls %v and pmas %v, wanted none added", got, mm.pmas.segs)
	}
	// A large mapping is left to faults, unless MAP_POPULATE.
	mustMMap(t, mm, anon(4<<20, usermem.ReadWrite))
	if got := as.takeCalls(); len(got) != 0 {
		t.Errorf("large MMap: calls %v, wanted none", got)
	}
	opts := anon(4<<20, usermem.Read)
	opts.Precommit = true
	addr = mustMMap(t, mm, opts)
	// The two 2 MiB chunks are contiguous in the memory file too, so one
	// call maps both.
	if got := as.takeCalls(); len(got) != 1 || got[0].Start != addr || got[0].End != addr+4<<20 {
		t.Errorf("MAP_POPULATE of 4 MiB: calls %v, wanted [%#x, %#x) mapped in one call", got, addr, addr+4<<20)
	}
	check(t, mm)
}

func TestMUnmap(t *testing.T) {
	mm, p := newTestMM(t)
	as := testAddressSpace(t, mm)
	addr := mustMMap(t, mm, anon(4<<20, usermem.Read))
	// IOAfterUnmap: a read-only private page can be read, until unmapped.
	if n, err := mm.CopyIn(ctx, addr, make([]byte, 1), usermem.IOOpts{}); n != 1 || err != nil {
		t.Fatalf("CopyIn: got (%d, %v), wanted (1, nil)", n, err)
	}
	if err := mm.HandleUserFault(ctx, addr, usermem.Read); err != nil {
		t.Fatalf("HandleUserFault: %v", err)
	}
	as.takeCalls()
	if err := mm.MUnmap(ctx, addr, 4<<20); err != nil {
		t.Fatalf("MUnmap: %v", err)
	}
	check(t, mm)
	if n, err := mm.CopyIn(ctx, addr, make([]byte, 1), usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
		t.Errorf("CopyIn after MUnmap: got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	if want := []asCall{{Op: "unmap", Start: addr, End: addr + 2<<20}}; !cmp.Equal(want, as.takeCalls()) {
		t.Errorf("MUnmap: wanted exactly %v (the only chunk that had memory)", want)
	}
	if got := p.mf.Usage(); got != 0 {
		t.Errorf("Usage after MUnmap: got %#x, wanted 0", got)
	}
	// Unmapping a hole is fine, and touches no address space.
	if err := mm.MUnmap(ctx, addr, 4<<20); err != nil {
		t.Errorf("MUnmap of a hole: %v", err)
	}
	if got := as.takeCalls(); len(got) != 0 {
		t.Errorf("MUnmap of a hole: calls %v, wanted none", got)
	}
}

func TestMProtect(t *testing.T) {
	mm, _ := newTestMM(t)
	as := testAddressSpace(t, mm)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x3000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	for i := usermem.Addr(0); i < 3; i++ {
		if err := mm.HandleUserFault(ctx, a+i*0x1000, usermem.Write); err != nil {
			t.Fatalf("HandleUserFault: %v", err)
		}
	}
	// IOAfterMProtect.
	mustCopyOut(t, mm, a+0x1000, []byte{1})
	as.takeCalls()
	if err := mm.MProtect(a+0x1000, 0x1000, usermem.Read, false); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	check(t, mm)
	if want := []asCall{{Op: "unmap", Start: a + 0x1000, End: a + 0x2000}}; !cmp.Equal(want, as.takeCalls()) {
		t.Errorf("MProtect to read-only must unmap exactly the page, once: wanted %v", want)
	}
	if _, ok := as.mapped(a + 0x1000); ok {
		t.Errorf("page still mapped after MProtect took Write away")
	}
	if n, err := mm.CopyOut(ctx, a+0x1000, []byte{2}, usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
		t.Errorf("CopyOut after MProtect(Read): got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	if n, err := mm.CopyOut(ctx, a+0x1000, []byte{3}, usermem.IOOpts{IgnorePermissions: true}); n != 1 || err != nil {
		t.Errorf("CopyOut ignoring permissions after MProtect(Read): got (%d, %v), wanted (1, nil)", n, err)
	}
	if got := mustCopyIn(t, mm, a+0x1000, 1); got[0] != 3 {
		t.Errorf("CopyIn: got %d, wanted 3", got[0])
	}
	if err := mm.HandleUserFault(ctx, a+0x1000, usermem.Write); err != unix.EPERM {
		t.Errorf("write fault on the read-only page: got %v, wanted EPERM", err)
	}
	// Giving permissions back needs no address space call: the next fault
	// maps the page again.
	if err := mm.MProtect(a, 0x3000, usermem.ReadWrite, false); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	if got := as.takeCalls(); len(got) != 0 {
		t.Errorf("MProtect adding permissions: calls %v, wanted none", got)
	}
	// PROT_NONE: no access at all, not even reads; IgnorePermissions
	// still reaches it (as ptrace does).
	if err := mm.MProtect(a, 0x3000, usermem.NoAccess, false); err != nil {
		t.Fatalf("MProtect(PROT_NONE): %v", err)
	}
	if n, err := mm.CopyIn(ctx, a, make([]byte, 1), usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
		t.Errorf("CopyIn of PROT_NONE: got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	if n, err := mm.CopyIn(ctx, a, make([]byte, 1), usermem.IOOpts{IgnorePermissions: true}); n != 1 || err != nil {
		t.Errorf("CopyIn of PROT_NONE ignoring permissions: got (%d, %v), wanted (1, nil)", n, err)
	}
	check(t, mm)
}

func TestMProtectPartial(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x3000, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	// The hole at a+0x2000 fails the call, after the first vma changed,
	// as on Linux.
	if err := mm.MProtect(a, 0x4000, usermem.Read, false); err != unix.ENOMEM {
		t.Errorf("MProtect over a hole: got %v, wanted ENOMEM", err)
	}
	want := "10000000-10002000 r--p 00000000 00:00 0 \n" +
		"10003000-10004000 rw-p 00000000 00:00 0 \n"
	if diff := cmp.Diff(want, mm.MapsText()); diff != "" {
		t.Errorf("MapsText -want +got:\n%s", diff)
	}
	check(t, mm)
}

func TestMProtectMaxPerms(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Private: true, Perms: usermem.Read, MaxPerms: usermem.Read})
	if err := mm.MProtect(a, 0x2000, usermem.ReadWrite, false); err != unix.EACCES {
		t.Errorf("MProtect beyond maxPerms: got %v, wanted EACCES", err)
	}
	if err := mm.MProtect(a+0x1000, 0x1000, usermem.Execute, false); err != unix.EACCES {
		t.Errorf("MProtect(PROT_EXEC) beyond maxPerms: got %v, wanted EACCES", err)
	}
	if n, err := mm.CopyOut(ctx, a+0x1000, []byte{1}, usermem.IOOpts{IgnorePermissions: true}); n != 0 || err != unix.EFAULT {
		t.Errorf("CopyOut ignoring permissions beyond maxPerms: got (%d, %v), wanted (0, EFAULT)", n, err)
	}
	check(t, mm)
}

func TestMProtectGrowsDown(t *testing.T) {
	mm, _ := newTestMM(t)
	stack, err := mm.MapStack(ctx)
	if err != nil {
		t.Fatalf("MapStack: %v", err)
	}
	if err := mm.MProtect(stack.End-0x1000, 0x1000, usermem.AccessType{Read: true, Write: true, Execute: true}, true); err != nil {
		t.Fatalf("MProtect(PROT_GROWSDOWN): %v", err)
	}
	want := (&vmaLine{stack.Start, stack.End, "rwxp", "[stack]"}).String()
	if diff := cmp.Diff(want, mm.MapsText()); diff != "" {
		t.Errorf("PROT_GROWSDOWN must extend to the start of the stack: -want +got:\n%s", diff)
	}
	heap := mustMMap(t, mm, anon(0x1000, usermem.ReadWrite))
	if err := mm.MProtect(heap, 0x1000, usermem.Read, true); err != unix.EINVAL {
		t.Errorf("MProtect(PROT_GROWSDOWN) of a normal mapping: got %v, wanted EINVAL", err)
	}
}

func TestBrk(t *testing.T) {
	mm, p := newTestMM(t)
	const start = 0x600000
	mm.BrkSetup(start)
	steps := []struct {
		addr    usermem.Addr
		want    usermem.Addr
		err     error
		heapEnd usermem.Addr // 0: no heap vma
	}{
		{0, start, unix.EINVAL, 0},
		{start - 1, start, unix.EINVAL, 0},
		{start, start, nil, 0},
		{start + 1, start + 1, nil, start + 0x1000},
		{start + 0x2fff, start + 0x2fff, nil, start + 0x3000},
		{start + 0x800, start + 0x800, nil, start + 0x1000},
		{start + 0x1000, start + 0x1000, nil, start + 0x1000},
		{^usermem.Addr(0), start + 0x1000, unix.ENOMEM, start + 0x1000},
		{testMaxAddr + 1, start + 0x1000, unix.ENOMEM, start + 0x1000},
		{start, start, nil, 0},
	}
	for _, s := range steps {
		got, err := mm.Brk(ctx, s.addr)
		if got != s.want || err != s.err {
			t.Errorf("Brk(%#x): got (%#x, %v), wanted (%#x, %v)", s.addr, got, err, s.want, s.err)
		}
		check(t, mm)
		var want string
		if s.heapEnd != 0 {
			want = (&vmaLine{start, s.heapEnd, "rw-p", "[heap]"}).String()
		}
		if diff := cmp.Diff(want, mm.MapsText()); diff != "" {
			t.Errorf("after Brk(%#x): MapsText -want +got:\n%s", s.addr, diff)
		}
		if s.addr == start+0x2fff {
			mustCopyOut(t, mm, start+0x2000, []byte{1})
		}
		if s.addr == start+0x800 {
			if n, err := mm.CopyIn(ctx, start+0x2000, make([]byte, 1), usermem.IOOpts{}); n != 0 || err != unix.EFAULT {
				t.Errorf("CopyIn above a shrunk brk: got (%d, %v), wanted (0, EFAULT)", n, err)
			}
		}
	}
	if got := p.mf.Usage(); got != 0 {
		t.Errorf("Usage after the heap shrank to nothing: %#x", got)
	}
}

// vmaLine formats one anonymous /proc/self/maps line.
type vmaLine struct {
	start, end usermem.Addr
	perms      string
	name       string
}

func (l *vmaLine) String() string {
	s := fmt.Sprintf("%08x-%08x %s 00000000 00:00 0 ", l.start, l.end, l.perms)
	if l.name != "" {
		s += strings.Repeat(" ", max(73-len(s), 1)) + l.name
	}
	return s + "\n"
}

func TestBrkLimits(t *testing.T) {
	mm, _ := newTestMM(t)
	const start = 0x600000
	mm.BrkSetup(start)
	mm.SetLimits(Limits{AS: RLimInfinity, Data: 0x2000, Stack: 8 << 20})
	if got, err := mm.Brk(ctx, start+0x2000); got != start+0x2000 || err != nil {
		t.Errorf("Brk up to RLIMIT_DATA: got (%#x, %v)", got, err)
	}
	if got, err := mm.Brk(ctx, start+0x2001); got != start+0x2000 || err != unix.ENOMEM {
		t.Errorf("Brk past RLIMIT_DATA: got (%#x, %v), wanted (%#x, ENOMEM)", got, err, start+0x2000)
	}
	// The heap cannot grow into another mapping.
	mm.SetLimits(DefaultLimits)
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: start + 0x4000, Fixed: true, Private: true})
	if got, err := mm.Brk(ctx, start+0x5000); got != start+0x2000 || err != unix.ENOMEM {
		t.Errorf("Brk into a mapping: got (%#x, %v), wanted (%#x, ENOMEM)", got, err, start+0x2000)
	}
	// BrkSetup again (exec) removes the old heap.
	mm.BrkSetup(0x800000)
	if got, err := mm.Brk(ctx, 0); got != 0x800000 || err != unix.EINVAL {
		t.Errorf("Brk(0) after BrkSetup: got (%#x, %v)", got, err)
	}
	want := (&vmaLine{start + 0x4000, start + 0x5000, "---p", ""}).String()
	if diff := cmp.Diff(want, mm.MapsText()); diff != "" {
		t.Errorf("BrkSetup must remove the old heap: -want +got:\n%s", diff)
	}
	check(t, mm)
}

func TestRLimitAS(t *testing.T) {
	mm, _ := newTestMM(t)
	mm.SetLimits(Limits{AS: 1 << 20, Data: RLimInfinity, Stack: 8 << 20})
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 512 << 10, Addr: a, Fixed: true, Private: true})
	if _, err := mm.MMap(ctx, anon(1<<20, usermem.Read)); err != unix.ENOMEM {
		t.Errorf("MMap past RLIMIT_AS: got %v, wanted ENOMEM", err)
	}
	// Replacing a mapping counts only the difference.
	if _, err := mm.MMap(ctx, MMapOpts{Length: 1 << 20, Addr: a, Fixed: true, Unmap: true, Private: true}); err != nil {
		t.Errorf("MAP_FIXED replacing 512 KiB by 1 MiB under a 1 MiB limit: %v", err)
	}
	if _, err := mm.MRemap(ctx, a, 1<<20, 2<<20, MRemapOpts{Move: MRemapMayMove}); err != unix.ENOMEM {
		t.Errorf("MRemap growing past RLIMIT_AS: got %v, wanted ENOMEM", err)
	}
	mm.BrkSetup(0x600000)
	if _, err := mm.Brk(ctx, 0x601000); err != unix.ENOMEM {
		t.Errorf("Brk past RLIMIT_AS: got %v, wanted ENOMEM", err)
	}
	if _, err := mm.MapStack(ctx); err != unix.ENOMEM {
		t.Errorf("MapStack past RLIMIT_AS: got %v, wanted ENOMEM", err)
	}
	if err := mm.MUnmap(ctx, a, 1<<20); err != nil {
		t.Fatalf("MUnmap: %v", err)
	}
	if _, err := mm.MapStack(ctx); err != unix.ENOMEM {
		t.Errorf("MapStack of 8 MiB under a 1 MiB RLIMIT_AS: got %v, wanted ENOMEM", err)
	}
	if _, err := mm.MMap(ctx, anon(1<<20, usermem.Read)); err != nil {
		t.Errorf("MMap up to RLIMIT_AS after MUnmap: %v", err)
	}
	check(t, mm)
}

func TestSharedMappingOfUnwritableFile(t *testing.T) {
	mm, _ := newTestMM(t)
	_, err := mm.MMap(ctx, MMapOpts{Length: 0x1000, Perms: usermem.Read, Mappable: &testFile{data: []byte("x")}})
	if !errors.Is(err, unix.ENODEV) {
		t.Errorf("MAP_SHARED of a Mappable that cannot write back: got %v, wanted ENODEV", err)
	}
}
