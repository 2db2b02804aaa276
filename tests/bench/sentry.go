package main

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/platform/ptrace"
	"github.com/minisentry/minisentry/usermem"
)

// onLockedThread runs f on a new goroutine locked to its OS thread, as a
// sentry task runs: ptrace accepts requests for a stub thread only from its
// tracer thread. The goroutine exits still locked, so the runtime ends that
// OS thread rather than reuse a thread that was a tracer.
func onLockedThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- f()
	}()
	return <-done
}

// pinThread binds the calling OS thread to the CPU it runs on, as the floor
// binds its tracer. The platform pins each stub thread to its tracer's CPU
// but leaves the tracer free, so the host may move the tracer at any wake-up.
// Pinning both shows what that freedom costs.
//
// Preconditions: the caller is locked to its OS thread and exits locked, so
// the affinity dies with the thread instead of passing to other goroutines.
func pinThread() error {
	cpu, err := currentCPU()
	if err != nil {
		return fmt.Errorf("getcpu: %w", err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity: %w", err)
	}
	return nil
}

// sandbox is one hand-assembled program in an address space of its own,
// with the Context that runs it.
type sandbox struct {
	p    *ptrace.Platform
	as   platform.AddressSpace
	ctx  platform.Context
	code platform.FileRange
}

// newSandbox loads code at codeAddr in a new address space.
func newSandbox(p *ptrace.Platform, code []byte) (*sandbox, error) {
	as, err := p.NewAddressSpace()
	if err != nil {
		return nil, fmt.Errorf("NewAddressSpace: %w", err)
	}
	mf := p.MemoryFile()
	fr, err := mf.Allocate(usermem.PageSize)
	if err != nil {
		as.Release()
		return nil, fmt.Errorf("allocating the code page: %w", err)
	}
	copy(mf.Window(fr), code)
	if err := as.MapFile(codeAddr, fr, usermem.AccessType{Read: true, Execute: true}); err != nil {
		mf.DecRef(fr)
		as.Release()
		return nil, err
	}
	ctx := p.NewContext()
	ctx.Regs().Rip = codeAddr
	return &sandbox{p: p, as: as, ctx: ctx, code: fr}, nil
}

// release frees everything the sandbox holds.
//
// Preconditions: called on the goroutine that switched to s.ctx, if any.
func (s *sandbox) release() {
	s.ctx.Release()
	s.as.Release()
	s.p.MemoryFile().DecRef(s.code)
}

// ready runs the program to its ready call. The first Switch also creates
// the stub thread, which the timed part must not include.
func (s *sandbox) ready() error {
	ev, err := s.ctx.Switch(s.as)
	if err != nil {
		return err
	}
	if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_GETPID {
		return fmt.Errorf("program start: got %v %d, want syscall getpid", ev.Type, ev.Sysno)
	}
	return nil
}

// exitedCleanly checks that the event that ended a program's loop is its
// exit_group(0), not a failure.
func exitedCleanly(ev platform.Event) error {
	if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_EXIT_GROUP {
		return fmt.Errorf("unexpected %v event (sysno %d, addr %#x, ip %#x)", ev.Type, ev.Sysno, ev.Addr, ev.IP)
	}
	if ev.Args[0] != 0 {
		return fmt.Errorf("program exited with status %d (a wrong getppid answer?)", ev.Args[0])
	}
	return nil
}

func perOp(d time.Duration, n int) float64 {
	return float64(d.Nanoseconds()) / float64(n)
}

// sentryGetppid runs getppidLoop(n), answering each call as the floor does,
// and returns the time per call: the platform's syscall round trip.
func sentryGetppid(p *ptrace.Platform, n int) (float64, error) {
	s, err := newSandbox(p, getppidLoop(uint32(n)))
	if err != nil {
		return 0, err
	}
	defer s.release()
	if err := s.ready(); err != nil {
		return 0, err
	}
	answered := 0
	start := time.Now()
	var ev platform.Event
	for {
		if ev, err = s.ctx.Switch(s.as); err != nil {
			return 0, err
		}
		if ev.Type != platform.EventSyscall || ev.Sysno != unix.SYS_GETPPID {
			break
		}
		s.ctx.Regs().Rax = answer
		answered++
	}
	elapsed := time.Since(start)
	if err := exitedCleanly(ev); err != nil {
		return 0, err
	}
	if answered != n {
		return 0, fmt.Errorf("answered %d getppid calls, want %d", answered, n)
	}
	return perOp(elapsed, n), nil
}

// sentryInject maps one page n times with MapFile, each an injected mmap.
// With ownThread, the calling thread first switches to the program, which
// makes it the tracer of a stub thread in the address space: MapFile then
// injects into that thread directly, as a task mapping its own memory does.
// Without, every MapFile is handed to the address space's control goroutine.
func sentryInject(p *ptrace.Platform, n int, ownThread bool) (float64, error) {
	s, err := newSandbox(p, readyOnly())
	if err != nil {
		return 0, err
	}
	defer s.release()
	if ownThread {
		if err := s.ready(); err != nil {
			return 0, err
		}
	}
	fr, err := p.MemoryFile().Allocate(usermem.PageSize)
	if err != nil {
		return 0, err
	}
	defer p.MemoryFile().DecRef(fr)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := s.as.MapFile(dataAddr, fr, usermem.ReadWrite); err != nil {
			return 0, err
		}
	}
	return perOp(time.Since(start), n), nil
}

// sentryFault runs touchPages(pages), mapping exactly the faulting page at
// each fault, and returns the time per fault: the stop, the injected mmap
// and the resumed access that now succeeds.
func sentryFault(p *ptrace.Platform, pages int) (float64, error) {
	s, err := newSandbox(p, touchPages(uint32(pages)))
	if err != nil {
		return 0, err
	}
	defer s.release()
	region, err := p.MemoryFile().Allocate(uint64(pages) * usermem.PageSize)
	if err != nil {
		return 0, err
	}
	defer p.MemoryFile().DecRef(region)
	if err := s.ready(); err != nil {
		return 0, err
	}
	faults := 0
	start := time.Now()
	var ev platform.Event
	for {
		if ev, err = s.ctx.Switch(s.as); err != nil {
			return 0, err
		}
		if ev.Type != platform.EventFault {
			break
		}
		if err := mapFaultingPage(s.as, region, ev.Addr); err != nil {
			return 0, err
		}
		faults++
	}
	elapsed := time.Since(start)
	if err := exitedCleanly(ev); err != nil {
		return 0, err
	}
	if faults != pages {
		return 0, fmt.Errorf("took %d faults, want %d", faults, pages)
	}
	return perOp(elapsed, pages), nil
}

// mapFaultingPage maps the page of region that backs addr, where region
// stands for [dataAddr, dataAddr+region.Length()).
func mapFaultingPage(as platform.AddressSpace, region platform.FileRange, addr usermem.Addr) error {
	page := addr.RoundDown()
	if page < dataAddr || uint64(page-dataAddr) >= region.Length() {
		return fmt.Errorf("fault at %#x, outside the touched region", addr)
	}
	off := region.Start + uint64(page-dataAddr)
	return as.MapFile(page, platform.FileRange{Start: off, End: off + usermem.PageSize}, usermem.ReadWrite)
}

// sentrySpace makes and releases n address spaces and returns the time per
// address space: of NewAddressSpace alone, or with withRelease of
// NewAddressSpace and Release together.
func sentrySpace(p *ptrace.Platform, n int, withRelease bool) (float64, error) {
	var elapsed time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		as, err := p.NewAddressSpace()
		if err != nil {
			return 0, err
		}
		if !withRelease {
			elapsed += time.Since(start)
		}
		as.Release()
		if withRelease {
			elapsed += time.Since(start)
		}
	}
	return perOp(elapsed, n), nil
}
