package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// touchSize is how much memory BenchmarkTouch256MiB touches.
const touchSize = 256 << 20

// BenchmarkTouch256MiB touches every page of 256 MiB of fresh anonymous
// memory, three ways, and reports the cost per page:
//
//   - native: the Go process's own anonymous memory, the kernel's floor;
//   - memfd: the memory file's pages through the sentry's internal mapping,
//     the floor for memory that lives in a memfd;
//   - mm: through the memory manager, as an application would under
//     minisentry: a HandleUserFault at the first page of each 2 MiB window
//     (the fault maps the whole window) and a CopyOut per page standing for
//     the application's store. The address space records nothing, so this
//     is the memory manager's share; the ptrace platform's MapFile
//     (an injected mmap) comes on top, once per 2 MiB.
func BenchmarkTouch256MiB(b *testing.B) {
	const pages = touchSize / usermem.PageSize
	perPage := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pages, "ns/page")
	}

	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			m, err := unix.Mmap(-1, 0, touchSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				b.Fatalf("mmap: %v", err)
			}
			for off := 0; off < touchSize; off += usermem.PageSize {
				m[off] = 1
			}
			unix.Munmap(m)
		}
		perPage(b)
	})

	b.Run("memfd", func(b *testing.B) {
		mf := newBenchMemoryFile(b)
		for b.Loop() {
			fr, err := mf.Allocate(touchSize)
			if err != nil {
				b.Fatalf("Allocate: %v", err)
			}
			w := mf.Window(fr)
			for off := 0; off < touchSize; off += usermem.PageSize {
				w[off] = 1
			}
			mf.DecRef(fr)
		}
		perPage(b)
	})

	b.Run("mm", func(b *testing.B) {
		p := &testPlatform{mf: newBenchMemoryFile(b)}
		one := []byte{1}
		for b.Loop() {
			mm := NewMemoryManager(p)
			as := testAddressSpace(b, mm)
			as.noModel = true
			a, err := mm.MMap(ctx, anon(touchSize, usermem.ReadWrite))
			if err != nil {
				b.Fatalf("MMap: %v", err)
			}
			for addr := a; addr < a+touchSize; addr += usermem.PageSize {
				if addr%usermem.HugePageSize == 0 {
					if err := mm.HandleUserFault(ctx, addr, usermem.Write); err != nil {
						b.Fatalf("HandleUserFault: %v", err)
					}
				}
				if _, err := mm.CopyOut(ctx, addr, one, usermem.IOOpts{}); err != nil {
					b.Fatalf("CopyOut: %v", err)
				}
			}
			mm.DecUsers(ctx)
		}
		perPage(b)
	})
}

func newBenchMemoryFile(b *testing.B) *platform.MemoryFile {
	mf, err := platform.NewMemoryFile(1 << 30)
	if err != nil {
		b.Fatalf("NewMemoryFile: %v", err)
	}
	b.Cleanup(func() { closeMemoryFile(mf) })
	return mf
}
