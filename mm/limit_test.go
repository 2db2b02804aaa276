package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// TestFaultUnderMemoryLimit: with the memory file limited, a fault takes
// only the pages it needs when the whole 2 MiB window does not fit, and
// fails with ENOMEM (the kernel's SIGBUS) when not even those do; the
// sentry's own accesses fail with EFAULT.
func TestFaultUnderMemoryLimit(t *testing.T) {
	mm, p := newTestMM(t)
	testAddressSpace(t, mm)
	a := mustMMap(t, mm, anon(8<<20, usermem.ReadWrite))
	mf := p.MemoryFile()
	used := mf.Usage()
	mf.SetLimit(used + 3*usermem.PageSize)
	defer mf.SetLimit(0)

	for i := usermem.Addr(0); i < 3; i++ {
		if err := mm.HandleUserFault(ctx, a+i*usermem.PageSize, usermem.Write); err != nil {
			t.Fatalf("fault %d of 3 under the limit: %v", i+1, err)
		}
	}
	if got := mf.Usage() - used; got != 3*usermem.PageSize {
		t.Errorf("three faults used %d bytes, want 3 pages", got)
	}
	if err := mm.HandleUserFault(ctx, a+3*usermem.PageSize, usermem.Write); err != unix.ENOMEM {
		t.Errorf("fault past the limit: got %v, want ENOMEM", err)
	}
	if _, err := mm.CopyOut(ctx, a+5<<20, []byte{1}, usermem.IOOpts{}); err != unix.EFAULT {
		t.Errorf("CopyOut past the limit: got %v, want EFAULT", err)
	}
	// The pages already given still work.
	if _, err := mm.CopyOut(ctx, a+2*usermem.PageSize, []byte{1}, usermem.IOOpts{}); err != nil {
		t.Errorf("CopyOut to a page under the limit: %v", err)
	}
	check(t, mm)
}
