package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// stubMemoryFD is the descriptor number at which every stub process holds
// the memory file. Injected mmaps name it.
const stubMemoryFD = 3

// threadCloneFlags are the flags of a new stub thread: it shares
// everything with the stub process, as an application thread does.
const threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

// errReleased is returned for work on an address space after Release.
var errReleased = errors.New("address space released")

// subprocess is an AddressSpace: one stub process. Its first thread, the
// control thread, never runs application code; it is traced by a goroutine
// of its own (locked to its OS thread) that performs the work no other
// thread can do for the process: creating new stub threads, and injecting
// syscalls for callers that have no stub thread here.
//
// Application threads get stub threads of their own, each traced by the OS
// thread of the task that runs it. A task that maps memory into its own
// process injects the mmap into its own stub thread, with no hand-off.
type subprocess struct {
	// p is the platform. Immutable.
	p *Platform

	// pid is the stub process's pid. Immutable.
	pid int32

	// control is the control thread. Immutable; used only on the control
	// goroutine.
	control *thread

	// requests carries functions to run on the control goroutine. Closed by
	// Release.
	requests chan func(*thread)

	// spare holds the tids of stub threads cloned in advance, waiting to
	// be seized (pool.go).
	spare chan int32

	// mu protects the fields below.
	mu sync.Mutex

	// threads maps the tid of a sentry OS thread to the stub thread it
	// traces in this process.
	threads map[int32]*thread

	// contexts holds the Contexts that have faulted here, so that Unmap can
	// reset their fault heuristics.
	contexts map[*context]struct{}

	// released is set by Release.
	released bool
}

// newSubprocess starts the control goroutine, which calls create on its own
// locked OS thread to make the control thread, and then serves requests
// until Release.
func newSubprocess(p *Platform, create func() (*thread, error)) (*subprocess, error) {
	type result struct {
		t   *thread
		err error
	}
	started := make(chan result, 1)
	s := &subprocess{
		p:        p,
		requests: make(chan func(*thread)),
		spare:    make(chan int32, 1),
		threads:  make(map[int32]*thread),
		contexts: make(map[*context]struct{}),
	}
	go func() {
		// Never unlocked: when this goroutine returns, the Go runtime ends
		// the OS thread, and with it the tracing of the control thread.
		runtime.LockOSThread()
		t, err := create()
		started <- result{t, err}
		if err != nil {
			return
		}
		s.cloneSpareThread(t)
		for req := range s.requests {
			req(t)
		}
	}()
	r := <-started
	if r.err != nil {
		return nil, r.err
	}
	s.pid, s.control = r.t.tgid, r.t
	return s, nil
}

// run calls f with the control thread on the control goroutine and returns
// its error.
func (s *subprocess) run(f func(*thread) error) error {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return errReleased
	}
	done := make(chan error, 1)
	// Sending under mu keeps Release from closing the channel under us.
	s.requests <- func(t *thread) { done <- f(t) }
	s.mu.Unlock()
	return <-done
}

// async runs f on the control goroutine without waiting for it; nothing
// happens if the address space is released.
func (s *subprocess) async(f func(*thread)) {
	go func() {
		// As in run: sending under mu keeps Release from closing the
		// channel under us.
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.released {
			s.requests <- f
		}
	}()
}

// syscall injects a system call into the process: into the caller's own
// stub thread when it has one here, through the control goroutine
// otherwise.
func (s *subprocess) syscall(sysno uintptr, args ...uintptr) (uintptr, error) {
	tid := int32(unix.Gettid())
	s.mu.Lock()
	t := s.threads[tid]
	s.mu.Unlock()
	if t != nil {
		// Only a goroutine locked to its OS thread can be a tracer, so the
		// caller is the owner of t and t is stopped.
		return t.syscall(sysno, args...)
	}
	var ret uintptr
	err := s.run(func(t *thread) error {
		var err error
		ret, err = t.syscall(sysno, args...)
		return err
	})
	return ret, err
}

// MapFile implements platform.AddressSpace.MapFile.
func (s *subprocess) MapFile(addr usermem.Addr, fr platform.FileRange, at usermem.AccessType) error {
	end, ok := addr.AddLength(fr.Length())
	if !ok || addr < s.p.MinUserAddress() || end > s.p.MaxUserAddress() || !addr.IsPageAligned() || fr.Length() == 0 {
		// The stub page must stay out of the application's reach, whatever
		// the memory manager asks.
		return fmt.Errorf("MapFile(%#x, %v): %w", addr, fr, unix.EINVAL)
	}
	got, err := s.syscall(unix.SYS_MMAP, uintptr(addr), uintptr(fr.Length()), uintptr(at.Prot()),
		unix.MAP_SHARED|unix.MAP_FIXED, stubMemoryFD, uintptr(fr.Start))
	if err != nil {
		return fmt.Errorf("MapFile(%#x, %v, %v): %w", addr, fr, at, err)
	}
	if got != uintptr(addr) {
		return fmt.Errorf("MapFile(%#x, %v): mapped at %#x", addr, fr, got)
	}
	return nil
}

// Unmap implements platform.AddressSpace.Unmap.
func (s *subprocess) Unmap(addr usermem.Addr, length uint64) {
	ar, ok := addr.ToRange(length)
	if !ok || length == 0 {
		return
	}
	ar = ar.Intersect(usermem.AddrRange{Start: s.p.MinUserAddress(), End: s.p.MaxUserAddress()})
	if ar.Length() == 0 {
		return
	}
	// A fault at an address that was unmapped since is not the second
	// attempt of one access: forget it, or the next fault there would be
	// taken for a write.
	s.mu.Lock()
	for c := range s.contexts {
		c.forgetFaultIn(s, ar)
	}
	s.mu.Unlock()
	// munmap of a mapped, page-aligned range in the user range cannot fail
	// unless the stub is gone, which the next Switch reports.
	s.syscall(unix.SYS_MUNMAP, uintptr(ar.Start), uintptr(ar.Length()))
}

// Release implements platform.AddressSpace.Release. It kills the stub
// process; the control goroutine reaps it in the background.
//
// Release does not wait for the reaping: the control thread is the
// process's leader, and the host reports a leader's death only once every
// other thread has been reaped by its own tracer. A task whose stub thread
// is still in the process (an execve drops the old address space before
// the task's next switch detaches from it) reaps that thread later, on its
// own OS thread; waiting here would deadlock with it.
func (s *subprocess) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	s.requests <- func(t *thread) {
		unix.Kill(int(t.tgid), unix.SIGKILL)
		for {
			if _, err := t.waitStatus(); err != nil {
				break
			}
			ptraceRaw(unix.PTRACE_CONT, t.tid, 0, 0)
		}
	}
	close(s.requests)
	s.threads = nil
	s.contexts = nil
}

// newThread creates a stub thread traced by the calling OS thread, which
// must be locked to its goroutine: a spare one cloned in advance if there
// is one (the control goroutine then clones the next spare, in the
// background), else a new one.
func (s *subprocess) newThread() (*thread, error) {
	var tid uintptr
	select {
	case spare := <-s.spare:
		tid = uintptr(spare)
		s.async(s.cloneSpareThread)
	default:
		if err := s.run(func(t *thread) error {
			var err error
			tid, err = t.syscallAt(stubCloneAddr, unix.SYS_CLONE, threadCloneFlags, 0, 0, 0, 0)
			return err
		}); err != nil {
			return nil, fmt.Errorf("creating a stub thread: %w", err)
		}
	}
	t, err := seize(s.pid, int32(tid), &s.control.initRegs)
	if err != nil {
		unix.Tgkill(int(s.pid), int(tid), unix.SIGKILL)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil, errReleased
	}
	s.threads[int32(unix.Gettid())] = t
	return t, nil
}

// dropThread forgets t, whose tracer is the calling OS thread.
func (s *subprocess) dropThread(t *thread, c *context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.threads != nil && s.threads[int32(unix.Gettid())] == t {
		delete(s.threads, int32(unix.Gettid()))
	}
	if s.contexts != nil {
		delete(s.contexts, c)
	}
}

// addContext records that c runs in s.
func (s *subprocess) addContext(c *context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contexts != nil {
		s.contexts[c] = struct{}{}
	}
}

// execStub starts a stub process by executing the stub ELF, with the
// calling OS thread as its tracer, and cleans its address space down to
// the stub page. Only the master stub is made this way.
//
// Preconditions: the caller is locked to its OS thread.
func execStub(p *Platform) (*thread, error) {
	devNull, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(devNull)
	fds := []uintptr{uintptr(devNull), uintptr(devNull), uintptr(devNull), uintptr(p.memFile.FD())}
	pid, err := forkExecTraced(p.stubPath, fds)
	if err != nil {
		return nil, fmt.Errorf("starting the stub: %w", err)
	}
	t := &thread{tgid: int32(pid), tid: int32(pid), cpu: -1}
	cleanup := func(err error) (*thread, error) {
		unix.Kill(pid, unix.SIGKILL)
		t.waitStatus()
		return nil, err
	}
	// PTRACE_TRACEME makes the new program stop with SIGTRAP before its
	// first instruction.
	status, err := t.waitStatus()
	if err != nil {
		return nil, fmt.Errorf("waiting for the stub: %w", err)
	}
	if status.StopSignal() != unix.SIGTRAP {
		return cleanup(fmt.Errorf("stub stopped with status %#x, want SIGTRAP", uint32(status)))
	}
	if err := ptraceRaw(unix.PTRACE_SETOPTIONS, t.tid, 0, traceOptions); err != nil {
		return cleanup(fmt.Errorf("PTRACE_SETOPTIONS: %w", err))
	}
	if err := getRegs(t.tid, &t.initRegs); err != nil {
		return cleanup(fmt.Errorf("PTRACE_GETREGS: %w", err))
	}
	steps := []struct {
		what  string
		sysno uintptr
		args  []uintptr
	}{
		// Everything the host mapped for the stub except its own page:
		// stack, vdso, vvar.
		{"unmapping below the stub", unix.SYS_MUNMAP, []uintptr{0, stubBase}},
		{"unmapping above the stub", unix.SYS_MUNMAP, []uintptr{stubEnd, maxHostUserAddress - stubEnd}},
		// Stubs forked from this one are reaped by the host when they die.
		{"ignoring SIGCHLD", unix.SYS_RT_SIGACTION, []uintptr{uintptr(unix.SIGCHLD), stubSigactionAddr, 0, 8}},
		{"setting no_new_privs", unix.SYS_PRCTL, []uintptr{unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0}},
		{"installing the seccomp filter", unix.SYS_SECCOMP, []uintptr{unix.SECCOMP_SET_MODE_FILTER, 0, stubFprogAddr}},
	}
	for _, step := range steps {
		if _, err := t.syscall(step.sysno, step.args...); err != nil {
			return cleanup(fmt.Errorf("%s: %w", step.what, err))
		}
	}
	return t, nil
}
