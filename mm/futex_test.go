package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// mustFutexKey returns FutexKey's answer or fails the test.
func mustFutexKey(t *testing.T, mm *MemoryManager, addr usermem.Addr, shared bool) (uint64, bool) {
	t.Helper()
	off, isShared, err := mm.FutexKey(ctx, addr, shared)
	if err != nil {
		t.Fatalf("FutexKey(%#x, shared %v): %v", addr, shared, err)
	}
	return off, isShared
}

func TestFutexKeySharedAcrossFork(t *testing.T) {
	parent, p := newTestMM(t)
	const a, word = 0x10000000, 0x10001008
	mustMMap(t, parent, MMapOpts{Length: 0x4000, Addr: a, Fixed: true, Perms: usermem.ReadWrite})

	// The key of a page never touched: FutexKey allocates it.
	off, isShared := mustFutexKey(t, parent, word, true)
	if !isShared {
		t.Fatalf("FutexKey in a MAP_SHARED mapping: not shared")
	}
	if off%usermem.PageSize != word%usermem.PageSize {
		t.Errorf("offset %#x and address %#x disagree within the page", off, word)
	}

	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if coff, cshared := mustFutexKey(t, child, word, true); !cshared || coff != off {
		t.Errorf("child's key (%#x, %v), parent's (%#x, true): wanted the same", coff, cshared, off)
	}

	// The offset is where the word really is, for both memory managers.
	mustCopyOut(t, parent, word, []byte{1, 2, 3, 4})
	page := p.mf.Window(platform.FileRange{Start: off &^ (usermem.PageSize - 1), End: off&^(usermem.PageSize-1) + usermem.PageSize})
	if got := page[off%usermem.PageSize:][:4]; string(got) != "\x01\x02\x03\x04" {
		t.Errorf("bytes at the key's offset: %v, wanted the word the parent wrote", got)
	}
	if v, err := child.LoadUint32(ctx, word, usermem.IOOpts{}); err != nil || v != 0x04030201 {
		t.Errorf("child's LoadUint32: %#x, %v; wanted 0x04030201", v, err)
	}

	// A private futex in shared memory is private.
	if _, isShared := mustFutexKey(t, parent, word, false); isShared {
		t.Errorf("FutexKey(shared false) in a MAP_SHARED mapping: shared")
	}
	check(t, parent)
	check(t, child)
	child.DecUsers(ctx)
	parent.DecUsers(ctx)
}

func TestFutexKeyPrivateMapping(t *testing.T) {
	parent, _ := newTestMM(t)
	const a = 0x20000000
	mustMMap(t, parent, MMapOpts{Length: 0x2000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	// Linux keys a shared futex in private memory like a private one, by
	// address space and address: after fork, parent and child no longer
	// share the word.
	if _, isShared := mustFutexKey(t, parent, a+0x10, true); isShared {
		t.Errorf("FutexKey in a MAP_PRIVATE mapping: shared")
	}
	child, err := parent.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if _, isShared := mustFutexKey(t, child, a+0x10, true); isShared {
		t.Errorf("child's FutexKey in a MAP_PRIVATE mapping: shared")
	}
	child.DecUsers(ctx)
	parent.DecUsers(ctx)
}

func TestFutexKeyErrors(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x30000000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Perms: usermem.NoAccess})
	for _, tc := range []struct {
		name   string
		addr   usermem.Addr
		shared bool
		want   error
	}{
		{"unaligned", a + 2, true, unix.EINVAL},
		{"unaligned private", a + 2, false, unix.EINVAL},
		{"unmapped shared", a + 0x2000, true, unix.EFAULT},
		// A private key needs no mapping: the operation's own access
		// faults, and FUTEX_WAKE on unmapped memory wakes no one.
		{"unmapped private", a + 0x2000, false, nil},
		{"PROT_NONE shared", a + 0x1000, true, unix.EFAULT},
		{"last word", testMaxAddr - 4, false, nil},
		{"past the top", testMaxAddr, false, unix.EFAULT},
		{"past the top shared", testMaxAddr, true, unix.EFAULT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := mm.FutexKey(ctx, tc.addr, tc.shared); err != tc.want {
				t.Errorf("FutexKey(%#x, shared %v): %v, wanted %v", tc.addr, tc.shared, err, tc.want)
			}
		})
	}
}
