package kernel

import (
	"fmt"
	"github.com/minisentry/minisentry/kernel/futex"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The names --strace gives to flags and to values: the tables, and the
// pure functions that apply them. The decoders that read application
// memory are in strace_decode.go.
//
// Constants come from golang.org/x/sys/unix where it has them; the others
// are defined below with the Linux header they come from.

// flagName pairs a flag bit (or a group of bits) with its name.
type flagName struct {
	bit  uint64
	name string
}

// valueName pairs a value with its name, for arguments that take one of a
// set of values (commands, ids, modes).
type valueName struct {
	value uint64
	name  string
}

// formatFlags joins the names of the flags set in v, then any bits left in
// hex; v == 0 is shown as none.
func formatFlags(v uint64, names []flagName, none string) string {
	var parts []string
	for _, fn := range names {
		if fn.bit != 0 && v&fn.bit == fn.bit {
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

// formatValue returns v's name, or v in decimal when it has none.
func formatValue(v uint64, names []valueName) string {
	if name, ok := lookupValue(v, names); ok {
		return name
	}
	return strconv.FormatInt(int64(int32(v)), 10)
}

// lookupValue returns v's name, if it has one.
func lookupValue(v uint64, names []valueName) (string, bool) {
	for _, vn := range names {
		if vn.value == v {
			return vn.name, true
		}
	}
	return "", false
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

var openFlagNames = []flagName{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"}, {unix.O_NOCTTY, "O_NOCTTY"}, {unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_DSYNC, "O_DSYNC"}, {unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"}, {unix.O_LARGEFILE, "O_LARGEFILE"}, {unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NOATIME, "O_NOATIME"}, {unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"}, {unix.O_TMPFILE &^ unix.O_DIRECTORY, "O_TMPFILE"}, {unix.O_SYNC &^ unix.O_DSYNC, "O_SYNC"},
}

var mmapProtNames = []flagName{
	{unix.PROT_READ, "PROT_READ"}, {unix.PROT_WRITE, "PROT_WRITE"}, {unix.PROT_EXEC, "PROT_EXEC"},
	{unix.PROT_GROWSDOWN, "PROT_GROWSDOWN"}, {unix.PROT_GROWSUP, "PROT_GROWSUP"},
}

// mmapFlagNames starts with the mapping type, two bits that are one value
// (MAP_SHARED_VALIDATE is both): the longest match must come first.
var mmapFlagNames = []flagName{
	{unix.MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"}, {unix.MAP_SHARED, "MAP_SHARED"}, {unix.MAP_PRIVATE, "MAP_PRIVATE"},
	{unix.MAP_FIXED, "MAP_FIXED"}, {unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"}, {unix.MAP_32BIT, "MAP_32BIT"},
	{unix.MAP_GROWSDOWN, "MAP_GROWSDOWN"}, {unix.MAP_DENYWRITE, "MAP_DENYWRITE"}, {unix.MAP_EXECUTABLE, "MAP_EXECUTABLE"},
	{unix.MAP_LOCKED, "MAP_LOCKED"}, {unix.MAP_NORESERVE, "MAP_NORESERVE"}, {unix.MAP_POPULATE, "MAP_POPULATE"},
	{unix.MAP_NONBLOCK, "MAP_NONBLOCK"}, {unix.MAP_STACK, "MAP_STACK"}, {unix.MAP_HUGETLB, "MAP_HUGETLB"},
	{unix.MAP_SYNC, "MAP_SYNC"}, {unix.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
}

var mremapFlagNames = []flagName{
	{unix.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"}, {unix.MREMAP_FIXED, "MREMAP_FIXED"}, {unix.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"},
}

// madvSoftOffline is MADV_SOFT_OFFLINE, from
// <asm-generic/mman-common.h>.
const madvSoftOffline = 101

var madviseNames = []valueName{
	{unix.MADV_NORMAL, "MADV_NORMAL"}, {unix.MADV_RANDOM, "MADV_RANDOM"}, {unix.MADV_SEQUENTIAL, "MADV_SEQUENTIAL"},
	{unix.MADV_WILLNEED, "MADV_WILLNEED"}, {unix.MADV_DONTNEED, "MADV_DONTNEED"}, {unix.MADV_FREE, "MADV_FREE"},
	{unix.MADV_REMOVE, "MADV_REMOVE"}, {unix.MADV_DONTFORK, "MADV_DONTFORK"}, {unix.MADV_DOFORK, "MADV_DOFORK"},
	{unix.MADV_MERGEABLE, "MADV_MERGEABLE"}, {unix.MADV_UNMERGEABLE, "MADV_UNMERGEABLE"},
	{unix.MADV_HUGEPAGE, "MADV_HUGEPAGE"}, {unix.MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"},
	{unix.MADV_DONTDUMP, "MADV_DONTDUMP"}, {unix.MADV_DODUMP, "MADV_DODUMP"},
	{unix.MADV_WIPEONFORK, "MADV_WIPEONFORK"}, {unix.MADV_KEEPONFORK, "MADV_KEEPONFORK"},
	{unix.MADV_COLD, "MADV_COLD"}, {unix.MADV_PAGEOUT, "MADV_PAGEOUT"},
	{unix.MADV_POPULATE_READ, "MADV_POPULATE_READ"}, {unix.MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE"},
	{unix.MADV_DONTNEED_LOCKED, "MADV_DONTNEED_LOCKED"}, {unix.MADV_COLLAPSE, "MADV_COLLAPSE"},
	{unix.MADV_HWPOISON, "MADV_HWPOISON"}, {madvSoftOffline, "MADV_SOFT_OFFLINE"},
}

// cloneFlagNames are the CLONE_* flags of clone(2). The low byte
// (CSIGNAL) is the exit signal, not flags: CLONE_NEWTIME shares its bit and
// exists only for clone3 and unshare.
var cloneFlagNames = []flagName{
	{unix.CLONE_VM, "CLONE_VM"}, {unix.CLONE_FS, "CLONE_FS"}, {unix.CLONE_FILES, "CLONE_FILES"},
	{unix.CLONE_SIGHAND, "CLONE_SIGHAND"}, {unix.CLONE_PIDFD, "CLONE_PIDFD"}, {unix.CLONE_PTRACE, "CLONE_PTRACE"},
	{unix.CLONE_VFORK, "CLONE_VFORK"}, {unix.CLONE_PARENT, "CLONE_PARENT"}, {unix.CLONE_THREAD, "CLONE_THREAD"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"}, {unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"}, {unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"}, {unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	{unix.CLONE_DETACHED, "CLONE_DETACHED"}, {unix.CLONE_UNTRACED, "CLONE_UNTRACED"},
	{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"}, {unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"}, {unix.CLONE_NEWIPC, "CLONE_NEWIPC"}, {unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"}, {unix.CLONE_NEWNET, "CLONE_NEWNET"}, {unix.CLONE_IO, "CLONE_IO"},
}

// formatCloneFlags shows clone(2)'s first argument as strace does: the
// flags, then the exit signal's name.
func formatCloneFlags(v uint64) string {
	s := formatFlags(v&^unix.CSIGNAL, cloneFlagNames, "")
	if sig := v & unix.CSIGNAL; sig != 0 {
		if s != "" {
			s += "|"
		}
		s += signalName(int(sig))
	}
	if s == "" {
		return "0"
	}
	return s
}

var futexCmdNames = []valueName{
	{futex.OpWait, "FUTEX_WAIT"}, {futex.OpWake, "FUTEX_WAKE"}, {futex.OpFD, "FUTEX_FD"},
	{futex.OpRequeue, "FUTEX_REQUEUE"}, {futex.OpCmpRequeue, "FUTEX_CMP_REQUEUE"}, {futex.OpWakeOp, "FUTEX_WAKE_OP"},
	{futex.OpLockPI, "FUTEX_LOCK_PI"}, {futex.OpUnlockPI, "FUTEX_UNLOCK_PI"}, {futex.OpTrylockPI, "FUTEX_TRYLOCK_PI"},
	{futex.OpWaitBitset, "FUTEX_WAIT_BITSET"}, {futex.OpWakeBitset, "FUTEX_WAKE_BITSET"},
	{futex.OpWaitRequeuePI, "FUTEX_WAIT_REQUEUE_PI"}, {futex.OpCmpRequeuePI, "FUTEX_CMP_REQUEUE_PI"},
	{futex.OpLockPI2, "FUTEX_LOCK_PI2"},
}

// formatFutexOp shows a futex operation as strace does:
// FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME.
func formatFutexOp(op uint64) string {
	op = uint64(uint32(op))
	name, ok := lookupValue(op&uint64(futex.CmdMask), futexCmdNames)
	if !ok {
		return fmt.Sprintf("%#x", op)
	}
	if op&futex.FlagPrivate != 0 {
		name += "_PRIVATE"
	}
	if op&futex.FlagClockRealtime != 0 {
		name += "|FUTEX_CLOCK_REALTIME"
	}
	return name
}

// futexHasTimeout reports whether op's fourth argument is a timeout; for
// the requeue and wake-op operations it is a count, val2.
func futexHasTimeout(op uint64) bool {
	switch op & uint64(futex.CmdMask) {
	case futex.OpWait, futex.OpWaitBitset, futex.OpLockPI, futex.OpLockPI2, futex.OpWaitRequeuePI:
		return true
	}
	return false
}

// futexHasVal2 reports whether op's fourth argument is a count.
func futexHasVal2(op uint64) bool {
	switch op & uint64(futex.CmdMask) {
	case futex.OpRequeue, futex.OpCmpRequeue, futex.OpWakeOp, futex.OpCmpRequeuePI:
		return true
	}
	return false
}

// FUTEX_WAKE_OP's operations and comparisons, from <linux/futex.h>.
var (
	futexOpNames    = []string{"FUTEX_OP_SET", "FUTEX_OP_ADD", "FUTEX_OP_OR", "FUTEX_OP_ANDN", "FUTEX_OP_XOR"}
	futexOpCmpNames = []string{"FUTEX_OP_CMP_EQ", "FUTEX_OP_CMP_NE", "FUTEX_OP_CMP_LT", "FUTEX_OP_CMP_LE", "FUTEX_OP_CMP_GT", "FUTEX_OP_CMP_GE"}
)

// futexOpArgShift is FUTEX_OP_OPARG_SHIFT: the flag that makes the
// operand a shift count.
const futexOpArgShift = 8

// formatFutexWakeOp shows FUTEX_WAKE_OP's encoded operation (val3) as the
// FUTEX_OP macro that builds it: op(28-31), cmp(24-27), oparg(12-23),
// cmparg(0-11).
func formatFutexWakeOp(v uint64) string {
	v = uint64(uint32(v))
	op, cmp := v>>28, (v>>24)&0xf
	oparg, cmparg := (v>>12)&0xfff, v&0xfff
	var opName string
	if op&futexOpArgShift != 0 {
		opName = "FUTEX_OP_OPARG_SHIFT|"
		op &^= futexOpArgShift
	}
	if op < uint64(len(futexOpNames)) {
		opName += futexOpNames[op]
	} else {
		opName += strconv.FormatUint(op, 10)
	}
	cmpName := strconv.FormatUint(cmp, 10)
	if cmp < uint64(len(futexOpCmpNames)) {
		cmpName = futexOpCmpNames[cmp]
	}
	return fmt.Sprintf("FUTEX_OP(%s, %d, %s, %d)", opName, oparg, cmpName, cmparg)
}

// signalName names signal sig: SIGINT, or for the real-time signals
// SIGRTMIN (32) and SIGRT_n above it, as strace does.
func signalName(sig int) string {
	switch {
	case sig >= 1 && sig < 32:
		if name := unix.SignalName(unix.Signal(sig)); name != "" {
			return name
		}
	case sig == 32:
		return "SIGRTMIN"
	case sig > 32 && sig <= numSignals:
		return "SIGRT_" + strconv.Itoa(sig-32)
	}
	return strconv.Itoa(sig)
}

// formatSigSet shows a signal mask as strace does: [INT QUIT], the names
// without their SIG; a mask with most signals set is shown as the
// complement of the rest, ~[RTMIN RT_1]. ~[] is every signal.
func formatSigSet(set uint64) string {
	var ones int
	for s := set; s != 0; s &= s - 1 {
		ones++
	}
	prefix := "["
	if ones > numSignals/2 {
		prefix = "~["
		set = ^set
	}
	var names []string
	for sig := 1; sig <= numSignals; sig++ {
		if set&sigBit(sig) != 0 {
			names = append(names, strings.TrimPrefix(signalName(sig), "SIG"))
		}
	}
	return prefix + strings.Join(names, " ") + "]"
}

var sigHowNames = []valueName{
	{unix.SIG_BLOCK, "SIG_BLOCK"}, {unix.SIG_UNBLOCK, "SIG_UNBLOCK"}, {unix.SIG_SETMASK, "SIG_SETMASK"},
}

// saUnsupported and saExposeTagbits are sigaction flags from
// <asm-generic/signal-defs.h>: a probe for flag support, and arm64's tag
// bits.
const (
	saUnsupported   = 0x400
	saExposeTagbits = 0x800
)

var sigActionFlagNames = []flagName{
	{SANoCldStop, "SA_NOCLDSTOP"}, {SANoCldWait, "SA_NOCLDWAIT"}, {SASigInfo, "SA_SIGINFO"},
	{saUnsupported, "SA_UNSUPPORTED"}, {saExposeTagbits, "SA_EXPOSE_TAGBITS"},
	{SARestorer, "SA_RESTORER"}, {SAOnStack, "SA_ONSTACK"}, {SARestart, "SA_RESTART"},
	{SANoDefer, "SA_NODEFER"}, {SAResetHand, "SA_RESETHAND"},
}

var sigStackFlagNames = []flagName{
	{SSOnStack, "SS_ONSTACK"}, {SSDisable, "SS_DISABLE"}, {SSAutoDisarm, "SS_AUTODISARM"},
}

// formatSigHandler shows a signal handler: SIG_DFL, SIG_IGN or an address.
func formatSigHandler(h uint64) string {
	switch h {
	case SigDfl:
		return "SIG_DFL"
	case SigIgn:
		return "SIG_IGN"
	}
	return fmt.Sprintf("%#x", h)
}

var atFlagNames = []flagName{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"}, {unix.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
	{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"}, {unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
	{unix.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"}, {unix.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"},
	{unix.AT_RECURSIVE, "AT_RECURSIVE"},
}

// Options of wait4(2) and waitid(2). __WNOTHREAD, __WALL and __WCLONE are
// the kernel's names for unix's WNOTHREAD, WALL and WCLONE.
var waitOptionNames = []flagName{
	{unix.WNOHANG, "WNOHANG"}, {unix.WUNTRACED, "WUNTRACED"}, {unix.WEXITED, "WEXITED"},
	{unix.WCONTINUED, "WCONTINUED"}, {unix.WNOWAIT, "WNOWAIT"}, {unix.WNOTHREAD, "__WNOTHREAD"},
	{unix.WALL, "__WALL"}, {unix.WCLONE, "__WCLONE"},
}

// waitidOptionNames are waitOptionNames with waitid's name for bit 2.
var waitidOptionNames = append([]flagName{{unix.WSTOPPED, "WSTOPPED"}}, waitOptionNames...)

var idTypeNames = []valueName{
	{unix.P_ALL, "P_ALL"}, {unix.P_PID, "P_PID"}, {unix.P_PGID, "P_PGID"}, {unix.P_PIDFD, "P_PIDFD"},
}

// formatWaitStatus shows a wait status as strace does, as the macros that
// take it apart: [{WIFEXITED(s) && WEXITSTATUS(s) == 3}].
func formatWaitStatus(ws uint32) string {
	var s string
	switch {
	case ws&0x7f == 0:
		s = fmt.Sprintf("{WIFEXITED(s) && WEXITSTATUS(s) == %d}", (ws>>8)&0xff)
	case ws&0xff == 0x7f:
		s = fmt.Sprintf("{WIFSTOPPED(s) && WSTOPSIG(s) == %s}", signalName(int(ws>>8)&0xff))
	case ws == 0xffff:
		s = "{WIFCONTINUED(s)}"
	default:
		s = fmt.Sprintf("{WIFSIGNALED(s) && WTERMSIG(s) == %s", signalName(int(ws&0x7f)))
		if ws&0x80 != 0 {
			s += " && WCOREDUMP(s)"
		}
		s += "}"
	}
	if ws&^0xffff != 0 {
		// Ptrace event bits, or garbage.
		s += fmt.Sprintf(" | %#x", ws&^0xffff)
	}
	return "[" + s + "]"
}

// archPrctl codes, from <asm/prctl.h> (not in golang.org/x/sys/unix).
const (
	archSetGS         = 0x1001
	archSetFS         = 0x1002
	archGetFS         = 0x1003
	archGetGS         = 0x1004
	archGetCPUID      = 0x1011
	archSetCPUID      = 0x1012
	archGetXcompSupp  = 0x1021
	archGetXcompPerm  = 0x1022
	archReqXcompPerm  = 0x1023
	archGetXcompGuest = 0x1024
	archReqXcompGuest = 0x1025
	archMapVDSOX32    = 0x2001
	archMapVDSO32     = 0x2002
	archMapVDSO64     = 0x2003
	archShstkEnable   = 0x5001
	archShstkDisable  = 0x5002
	archShstkLock     = 0x5003
	archShstkUnlock   = 0x5004
	archShstkStatus   = 0x5005
)

var archPrctlNames = []valueName{
	{archSetGS, "ARCH_SET_GS"}, {archSetFS, "ARCH_SET_FS"}, {archGetFS, "ARCH_GET_FS"}, {archGetGS, "ARCH_GET_GS"},
	{archGetCPUID, "ARCH_GET_CPUID"}, {archSetCPUID, "ARCH_SET_CPUID"},
	{archGetXcompSupp, "ARCH_GET_XCOMP_SUPP"}, {archGetXcompPerm, "ARCH_GET_XCOMP_PERM"},
	{archReqXcompPerm, "ARCH_REQ_XCOMP_PERM"}, {archGetXcompGuest, "ARCH_GET_XCOMP_GUEST_PERM"},
	{archReqXcompGuest, "ARCH_REQ_XCOMP_GUEST_PERM"},
	{archMapVDSOX32, "ARCH_MAP_VDSO_X32"}, {archMapVDSO32, "ARCH_MAP_VDSO_32"}, {archMapVDSO64, "ARCH_MAP_VDSO_64"},
	{archShstkEnable, "ARCH_SHSTK_ENABLE"}, {archShstkDisable, "ARCH_SHSTK_DISABLE"},
	{archShstkLock, "ARCH_SHSTK_LOCK"}, {archShstkUnlock, "ARCH_SHSTK_UNLOCK"}, {archShstkStatus, "ARCH_SHSTK_STATUS"},
}

var prctlNames = []valueName{
	{unix.PR_SET_PDEATHSIG, "PR_SET_PDEATHSIG"}, {unix.PR_GET_PDEATHSIG, "PR_GET_PDEATHSIG"},
	{unix.PR_GET_DUMPABLE, "PR_GET_DUMPABLE"}, {unix.PR_SET_DUMPABLE, "PR_SET_DUMPABLE"},
	{unix.PR_GET_UNALIGN, "PR_GET_UNALIGN"}, {unix.PR_SET_UNALIGN, "PR_SET_UNALIGN"},
	{unix.PR_GET_KEEPCAPS, "PR_GET_KEEPCAPS"}, {unix.PR_SET_KEEPCAPS, "PR_SET_KEEPCAPS"},
	{unix.PR_GET_FPEMU, "PR_GET_FPEMU"}, {unix.PR_SET_FPEMU, "PR_SET_FPEMU"},
	{unix.PR_GET_FPEXC, "PR_GET_FPEXC"}, {unix.PR_SET_FPEXC, "PR_SET_FPEXC"},
	{unix.PR_GET_TIMING, "PR_GET_TIMING"}, {unix.PR_SET_TIMING, "PR_SET_TIMING"},
	{unix.PR_SET_NAME, "PR_SET_NAME"}, {unix.PR_GET_NAME, "PR_GET_NAME"},
	{unix.PR_GET_ENDIAN, "PR_GET_ENDIAN"}, {unix.PR_SET_ENDIAN, "PR_SET_ENDIAN"},
	{unix.PR_GET_SECCOMP, "PR_GET_SECCOMP"}, {unix.PR_SET_SECCOMP, "PR_SET_SECCOMP"},
	{unix.PR_CAPBSET_READ, "PR_CAPBSET_READ"}, {unix.PR_CAPBSET_DROP, "PR_CAPBSET_DROP"},
	{unix.PR_GET_TSC, "PR_GET_TSC"}, {unix.PR_SET_TSC, "PR_SET_TSC"},
	{unix.PR_GET_SECUREBITS, "PR_GET_SECUREBITS"}, {unix.PR_SET_SECUREBITS, "PR_SET_SECUREBITS"},
	{unix.PR_SET_TIMERSLACK, "PR_SET_TIMERSLACK"}, {unix.PR_GET_TIMERSLACK, "PR_GET_TIMERSLACK"},
	{unix.PR_TASK_PERF_EVENTS_DISABLE, "PR_TASK_PERF_EVENTS_DISABLE"},
	{unix.PR_TASK_PERF_EVENTS_ENABLE, "PR_TASK_PERF_EVENTS_ENABLE"},
	{unix.PR_MCE_KILL, "PR_MCE_KILL"}, {unix.PR_MCE_KILL_GET, "PR_MCE_KILL_GET"},
	{unix.PR_SET_MM, "PR_SET_MM"}, {unix.PR_SET_PTRACER, "PR_SET_PTRACER"},
	{unix.PR_SET_CHILD_SUBREAPER, "PR_SET_CHILD_SUBREAPER"}, {unix.PR_GET_CHILD_SUBREAPER, "PR_GET_CHILD_SUBREAPER"},
	{unix.PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS"}, {unix.PR_GET_NO_NEW_PRIVS, "PR_GET_NO_NEW_PRIVS"},
	{unix.PR_GET_TID_ADDRESS, "PR_GET_TID_ADDRESS"},
	{unix.PR_SET_THP_DISABLE, "PR_SET_THP_DISABLE"}, {unix.PR_GET_THP_DISABLE, "PR_GET_THP_DISABLE"},
	{unix.PR_MPX_ENABLE_MANAGEMENT, "PR_MPX_ENABLE_MANAGEMENT"}, {unix.PR_MPX_DISABLE_MANAGEMENT, "PR_MPX_DISABLE_MANAGEMENT"},
	{unix.PR_SET_FP_MODE, "PR_SET_FP_MODE"}, {unix.PR_GET_FP_MODE, "PR_GET_FP_MODE"},
	{unix.PR_CAP_AMBIENT, "PR_CAP_AMBIENT"},
	{unix.PR_SET_SPECULATION_CTRL, "PR_SET_SPECULATION_CTRL"}, {unix.PR_GET_SPECULATION_CTRL, "PR_GET_SPECULATION_CTRL"},
	{unix.PR_SET_TAGGED_ADDR_CTRL, "PR_SET_TAGGED_ADDR_CTRL"}, {unix.PR_GET_TAGGED_ADDR_CTRL, "PR_GET_TAGGED_ADDR_CTRL"},
	{unix.PR_SET_IO_FLUSHER, "PR_SET_IO_FLUSHER"}, {unix.PR_GET_IO_FLUSHER, "PR_GET_IO_FLUSHER"},
	{unix.PR_SCHED_CORE, "PR_SCHED_CORE"}, {unix.PR_SET_MDWE, "PR_SET_MDWE"}, {unix.PR_GET_MDWE, "PR_GET_MDWE"},
	{unix.PR_SET_MEMORY_MERGE, "PR_SET_MEMORY_MERGE"}, {unix.PR_GET_MEMORY_MERGE, "PR_GET_MEMORY_MERGE"},
	{unix.PR_GET_AUXV, "PR_GET_AUXV"}, {unix.PR_SET_VMA, "PR_SET_VMA"},
}

// fcntl(2) commands.
var fcntlNames = []valueName{
	{unix.F_DUPFD, "F_DUPFD"}, {unix.F_GETFD, "F_GETFD"}, {unix.F_SETFD, "F_SETFD"}, {unix.F_GETFL, "F_GETFL"},
	{unix.F_SETFL, "F_SETFL"}, {unix.F_GETLK, "F_GETLK"}, {unix.F_SETLK, "F_SETLK"}, {unix.F_SETLKW, "F_SETLKW"},
	{unix.F_SETOWN, "F_SETOWN"}, {unix.F_GETOWN, "F_GETOWN"}, {unix.F_SETSIG, "F_SETSIG"}, {unix.F_GETSIG, "F_GETSIG"},
	{unix.F_SETOWN_EX, "F_SETOWN_EX"}, {unix.F_GETOWN_EX, "F_GETOWN_EX"},
	{unix.F_OFD_GETLK, "F_OFD_GETLK"}, {unix.F_OFD_SETLK, "F_OFD_SETLK"}, {unix.F_OFD_SETLKW, "F_OFD_SETLKW"},
	{unix.F_SETLEASE, "F_SETLEASE"}, {unix.F_GETLEASE, "F_GETLEASE"}, {unix.F_NOTIFY, "F_NOTIFY"},
	{unix.F_DUPFD_CLOEXEC, "F_DUPFD_CLOEXEC"}, {unix.F_SETPIPE_SZ, "F_SETPIPE_SZ"}, {unix.F_GETPIPE_SZ, "F_GETPIPE_SZ"},
	{unix.F_ADD_SEALS, "F_ADD_SEALS"}, {unix.F_GET_SEALS, "F_GET_SEALS"},
	{unix.F_GET_RW_HINT, "F_GET_RW_HINT"}, {unix.F_SET_RW_HINT, "F_SET_RW_HINT"},
}

var fdFlagNames = []flagName{{unix.FD_CLOEXEC, "FD_CLOEXEC"}}

// ioctl requests that golang.org/x/sys/unix lacks, from
// <asm-generic/ioctls.h>.
const (
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
	fioasync = 0x5452
)

// ioctlNames are the requests of terminals and of files in general.
// FIONREAD is TIOCINQ's other name.
var ioctlNames = []valueName{
	{unix.TCGETS, "TCGETS"}, {unix.TCSETS, "TCSETS"}, {unix.TCSETSW, "TCSETSW"}, {unix.TCSETSF, "TCSETSF"},
	{unix.TCGETA, "TCGETA"}, {unix.TCSETA, "TCSETA"}, {unix.TCSETAW, "TCSETAW"}, {unix.TCSETAF, "TCSETAF"},
	{unix.TCSBRK, "TCSBRK"}, {unix.TCXONC, "TCXONC"}, {unix.TCFLSH, "TCFLSH"},
	{unix.TIOCEXCL, "TIOCEXCL"}, {unix.TIOCNXCL, "TIOCNXCL"}, {unix.TIOCSCTTY, "TIOCSCTTY"},
	{unix.TIOCGPGRP, "TIOCGPGRP"}, {unix.TIOCSPGRP, "TIOCSPGRP"}, {unix.TIOCOUTQ, "TIOCOUTQ"}, {unix.TIOCSTI, "TIOCSTI"},
	{unix.TIOCGWINSZ, "TIOCGWINSZ"}, {unix.TIOCSWINSZ, "TIOCSWINSZ"}, {unix.TIOCINQ, "FIONREAD"},
	{unix.TIOCNOTTY, "TIOCNOTTY"}, {unix.TIOCGSID, "TIOCGSID"}, {unix.TIOCGPTN, "TIOCGPTN"}, {unix.TIOCSPTLCK, "TIOCSPTLCK"},
	{unix.TCGETS2, "TCGETS2"}, {unix.TCSETS2, "TCSETS2"},
	{fionbio, "FIONBIO"}, {fionclex, "FIONCLEX"}, {fioclex, "FIOCLEX"}, {fioasync, "FIOASYNC"},
}

var clockNames = []valueName{
	{unix.CLOCK_REALTIME, "CLOCK_REALTIME"}, {unix.CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
	{unix.CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"}, {unix.CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
	{unix.CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"}, {unix.CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
	{unix.CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"}, {unix.CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
	{unix.CLOCK_REALTIME_ALARM, "CLOCK_REALTIME_ALARM"}, {unix.CLOCK_BOOTTIME_ALARM, "CLOCK_BOOTTIME_ALARM"},
	{unix.CLOCK_TAI, "CLOCK_TAI"},
}

// formatClockID names a clock. A negative id is the CPU-time clock of a
// process or thread, encoded as in <linux/posix-timers.h>: the inverted
// pid above three bits that say which clock and whether of a thread.
func formatClockID(v uint64) string {
	id := int32(v)
	if id >= 0 {
		return formatValue(uint64(id), clockNames)
	}
	pid := ^id >> 3
	which := []string{"CPUCLOCK_PROF", "CPUCLOCK_VIRT", "CPUCLOCK_SCHED", "3"}[id&3]
	if id&4 != 0 {
		return fmt.Sprintf("MAKE_THREAD_CPUCLOCK(%d, %s)", pid, which)
	}
	return fmt.Sprintf("MAKE_PROCESS_CPUCLOCK(%d, %s)", pid, which)
}

var timerFlagNames = []flagName{{unix.TIMER_ABSTIME, "TIMER_ABSTIME"}}

var rlimitNames = []valueName{
	{unix.RLIMIT_CPU, "RLIMIT_CPU"}, {unix.RLIMIT_FSIZE, "RLIMIT_FSIZE"}, {unix.RLIMIT_DATA, "RLIMIT_DATA"},
	{unix.RLIMIT_STACK, "RLIMIT_STACK"}, {unix.RLIMIT_CORE, "RLIMIT_CORE"}, {unix.RLIMIT_RSS, "RLIMIT_RSS"},
	{unix.RLIMIT_NPROC, "RLIMIT_NPROC"}, {unix.RLIMIT_NOFILE, "RLIMIT_NOFILE"}, {unix.RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
	{unix.RLIMIT_AS, "RLIMIT_AS"}, {unix.RLIMIT_LOCKS, "RLIMIT_LOCKS"}, {unix.RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
	{unix.RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"}, {unix.RLIMIT_NICE, "RLIMIT_NICE"}, {unix.RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
	{unix.RLIMIT_RTTIME, "RLIMIT_RTTIME"},
}

// formatRlimValue shows a limit as strace does: RLIM64_INFINITY, or a
// multiple of 1024 as N*1024.
func formatRlimValue(v uint64) string {
	switch {
	case v == unix.RLIM_INFINITY:
		return "RLIM64_INFINITY"
	case v > 0 && v%1024 == 0:
		return strconv.FormatUint(v/1024, 10) + "*1024"
	}
	return strconv.FormatUint(v, 10)
}

var whenceNames = []valueName{
	{unix.SEEK_SET, "SEEK_SET"}, {unix.SEEK_CUR, "SEEK_CUR"}, {unix.SEEK_END, "SEEK_END"},
	{unix.SEEK_DATA, "SEEK_DATA"}, {unix.SEEK_HOLE, "SEEK_HOLE"},
}

var getrandomFlagNames = []flagName{
	{unix.GRND_NONBLOCK, "GRND_NONBLOCK"}, {unix.GRND_RANDOM, "GRND_RANDOM"}, {unix.GRND_INSECURE, "GRND_INSECURE"},
}

var fileTypeNames = []valueName{
	{unix.S_IFREG, "S_IFREG"}, {unix.S_IFDIR, "S_IFDIR"}, {unix.S_IFCHR, "S_IFCHR"}, {unix.S_IFBLK, "S_IFBLK"},
	{unix.S_IFIFO, "S_IFIFO"}, {unix.S_IFLNK, "S_IFLNK"}, {unix.S_IFSOCK, "S_IFSOCK"},
}

// formatMode shows a file mode as strace does: the type's name, then the
// permission bits (setuid, setgid and sticky included) in octal:
// S_IFREG|0644.
func formatMode(m uint32) string {
	perm := "0" + strconv.FormatUint(uint64(m&0o7777), 8)
	typ := uint64(m & unix.S_IFMT)
	if typ == 0 {
		return perm
	}
	name, ok := lookupValue(typ, fileTypeNames)
	if !ok {
		name = fmt.Sprintf("%#o", typ)
	}
	return name + "|" + perm
}
