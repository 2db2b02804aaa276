package ptrace

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// The stub is the only code of the sentry's own that runs in a stub process.
// It is a one-page static ELF that the sentry builds in memory (buildStubELF)
// and executes once, as the master stub; every other address space is a fork
// of the master. The page sits at stubBase, far above anything the
// application may map, and holds:
//
//   - the syscall gadget: `syscall; int3`. Every syscall the sentry injects
//     (mmap, munmap, exit...) runs here: the sentry points rip at it, sets
//     the registers, continues the thread and waits for the int3.
//   - the clone gadget: `syscall` followed by code that sends the parent to an
//     int3 and parks the child in a pause() loop, untraced, until a sentry
//     thread seizes it. New threads and new processes are born here.
//   - constant data the injected syscalls point at: a sigaction that ignores
//     SIGCHLD and the seccomp filter.
//
// stubBase is 64 GiB below the top of the x86-64 user range: low enough that
// the host's randomised stack (within 16 GiB of the top) never collides with
// it when the master is executed, high enough to leave the application almost
// all of the address space.
const (
	stubBase = 0x7ff000000000
	stubSize = usermem.PageSize
	stubEnd  = stubBase + stubSize

	// maxHostUserAddress is the end of the x86-64 user address range.
	maxHostUserAddress = 0x7ffffffff000
)

// Offsets of the stub's parts within its page.
const (
	stubEntryOffset   = 0x80
	stubSyscallOffset = 0x90
	stubCloneOffset   = 0xa0
	// stubChildPrctlOffset and stubChildPauseOffset are the addresses after
	// the child's two syscall instructions in the clone gadget.
	stubChildPrctlOffset = 0xb9
	stubChildPauseOffset = 0xc0
	stubSigactionOffset  = 0x100
	stubFprogOffset      = 0x120
	stubFilterOffset     = 0x140
)

// Addresses the sentry uses.
const (
	stubSyscallAddr   = stubBase + stubSyscallOffset
	stubCloneAddr     = stubBase + stubCloneOffset
	stubSigactionAddr = stubBase + stubSigactionOffset
	stubFprogAddr     = stubBase + stubFprogOffset
)

// stubCode is the machine code of the stub, placed at stubEntryOffset.
var stubCode = map[int][]byte{
	// The entry point. The master stops (PTRACE_TRACEME) before running
	// it, and nothing ever continues it here; trap forever if it is.
	stubEntryOffset: {
		0xcc,       // int3
		0xeb, 0xfd, // jmp back to the int3
	},
	stubSyscallOffset: {
		0x0f, 0x05, // syscall            the injected syscall runs here
		0xcc,       // int3               and stops here for the sentry
		0xeb, 0xfd, // jmp back to the int3
	},
	stubCloneOffset: {
		0x0f, 0x05, // a0: syscall                clone or fork
		0x48, 0x85, 0xc0, // a2: test rax, rax
		0x74, 0x01, // a5: jz a8                  the child goes on at a8
		0xcc, //       a7: int3                   the parent stops for the sentry
		// The child: die with the parent, then wait to be seized. It runs
		// untraced and without a stack, so it touches no memory.
		0xb8, 0x9d, 0x00, 0x00, 0x00, // a8: mov eax, SYS_prctl
		0xbf, 0x01, 0x00, 0x00, 0x00, // ad: mov edi, PR_SET_PDEATHSIG
		0xbe, 0x09, 0x00, 0x00, 0x00, // b2: mov esi, SIGKILL
		0x0f, 0x05, //                   b7: syscall
		0xb8, 0x22, 0x00, 0x00, 0x00, // b9: mov eax, SYS_pause
		0x0f, 0x05, //                   be: syscall
		0xeb, 0xf7, //                   c0: jmp b9
	},
}

// stubSyscallSites are the addresses just after each syscall instruction of
// the stub: the only places from which the seccomp filter lets a stub
// process make a host system call.
var stubSyscallSites = []uint64{
	stubBase + stubSyscallOffset + 2,
	stubBase + stubCloneOffset + 2,
	stubBase + stubChildPrctlOffset,
	stubBase + stubChildPauseOffset,
}

// vsyscallBase is the start of the legacy vsyscall page, which stub
// processes cannot unmap. A call into it makes the host emulate
// gettimeofday, time or getcpu without a ptrace syscall stop; only seccomp
// sees it.
const vsyscallBase = 0xffffffffff600000

// seccompFilter returns the classic BPF program installed in the master stub
// and inherited by every stub process and thread:
//
//   - a 64-bit syscall from one of stubSyscallSites is allowed (the sentry's
//     injected syscalls and the clone gadget's child);
//   - a syscall from the vsyscall page traps (SIGSYS), which the platform
//     reports to the kernel as a fault at the call;
//   - anything else kills the stub process.
//
// Application syscalls never reach the filter: PTRACE_SYSEMU stops them
// before seccomp runs and the host skips them.
func seccompFilter() []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K

		// Offsets in struct seccomp_data.
		archOff   = 4
		ipLowOff  = 8
		ipHighOff = 12
	)
	n := len(stubSyscallSites)
	// The three return instructions sit at the end; jump offsets are
	// relative to the next instruction.
	// Layout: 0 ld arch; 1 jeq arch; 2 ld ip_hi; 3 jeq vsyscall hi;
	// 4 ld ip_lo; 5 jge vsyscall lo; 6 jeq stub hi; 7 ld ip_lo;
	// 8..8+n-1 jeq site; then kill, trap, allow.
	kill := 8 + n
	trap := kill + 1
	allow := kill + 2
	rel := func(from, to int) uint8 { return uint8(to - from - 1) }
	f := []unix.SockFilter{
		{Code: ldAbs, K: archOff},
		{Code: jeq, K: unix.AUDIT_ARCH_X86_64, Jt: 0, Jf: rel(1, kill)},
		{Code: ldAbs, K: ipHighOff},
		{Code: jeq, K: vsyscallBase >> 32, Jt: 0, Jf: rel(3, 6)},
		{Code: ldAbs, K: ipLowOff},
		{Code: jge, K: vsyscallBase & 0xffffffff, Jt: rel(5, trap), Jf: rel(5, kill)},
		{Code: jeq, K: stubBase >> 32, Jt: 0, Jf: rel(6, kill)},
		{Code: ldAbs, K: ipLowOff},
	}
	for i, site := range stubSyscallSites {
		f = append(f, unix.SockFilter{Code: jeq, K: uint32(site), Jt: rel(8+i, allow), Jf: 0})
	}
	return append(f,
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_KILL_PROCESS},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_TRAP},
		unix.SockFilter{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	)
}

// buildStubELF returns the stub as an ELF64 executable: a header, one
// program header and one read+execute PT_LOAD segment covering the whole
// page at stubBase.
func buildStubELF() []byte {
	img := make([]byte, stubSize)
	le := binary.LittleEndian

	// ELF header.
	copy(img[0:], []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* EV_CURRENT */})
	le.PutUint16(img[16:], 2)                        // e_type: ET_EXEC
	le.PutUint16(img[18:], 62)                       // e_machine: EM_X86_64
	le.PutUint32(img[20:], 1)                        // e_version
	le.PutUint64(img[24:], stubBase+stubEntryOffset) // e_entry
	le.PutUint64(img[32:], 64)                       // e_phoff: right after this header
	le.PutUint16(img[52:], 64)                       // e_ehsize
	le.PutUint16(img[54:], 56)                       // e_phentsize
	le.PutUint16(img[56:], 1)                        // e_phnum

	// Program header: PT_LOAD, R+X, the whole page.
	ph := img[64:]
	le.PutUint32(ph[0:], 1)         // p_type: PT_LOAD
	le.PutUint32(ph[4:], 5)         // p_flags: PF_R|PF_X
	le.PutUint64(ph[8:], 0)         // p_offset
	le.PutUint64(ph[16:], stubBase) // p_vaddr
	le.PutUint64(ph[24:], stubBase) // p_paddr
	le.PutUint64(ph[32:], stubSize) // p_filesz
	le.PutUint64(ph[40:], stubSize) // p_memsz
	le.PutUint64(ph[48:], stubSize) // p_align

	for off, code := range stubCode {
		copy(img[off:], code)
	}

	// struct kernel_sigaction {handler, flags, restorer, mask} ignoring
	// the signal: forked stubs are reaped by the host as they die.
	le.PutUint64(img[stubSigactionOffset:], 1) // SIG_IGN

	// struct sock_fprog {u16 len; u64 filter} and the filter itself.
	filter := seccompFilter()
	le.PutUint16(img[stubFprogOffset:], uint16(len(filter)))
	le.PutUint64(img[stubFprogOffset+8:], stubBase+stubFilterOffset)
	for i, ins := range filter {
		b := img[stubFilterOffset+8*i:]
		le.PutUint16(b[0:], ins.Code)
		b[2] = ins.Jt
		b[3] = ins.Jf
		le.PutUint32(b[4:], ins.K)
	}
	return img
}
