package ptrace

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// testPlatform is shared by the tests of this package: making a platform
// starts a master stub.
var testPlatform *Platform

func getPlatform(t testing.TB) *Platform {
	t.Helper()
	if testPlatform == nil {
		p, err := New()
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		testPlatform = p
	}
	return testPlatform
}

// Tests that run application code lock their goroutine to its OS thread
// and never unlock it: the platform pins a tracer thread to a CPU, and the
// thread must end with the test rather than go back to the Go scheduler
// pinned.

const codeAddr = 0x400000

// loadCode maps code at codeAddr in as, read+execute.
func loadCode(t testing.TB, p *Platform, as platform.AddressSpace, code []byte) platform.FileRange {
	t.Helper()
	fr, err := p.MemoryFile().Allocate(usermem.PageSize)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	copy(p.MemoryFile().Window(fr), code)
	if err := as.MapFile(codeAddr, fr, usermem.AccessType{Read: true, Execute: true}); err != nil {
		t.Fatalf("MapFile: %v", err)
	}
	return fr
}

func TestSyscallRoundTrip(t *testing.T) {
	runtime.LockOSThread()
	p := getPlatform(t)
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatalf("NewAddressSpace: %v", err)
	}
	defer as.Release()
	loadCode(t, p, as, []byte{
		0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, SYS_getpid
		0x0f, 0x05, //                   syscall
		0x89, 0xc7, //                   mov edi, eax
		0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, SYS_exit
		0x0f, 0x05, //                   syscall
	})
	c := p.NewContext()
	defer c.Release()
	c.Regs().Rip = codeAddr
	ev, err := c.Switch(as)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_GETPID {
		t.Fatalf("first event: got %v sysno %d, want syscall getpid", ev.Type, ev.Sysno)
	}
	c.Regs().Rax = 1234
	ev, err = c.Switch(as)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_EXIT || ev.Args[0] != 1234 {
		t.Fatalf("second event: got %v sysno %d arg0 %d, want syscall exit(1234)", ev.Type, ev.Sysno, ev.Args[0])
	}
}
