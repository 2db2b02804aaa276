package mm

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// sharedFile is a SharedMappable over a byte slice that records the
// write-backs it receives.
type sharedFile struct {
	ino uint64

	mu     sync.Mutex
	data   []byte
	writes int // WriteAt calls

	refs atomic.Int64
}

// nextSharedFileIno gives each test file an identity of its own: caches are
// found by identity, and parallel tests must not share them.
var nextSharedFileIno atomic.Uint64

func newSharedFile(data []byte) *sharedFile {
	return &sharedFile{ino: 1<<40 + nextSharedFileIno.Add(1), data: bytes.Clone(data)}
}

func (f *sharedFile) id() FileID { return FileID{Dev: f.DeviceID(), Ino: f.InodeID()} }

func (f *sharedFile) ReadAt(dst []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(dst, f.data[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (f *sharedFile) WriteAt(src []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if end := off + int64(len(src)); end > int64(len(f.data)) {
		f.data = append(f.data, make([]byte, end-int64(len(f.data)))...)
	}
	return copy(f.data[off:], src), nil
}

func (f *sharedFile) Size() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.data)), nil
}

func (f *sharedFile) MappedName() string { return "/shared" }
func (f *sharedFile) DeviceID() uint64   { return unix.Mkdev(8, 3) }
func (f *sharedFile) InodeID() uint64    { return f.ino }
func (f *sharedFile) IncRef()            { f.refs.Add(1) }

func (f *sharedFile) DecRef() {
	if f.refs.Add(-1) < 0 {
		panic("sharedFile: negative reference count")
	}
}

// contents returns a copy of the file's bytes and how many write-backs it
// has had.
func (f *sharedFile) contents() ([]byte, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.data), f.writes
}

// truncate sets the file's size, as ftruncate(2) on the host would,
// through ChangeFile.
func (f *sharedFile) truncate(t *testing.T, size int) {
	t.Helper()
	err := ChangeFile(f.id(), int64(size), int64(size), false, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if size < len(f.data) {
			f.data = f.data[:size]
		} else {
			f.data = append(f.data, make([]byte, size-len(f.data))...)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ChangeFile(truncate to %d): %v", size, err)
	}
}

// sharedOpts returns the options of a shared mapping of f at addr.
func sharedOpts(f *sharedFile, addr usermem.Addr, length uint64, perms, maxPerms usermem.AccessType) MMapOpts {
	return MMapOpts{Length: length, Addr: addr, Fixed: true, Perms: perms, MaxPerms: maxPerms, Mappable: f}
}

// fileBytes returns n bytes of a recognisable pattern.
func fileBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%23)
	}
	return b
}

func TestSharedFileSeenByTwoMemoryManagers(t *testing.T) {
	p := newTestPlatform(t)
	mm1, mm2 := NewMemoryManager(p), NewMemoryManager(p)
	as1, as2 := testAddressSpace(t, mm1), testAddressSpace(t, mm2)
	f := newSharedFile(fileBytes(3 * usermem.PageSize))
	const a1, a2 = 0x10000000, 0x20000000
	mustMMap(t, mm1, sharedOpts(f, a1, 3*usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustMMap(t, mm2, sharedOpts(f, a2, 3*usermem.PageSize, usermem.Read, usermem.AnyAccess))

	// Both read the file's bytes.
	if got := mustCopyIn(t, mm2, a2+0x1000, 8); !bytes.Equal(got, fileBytes(0x1008)[0x1000:]) {
		t.Errorf("mm2 reads %q at file offset 0x1000, wanted the file's bytes", got)
	}
	// A write through one is seen through the other, at once, and the
	// file is left alone until a write-back.
	mustCopyOut(t, mm1, a1+0x1010, []byte("written by mm1"))
	if got := mustCopyIn(t, mm2, a2+0x1010, 14); string(got) != "written by mm1" {
		t.Errorf("mm2 reads %q, wanted mm1's write", got)
	}
	if data, writes := f.contents(); writes != 0 || !bytes.Equal(data, fileBytes(3*usermem.PageSize)) {
		t.Errorf("the file changed (%d write-backs) before any write-back", writes)
	}
	// Faults map the same memory into both address spaces.
	for _, m := range []*MemoryManager{mm1, mm2} {
		if err := m.HandleUserFault(ctx, map[*MemoryManager]usermem.Addr{mm1: a1, mm2: a2}[m]+0x1000, usermem.Read); err != nil {
			t.Fatalf("HandleUserFault: %v", err)
		}
	}
	p1, ok1 := as1.mapped(a1 + 0x1000)
	p2, ok2 := as2.mapped(a2 + 0x1000)
	if !ok1 || !ok2 || p1.off != p2.off {
		t.Errorf("the page is mapped at %+v (%v) and %+v (%v), wanted the same memory in both", p1, ok1, p2, ok2)
	}
	if !p1.perms.Write || p2.perms.Write {
		t.Errorf("permissions %v and %v, wanted the writer's writable and the reader's not", p1.perms, p2.perms)
	}
	check(t, mm1)
	check(t, mm2)

	// msync writes the page back.
	if err := mm1.MSync(ctx, a1, 3*usermem.PageSize, unix.MS_SYNC); err != nil {
		t.Fatalf("MSync: %v", err)
	}
	want := fileBytes(3 * usermem.PageSize)
	copy(want[0x1010:], "written by mm1")
	if data, _ := f.contents(); !bytes.Equal(data, want) {
		t.Errorf("after msync, the file does not hold mm1's write")
	}
	mm1.DecUsers(ctx)
	mm2.DecUsers(ctx)
	if FileCached(f.id()) {
		t.Errorf("the cache outlived every mapping")
	}
	if n := f.refs.Load(); n != 0 {
		t.Errorf("%d references on the file are left", n)
	}
	if u := p.mf.Usage(); u != 0 {
		t.Errorf("MemoryFile.Usage() = %#x after everything died, wanted 0", u)
	}
}

func TestSharedFileFork(t *testing.T) {
	parent, _ := newTestMM(t)
	f := newSharedFile(fileBytes(usermem.PageSize))
	const a = 0x10000000
	mustMMap(t, parent, sharedOpts(f, a, usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustCopyOut(t, parent, a, []byte("before fork"))
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	check(t, parent)
	check(t, child)
	// The child sees the parent's write and the parent the child's: no
	// copy-on-write for a shared mapping.
	if got := mustCopyIn(t, child, a, 11); string(got) != "before fork" {
		t.Errorf("the child reads %q, wanted the parent's write", got)
	}
	mustCopyOut(t, child, a+0x100, []byte("from the child"))
	if got := mustCopyIn(t, parent, a+0x100, 14); string(got) != "from the child" {
		t.Errorf("the parent reads %q, wanted the child's write", got)
	}
	// The child's exit is not the last mapping: nothing is written back
	// yet. The parent's munmap is, and writes both writes back.
	child.DecUsers(ctx)
	if _, writes := f.contents(); writes != 0 {
		t.Errorf("%d write-backs when the child exited, wanted none while the parent maps the file", writes)
	}
	if err := parent.MUnmap(ctx, a, usermem.PageSize); err != nil {
		t.Fatalf("MUnmap: %v", err)
	}
	want := fileBytes(usermem.PageSize)
	copy(want, "before fork")
	copy(want[0x100:], "from the child")
	if data, _ := f.contents(); !bytes.Equal(data, want) {
		t.Errorf("after the last munmap, the file does not hold both writes")
	}
	check(t, parent)
}

func TestSharedFileWritebackOnExit(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(2 * usermem.PageSize))
	const a = 0x10000000
	mustMMap(t, mm, sharedOpts(f, a, 2*usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustCopyOut(t, mm, a+usermem.PageSize-2, []byte("span"))
	mm.DecUsers(ctx)
	want := fileBytes(2 * usermem.PageSize)
	copy(want[usermem.PageSize-2:], "span")
	if data, _ := f.contents(); !bytes.Equal(data, want) {
		t.Errorf("after exit, the file does not hold the write")
	}
}

func TestSharedFileDirtyTracking(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(4 * usermem.PageSize))
	const a, b = 0x10000000, 0x20000000
	// A mapping that cannot write never makes pages dirty; nor does a
	// writable one whose pages were never touched.
	mustMMap(t, mm, sharedOpts(f, a, 4*usermem.PageSize, usermem.Read, usermem.AccessType{Read: true, Execute: true}))
	mustMMap(t, mm, sharedOpts(f, b, 4*usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustCopyIn(t, mm, a, 4*usermem.PageSize)
	if err := mm.MSync(ctx, a, 4*usermem.PageSize, unix.MS_SYNC); err != nil {
		t.Fatalf("MSync: %v", err)
	}
	if err := mm.MSync(ctx, b, 4*usermem.PageSize, unix.MS_SYNC); err != nil {
		t.Fatalf("MSync: %v", err)
	}
	if _, writes := f.contents(); writes != 0 {
		t.Errorf("%d write-backs of pages no writable mapping touched, wanted none", writes)
	}
	// A writable mapping's pages are written back while any pma maps
	// them (they may change unseen), and become clean once none does.
	mustCopyOut(t, mm, b+usermem.PageSize, []byte("x"))
	wantWrites := func(when string, want int) {
		t.Helper()
		if _, writes := f.contents(); writes != want {
			t.Errorf("%s: %d write-backs, wanted %d", when, writes, want)
		}
	}
	msync := func(addr usermem.Addr) {
		t.Helper()
		if err := mm.MSync(ctx, addr, 4*usermem.PageSize, unix.MS_ASYNC); err != nil {
			t.Fatalf("MSync: %v", err)
		}
	}
	msync(b)
	wantWrites("after one msync", 1)
	msync(b)
	wantWrites("after two", 2)
	if err := mm.MUnmap(ctx, b, 4*usermem.PageSize); err != nil {
		t.Fatalf("MUnmap: %v", err)
	}
	// The read-only mapping still maps the pages, so they stay dirty.
	msync(a)
	wantWrites("after msync of the read-only mapping", 3)
	if got := mustCopyIn(t, mm, a+usermem.PageSize, 1); string(got) != "x" {
		t.Errorf("the read-only mapping reads %q, wanted the other mapping's write", got)
	}
	if err := mm.MAdvise(ctx, a, 4*usermem.PageSize, unix.MADV_DONTNEED); err != nil {
		t.Fatalf("MAdvise: %v", err)
	}
	msync(a)
	wantWrites("after msync with nothing mapped", 4)
	msync(a)
	wantWrites("after msync of clean pages", 4)
	check(t, mm)
}

func TestSharedFileReadOnlyFile(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(usermem.PageSize))
	const a = 0x10000000
	ro := usermem.AccessType{Read: true, Execute: true}
	if _, err := mm.MMap(ctx, sharedOpts(f, a, usermem.PageSize, usermem.ReadWrite, ro)); err != unix.EACCES {
		t.Errorf("PROT_WRITE shared mapping of a file not open for writing: got %v, wanted EACCES", err)
	}
	mustMMap(t, mm, sharedOpts(f, a, usermem.PageSize, usermem.Read, ro))
	if err := mm.MProtect(a, usermem.PageSize, usermem.ReadWrite, false); err != unix.EACCES {
		t.Errorf("mprotect(PROT_WRITE) of it: got %v, wanted EACCES", err)
	}
	if err := mm.HandleUserFault(ctx, a, usermem.Write); err != unix.EPERM {
		t.Errorf("write fault on it: got %v, wanted EPERM", err)
	}
	check(t, mm)
}

func TestSharedFileBeyondEOF(t *testing.T) {
	mm, _ := newTestMM(t)
	testAddressSpace(t, mm)
	f := newSharedFile(fileBytes(usermem.PageSize + 10))
	const a = 0x10000000
	mustMMap(t, mm, sharedOpts(f, a, 4*usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	if err := mm.HandleUserFault(ctx, a+usermem.PageSize+100, usermem.Read); err != nil {
		t.Errorf("fault in the file's last page: %v", err)
	}
	if got := mustCopyIn(t, mm, a+usermem.PageSize+8, 4); !bytes.Equal(got, append(fileBytes(usermem.PageSize + 10)[usermem.PageSize+8:], 0, 0)) {
		t.Errorf("the last page reads %q, wanted the file's last bytes then zeros", got)
	}
	if err := mm.HandleUserFault(ctx, a+2*usermem.PageSize, usermem.Read); !errors.Is(err, ErrBusError) {
		t.Errorf("fault past the end of the file: got %v, wanted ErrBusError", err)
	}
	// A write past the end of the file in its last page stays out of the
	// file on write-back.
	mustCopyOut(t, mm, a+usermem.PageSize+10, []byte("past the end"))
	if err := mm.MSync(ctx, a, usermem.PageSize, unix.MS_SYNC); err != nil {
		t.Fatalf("MSync: %v", err)
	}
	if data, _ := f.contents(); len(data) != usermem.PageSize+10 {
		t.Errorf("the file is %d bytes after write-back, wanted %d", len(data), usermem.PageSize+10)
	}
	check(t, mm)
}

func TestSharedFileTruncate(t *testing.T) {
	p := newTestPlatform(t)
	mm1, mm2 := NewMemoryManager(p), NewMemoryManager(p)
	as1 := testAddressSpace(t, mm1)
	testAddressSpace(t, mm2)
	f := newSharedFile(fileBytes(3 * usermem.PageSize))
	const a = 0x10000000
	for _, m := range []*MemoryManager{mm1, mm2} {
		mustMMap(t, m, sharedOpts(f, a, 3*usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
		for off := usermem.Addr(0); off < 3*usermem.PageSize; off += usermem.PageSize {
			if err := m.HandleUserFault(ctx, a+off, usermem.Write); err != nil {
				t.Fatalf("HandleUserFault(%#x): %v", a+off, err)
			}
		}
	}
	mustCopyOut(t, mm1, a+usermem.PageSize+0x700, []byte("beyond the new end"))
	mustCopyOut(t, mm1, a+usermem.PageSize+0x10, []byte("kept"))

	// Shrink the file to the middle of its second page.
	f.truncate(t, usermem.PageSize+0x100)
	for _, m := range []*MemoryManager{mm1, mm2} {
		if err := m.HandleUserFault(ctx, a+2*usermem.PageSize, usermem.Read); !errors.Is(err, ErrBusError) {
			t.Errorf("fault past the new end of the file: got %v, wanted ErrBusError", err)
		}
		if _, err := m.CopyIn(ctx, a+2*usermem.PageSize, make([]byte, 1), usermem.IOOpts{}); err != unix.EFAULT {
			t.Errorf("IO past the new end of the file: got %v, wanted EFAULT", err)
		}
		// The bytes of the last page past the end read as zeros; the
		// ones before it keep the mapping's write.
		if got := mustCopyIn(t, m, a+usermem.PageSize+0x700, 4); !bytes.Equal(got, make([]byte, 4)) {
			t.Errorf("the last page past the new end reads %q, wanted zeros", got)
		}
		if got := mustCopyIn(t, m, a+usermem.PageSize+0x10, 4); string(got) != "kept" {
			t.Errorf("the last page before the new end reads %q, wanted the mapping's write", got)
		}
		check(t, m)
	}
	if _, ok := as1.mapped(a + 2*usermem.PageSize); ok {
		t.Errorf("the address space still maps the page past the new end")
	}
	// Growing the file back makes the page reachable again, as zeros.
	f.truncate(t, 3*usermem.PageSize)
	if got := mustCopyIn(t, mm2, a+2*usermem.PageSize, 4); !bytes.Equal(got, make([]byte, 4)) {
		t.Errorf("the page after growing the file back reads %q, wanted zeros", got)
	}
	mm1.DecUsers(ctx)
	mm2.DecUsers(ctx)
	data, _ := f.contents()
	want := fileBytes(3 * usermem.PageSize)[:usermem.PageSize+0x100]
	copy(want[usermem.PageSize+0x10:], "kept")
	want = append(want, make([]byte, 2*usermem.PageSize-0x100)...)
	if !bytes.Equal(data, want) {
		t.Errorf("the file after truncation and exit differs from what was written")
	}
	if u := p.mf.Usage(); u != 0 {
		t.Errorf("MemoryFile.Usage() = %#x after everything died, wanted 0", u)
	}
}

func TestSharedFileCoherentWithWrites(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(2 * usermem.PageSize))
	const a = 0x10000000
	mustMMap(t, mm, sharedOpts(f, a, 2*usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustCopyIn(t, mm, a, 2*usermem.PageSize)

	// A write(2) to the file shows in the mapping at once.
	src := usermem.BlockSeq{[]byte("written "), []byte("by write(2)")}
	n, err := WriteFile(f.id(), src, func() (int, error) {
		return f.WriteAt([]byte("written by write(2)"), 0x1ff0)
	}, func(n int) int64 { return 0x1ff0 })
	if n != 19 || err != nil {
		t.Fatalf("WriteFile: got (%d, %v), wanted (19, nil)", n, err)
	}
	if got := mustCopyIn(t, mm, a+0x1ff0, 16); string(got) != "written by write" {
		t.Errorf("the mapping reads %q, wanted the write(2)", got)
	}

	// A mapping's write reaches the file before a read of it.
	mustCopyOut(t, mm, a+0x20, []byte("mapped"))
	if err := SyncFile(f.id(), 0x20, 0x26); err != nil {
		t.Fatalf("SyncFile: %v", err)
	}
	if data, _ := f.contents(); string(data[0x20:0x26]) != "mapped" {
		t.Errorf("the file holds %q after SyncFile, wanted the mapping's write", data[0x20:0x26])
	}

	// A write past the end of the file: the gap it leaves in the cached
	// last page reads as zeros, whatever the mapping wrote there.
	f.truncate(t, usermem.PageSize+0x10)
	mustCopyOut(t, mm, a+usermem.PageSize+0x20, []byte("junk"))
	n, err = WriteFile(f.id(), usermem.BlockSeq{[]byte("tail")}, func() (int, error) {
		return f.WriteAt([]byte("tail"), usermem.PageSize+0x40)
	}, func(n int) int64 { return usermem.PageSize + 0x40 })
	if n != 4 || err != nil {
		t.Fatalf("WriteFile past the end: got (%d, %v)", n, err)
	}
	if got := mustCopyIn(t, mm, a+usermem.PageSize+0x20, 0x24); !bytes.Equal(got, append(make([]byte, 0x20), "tail"...)) {
		t.Errorf("the last page reads %q, wanted zeros up to the write", got)
	}
	check(t, mm)
}

func TestSharedFilePrivateMappingSeesSharedWrites(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(usermem.PageSize))
	const a, b = 0x10000000, 0x20000000
	mustMMap(t, mm, sharedOpts(f, a, usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustCopyOut(t, mm, a, []byte("shared"))
	mustMMap(t, mm, MMapOpts{Length: usermem.PageSize, Addr: b, Fixed: true, Private: true, Perms: usermem.ReadWrite, Mappable: f})
	if got := mustCopyIn(t, mm, b, 6); string(got) != "shared" {
		t.Errorf("a private mapping reads %q, wanted the shared mapping's write", got)
	}
	// The private mapping's own writes stay its own.
	mustCopyOut(t, mm, b, []byte("private"))
	if got := mustCopyIn(t, mm, a, 7); string(got) != "shared"+string(fileBytes(7)[6]) {
		t.Errorf("the shared mapping reads %q after a private write", got)
	}
	mm.DecUsers(ctx)
	if data, _ := f.contents(); string(data[:7]) != "shared"+string(fileBytes(7)[6]) {
		t.Errorf("the file holds %q, wanted the shared write only", data[:7])
	}
}

func TestSharedFileFutexKey(t *testing.T) {
	p := newTestPlatform(t)
	mm1, mm2 := NewMemoryManager(p), NewMemoryManager(p)
	f := newSharedFile(fileBytes(usermem.PageSize))
	mustMMap(t, mm1, sharedOpts(f, 0x10000000, usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustMMap(t, mm2, sharedOpts(f, 0x20000000, usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	k1, s1, err1 := mm1.FutexKey(ctx, 0x10000040, true)
	k2, s2, err2 := mm2.FutexKey(ctx, 0x20000040, true)
	if err1 != nil || err2 != nil || !s1 || !s2 || k1 != k2 {
		t.Errorf("FutexKey of the same word of a shared file: (%#x, %v, %v) and (%#x, %v, %v), wanted one shared key", k1, s1, err1, k2, s2, err2)
	}
	mm1.DecUsers(ctx)
	mm2.DecUsers(ctx)
	if u := p.mf.Usage(); u != 0 {
		t.Errorf("MemoryFile.Usage() = %#x after everything died, wanted 0", u)
	}
}

func TestMSyncErrors(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(usermem.PageSize))
	const a = 0x10000000
	mustMMap(t, mm, sharedOpts(f, a, usermem.PageSize, usermem.ReadWrite, usermem.AnyAccess))
	mustMMap(t, mm, anon(usermem.PageSize, usermem.ReadWrite))
	for _, tc := range []struct {
		desc   string
		addr   usermem.Addr
		length uint64
		flags  int
		want   error
	}{
		{"unknown flag", a, 1, 8, unix.EINVAL},
		{"MS_SYNC|MS_ASYNC", a, 1, unix.MS_SYNC | unix.MS_ASYNC, unix.EINVAL},
		{"unaligned", a + 1, 1, unix.MS_SYNC, unix.EINVAL},
		{"wrapping", a, ^uint64(0), unix.MS_SYNC, unix.ENOMEM},
		{"length 0", a, 0, unix.MS_SYNC, nil},
		{"flags 0", a, usermem.PageSize, 0, nil},
		{"MS_INVALIDATE", a, usermem.PageSize, unix.MS_INVALIDATE, nil},
		{"unmapped", 0x30000000, usermem.PageSize, unix.MS_SYNC, unix.ENOMEM},
		{"ending in a hole", a, 2 * usermem.PageSize, unix.MS_SYNC, unix.ENOMEM},
		{"starting in a hole", a - usermem.PageSize, 2 * usermem.PageSize, unix.MS_SYNC, unix.ENOMEM},
		{"starting in a hole, MS_ASYNC", a - usermem.PageSize, 2 * usermem.PageSize, unix.MS_ASYNC, unix.ENOMEM},
	} {
		if err := mm.MSync(ctx, tc.addr, tc.length, tc.flags); err != tc.want {
			t.Errorf("%s: MSync(%#x, %#x, %#x) = %v, wanted %v", tc.desc, tc.addr, tc.length, tc.flags, err, tc.want)
		}
	}
	// A write-back before the hole happens even though the call fails.
	mustCopyOut(t, mm, a, []byte("before the hole"))
	if err := mm.MSync(ctx, a, 2*usermem.PageSize, unix.MS_SYNC); err != unix.ENOMEM {
		t.Errorf("MSync over a hole: %v, wanted ENOMEM", err)
	}
	if data, _ := f.contents(); string(data[:15]) != "before the hole" {
		t.Errorf("the file holds %q, wanted the write-back before the hole", data[:15])
	}
}

func TestMinCore(t *testing.T) {
	mm, _ := newTestMM(t)
	f := newSharedFile(fileBytes(2 * usermem.PageSize))
	const a, b = 0x10000000, 0x20000000
	mustMMap(t, mm, MMapOpts{Length: 3 * usermem.PageSize, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustCopyOut(t, mm, a+usermem.PageSize, []byte("x"))
	// The file's first page is cached by another mapping of it.
	mustMMap(t, mm, sharedOpts(f, b, 2*usermem.PageSize, usermem.Read, usermem.AnyAccess))
	mustMMap(t, mm, sharedOpts(f, b+0x100000, 2*usermem.PageSize, usermem.Read, usermem.AnyAccess))
	mustCopyIn(t, mm, b+0x100000, 1)
	vec, err := mm.MinCore(ctx, b, 2*usermem.PageSize)
	if err != nil || !bytes.Equal(vec, []byte{1, 1}) {
		// The whole allocation window was read in with the first page.
		t.Errorf("MinCore of a cached file: got (%v, %v), wanted ([1 1], nil)", vec, err)
	}
	vec, err = mm.MinCore(ctx, a, 3*usermem.PageSize)
	if err != nil || len(vec) != 3 || vec[1] != 1 {
		t.Errorf("MinCore of anonymous memory: got (%v, %v), wanted the touched page resident", vec, err)
	}
	if _, err := mm.MinCore(ctx, a+1, 1); err != unix.EINVAL {
		t.Errorf("MinCore unaligned: %v, wanted EINVAL", err)
	}
	if vec, err := mm.MinCore(ctx, a, 4*usermem.PageSize); err != unix.ENOMEM || len(vec) != 3 {
		t.Errorf("MinCore across a hole: got (%v, %v), wanted the 3 mapped pages and ENOMEM", vec, err)
	}
	if _, err := mm.MinCore(ctx, a, 1<<60); err != unix.ENOMEM {
		t.Errorf("MinCore past the user range: %v, wanted ENOMEM", err)
	}
}
