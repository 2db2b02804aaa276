package ptrace

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
)

// The ptrace requests that golang.org/x/sys/unix does not wrap, and the ones
// that pass pointers, live here so that the unsafe code stays in one file.

// ptraceRaw issues a ptrace request whose arguments are plain integers. It
// uses RawSyscall: these requests never block, and skipping the scheduler
// hooks keeps the syscall path short.
func ptraceRaw(req int, tid int32, addr, data uintptr) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// ptracePtr issues a ptrace request whose data argument is a pointer.
func ptracePtr(req int, tid int32, addr uintptr, data unsafe.Pointer) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, uintptr(data), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// getRegs reads the thread's general purpose registers.
func getRegs(tid int32, regs *platform.Registers) error {
	return ptracePtr(unix.PTRACE_GETREGS, tid, 0, unsafe.Pointer(regs))
}

// setRegs writes the thread's general purpose registers.
func setRegs(tid int32, regs *platform.Registers) error {
	return ptracePtr(unix.PTRACE_SETREGS, tid, 0, unsafe.Pointer(regs))
}

// getSignalInfo reads the siginfo of the signal the thread stopped for.
func getSignalInfo(tid int32, info *platform.SignalInfo) error {
	return ptracePtr(unix.PTRACE_GETSIGINFO, tid, 0, unsafe.Pointer(info))
}

// syscallArch returns the AUDIT_ARCH_* value of the system call the thread
// is stopped at: AUDIT_ARCH_I386 for int 0x80 and sysenter, which stop under
// PTRACE_SYSEMU exactly like a 64-bit syscall.
func syscallArch(tid int32) (uint32, error) {
	// struct ptrace_syscall_info begins {u8 op; u8 pad[3]; u32 arch; ...};
	// the kernel copies no more than the size we pass.
	var head [8]byte
	if err := ptracePtr(unix.PTRACE_GET_SYSCALL_INFO, tid, uintptr(len(head)), unsafe.Pointer(&head[0])); err != nil {
		return 0, err
	}
	return *(*uint32)(unsafe.Pointer(&head[4])), nil
}

// maxXSaveSize bounds the XSAVE area; the kernel reports the real size, and
// accepts a write only of exactly that size (over 11 KiB with AMX).
const maxXSaveSize = 64 << 10

// xsaveSize caches the size of the XSAVE area once the kernel has told it.
var xsaveSize atomic.Uint64

// getFPState reads the thread's XSAVE area.
func getFPState(tid int32) ([]byte, error) {
	size := xsaveSize.Load()
	if size == 0 {
		size = maxXSaveSize
	}
	buf := make([]byte, size)
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	if err := ptracePtr(unix.PTRACE_GETREGSET, tid, unix.NT_X86_XSTATE, unsafe.Pointer(&iov)); err != nil {
		return nil, err
	}
	xsaveSize.Store(iov.Len)
	return buf[:iov.Len], nil
}

// setFPState writes the thread's XSAVE area. The kernel restores only the
// components whose bits are set in the header's xstate_bv, so a state that
// came from getFPState round-trips exactly.
func setFPState(tid int32, state []byte) error {
	if len(state) == 0 {
		return unix.EINVAL
	}
	iov := unix.Iovec{Base: &state[0], Len: uint64(len(state))}
	return ptracePtr(unix.PTRACE_SETREGSET, tid, unix.NT_X86_XSTATE, unsafe.Pointer(&iov))
}

// currentCPU returns the CPU the calling thread runs on.
func currentCPU() int32 {
	var cpu uint32
	_, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	if errno != 0 {
		return -1
	}
	return int32(cpu)
}

// kernelSigaction is the kernel's struct sigaction on x86-64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// addSIGCHLDNoStop adds SA_NOCLDSTOP to the sentry's own SIGCHLD action,
// keeping the Go runtime's handler. Every ptrace stop of a tracee otherwise
// sends the tracer a SIGCHLD, and the runtime's handler for it costs several
// microseconds per application syscall; child exits still raise SIGCHLD.
func addSIGCHLDNoStop() error {
	var act kernelSigaction
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), 0, uintptr(unsafe.Pointer(&act)), 8, 0, 0); errno != 0 {
		return errno
	}
	act.flags |= saNoCldStop
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); errno != 0 {
		return errno
	}
	return nil
}
