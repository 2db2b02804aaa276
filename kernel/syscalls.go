package kernel

import (
	"fmt"
	"sort"

	"github.com/minisentry/minisentry/usermem"
)

// SyscallArgument is one system call argument: a raw register value,
// read as the handler's type requires.
type SyscallArgument struct {
	Value uintptr
}

// SyscallArguments are the six argument registers of a system call.
type SyscallArguments [6]SyscallArgument

// Pointer returns the argument as an application address.
func (a SyscallArgument) Pointer() usermem.Addr { return usermem.Addr(a.Value) }

// Int returns the argument as a C int: the low 32 bits, signed.
func (a SyscallArgument) Int() int32 { return int32(a.Value) }

// Uint returns the argument as a C unsigned int.
func (a SyscallArgument) Uint() uint32 { return uint32(a.Value) }

// Int64 returns the argument as a 64-bit signed value (long, off_t).
func (a SyscallArgument) Int64() int64 { return int64(a.Value) }

// Uint64 returns the argument as a 64-bit unsigned value.
func (a SyscallArgument) Uint64() uint64 { return uint64(a.Value) }

// SizeT returns the argument as a size_t.
func (a SyscallArgument) SizeT() uint { return uint(a.Value) }

// SyscallFn is a system call handler. It returns the value for rax, or an
// error, which must be a unix.Errno (the kernel turns anything else into
// EIO and logs it).
type SyscallFn func(t *Task, args SyscallArguments) (uintptr, error)

// SupportLevel says how completely minisentry implements a system call.
type SupportLevel int

const (
	// Unimplemented system calls return ENOSYS.
	Unimplemented SupportLevel = iota
	// Partial system calls implement the common cases; the Note says what
	// is missing.
	Partial
	// Full system calls behave as Linux's.
	Full
)

// String returns the level's name.
func (s SupportLevel) String() string {
	switch s {
	case Full:
		return "full"
	case Partial:
		return "partial"
	default:
		return "unimplemented"
	}
}

// Syscall describes one system call.
type Syscall struct {
	// Name is the system call's name, as in the man pages.
	Name string

	// Fn is the handler; nil for an Unimplemented call.
	Fn SyscallFn

	// Support says how complete Fn is, and Note what is missing.
	Support SupportLevel
	Note    string

	// Args describes the arguments for --strace; its length is the number
	// of arguments the call takes.
	Args []ArgFormat

	// Ret describes the return value for --strace.
	Ret RetFormat

	// NoSARestart marks calls that a signal handler interrupts with EINTR
	// even under SA_RESTART (Linux's ERESTARTNOHAND: pause, sigsuspend,
	// poll, select, nanosleep...). Without a handler they restart.
	NoSARestart bool

	// NoRestart marks calls whose EINTR is final: never restarted.
	NoRestart bool
}

// SyscallTable maps system call numbers to their descriptions.
type SyscallTable struct {
	// entries is keyed by unix.SYS_* numbers. Immutable once the sandbox
	// starts.
	entries map[uintptr]*Syscall

	// names holds the name of every x86-64 system call, implemented or
	// not, for messages and --strace.
	names map[uintptr]string
}

// NewSyscallTable returns an empty table knowing names.
func NewSyscallTable(names map[uintptr]string) *SyscallTable {
	return &SyscallTable{entries: make(map[uintptr]*Syscall), names: names}
}

// Register adds sc under sysno. Registering a number twice is a
// programming error.
func (st *SyscallTable) Register(sysno uintptr, sc Syscall) {
	if _, ok := st.entries[sysno]; ok {
		panic(fmt.Sprintf("system call %d (%s) registered twice", sysno, sc.Name))
	}
	if sc.Name == "" {
		sc.Name = st.Name(sysno)
	}
	st.entries[sysno] = &sc
}

// Lookup returns the description of sysno, or nil.
func (st *SyscallTable) Lookup(sysno uintptr) *Syscall {
	return st.entries[sysno]
}

// Name returns sysno's name, or "syscall_N" for a number Linux does not
// have.
func (st *SyscallTable) Name(sysno uintptr) string {
	if sc, ok := st.entries[sysno]; ok {
		return sc.Name
	}
	if name, ok := st.names[sysno]; ok {
		return name
	}
	return fmt.Sprintf("syscall_%d", sysno)
}

// Numbers returns every registered number, in order.
func (st *SyscallTable) Numbers() []uintptr {
	nums := make([]uintptr, 0, len(st.entries))
	for n := range st.entries {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	return nums
}

// NumberOf returns the number of the system call called name.
func (st *SyscallTable) NumberOf(name string) (uintptr, bool) {
	for n, s := range st.names {
		if s == name {
			return n, true
		}
	}
	return 0, false
}
