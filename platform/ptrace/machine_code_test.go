package ptrace

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// These tests run small hand-assembled programs on the platform. Each
// instruction's bytes are commented with its assembly.

const dataAddr = 0x500000

// runner holds one address space and one context for a test, on a locked
// OS thread.
type runner struct {
	t  *testing.T
	p  *Platform
	as platform.AddressSpace
	c  platform.Context
}

func newRunner(t *testing.T, code []byte) *runner {
	runtime.LockOSThread()
	p := getPlatform(t)
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatalf("NewAddressSpace: %v", err)
	}
	loadCode(t, p, as, code)
	c := p.NewContext()
	c.Regs().Rip = codeAddr
	r := &runner{t: t, p: p, as: as, c: c}
	t.Cleanup(func() {
		r.c.Release()
		r.as.Release()
	})
	return r
}

// mapData maps a fresh page at addr with permissions at and returns its
// bytes.
func (r *runner) mapData(addr usermem.Addr, at usermem.AccessType) []byte {
	r.t.Helper()
	fr, err := r.p.MemoryFile().Allocate(usermem.PageSize)
	if err != nil {
		r.t.Fatalf("Allocate: %v", err)
	}
	if err := r.as.MapFile(addr, fr, at); err != nil {
		r.t.Fatalf("MapFile: %v", err)
	}
	return r.p.MemoryFile().Window(fr)
}

func (r *runner) switchTo() platform.Event {
	r.t.Helper()
	ev, err := r.c.Switch(r.as)
	if err != nil {
		r.t.Fatalf("Switch: %v", err)
	}
	return ev
}

// wantExit runs until the program's exit syscall and checks its status.
func (r *runner) wantExit(status uintptr) {
	r.t.Helper()
	ev := r.switchTo()
	if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_EXIT {
		r.t.Fatalf("got event %v (sysno %d, addr %#x), want exit", ev.Type, ev.Sysno, ev.Addr)
	}
	if ev.Args[0] != status {
		r.t.Fatalf("exit status: got %#x, want %#x", ev.Args[0], status)
	}
}

// exitWithRDI ends every program: exit(rdi).
var exitWithRDI = []byte{
	0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, SYS_exit
	0x0f, 0x05, //                   syscall
}

func program(parts ...[]byte) []byte {
	var code []byte
	for _, p := range parts {
		code = append(code, p...)
	}
	return code
}

func TestFaultThenMapThenContinue(t *testing.T) {
	r := newRunner(t, program([]byte{
		0xbf, 0x00, 0x00, 0x50, 0x00, // mov edi, dataAddr
		0x8b, 0x07, //                   mov eax, [rdi]      read fault first
		0x89, 0x07, //                   mov [rdi], eax      then write fault
		0xc7, 0x07, 0x2a, 0, 0, 0, //    mov dword [rdi], 42
		0x8b, 0x3f, //                   mov edi, [rdi]
	}, exitWithRDI))

	ev := r.switchTo()
	if ev.Type != platform.EventFault || ev.Addr != dataAddr || ev.Access != usermem.Read {
		t.Fatalf("first event: got %v at %#x access %v, want a read fault at %#x", ev.Type, ev.Addr, ev.Access, dataAddr)
	}
	// Map it read-only, as a memory manager would for a read fault on a
	// copy-on-write page. The write then faults twice at the same place,
	// and the second report must say Write.
	r.mapData(dataAddr, usermem.Read)
	ev = r.switchTo()
	if ev.Type != platform.EventFault || ev.Addr != dataAddr || ev.Access.Write {
		t.Fatalf("second event: got %v at %#x access %v, want a fault not yet known as a write", ev.Type, ev.Addr, ev.Access)
	}
	ev = r.switchTo()
	if ev.Type != platform.EventFault || !ev.Access.Write {
		t.Fatalf("third event: got %v access %v, want a write fault", ev.Type, ev.Access)
	}
	data := r.mapData(dataAddr, usermem.ReadWrite)
	r.wantExit(42)
	if got := binary.LittleEndian.Uint32(data); got != 42 {
		t.Errorf("memory written by the program: got %d, want 42", got)
	}
}

func TestSSERegistersSurviveSwitches(t *testing.T) {
	const switches = 500
	r := newRunner(t, program([]byte{
		0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // mov rax, 0x1122334455667788
		0x66, 0x48, 0x0f, 0x6e, 0xc0, //                                movq xmm0, rax
		0xbb, 0xf4, 0x01, 0x00, 0x00, //                                mov ebx, 500
		// loop:
		0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, SYS_getpid
		0x0f, 0x05, //                   syscall
		0xff, 0xcb, //                   dec ebx
		0x75, 0xf5, //                   jnz loop
		0x66, 0x48, 0x0f, 0x7e, 0xc7, // movq rdi, xmm0
	}, exitWithRDI))
	for i := 0; i < switches; i++ {
		ev := r.switchTo()
		if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_GETPID {
			t.Fatalf("switch %d: got %v sysno %d, want getpid", i, ev.Type, ev.Sysno)
		}
		r.c.Regs().Rax = uint64(i)
	}
	r.wantExit(0x1122334455667788)
}

func TestFPStateCopiesToAnotherContext(t *testing.T) {
	// The first program sets xmm0 and stops; its FP state is handed to a
	// second context, as clone(2) does, which reads xmm0 back.
	r := newRunner(t, program([]byte{
		0x48, 0xb8, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0, // mov rax, 0xdeadbeef
		0x66, 0x48, 0x0f, 0x6e, 0xc0, //                    movq xmm0, rax
		0xb8, 0x27, 0x00, 0x00, 0x00, //                    mov eax, SYS_getpid
		0x0f, 0x05, //                                      syscall
		0x66, 0x48, 0x0f, 0x7e, 0xc7, //                    movq rdi, xmm0
	}, exitWithRDI))
	if ev := r.switchTo(); ev.Type != platform.EventSyscall {
		t.Fatalf("got %v, want syscall", ev.Type)
	}
	state, err := r.c.FPState()
	if err != nil {
		t.Fatalf("FPState: %v", err)
	}
	other := r.p.NewContext()
	defer other.Release()
	if err := other.SetFPState(state); err != nil {
		t.Fatalf("SetFPState: %v", err)
	}
	*other.Regs() = *r.c.Regs()
	ev, err := other.Switch(r.as)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_EXIT || ev.Args[0] != 0xdeadbeef {
		t.Fatalf("got %v sysno %d arg %#x, want exit(0xdeadbeef)", ev.Type, ev.Sysno, ev.Args[0])
	}
}

func TestFSBase(t *testing.T) {
	r := newRunner(t, program([]byte{
		0x64, 0x48, 0x8b, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00, // mov rdi, fs:[8]
	}, exitWithRDI))
	data := r.mapData(dataAddr, usermem.ReadWrite)
	binary.LittleEndian.PutUint64(data[8:], 0xf5ba5e)
	r.c.Regs().Fs_base = dataAddr
	r.wantExit(0xf5ba5e)
	if got := r.c.Regs().Fs_base; got != dataAddr {
		t.Errorf("fs_base after the run: got %#x, want %#x", got, dataAddr)
	}
}

func TestInt80IsRefusedNotRun(t *testing.T) {
	dir := t.TempDir() + "/made-by-int80"
	// i386 mkdir(path, 0755) through int 0x80: if the host ran it, the
	// directory would appear.
	r := newRunner(t, program([]byte{
		0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (i386 mkdir)
		0xbb, 0x00, 0x00, 0x50, 0x00, // mov ebx, dataAddr (the path)
		0xb9, 0xed, 0x01, 0x00, 0x00, // mov ecx, 0755
		0xcd, 0x80, //                   int 0x80
		0x89, 0xc7, //                   mov edi, eax
	}, exitWithRDI))
	data := r.mapData(dataAddr, usermem.Read)
	copy(data, dir+"\x00")
	ev := r.switchTo()
	if ev.Type != platform.EventSyscall32 {
		t.Fatalf("got %v (sysno %d), want a refused 32-bit syscall", ev.Type, ev.Sysno)
	}
	enosys := -int64(unix.ENOSYS)
	r.c.Regs().Rax = uint64(enosys)
	r.wantExit(uintptr(uint32(enosys)))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the host ran the 32-bit mkdir: stat %s: %v", dir, err)
	}
}

func TestVsyscallIsTrappedNotRun(t *testing.T) {
	// time(&data) through the vsyscall page: if the host emulated it, the
	// time would appear in data.
	r := newRunner(t, program([]byte{
		0xbc, 0x00, 0x10, 0x50, 0x00, // mov esp, dataAddr+0x1000 (a stack)
		0xbf, 0x00, 0x00, 0x50, 0x00, // mov edi, dataAddr
		0x48, 0xc7, 0xc0, 0x00, 0x04, 0x60, 0xff, // mov rax, 0xffffffffff600400 (vsyscall time)
		0xff, 0xd0, // call rax
	}, exitWithRDI))
	data := r.mapData(dataAddr, usermem.ReadWrite)
	ev := r.switchTo()
	const vtime = 0xffffffffff600400
	if ev.Type != platform.EventFault || ev.Addr != vtime || !ev.Access.Execute {
		t.Fatalf("got %v at %#x access %v, want an execute fault at %#x", ev.Type, ev.Addr, ev.Access, uint64(vtime))
	}
	regs := r.c.Regs()
	if regs.Rip != vtime || regs.Rsp != dataAddr+0x1000-8 {
		t.Errorf("registers at the fault: rip %#x rsp %#x, want rip %#x rsp %#x (as after the call)", regs.Rip, regs.Rsp, uint64(vtime), dataAddr+0x1000-8)
	}
	if got := binary.LittleEndian.Uint64(data); got != 0 {
		t.Errorf("the host ran vsyscall time(): memory holds %d", got)
	}
}

func TestSeccompKillsForeignSyscalls(t *testing.T) {
	// A syscall instruction in application memory, run with PTRACE_CONT
	// (as if the platform let the application run without SYSEMU): the
	// stub's filter must kill the process.
	r := newRunner(t, program([]byte{
		0x0f, 0x05, // syscall
		0xcc, //       int3
	}))
	if ev := r.switchTo(); ev.Type != platform.EventSyscall {
		t.Fatalf("got %v, want syscall", ev.Type)
	}
	th := r.c.(*context).thread
	_, err := th.syscallAt(codeAddr, unix.SYS_GETPID)
	if !errors.Is(err, errStubDied) {
		t.Fatalf("syscall from application memory: got %v, want the stub killed", err)
	}
	if _, err := r.c.Switch(r.as); err == nil {
		t.Fatalf("Switch after the stub died: got no error")
	}
}

func TestReleaseLeavesNoStub(t *testing.T) {
	runtime.LockOSThread()
	p := getPlatform(t)
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatalf("NewAddressSpace: %v", err)
	}
	loadCode(t, p, as, program([]byte{
		0x0f, 0x05, // syscall
	}))
	c := p.NewContext()
	c.Regs().Rip = codeAddr
	if _, err := c.Switch(as); err != nil {
		t.Fatalf("Switch: %v", err)
	}
	pid := as.(*subprocess).pid
	c.Release()
	as.Release()
	// Released stubs are reaped at once (the master ignores SIGCHLD), so
	// not even a zombie may remain.
	for i := 0; processState(pid) != ""; i++ {
		if i == 200 {
			t.Fatalf("stub %d still exists after Release, state %s", pid, processState(pid))
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 10e6}, nil)
	}
}

func TestStubPageIsNotTheApplications(t *testing.T) {
	// The stub's page is mapped in every stub process, but the
	// application must find nothing there: jumping to the syscall gadget
	// (which would have the sentry serve the call, then stop at the
	// gadget's int3), to the entry's int3, or into the clone child's
	// loop must each be an instruction fetch fault in the page (the
	// platform sees the first stop, not the jump: at the target for a
	// syscall instruction, after an int3, at the syscall after a mov).
	for _, c := range []struct {
		name   string
		target uint64
	}{
		{"syscall gadget", stubSyscallAddr},
		{"clone gadget", stubCloneAddr},
		{"entry int3", stubBase + stubEntryOffset},
		{"child pause loop", stubBase + stubChildPrctlOffset},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := []byte{
				0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, SYS_getpid
				0x48, 0xb9, // mov rcx, target
			}
			code = binary.LittleEndian.AppendUint64(code, c.target)
			code = append(code, 0xff, 0xe1) // jmp rcx
			r := newRunner(t, program(code, exitWithRDI))
			ev := r.switchTo()
			if ev.Type != platform.EventFault || !inStubPage(uint64(ev.Addr)) || uint64(ev.Addr) > c.target+8 || !ev.Access.Execute {
				t.Fatalf("jump to %#x: got %v (sysno %d) at %#x access %v, want an execute fault in the stub page",
					c.target, ev.Type, ev.Sysno, ev.Addr, ev.Access)
			}
			if ev.Signal.Signo != int32(unix.SIGSEGV) || ev.Signal.Addr() != uint64(ev.Addr) {
				t.Errorf("signal: got %d at %#x, want SIGSEGV at %#x", ev.Signal.Signo, ev.Signal.Addr(), ev.Addr)
			}
			if rip := r.c.Regs().Rip; rip != uint64(ev.Addr) {
				t.Errorf("rip at the fault: got %#x, want %#x", rip, ev.Addr)
			}
		})
	}
}
