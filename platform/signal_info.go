package platform

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// SignalInfo is Linux's siginfo_t for x86-64, 128 bytes. Which union member
// Fields holds depends on Signo and Code.
type SignalInfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	// Fields is the union of siginfo_t, starting at offset 16.
	Fields [112]byte
}

// Kernel-generated si_code values that the platform and kernel look at.
const (
	// SI_USER is a kill(2) from a process.
	SI_USER = 0
	// SI_KERNEL is a signal the kernel raised itself (int3 SIGTRAP, GP
	// fault SIGSEGV).
	SI_KERNEL = 0x80
	// SI_TKILL is a tgkill(2) or tkill(2).
	SI_TKILL = -6
	// SYS_SECCOMP is a SIGSYS raised by a seccomp filter's
	// SECCOMP_RET_TRAP.
	SYS_SECCOMP = 1
)

// Addr returns si_addr, meaningful for SIGSEGV, SIGBUS, SIGILL, SIGFPE and
// SIGTRAP (and si_call_addr for a seccomp SIGSYS).
func (s *SignalInfo) Addr() uint64 {
	return binary.LittleEndian.Uint64(s.Fields[0:8])
}

// SetAddr sets si_addr.
func (s *SignalInfo) SetAddr(addr uint64) {
	binary.LittleEndian.PutUint64(s.Fields[0:8], addr)
}

// PID returns si_pid, meaningful for signals sent by a process.
func (s *SignalInfo) PID() int32 {
	return int32(binary.LittleEndian.Uint32(s.Fields[0:4]))
}

// SetPID sets si_pid.
func (s *SignalInfo) SetPID(pid int32) {
	binary.LittleEndian.PutUint32(s.Fields[0:4], uint32(pid))
}

// UID returns si_uid, meaningful for signals sent by a process.
func (s *SignalInfo) UID() int32 {
	return int32(binary.LittleEndian.Uint32(s.Fields[4:8]))
}

// SetUID sets si_uid.
func (s *SignalInfo) SetUID(uid int32) {
	binary.LittleEndian.PutUint32(s.Fields[4:8], uint32(uid))
}

// Syscall returns si_syscall of a seccomp SIGSYS.
func (s *SignalInfo) Syscall() int32 {
	return int32(binary.LittleEndian.Uint32(s.Fields[8:12]))
}

// Arch returns si_arch of a seccomp SIGSYS.
func (s *SignalInfo) Arch() uint32 {
	return binary.LittleEndian.Uint32(s.Fields[12:16])
}

// IsFault reports whether the signal is a page fault the memory manager
// may be able to resolve: a SIGSEGV for an unmapped page or one mapped
// without the needed permission. Other SIGSEGVs (a general protection
// fault) and every SIGBUS (an alignment check) go to the application as
// they are.
func (s *SignalInfo) IsFault() bool {
	return s.Signo == int32(unix.SIGSEGV) && (s.Code == segvMapErr || s.Code == segvAccErr)
}

// si_code values of SIGSEGV, from <asm-generic/siginfo.h>.
const (
	segvMapErr = 1
	segvAccErr = 2
)

// CopyTo writes s as the 128 bytes of a siginfo_t to dst.
//
// Preconditions: len(dst) >= 128.
func (s *SignalInfo) CopyTo(dst []byte) {
	binary.LittleEndian.PutUint32(dst[0:], uint32(s.Signo))
	binary.LittleEndian.PutUint32(dst[4:], uint32(s.Errno))
	binary.LittleEndian.PutUint32(dst[8:], uint32(s.Code))
	binary.LittleEndian.PutUint32(dst[12:], 0)
	copy(dst[16:128], s.Fields[:])
}

// SignalInfoFrom decodes the 128 bytes of a siginfo_t.
//
// Preconditions: len(src) >= 128.
func SignalInfoFrom(src []byte) SignalInfo {
	s := SignalInfo{
		Signo: int32(binary.LittleEndian.Uint32(src[0:])),
		Errno: int32(binary.LittleEndian.Uint32(src[4:])),
		Code:  int32(binary.LittleEndian.Uint32(src[8:])),
	}
	copy(s.Fields[:], src[16:128])
	return s
}
