package ptrace

import "sync/atomic"

// Counters of the platform's work, for --debug and for the performance
// model in docs/performance.md: the cost of a workload is about the sum,
// over these operations, of count times the cost of one (measured by
// go run ./tests/bench).
type Counters struct {
	// Switches counts resumptions of application code (PTRACE_SYSEMU).
	Switches uint64
	// Injections counts syscalls injected into stubs (mmap, munmap,
	// clone...).
	Injections uint64
	// AddressSpaces counts stub processes forked from the master.
	AddressSpaces uint64
	// Threads counts stub threads seized for application threads.
	Threads uint64
}

// counters are the running totals; atomic.
var counters struct {
	switches, injections, addressSpaces, threads atomic.Uint64
}

// ReadCounters returns the platform's counters since the sentry started.
func ReadCounters() Counters {
	return Counters{
		Switches:      counters.switches.Load(),
		Injections:    counters.injections.Load(),
		AddressSpaces: counters.addressSpaces.Load(),
		Threads:       counters.threads.Load(),
	}
}
