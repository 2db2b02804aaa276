package kernel

import (
	"errors"
	"fmt"
	"github.com/minisentry/minisentry/kernel/futex"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// --strace: one line per system call, with its arguments decoded the way
// strace(1) and gVisor's strace show them, its result and how long the
// handler took:
//
//	[   1] write(1, "hello\n", 6) = 6 (14µs)
//
// Each entry of the system call table says how to show each argument (an
// ArgFormat) and the result (a RetFormat). Most arguments are shown as the
// call starts; those the call fills in (a read's buffer, fstat's struct
// stat, pipe's descriptors) are shown once it has returned, and only if it
// succeeded. The names of flags and values are in strace_names.go, the
// decoders that read application memory in strace_decode.go; observe.go
// calls them around the handler.

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
// argument. Formats named Post..., and those whose comment says "after the
// call", are shown once the call has succeeded: they describe what it
// wrote.
const (
	// Hex is a raw value in hexadecimal, or NULL.
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
	// PostTimespec is a struct timespec the call fills
	// (clock_gettime).
	PostTimespec
	// CloneFlags are clone(2)'s flags, with the exit signal in the low
	// byte.
	CloneFlags
	// FutexOp is futex(2)'s operation: FUTEX_WAIT_PRIVATE...
	FutexOp
	// FutexTimeout is futex(2)'s fourth argument: a timeout for the
	// waiting operations, a count (val2) for the requeueing ones. The
	// operation must be the second argument.
	FutexTimeout
	// FutexVal3 is futex(2)'s sixth argument: FUTEX_WAKE_OP's encoded
	// operation, or a bitset. The operation must be the second argument.
	FutexVal3
	// SigActionPtr and PostSigActionPtr point to a struct sigaction, before and
	// after the call.
	SigActionPtr
	PostSigActionPtr
	// SigSet and PostSigSet are a sigset_t, before and after the call.
	SigSet
	PostSigSet
	// SigHow is rt_sigprocmask's how: SIG_BLOCK...
	SigHow
	// SigAltStack and PostSigAltStack are a stack_t, before and after.
	SigAltStack
	PostSigAltStack
	// Stat is a struct stat the call fills.
	Stat
	// AtFlags are the AT_* flags of the *at calls.
	AtFlags
	// WaitStatus is the status a wait fills, shown as strace does:
	// [{WIFEXITED(s) && WEXITSTATUS(s) == 3}].
	WaitStatus
	// Wait4Options are wait4's options, WaitidOptions waitid's.
	Wait4Options
	WaitidOptions
	// IDType is waitid's idtype: P_PID...
	IDType
	// PipeFDs are the two descriptors pipe(2) fills: [3, 4].
	PipeFDs
	// ExecveVector is an argv or envp array of strings.
	ExecveVector
	// EnvVector is an envp array, shown as strace does by default: its
	// address and how many strings it holds.
	EnvVector
	// ArchPrctlCode is arch_prctl's code: ARCH_SET_FS...
	ArchPrctlCode
	// ArchPrctlAddr is arch_prctl's second argument, shown after the
	// call: the value the ARCH_GET_* codes stored at the address, else
	// the argument itself.
	ArchPrctlAddr
	// PrctlOption is prctl's option: PR_SET_NAME...
	PrctlOption
	// PrctlArg is prctl's second argument, shown after the call: the
	// name of PR_SET_NAME and PR_GET_NAME, the signal of
	// PR_SET_PDEATHSIG, else the raw value. The option must be the
	// first argument.
	PrctlArg
	// FcntlCmd is fcntl's command: F_GETFL...
	FcntlCmd
	// FcntlArg is fcntl's third argument, decoded by the command (the
	// second argument): FD_CLOEXEC for F_SETFD, open flags for F_SETFL...
	FcntlArg
	// IoctlRequest is ioctl's request: TCGETS...
	IoctlRequest
	// ClockID is a clock: CLOCK_MONOTONIC...
	ClockID
	// TimerFlags are clock_nanosleep's and timer_settime's flags.
	TimerFlags
	// RlimitResource is a resource limit: RLIMIT_STACK...
	RlimitResource
	// RlimitPtr and PostRlimitPtr point to a struct rlimit, before and after.
	RlimitPtr
	PostRlimitPtr
	// MadviseAdvice is madvise's advice: MADV_DONTNEED...
	MadviseAdvice
	// Whence is lseek's whence: SEEK_SET...
	Whence
	// MremapFlags are mremap's flags.
	MremapFlags
	// GetrandomFlags are getrandom's flags.
	GetrandomFlags
	// PipeFlags are the O_* flags of pipe2 and dup3, which have no access
	// mode: O_CLOEXEC, or 0.
	PipeFlags

	// numArgFormats is the number of formats.
	numArgFormats
)

// post reports whether f describes what the call wrote, to be shown after
// it.
func (f ArgFormat) post() bool {
	switch f {
	case ReadBuffer, ReadIOVec, PostTimespec, PostSigActionPtr, PostSigSet, PostSigAltStack, Stat,
		WaitStatus, PipeFDs, ArchPrctlAddr, PrctlArg, PostRlimitPtr:
		return true
	}
	return false
}

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

// enter decodes the arguments of a call to sc that must be read before it
// runs; the others are left for exit. A call that is not in the table
// shows its six registers.
func (d argDecoder) enter(sc *Syscall, args SyscallArguments) []string {
	if sc == nil {
		out := make([]string, len(args))
		for i := range args {
			out[i] = fmt.Sprintf("%#x", args[i].Value)
		}
		return out
	}
	out := make([]string, len(sc.Args))
	for i, f := range sc.Args {
		if !f.post() {
			out[i] = d.format(f, i, args, 0)
		}
	}
	return out
}

// exit completes out, from enter, once the call has returned ret or err,
// and returns the result as strace shows it. What a failed call was to
// write is shown as the address it was given.
func (d argDecoder) exit(sc *Syscall, args SyscallArguments, out []string, ret uintptr, err error) string {
	if sc != nil {
		for i, f := range sc.Args {
			switch {
			case !f.post():
			case err == nil:
				out[i] = d.format(f, i, args, int64(ret))
			default:
				out[i] = d.format(Hex, i, args, 0)
			}
		}
	}
	return formatReturn(sc, ret, err)
}

// formatReturn shows a call's result: the value in the entry's RetFormat,
// or -1 and the errno, as strace does.
func formatReturn(sc *Syscall, ret uintptr, err error) string {
	var errno unix.Errno
	switch {
	case errors.As(err, &errno):
		if name := unix.ErrnoName(errno); name != "" {
			return fmt.Sprintf("-1 %s (%s)", name, errno.Error())
		}
		return fmt.Sprintf("-1 errno %d", int(errno))
	case err != nil:
		return "-1 (" + err.Error() + ")"
	case sc != nil && sc.Ret == RetNone:
		return "?"
	case sc != nil && sc.Ret == RetHex:
		return fmt.Sprintf("%#x", ret)
	}
	return strconv.FormatInt(int64(ret), 10)
}

// straceLine is the --strace line of a call by task tid.
func straceLine(tid ThreadID, name string, args []string, ret string, d time.Duration) string {
	return fmt.Sprintf("[%4d] %s(%s) = %s (%v)", tid, name, strings.Join(args, ", "), ret, d.Round(100*time.Nanosecond))
}

// format renders argument i in format f; ret is the return value, for
// formats shown after a successful call.
func (d argDecoder) format(f ArgFormat, i int, args SyscallArguments, ret int64) string {
	a := args[i]
	// arg returns argument j, or zero past the end.
	arg := func(j int) SyscallArgument {
		if j >= 0 && j < len(args) {
			return args[j]
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
		return d.path(a.Pointer())
	case WriteBuffer:
		return d.buffer(a.Pointer(), int64(arg(i+1).SizeT()))
	case ReadBuffer:
		return d.buffer(a.Pointer(), ret)
	case WriteIOVec:
		return d.iovecs(a.Pointer(), int(arg(i+1).Int()), -1)
	case ReadIOVec:
		return d.iovecs(a.Pointer(), int(arg(i+1).Int()), ret)
	case OpenFlags:
		return formatOpenFlags(uint64(a.Uint()))
	case MmapProt:
		return formatFlags(uint64(a.Value), mmapProtNames, "PROT_NONE")
	case MmapFlags:
		return formatFlags(uint64(a.Value), mmapFlagNames, "0")
	case Signal:
		return signalName(int(a.Int()))
	case Timespec, PostTimespec:
		return d.timespec(a.Pointer())
	case CloneFlags:
		return formatCloneFlags(a.Uint64())
	case FutexOp:
		return formatFutexOp(a.Uint64())
	case FutexTimeout:
		switch op := arg(1).Uint64(); {
		case futexHasTimeout(op):
			return d.timespec(a.Pointer())
		case futexHasVal2(op):
			return strconv.FormatUint(uint64(a.Uint()), 10)
		}
	case FutexVal3:
		switch arg(1).Uint64() & uint64(futex.CmdMask) {
		case futex.OpWakeOp:
			return formatFutexWakeOp(a.Uint64())
		case futex.OpCmpRequeue, futex.OpCmpRequeuePI:
			return strconv.FormatUint(uint64(a.Uint()), 10)
		case futex.OpWaitBitset, futex.OpWakeBitset:
			return fmt.Sprintf("%#x", a.Uint())
		}
	case SigActionPtr, PostSigActionPtr:
		return d.sigAction(a.Pointer())
	case SigSet, PostSigSet:
		return d.sigSet(a.Pointer())
	case SigHow:
		return formatValue(uint64(a.Uint()), sigHowNames)
	case SigAltStack, PostSigAltStack:
		return d.sigAltStack(a.Pointer())
	case Stat:
		return d.stat(a.Pointer())
	case AtFlags:
		return formatFlags(uint64(a.Uint()), atFlagNames, "0")
	case WaitStatus:
		if ret == 0 {
			// WNOHANG and nothing to report: the status is untouched.
			break
		}
		return d.waitStatus(a.Pointer())
	case Wait4Options:
		return formatFlags(uint64(a.Uint()), waitOptionNames, "0")
	case WaitidOptions:
		return formatFlags(uint64(a.Uint()), waitidOptionNames, "0")
	case IDType:
		return formatValue(uint64(a.Uint()), idTypeNames)
	case PipeFDs:
		return d.pipeFDs(a.Pointer())
	case ExecveVector:
		return d.vector(a.Pointer())
	case EnvVector:
		return d.vectorCount(a.Pointer())
	case ArchPrctlCode:
		if name, ok := lookupValue(uint64(a.Uint()), archPrctlNames); ok {
			return name
		}
	case ArchPrctlAddr:
		switch arg(0).Uint() {
		case archGetFS, archGetGS:
			return d.int64At(a.Pointer())
		}
	case PrctlOption:
		if name, ok := lookupValue(uint64(a.Uint()), prctlNames); ok {
			return name
		}
		return strconv.FormatInt(int64(a.Int()), 10)
	case PrctlArg:
		switch arg(0).Uint() {
		case unix.PR_SET_NAME, unix.PR_GET_NAME:
			// TASK_COMM_LEN: 16 bytes, the NUL included.
			b := make([]byte, 16)
			n, _ := d.mem.CopyInBytes(a.Pointer(), b)
			if n == 0 {
				break
			}
			name, _, _ := strings.Cut(string(b[:n]), "\x00")
			return strconv.Quote(name)
		case unix.PR_SET_PDEATHSIG:
			return signalName(int(a.Int()))
		}
	case FcntlCmd:
		return formatValue(uint64(a.Uint()), fcntlNames)
	case FcntlArg:
		switch arg(1).Uint() {
		case unix.F_SETFD:
			return formatFlags(uint64(a.Uint()), fdFlagNames, "0")
		case unix.F_SETFL:
			return formatOpenFlags(uint64(a.Uint()))
		case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_SETOWN, unix.F_SETPIPE_SZ, unix.F_SETLEASE, unix.F_NOTIFY:
			return strconv.FormatInt(int64(a.Int()), 10)
		case unix.F_SETSIG:
			return signalName(int(a.Int()))
		}
	case IoctlRequest:
		if name, ok := lookupValue(uint64(a.Uint()), ioctlNames); ok {
			return name
		}
	case ClockID:
		return formatClockID(a.Uint64())
	case TimerFlags:
		return formatFlags(uint64(a.Uint()), timerFlagNames, "0")
	case RlimitResource:
		return formatValue(uint64(a.Uint()), rlimitNames)
	case RlimitPtr, PostRlimitPtr:
		return d.rlimit(a.Pointer())
	case MadviseAdvice:
		return formatValue(uint64(a.Uint()), madviseNames)
	case Whence:
		return formatValue(uint64(a.Uint()), whenceNames)
	case MremapFlags:
		return formatFlags(a.Uint64(), mremapFlagNames, "0")
	case GetrandomFlags:
		return formatFlags(uint64(a.Uint()), getrandomFlagNames, "0")
	case PipeFlags:
		return formatFlags(uint64(a.Uint()), openFlagNames, "0")
	}
	// Hex, and the cases above that found nothing better to show: a
	// zero pointer is NULL, a zero value 0.
	switch {
	case a.Value != 0:
		return fmt.Sprintf("%#x", a.Value)
	case f == Hex || f.post():
		return "NULL"
	}
	return "0"
}
