package kernel

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// The decoders of --strace that read application memory: strings,
// buffers, iovecs, and the structs system calls take or fill. They read
// through straceMemory, which a Task implements with its Copy* wrappers
// and a test with a byte slice, and they never fail: memory they cannot
// read is shown as its address and the error.

// straceMemory is the application memory the decoders read.
type straceMemory interface {
	// CopyInBytes reads len(dst) bytes at addr and returns how many it
	// read; fewer come with an error.
	CopyInBytes(addr usermem.Addr, dst []byte) (int, error)

	// CopyInString reads a NUL-terminated string of at most maxlen-1
	// bytes at addr.
	CopyInString(addr usermem.Addr, maxlen int) (string, error)
}

// maxVectorElems is the most strings of an argv or envp shown, as strace's
// default.
const maxVectorElems = 32

// argDecoder renders the arguments of system calls.
type argDecoder struct {
	// mem is the memory of the task making the call.
	mem straceMemory

	// limit is the most bytes of a buffer, in all, shown.
	limit int
}

// readStruct reads size bytes at addr for a struct, or says why it cannot.
func (d argDecoder) readStruct(addr usermem.Addr, size int) ([]byte, string) {
	buf := make([]byte, size)
	if _, err := d.mem.CopyInBytes(addr, buf); err != nil {
		return nil, fmt.Sprintf("%#x (%v)", addr, err)
	}
	return buf, ""
}

// u32 and u64 decode little-endian fields of a struct.
func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func u64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// path reads a path for display.
func (d argDecoder) path(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	s, err := d.mem.CopyInString(addr, unix.PathMax)
	if err != nil {
		return fmt.Sprintf("%#x (%v)", addr, err)
	}
	return strconv.Quote(s)
}

// buffer reads up to limit bytes of a buffer of length bytes for display,
// with "..." after it when it is longer; a negative length shows only the
// address.
func (d argDecoder) buffer(addr usermem.Addr, length int64) string {
	if length < 0 {
		return fmt.Sprintf("%#x", addr)
	}
	buf := make([]byte, min(length, int64(d.limit)))
	n, _ := d.mem.CopyInBytes(addr, buf)
	s := strconv.Quote(string(buf[:n]))
	if int64(n) < length {
		s += "..."
	}
	return s
}

// iovecs shows the count iovecs at addr with their contents, up to limit
// bytes in all; n limits the contents to what a read filled (-1: all).
func (d argDecoder) iovecs(addr usermem.Addr, count int, n int64) string {
	if count < 0 || count > UIOMaxIOV {
		return fmt.Sprintf("%#x (invalid iovcnt %d)", addr, count)
	}
	raw, bad := d.readStruct(addr, count*iovecSize)
	if bad != "" {
		return bad
	}
	budget := int64(d.limit)
	if n >= 0 && n < budget {
		budget = n
	}
	parts := make([]string, 0, count)
	for i := 0; i < count; i++ {
		base, length := usermem.Addr(u64(raw, i*iovecSize)), u64(raw, i*iovecSize+8)
		show := min(int64(min(length, 1<<62)), budget)
		budget -= show
		buf := make([]byte, show)
		got, _ := d.mem.CopyInBytes(base, buf)
		s := strconv.Quote(string(buf[:got]))
		if uint64(got) < length {
			s += "..."
		}
		parts = append(parts, fmt.Sprintf("{%#x, %d, %s}", base, length, s))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// vector shows a NULL-terminated array of string pointers, such as
// execve's argv: at most maxVectorElems strings and limit bytes.
func (d argDecoder) vector(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	var parts []string
	budget := d.limit
	for i := 0; ; i++ {
		raw, bad := d.readStruct(addr+usermem.Addr(8*i), 8)
		if bad != "" {
			parts = append(parts, "(unreadable)")
			break
		}
		ptr := usermem.Addr(u64(raw, 0))
		if ptr == 0 {
			break
		}
		if i == maxVectorElems || budget <= 0 {
			parts = append(parts, "...")
			break
		}
		s, err := d.mem.CopyInString(ptr, budget+1)
		switch {
		case err == unix.ENAMETOOLONG:
			// Longer than what is left to show: show a prefix.
			buf := make([]byte, budget)
			n, _ := d.mem.CopyInBytes(ptr, buf)
			parts = append(parts, strconv.Quote(string(buf[:n]))+"...")
			budget = 0
			continue
		case err != nil:
			parts = append(parts, fmt.Sprintf("%#x (%v)", ptr, err))
			continue
		}
		budget -= len(s)
		parts = append(parts, strconv.Quote(s))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// maxVectorCount bounds the strings vectorCount counts.
const maxVectorCount = 1 << 16

// vectorCount shows a NULL-terminated array of string pointers by its
// length, as strace shows an environment: 0x7ffc0000 /* 12 vars */.
func (d argDecoder) vectorCount(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	n := 0
	for ; n < maxVectorCount; n++ {
		raw, bad := d.readStruct(addr+usermem.Addr(8*n), 8)
		if bad != "" {
			return fmt.Sprintf("%#x /* %d vars, then unreadable */", addr, n)
		}
		if u64(raw, 0) == 0 {
			break
		}
	}
	if n == maxVectorCount {
		return fmt.Sprintf("%#x /* %d vars or more */", addr, n)
	}
	return fmt.Sprintf("%#x /* %d vars */", addr, n)
}

// timespec shows a struct timespec.
func (d argDecoder) timespec(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	b, bad := d.readStruct(addr, 16)
	if bad != "" {
		return bad
	}
	return fmt.Sprintf("{tv_sec=%d, tv_nsec=%d}", int64(u64(b, 0)), int64(u64(b, 8)))
}

// sigSet shows a sigset_t, the kernel's 64 bits.
func (d argDecoder) sigSet(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	b, bad := d.readStruct(addr, 8)
	if bad != "" {
		return bad
	}
	return formatSigSet(u64(b, 0))
}

// sigAction shows a struct sigaction as the kernel takes it on x86-64
// (SigAction: handler, flags, restorer, mask).
func (d argDecoder) sigAction(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	b, bad := d.readStruct(addr, 32)
	if bad != "" {
		return bad
	}
	flags := u64(b, 8)
	s := fmt.Sprintf("{sa_handler=%s, sa_mask=%s, sa_flags=%s", formatSigHandler(u64(b, 0)), formatSigSet(u64(b, 24)), formatFlags(flags, sigActionFlagNames, "0"))
	if flags&SARestorer != 0 {
		s += fmt.Sprintf(", sa_restorer=%#x", u64(b, 16))
	}
	return s + "}"
}

// sigAltStack shows a stack_t (SignalStack).
func (d argDecoder) sigAltStack(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	b, bad := d.readStruct(addr, 24)
	if bad != "" {
		return bad
	}
	return fmt.Sprintf("{ss_sp=%#x, ss_flags=%s, ss_size=%d}", u64(b, 0), formatFlags(uint64(u32(b, 8)), sigStackFlagNames, "0"), u64(b, 16))
}

// stat shows a struct stat as strace abbreviates it: the mode, then the
// size, or the device number of a device file.
func (d argDecoder) stat(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	// struct stat on x86-64 (unix.Stat_t): st_mode at 24, st_rdev at 40,
	// st_size at 48, 144 bytes in all.
	b, bad := d.readStruct(addr, 144)
	if bad != "" {
		return bad
	}
	mode := u32(b, 24)
	s := "{st_mode=" + formatMode(mode)
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		rdev := u64(b, 40)
		s += fmt.Sprintf(", st_rdev=makedev(%#x, %#x)", unix.Major(rdev), unix.Minor(rdev))
	default:
		s += fmt.Sprintf(", st_size=%d", int64(u64(b, 48)))
	}
	return s + ", ...}"
}

// rlimit shows a struct rlimit.
func (d argDecoder) rlimit(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	b, bad := d.readStruct(addr, 16)
	if bad != "" {
		return bad
	}
	return fmt.Sprintf("{rlim_cur=%s, rlim_max=%s}", formatRlimValue(u64(b, 0)), formatRlimValue(u64(b, 8)))
}

// waitStatus shows the int a wait fills.
func (d argDecoder) waitStatus(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	b, bad := d.readStruct(addr, 4)
	if bad != "" {
		return bad
	}
	return formatWaitStatus(u32(b, 0))
}

// pipeFDs shows the two descriptors pipe(2) fills: [3, 4].
func (d argDecoder) pipeFDs(addr usermem.Addr) string {
	b, bad := d.readStruct(addr, 8)
	if bad != "" {
		return bad
	}
	return fmt.Sprintf("[%d, %d]", int32(u32(b, 0)), int32(u32(b, 4)))
}

// int64At shows the 64-bit value at addr, as strace shows what a pointer
// argument points to: [0x7f0012345000].
func (d argDecoder) int64At(addr usermem.Addr) string {
	b, bad := d.readStruct(addr, 8)
	if bad != "" {
		return bad
	}
	return fmt.Sprintf("[%#x]", u64(b, 0))
}
