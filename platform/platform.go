// Package platform defines how the sentry runs application code: the
// interfaces between the kernel and memory manager above and a mechanism
// below (today only platform/ptrace) that executes the application's
// instructions in an address space the sentry controls, and stops it at every
// system call, fault or signal.
//
// A Platform provides three things:
//
//   - the MemoryFile, which holds every byte of application memory and is
//     mapped once into the sentry, so the sentry reads and writes application
//     memory with ordinary loads and stores (see memory_file.go);
//   - AddressSpaces, into which the memory manager maps ranges of the
//     MemoryFile (the "page tables" of an application);
//   - Contexts, one per application thread, which run the thread's registers
//     in an AddressSpace until the next event.
package platform

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Platform is a mechanism for running application code.
type Platform interface {
	// MemoryFile returns the file that backs all application memory.
	MemoryFile() *MemoryFile

	// MinUserAddress returns the lowest address an application may map.
	MinUserAddress() usermem.Addr

	// MaxUserAddress returns one past the highest address an application
	// may map. Everything from here up belongs to the platform.
	MaxUserAddress() usermem.Addr

	// NewAddressSpace returns a new, empty address space.
	NewAddressSpace() (AddressSpace, error)

	// NewContext returns a Context with zeroed registers. It may be created
	// on any goroutine; the one that first calls Switch owns it from then
	// on.
	NewContext() Context
}

// AddressSpace is the set of mappings an application runs with: the
// platform's equivalent of page tables. The memory manager decides what is
// mapped where; an AddressSpace only carries it out.
//
// Methods may be called from any goroutine.
type AddressSpace interface {
	// MapFile maps fr of the MemoryFile at addr with permissions at,
	// replacing whatever was mapped there.
	//
	// Preconditions: addr and fr are page-aligned; fr is not empty;
	// [addr, addr+fr.Length()) lies within the user range.
	MapFile(addr usermem.Addr, fr FileRange, at usermem.AccessType) error

	// Unmap removes all mappings in [addr, addr+length).
	//
	// Preconditions: addr and length are page-aligned.
	Unmap(addr usermem.Addr, length uint64)

	// Release destroys the address space. No Context may be running in it.
	Release()
}

// Registers are an application thread's general purpose registers, in the
// layout of Linux's struct user_regs_struct (fs_base included).
type Registers = unix.PtraceRegs

// Context is the CPU state of one application thread, and the means to run
// it.
//
// A Context is owned by one goroutine, locked to its OS thread, for its whole
// life: the ptrace platform requires every operation on a traced thread to
// come from the tracing thread.
type Context interface {
	// Regs returns the thread's registers. The caller may change them; the
	// changes take effect at the next Switch.
	Regs() *Registers

	// Switch runs the thread in as until the next event and describes it.
	// An error means the platform itself failed (the stub died); the caller
	// must end the thread's sandbox.
	Switch(as AddressSpace) (Event, error)

	// FPState returns the thread's floating point and vector state in XSAVE
	// format.
	FPState() ([]byte, error)

	// SetFPState replaces the thread's floating point and vector state,
	// typically with a copy of the state of the thread that cloned it.
	SetFPState(state []byte) error

	// Interrupt makes a running or about-to-run Switch return
	// EventInterrupt as soon as possible. It may be called from any
	// goroutine.
	Interrupt()

	// Release frees the resources behind the Context. It must be called on
	// the owning goroutine.
	Release()
}

// EventType says what stopped the application.
type EventType int

const (
	// EventSyscall is a 64-bit system call. Sysno and Args hold it; the
	// instruction pointer is already past the syscall instruction.
	EventSyscall EventType = iota

	// EventSyscall32 is a 32-bit system call (int 0x80, or sysenter), which
	// minisentry refuses. The host did not run it.
	EventSyscall32

	// EventFault is a page fault: Addr, Access and IP describe it, Signal
	// holds the host's siginfo.
	EventFault

	// EventSignal is any other synchronous signal the application raised
	// (SIGILL, SIGFPE, SIGTRAP from int3, SIGSEGV for a general protection
	// fault...). Signal holds the siginfo.
	EventSignal

	// EventInterrupt means Interrupt was called.
	EventInterrupt
)

var eventTypeNames = [...]string{"syscall", "syscall32", "fault", "signal", "interrupt"}

// String returns the event type's name.
func (t EventType) String() string {
	if int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return "unknown"
}

// Event describes why Switch returned.
type Event struct {
	// Type is what happened.
	Type EventType

	// Sysno and Args hold an EventSyscall or EventSyscall32.
	Sysno uintptr
	Args  [6]uintptr

	// Addr is the faulting address of an EventFault.
	Addr usermem.Addr
	// Access is the platform's best guess at the faulting access. ptrace
	// does not report the hardware error code, so this is a heuristic.
	Access usermem.AccessType
	// IP is the instruction pointer of an EventFault or EventSignal.
	IP usermem.Addr

	// Signal is the host's siginfo for an EventFault or EventSignal.
	Signal SignalInfo
}
