// Package ptrace is the platform that runs application code in stub
// processes under ptrace(2).
//
// A stub process is an address space: it holds nothing but a one-page stub
// (see stub.go) and the memory file at a fixed descriptor, and the sentry
// maps application memory into it by injecting mmap(2) calls. Each
// application thread runs on a stub thread of its own, traced by the OS
// thread of the goroutine that runs the task. PTRACE_SYSEMU resumes it and
// stops it at its next system call without letting the host execute the
// call; page faults and other synchronous signals stop it too. The host
// therefore runs no system call for the application: its syscalls are
// emulated by the sentry, and the stub's seccomp filter kills the stub if
// anything but the stub's own syscall instructions reaches the host.
//
// Holes closed here: a 32-bit system call (int 0x80, sysenter) stops under
// PTRACE_SYSEMU like a 64-bit one, so the syscall's architecture is read on
// every stop and reported as EventSyscall32; calls into the vsyscall page,
// which the host would emulate without any ptrace stop, trap in the seccomp
// filter and are reported as faults.
//
// Speed: a stub thread is pinned to the CPU its tracer runs on (a stop
// that wakes a tracer on another CPU costs several times more), the
// sentry's SIGCHLD action gets SA_NOCLDSTOP (no signal per ptrace stop),
// and floating point state stays in the stub thread, moved only on request.
//
// Lock order: subprocess.mu, then context.mu.
package ptrace

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// Platform is the ptrace platform.
type Platform struct {
	// memFile backs all application memory. Immutable.
	memFile *platform.MemoryFile

	// stubFD is a memfd holding the stub ELF, and stubPath a path through
	// which it can be executed. Immutable.
	stubFD   int
	stubPath string

	// sentryPID is the sentry's pid, which marks the interrupts it sends.
	// Immutable.
	sentryPID int

	// minAddr is the lowest address the host lets a process map.
	// Immutable.
	minAddr usermem.Addr

	// master is the master stub, from which new address spaces are
	// forked. Immutable.
	master *subprocess

	// pool holds address spaces made in advance.
	pool spacePool

	// cpus are the CPUs the sentry may run on. Immutable.
	cpus []int

	// nextCPU picks the CPU of the next application thread, round-robin.
	nextCPU atomic.Uint32
}

// pinCallerThread pins the calling OS thread to the next CPU in turn.
//
// Preconditions: the caller is locked to its OS thread for good.
func (p *Platform) pinCallerThread() {
	if len(p.cpus) < 2 {
		return
	}
	cpu := p.cpus[int(p.nextCPU.Add(1)-1)%len(p.cpus)]
	var set unix.CPUSet
	set.Set(cpu)
	// Failing to pin costs speed, not correctness.
	_ = unix.SchedSetaffinity(0, &set)
}

// allowedCPUs returns the CPUs the sentry may run on.
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus
}

// New creates the platform: the memory file and the master stub.
func New() (*Platform, error) {
	if err := addSIGCHLDNoStop(); err != nil {
		return nil, fmt.Errorf("adding SA_NOCLDSTOP to SIGCHLD: %w", err)
	}
	mf, err := platform.NewMemoryFile(platform.DefaultMemoryFileSize)
	if err != nil {
		return nil, err
	}
	p := &Platform{memFile: mf, sentryPID: os.Getpid(), minAddr: hostMinAddr(), cpus: allowedCPUs()}
	p.stubFD, err = unix.MemfdCreate("minisentry-stub", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if _, err := unix.Write(p.stubFD, buildStubELF()); err != nil {
		return nil, fmt.Errorf("writing the stub: %w", err)
	}
	p.stubPath = fmt.Sprintf("/proc/%d/fd/%d", p.sentryPID, p.stubFD)
	p.master, err = newSubprocess(p, func() (*thread, error) { return execStub(p) })
	if err != nil {
		return nil, fmt.Errorf("starting the master stub: %w", err)
	}
	p.startPool()
	return p, nil
}

// hostMinAddr returns the host's vm.mmap_min_addr, at least one page.
func hostMinAddr() usermem.Addr {
	min := usermem.Addr(usermem.PageSize)
	b, err := os.ReadFile("/proc/sys/vm/mmap_min_addr")
	if err != nil {
		return min
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || usermem.Addr(v) < min {
		return min
	}
	return usermem.Addr(v).MustRoundUp()
}

// Close releases the master stub. Address spaces already made stay valid
// until released.
func (p *Platform) Close() {
	p.stopPool()
	p.master.Release()
	unix.Close(p.stubFD)
}

// MemoryFile implements platform.Platform.MemoryFile.
func (p *Platform) MemoryFile() *platform.MemoryFile {
	return p.memFile
}

// MinUserAddress implements platform.Platform.MinUserAddress.
func (p *Platform) MinUserAddress() usermem.Addr {
	return p.minAddr
}

// MaxUserAddress implements platform.Platform.MaxUserAddress.
func (p *Platform) MaxUserAddress() usermem.Addr {
	return stubBase
}

// NewAddressSpace implements platform.Platform.NewAddressSpace. The new
// stub process is a fork of the master stub, which is several times cheaper
// than executing a new one (see BenchmarkNewAddressSpace), made in advance
// when possible (pool.go).
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	select {
	case sp := <-p.pool.ready:
		return sp, nil
	default:
		return p.forkSubprocess()
	}
}

// newAddressSpaceByExec makes an address space by executing a fresh stub,
// as the master is made. It exists to measure against NewAddressSpace.
func (p *Platform) newAddressSpaceByExec() (platform.AddressSpace, error) {
	return newSubprocess(p, func() (*thread, error) { return execStub(p) })
}

// NewContext implements platform.Platform.NewContext.
func (p *Platform) NewContext() platform.Context {
	return &context{}
}
