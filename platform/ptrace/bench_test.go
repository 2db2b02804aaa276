package ptrace

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// BenchmarkSyscall measures one application syscall round trip: the stop,
// reading the registers, writing the result, resuming.
func BenchmarkSyscall(b *testing.B) {
	runtime.LockOSThread()
	p := getPlatform(b)
	as, err := p.NewAddressSpace()
	if err != nil {
		b.Fatal(err)
	}
	defer as.Release()
	loadCode(b, p, as, []byte{
		0xb8, 0x6e, 0x00, 0x00, 0x00, // loop: mov eax, SYS_getppid
		0x0f, 0x05, //                   syscall
		0xeb, 0xf7, //                   jmp loop
	})
	c := p.NewContext()
	defer c.Release()
	c.Regs().Rip = codeAddr
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := c.Switch(as)
		if err != nil || ev.Type != platform.EventSyscall {
			b.Fatalf("Switch: %v %v", ev.Type, err)
		}
		c.Regs().Rax = 4242
	}
}

// BenchmarkInjectedSyscall measures one syscall injected into a stub
// thread that the caller traces, the path of every MapFile and Unmap.
func BenchmarkInjectedSyscall(b *testing.B) {
	runtime.LockOSThread()
	p := getPlatform(b)
	as, err := p.NewAddressSpace()
	if err != nil {
		b.Fatal(err)
	}
	defer as.Release()
	loadCode(b, p, as, []byte{0x0f, 0x05}) // syscall
	c := p.NewContext()
	defer c.Release()
	c.Regs().Rip = codeAddr
	if _, err := c.Switch(as); err != nil {
		b.Fatal(err)
	}
	sp := as.(*subprocess)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sp.syscall(unix.SYS_GETPID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFault measures a page fault round trip: the fault stop, one
// injected mmap of the page, and resuming the faulting instruction.
func BenchmarkFault(b *testing.B) {
	runtime.LockOSThread()
	p := getPlatform(b)
	as, err := p.NewAddressSpace()
	if err != nil {
		b.Fatal(err)
	}
	defer as.Release()
	// The program walks a 64 MiB region one page at a time, forever,
	// making a syscall after each walk.
	const region = 0x100000000
	const regionPages = 16384
	loadCode(b, p, as, []byte{
		0x48, 0xbf, 0, 0, 0, 0, 0x01, 0, 0, 0, // start: mov rdi, region
		0xc6, 0x07, 0x01, //                     loop:  mov byte [rdi], 1
		0x48, 0x81, 0xc7, 0x00, 0x10, 0, 0, //          add rdi, 4096
		0x48, 0xb8, 0, 0, 0, 0x04, 0x01, 0, 0, 0, //    mov rax, region+64MiB
		0x48, 0x39, 0xc7, //                            cmp rdi, rax
		0x72, 0xe7, //                                  jb loop
		0xb8, 0x27, 0x00, 0x00, 0x00, //                mov eax, SYS_getpid
		0x0f, 0x05, //                                  syscall (the sentry empties the region)
		0xeb, 0xd4, //                                  jmp start
	})
	c := p.NewContext()
	defer c.Release()
	c.Regs().Rip = codeAddr
	// Page i of the region maps page i of fr, so that the host merges the
	// mappings into one instead of running out of them.
	fr, err := p.MemoryFile().Allocate(regionPages * usermem.PageSize)
	if err != nil {
		b.Fatal(err)
	}
	defer p.MemoryFile().DecRef(fr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := c.Switch(as)
		if err == nil && ev.Type == platform.EventSyscall {
			// The walk starts again: empty the region.
			as.Unmap(region, regionPages*usermem.PageSize)
			ev, err = c.Switch(as)
		}
		if err != nil || ev.Type != platform.EventFault {
			b.Fatalf("Switch: %v %v", ev.Type, err)
		}
		page := uint64(ev.Addr-region) / usermem.PageSize
		off := fr.Start + page*usermem.PageSize
		if err := as.MapFile(ev.Addr.RoundDown(), platform.FileRange{Start: off, End: off + usermem.PageSize}, usermem.ReadWrite); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewAddressSpace compares the two ways of making a stub process:
// forking the cleaned master stub (what the platform does) and executing
// and cleaning a new one.
func BenchmarkNewAddressSpace(b *testing.B) {
	p := getPlatform(b)
	for _, bc := range []struct {
		name string
		make func() (platform.AddressSpace, error)
	}{
		{"fork-master", p.NewAddressSpace},
		{"exec", p.newAddressSpaceByExec},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				as, err := bc.make()
				if err != nil {
					b.Fatal(err)
				}
				as.Release()
			}
		})
	}
}
