package kernel

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// StraceConfig says which system calls --strace shows, and how much.
type StraceConfig struct {
	// Only, if non-nil, limits tracing to these system call numbers.
	Only map[uintptr]bool

	// LogSize is the most bytes of a buffer shown; 0 means 1024.
	LogSize int
}

// traces reports whether sysno is traced.
func (c *StraceConfig) traces(sysno uintptr) bool {
	return c.Only == nil || c.Only[sysno]
}

func (c *StraceConfig) logSize() int {
	if c.LogSize <= 0 {
		return 1024
	}
	return c.LogSize
}

// ArgFormat says how --strace shows a system call argument.
type ArgFormat int

// The argument formats. A buffer's or an iovec array's length is the next
// argument.
const (
	// Hex is a raw value in hexadecimal.
	Hex ArgFormat = iota
	// Int is a signed decimal int.
	Int
	// Uint is an unsigned decimal, such as a size_t.
	Uint
	// Oct is an octal value, such as a mode.
	Oct
	// FD is a file descriptor, or AT_FDCWD.
	FD
	// Path is a NUL-terminated string read before the call.
	Path
	// WriteBuffer is data the call reads from the application.
	WriteBuffer
	// ReadBuffer is data the call writes; its length is the return value.
	ReadBuffer
	// WriteIOVec and ReadIOVec are iovec arrays, as the buffers above.
	WriteIOVec
	ReadIOVec
	// OpenFlags are open(2) flags.
	OpenFlags
	// MmapProt and MmapFlags are mmap(2)'s prot and flags.
	MmapProt
	MmapFlags
	// Signal is a signal number.
	Signal
	// Timespec is a pointer to a struct timespec read before the call.
	Timespec
)

// RetFormat says how --strace shows a return value.
type RetFormat int

const (
	// RetInt is a signed decimal (counts, descriptors).
	RetInt RetFormat = iota
	// RetHex is hexadecimal (addresses).
	RetHex
	// RetNone is for calls that do not return.
	RetNone
)

// straceEnter decodes the arguments that must be read before the call
// runs. Arguments decoded after the call are left empty.
func (t *Task) straceEnter(sc *Syscall, args SyscallArguments) []string {
	if sc == nil {
		return nil
	}
	out := make([]string, len(sc.Args))
	for i, f := range sc.Args {
		if f != ReadBuffer && f != ReadIOVec {
			out[i] = t.formatArg(f, i, args, 0)
		}
	}
	return out
}

// straceExit logs the call's one line: arguments, result, duration.
func (t *Task) straceExit(sysno uintptr, sc *Syscall, args SyscallArguments, enter []string, ret uintptr, err error, d time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4d] %s(", t.tid, t.k.Syscalls.Name(sysno))
	if sc == nil {
		// Unknown to the table: show all six registers.
		for i := range args {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%#x", args[i].Value)
		}
	}
	for i, s := range enter {
		if i > 0 {
			b.WriteString(", ")
		}
		if f := sc.Args[i]; (f == ReadBuffer || f == ReadIOVec) && err == nil {
			s = t.formatArg(f, i, args, int64(ret))
		} else if s == "" {
			s = fmt.Sprintf("%#x", args[i].Value)
		}
		b.WriteString(s)
	}
	b.WriteString(") = ")
	switch {
	case err != nil:
		errno := err.(unix.Errno)
		fmt.Fprintf(&b, "-1 %s (%s)", unix.ErrnoName(errno), errno.Error())
	case sc != nil && sc.Ret == RetNone:
		b.WriteString("?")
	case sc != nil && sc.Ret == RetHex:
		fmt.Fprintf(&b, "%#x", ret)
	default:
		fmt.Fprintf(&b, "%d", int64(ret))
	}
	fmt.Fprintf(&b, " (%v)", d.Round(100*time.Nanosecond))
	t.k.Log.Info(b.String())
}

// formatArg renders argument i in format f; n is the return value, for
// buffers filled by the call.
func (t *Task) formatArg(f ArgFormat, i int, args SyscallArguments, n int64) string {
	a := args[i]
	next := func() SyscallArgument {
		if i+1 < len(args) {
			return args[i+1]
		}
		return SyscallArgument{}
	}
	switch f {
	case Int:
		return strconv.FormatInt(int64(a.Int()), 10)
	case Uint:
		return strconv.FormatUint(uint64(a.Value), 10)
	case Oct:
		return "0" + strconv.FormatUint(uint64(a.Value), 8)
	case FD:
		if a.Int() == unix.AT_FDCWD {
			return "AT_FDCWD"
		}
		return strconv.FormatInt(int64(a.Int()), 10)
	case Path:
		return t.formatPath(a.Pointer())
	case WriteBuffer:
		return t.formatBuffer(a.Pointer(), int64(next().SizeT()))
	case ReadBuffer:
		return t.formatBuffer(a.Pointer(), n)
	case WriteIOVec:
		return t.formatIOVec(a.Pointer(), int(next().Int()), -1)
	case ReadIOVec:
		return t.formatIOVec(a.Pointer(), int(next().Int()), n)
	case OpenFlags:
		return formatOpenFlags(uint64(a.Value))
	case MmapProt:
		return formatFlags(uint64(a.Value), mmapProtNames, "PROT_NONE")
	case MmapFlags:
		return formatFlags(uint64(a.Value), mmapFlagNames, "0")
	case Signal:
		if name := unix.SignalName(unix.Signal(a.Int())); name != "" {
			return name
		}
		return strconv.FormatInt(int64(a.Int()), 10)
	case Timespec:
		if a.Value == 0 {
			return "NULL"
		}
		var ts unix.Timespec
		if _, err := t.CopyIn(a.Pointer(), &ts); err != nil {
			return fmt.Sprintf("%#x", a.Value)
		}
		return fmt.Sprintf("{tv_sec=%d, tv_nsec=%d}", ts.Sec, ts.Nsec)
	default:
		if a.Value == 0 {
			return "NULL"
		}
		return fmt.Sprintf("%#x", a.Value)
	}
}

// formatPath reads a path for display.
func (t *Task) formatPath(addr usermem.Addr) string {
	if addr == 0 {
		return "NULL"
	}
	s, err := t.CopyInString(addr, unix.PathMax)
	if err != nil {
		return fmt.Sprintf("%#x (%v)", addr, err)
	}
	return strconv.Quote(s)
}

// formatBuffer reads up to LogSize bytes of a buffer for display.
func (t *Task) formatBuffer(addr usermem.Addr, length int64) string {
	if length < 0 {
		return fmt.Sprintf("%#x", addr)
	}
	limit := int64(t.k.Strace.logSize())
	buf := make([]byte, min(length, limit))
	n, _ := t.CopyInBytes(addr, buf)
	s := strconv.Quote(string(buf[:n]))
	if int64(n) < length {
		s += "..."
	}
	return s
}

// formatIOVec shows the iovecs at addr, with their contents up to LogSize
// bytes in all; n limits the contents to what a read filled (-1: all).
func (t *Task) formatIOVec(addr usermem.Addr, count int, n int64) string {
	if count < 0 || count > UIOMaxIOV {
		return fmt.Sprintf("%#x (invalid iovcnt %d)", addr, count)
	}
	ars, err := t.CopyInIovecs(addr, count)
	if err != nil {
		return fmt.Sprintf("%#x (%v)", addr, err)
	}
	budget := int64(t.k.Strace.logSize())
	if n >= 0 && n < budget {
		budget = n
	}
	var parts []string
	for !ars.IsEmpty() {
		ar := ars.Head()
		ars = ars.Tail()
		show := min(int64(ar.Length()), budget)
		budget -= show
		buf := make([]byte, show)
		got, _ := t.CopyInBytes(ar.Start, buf)
		s := strconv.Quote(string(buf[:got]))
		if int64(got) < int64(ar.Length()) {
			s += "..."
		}
		parts = append(parts, fmt.Sprintf("{%#x, %d, %s}", ar.Start, ar.Length(), s))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// flagName pairs a flag bit with its name.
type flagName struct {
	bit  uint64
	name string
}

var mmapProtNames = []flagName{
	{unix.PROT_READ, "PROT_READ"}, {unix.PROT_WRITE, "PROT_WRITE"}, {unix.PROT_EXEC, "PROT_EXEC"},
	{unix.PROT_GROWSDOWN, "PROT_GROWSDOWN"}, {unix.PROT_GROWSUP, "PROT_GROWSUP"},
}

var mmapFlagNames = []flagName{
	{unix.MAP_SHARED, "MAP_SHARED"}, {unix.MAP_PRIVATE, "MAP_PRIVATE"}, {unix.MAP_FIXED, "MAP_FIXED"},
	{unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"}, {unix.MAP_32BIT, "MAP_32BIT"}, {unix.MAP_GROWSDOWN, "MAP_GROWSDOWN"},
	{unix.MAP_DENYWRITE, "MAP_DENYWRITE"}, {unix.MAP_EXECUTABLE, "MAP_EXECUTABLE"}, {unix.MAP_LOCKED, "MAP_LOCKED"},
	{unix.MAP_NORESERVE, "MAP_NORESERVE"}, {unix.MAP_POPULATE, "MAP_POPULATE"}, {unix.MAP_NONBLOCK, "MAP_NONBLOCK"},
	{unix.MAP_STACK, "MAP_STACK"}, {unix.MAP_HUGETLB, "MAP_HUGETLB"}, {unix.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
}

var openFlagNames = []flagName{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_NOCTTY, "O_NOCTTY"}, {unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_DSYNC, "O_DSYNC"}, {unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"}, {unix.O_LARGEFILE, "O_LARGEFILE"}, {unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NOATIME, "O_NOATIME"}, {unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"}, {unix.O_TMPFILE &^ unix.O_DIRECTORY, "O_TMPFILE"}, {unix.O_SYNC &^ unix.O_DSYNC, "O_SYNC"},
}

// formatFlags joins the names of the bits set in v, then any bits left in
// hex; zero is shown as none.
func formatFlags(v uint64, names []flagName, none string) string {
	var parts []string
	for _, fn := range names {
		if v&fn.bit == fn.bit && fn.bit != 0 {
			parts = append(parts, fn.name)
			v &^= fn.bit
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("%#x", v))
	}
	if len(parts) == 0 {
		return none
	}
	return strings.Join(parts, "|")
}

// formatOpenFlags shows open(2) flags: the access mode, then the rest.
func formatOpenFlags(v uint64) string {
	modes := []string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"}
	s := modes[v&unix.O_ACCMODE]
	if rest := formatFlags(v&^unix.O_ACCMODE, openFlagNames, ""); rest != "" {
		s += "|" + rest
	}
	return s
}
