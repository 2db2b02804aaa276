package mm

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// The test platform's user range: the ptrace platform's, so that addresses
// in tests look like real ones.
const (
	testMinAddr = 0x10000
	testMaxAddr = 0x7ff000000000
)

// testPlatform is a platform.Platform whose address spaces only record what
// the memory manager asks of them. Unit tests need no stub process: the
// memory manager reaches memory through the MemoryFile's internal mapping.
type testPlatform struct {
	mf *platform.MemoryFile

	mu   sync.Mutex
	ases []*testAS
}

func newTestPlatform(t testing.TB) *testPlatform {
	t.Helper()
	mf, err := platform.NewMemoryFile(1 << 30)
	if err != nil {
		t.Fatalf("NewMemoryFile: %v", err)
	}
	t.Cleanup(func() { closeMemoryFile(mf) })
	return &testPlatform{mf: mf}
}

// closeMemoryFile releases a test's memory file. MemoryFile has no Close
// (a sentry keeps its one file for life), so tests undo NewMemoryFile by
// hand to keep many tests from piling up memfds and 1 GiB mappings.
func closeMemoryFile(mf *platform.MemoryFile) {
	unix.Munmap(mf.Window(platform.FileRange{Start: 0, End: mf.Size()}))
	unix.Close(mf.FD())
}

func (p *testPlatform) MemoryFile() *platform.MemoryFile { return p.mf }
func (p *testPlatform) MinUserAddress() usermem.Addr     { return testMinAddr }
func (p *testPlatform) MaxUserAddress() usermem.Addr     { return testMaxAddr }
func (p *testPlatform) NewContext() platform.Context     { return nil }

func (p *testPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	as := &testAS{pages: make(map[usermem.Addr]asPage)}
	p.ases = append(p.ases, as)
	return as, nil
}

// asCall is one call to a testAS.
type asCall struct {
	Op    string // "map" or "unmap"
	Start usermem.Addr
	End   usermem.Addr
	Off   uint64 // MemoryFile offset, for "map"
	Perms string // for "map"
}

func (c asCall) String() string {
	if c.Op == "map" {
		return fmt.Sprintf("map [%#x, %#x) off %#x %s", c.Start, c.End, c.Off, c.Perms)
	}
	return fmt.Sprintf("unmap [%#x, %#x)", c.Start, c.End)
}

// asPage is what a testAS maps at one page.
type asPage struct {
	off   uint64
	perms usermem.AccessType
}

// testAS records calls and keeps a model of the host mappings, page by
// page, so that tests can check what the application could reach.
type testAS struct {
	mu       sync.Mutex
	calls    []asCall
	pages    map[usermem.Addr]asPage
	released bool
	// noModel skips the page model (for benchmarks).
	noModel bool
	// maxPages, if not 0, is how many pages the address space can map
	// at once: past it MapFile fails with ENOMEM, as a stub process
	// whose host mappings reached vm.max_map_count.
	maxPages int
}

func (as *testAS) MapFile(addr usermem.Addr, fr platform.FileRange, at usermem.AccessType) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.noModel {
		return nil
	}
	if !addr.IsPageAligned() || fr.Start%usermem.PageSize != 0 || fr.Length() == 0 || fr.Length()%usermem.PageSize != 0 {
		panic(fmt.Sprintf("MapFile(%#x, %v, %v): bad arguments", addr, fr, at))
	}
	if as.maxPages != 0 && len(as.pages)+int(fr.Length()/usermem.PageSize) > as.maxPages {
		return unix.ENOMEM
	}
	as.calls = append(as.calls, asCall{Op: "map", Start: addr, End: addr + usermem.Addr(fr.Length()), Off: fr.Start, Perms: at.String()})
	for off := uint64(0); off < fr.Length(); off += usermem.PageSize {
		as.pages[addr+usermem.Addr(off)] = asPage{off: fr.Start + off, perms: at}
	}
	return nil
}

func (as *testAS) Unmap(addr usermem.Addr, length uint64) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.noModel {
		return
	}
	if !addr.IsPageAligned() || length%usermem.PageSize != 0 {
		panic(fmt.Sprintf("Unmap(%#x, %#x): bad arguments", addr, length))
	}
	as.calls = append(as.calls, asCall{Op: "unmap", Start: addr, End: addr + usermem.Addr(length)})
	for a := range as.pages {
		if a >= addr && uint64(a-addr) < length {
			delete(as.pages, a)
		}
	}
}

func (as *testAS) Release() {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.released = true
}

// takeCalls returns the calls so far and forgets them.
func (as *testAS) takeCalls() []asCall {
	as.mu.Lock()
	defer as.mu.Unlock()
	c := as.calls
	as.calls = nil
	return c
}

// mapped returns what the address space maps at the page of addr.
func (as *testAS) mapped(addr usermem.Addr) (asPage, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	p, ok := as.pages[addr.RoundDown()]
	return p, ok
}

// testFile is a Mappable over a byte slice.
type testFile struct {
	data []byte
	// sizeErr, if set, is Size's error.
	sizeErr error
}

func (f *testFile) ReadAt(dst []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(dst, f.data[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (f *testFile) Size() (int64, error) { return int64(len(f.data)), f.sizeErr }
func (f *testFile) MappedName() string   { return "/bin/test" }
func (f *testFile) DeviceID() uint64     { return unix.Mkdev(8, 2) }
func (f *testFile) InodeID() uint64      { return 173521 }

// refFile is a testFile that counts the references vmas hold on it.
type refFile struct {
	testFile
	refs atomic.Int64
}

func (f *refFile) IncRef() { f.refs.Add(1) }

func (f *refFile) DecRef() {
	if f.refs.Add(-1) < 0 {
		panic("refFile: negative reference count")
	}
}

var ctx = context.Background()

// newTestMM returns a memory manager on a fresh test platform.
func newTestMM(t testing.TB) (*MemoryManager, *testPlatform) {
	t.Helper()
	p := newTestPlatform(t)
	return NewMemoryManager(p), p
}

// testAddressSpace gives mm its (recording) address space.
func testAddressSpace(t testing.TB, mm *MemoryManager) *testAS {
	t.Helper()
	as, err := mm.AddressSpace()
	if err != nil {
		t.Fatalf("AddressSpace: %v", err)
	}
	return as.(*testAS)
}

// anon returns the options of a private anonymous mapping.
func anon(length uint64, perms usermem.AccessType) MMapOpts {
	return MMapOpts{Length: length, Private: true, Perms: perms, MaxPerms: usermem.AnyAccess}
}

// mustMMap maps opts or fails the test.
func mustMMap(t testing.TB, mm *MemoryManager, opts MMapOpts) usermem.Addr {
	t.Helper()
	addr, err := mm.MMap(ctx, opts)
	if err != nil {
		t.Fatalf("MMap(%+v): %v", opts, err)
	}
	return addr
}

// mustCopyOut writes b at addr or fails the test.
func mustCopyOut(t testing.TB, mm *MemoryManager, addr usermem.Addr, b []byte) {
	t.Helper()
	if n, err := mm.CopyOut(ctx, addr, b, usermem.IOOpts{}); n != len(b) || err != nil {
		t.Fatalf("CopyOut(%#x, %d bytes): got (%d, %v), wanted (%d, nil)", addr, len(b), n, err, len(b))
	}
}

// mustCopyIn reads n bytes at addr or fails the test.
func mustCopyIn(t testing.TB, mm *MemoryManager, addr usermem.Addr, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := mm.CopyIn(ctx, addr, b, usermem.IOOpts{}); got != n || err != nil {
		t.Fatalf("CopyIn(%#x, %d bytes): got (%d, %v), wanted (%d, nil)", addr, n, got, err, n)
	}
	return b
}

// check fails the test if mm breaks an invariant.
func check(t testing.TB, mm *MemoryManager) {
	t.Helper()
	if err := checkInvariants(mm); err != nil {
		t.Fatalf("invariant broken: %v\nmaps:\n%s", err, mm.MapsText())
	}
}

// checkInvariants checks what the fields of MemoryManager, vma and pma
// promise.
func checkInvariants(mm *MemoryManager) error {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	mm.activeMu.RLock()
	defer mm.activeMu.RUnlock()

	var usage uint64
	for i, seg := range mm.vmas.segs {
		v := seg.val
		if seg.ar.Length() == 0 || !seg.ar.IsPageAligned() || !seg.ar.WellFormed() {
			return fmt.Errorf("vma %v: empty, unaligned or malformed", seg.ar)
		}
		if seg.ar.Start < mm.layout.MinAddr || seg.ar.End > mm.layout.MaxAddr {
			return fmt.Errorf("vma %v outside the layout", seg.ar)
		}
		if i > 0 {
			prev := mm.vmas.segs[i-1]
			if prev.ar.End > seg.ar.Start {
				return fmt.Errorf("vmas %v and %v overlap or are out of order", prev.ar, seg.ar)
			}
			if prev.ar.End == seg.ar.Start && prev.val.canMergeWith(uint64(prev.ar.Length()), v) {
				return fmt.Errorf("vmas %v and %v should have merged", prev.ar, seg.ar)
			}
		}
		if v.effectivePerms != v.realPerms.Effective() || v.maxPerms != v.maxPerms.Effective() || !v.maxPerms.SupersetOf(v.effectivePerms) {
			return fmt.Errorf("vma %v: perms real %v effective %v max %v", seg.ar, v.realPerms, v.effectivePerms, v.maxPerms)
		}
		if (v.shm != nil || v.fc != nil) == v.private || (v.mappable != nil && (v.shm != nil || v.growsDown)) ||
			(v.fc != nil) != (v.mappable != nil && !v.private) {
			return fmt.Errorf("vma %v: inconsistent backing", seg.ar)
		}
		if v.shm != nil && v.shm.refs.Load() <= 0 {
			return fmt.Errorf("vma %v: shared object with %d refs", seg.ar, v.shm.refs.Load())
		}
		if v.fc != nil && v.fc.refs.Load() <= 0 {
			return fmt.Errorf("vma %v: file cache with %d refs", seg.ar, v.fc.refs.Load())
		}
		usage += uint64(seg.ar.Length())
	}
	if usage != mm.usageAS {
		return fmt.Errorf("usageAS is %#x, vmas span %#x", mm.usageAS, usage)
	}

	for i, seg := range mm.pmas.segs {
		p := seg.val
		if seg.ar.Length() == 0 || !seg.ar.IsPageAligned() || !seg.ar.WellFormed() {
			return fmt.Errorf("pma %v: empty, unaligned or malformed", seg.ar)
		}
		if i > 0 && mm.pmas.segs[i-1].ar.End > seg.ar.Start {
			return fmt.Errorf("pmas %v and %v overlap or are out of order", mm.pmas.segs[i-1].ar, seg.ar)
		}
		if p.needCOW && !p.private {
			return fmt.Errorf("pma %v: needCOW but shared", seg.ar)
		}
		// Every address is in a vma, and the perms follow the vmas'.
		for addr := seg.ar.Start; addr < seg.ar.End; {
			vi, ok := mm.vmas.find(addr)
			if !ok {
				return fmt.Errorf("pma %v: %#x is in no vma", seg.ar, addr)
			}
			v := mm.vmas.segs[vi].val
			eff, maxp := v.effectivePerms, v.maxPerms
			if p.needCOW {
				eff.Write, maxp.Write = false, false
			}
			if p.effectivePerms != eff || p.maxPerms != maxp {
				return fmt.Errorf("pma %v: perms %v/%v, vma at %#x wants %v/%v", seg.ar, p.effectivePerms, p.maxPerms, addr, eff, maxp)
			}
			if p.private != v.private {
				return fmt.Errorf("pma %v: private %v in a vma with private %v", seg.ar, p.private, v.private)
			}
			addr = mm.vmas.segs[vi].ar.End
		}
	}

	// The address space maps nothing that pmas do not back, with no more
	// than their permissions.
	if as, ok := mm.as.(*testAS); ok && !as.noModel {
		as.mu.Lock()
		defer as.mu.Unlock()
		for addr, page := range as.pages {
			pi, ok := mm.pmas.find(addr)
			if !ok {
				return fmt.Errorf("address space maps %#x, which no pma backs", addr)
			}
			seg := mm.pmas.segs[pi]
			if want := seg.val.off + uint64(addr-seg.ar.Start); page.off != want {
				return fmt.Errorf("address space maps %#x to offset %#x, pma says %#x", addr, page.off, want)
			}
			if !seg.val.effectivePerms.SupersetOf(page.perms) {
				return fmt.Errorf("address space maps %#x %v, pma allows %v", addr, page.perms, seg.val.effectivePerms)
			}
		}
	}
	return nil
}

func TestNewMemoryManagerLayout(t *testing.T) {
	mm, _ := newTestMM(t)
	want := Layout{MinAddr: testMinAddr, MaxAddr: testMaxAddr, TopDownBase: testMaxAddr - 128<<20}
	if got := mm.Layout(); got != want {
		t.Errorf("Layout: got %+v, wanted %+v", got, want)
	}
	if got := mm.Limits(); got != DefaultLimits {
		t.Errorf("Limits: got %+v, wanted %+v", got, DefaultLimits)
	}
}

func TestNewLayoutSmallRange(t *testing.T) {
	for _, tc := range []struct {
		min, max usermem.Addr
		want     Layout
	}{
		{0x1000, 0x101000, Layout{0x1000, 0x101000, 0x81000}},
		{0x1001, 0x100fff, Layout{0x2000, 0x100000, 0x81000}},
		{0x5000, 0x1000, Layout{0x5000, 0x5000, 0x5000}},
	} {
		if got := newLayout(tc.min, tc.max); got != tc.want {
			t.Errorf("newLayout(%#x, %#x): got %+v, wanted %+v", tc.min, tc.max, got, tc.want)
		}
	}
}

func TestUsersReleaseEverything(t *testing.T) {
	mm, p := newTestMM(t)
	as := testAddressSpace(t, mm)
	addr := mustMMap(t, mm, anon(8<<20, usermem.ReadWrite))
	shared := mustMMap(t, mm, MMapOpts{Length: 1 << 20, Perms: usermem.ReadWrite})
	mustCopyOut(t, mm, addr, make([]byte, 5<<20))
	mustCopyOut(t, mm, shared, []byte("x"))
	if p.mf.Usage() == 0 {
		t.Fatalf("no memory allocated")
	}
	if !mm.IncUsers() {
		t.Fatalf("IncUsers on a live memory manager: false")
	}
	mm.DecUsers(ctx)
	if p.mf.Usage() == 0 || as.released {
		t.Fatalf("DecUsers with a user left released memory")
	}
	mm.DecUsers(ctx)
	if got := p.mf.Usage(); got != 0 {
		t.Errorf("Usage after the last DecUsers: got %#x, wanted 0", got)
	}
	if !as.released {
		t.Errorf("the last DecUsers did not release the address space")
	}
	if calls := as.takeCalls(); len(calls) > 0 && calls[len(calls)-1].Op == "unmap" {
		t.Errorf("the last DecUsers unmapped from a released address space: %v", calls)
	}
	if mm.IncUsers() {
		t.Errorf("IncUsers on a dead memory manager: true")
	}
	if _, err := mm.AddressSpace(); err == nil {
		t.Errorf("AddressSpace on a dead memory manager: no error")
	}
	if got := mm.MapsText(); got != "" {
		t.Errorf("MapsText of a dead memory manager: %q", got)
	}
}

func TestAddressSpaceCreatedOnce(t *testing.T) {
	mm, p := newTestMM(t)
	a1, err1 := mm.AddressSpace()
	a2, err2 := mm.AddressSpace()
	if err1 != nil || err2 != nil || a1 != a2 || len(p.ases) != 1 {
		t.Errorf("AddressSpace twice: got (%p, %v), (%p, %v) and %d address spaces", a1, err1, a2, err2, len(p.ases))
	}
}
