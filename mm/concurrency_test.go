package mm

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// TestConcurrentUse runs faults, IO, mapping changes and forks from several
// goroutines at once, as the threads of one process do, so that the race
// detector and the invariants can catch locking mistakes.
func TestConcurrentUse(t *testing.T) {
	mm, _ := newTestMM(t)
	testAddressSpace(t, mm)
	const base = 0x10000000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 3*usermem.PageSize)
			for i := 0; i < 300; i++ {
				addr := usermem.Addr(base + ((i*7+g*13)%64)*usermem.PageSize)
				switch (i + g) % 8 {
				case 0:
					mm.MMap(ctx, MMapOpts{Length: 4 * usermem.PageSize, Addr: addr, Fixed: true, Unmap: true, Private: g%2 == 0, Perms: usermem.ReadWrite})
				case 1:
					mm.MUnmap(ctx, addr, 2*usermem.PageSize)
				case 2:
					mm.MProtect(addr, 3*usermem.PageSize, usermem.Read, false)
				case 3:
					mm.HandleUserFault(ctx, addr, usermem.Write)
				case 4:
					mm.CopyOut(ctx, addr, buf, usermem.IOOpts{})
				case 5:
					mm.CopyIn(ctx, addr, buf, usermem.IOOpts{IgnorePermissions: true})
				case 6:
					if child, err := mm.Fork(ctx); err == nil {
						child.CopyOut(ctx, addr, buf[:10], usermem.IOOpts{})
						child.DecUsers(ctx)
					}
				case 7:
					mm.MAdvise(ctx, addr, 2*usermem.PageSize, unix.MADV_DONTNEED)
					mm.SwapUint32(ctx, addr, 1, usermem.IOOpts{})
				}
			}
		}()
	}
	wg.Wait()
	check(t, mm)
}
