// Package kernel is minisentry's model of a Linux kernel: tasks (one per
// application thread) grouped into thread groups, the system call table and
// its dispatch, file descriptor tables, and the Copy* wrappers through which
// system call handlers reach application memory.
//
// Each Task runs on a goroutine of its own, locked to one OS thread for its
// whole life, because the ptrace platform's stub thread for the task
// accepts ptrace requests only from that OS thread. The task goroutine loops
// in Task.run: switch to the application until it stops, then handle the
// stop (a system call, a page fault, a signal) in Go, and switch back.
//
// Handlers (package syscalls/linux) use application memory in one of the
// seed's three ways only: the Task's Copy* wrappers; a usermem.IOSequence
// built by Task.SingleIOSequence or Task.IovecsIOSequence and handed to a
// file; or, where the application's protections must be ignored,
// Task.MemoryManager() with usermem.IOOpts.IgnorePermissions.
//
// Lock order: Kernel.mu, then ThreadGroup.mu, then FDTable.mu.
package kernel

import (
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel/futex"
	"github.com/minisentry/minisentry/kernel/trace"
	"github.com/minisentry/minisentry/platform"
)

// ThreadID is a task's id in the sandbox's pid namespace. The first task is
// 1, as the first process of a new pid namespace is on Linux; later tasks
// count up from there.
type ThreadID int32

// Config is what a Kernel is made of.
type Config struct {
	// Platform runs application code.
	Platform platform.Platform

	// Syscalls is the system call table.
	Syscalls *SyscallTable

	// Log receives the sentry's own log lines and, at Info level, the
	// strace lines.
	Log *logrus.Logger

	// Strace, if non-nil, traces system calls.
	Strace *StraceConfig

	// Stats, if non-nil, counts and times system calls (--stats).
	Stats *SyscallStats

	// Report, if non-nil, records how each system call was handled and
	// where it was first made (--report).
	Report *Report

	// Trace, if non-nil, records a timeline of the sandbox (--trace).
	Trace *trace.Recorder

	// Synthetic, if non-nil, serves /proc and /dev.
	Synthetic SyntheticFS

	// Root is the application's file system: every path below "/" that
	// Synthetic does not serve is looked up in it. Required.
	Root *fs.Root

	// ExplainCrashes makes a death by SIGSEGV or SIGBUS log, as a warning,
	// why the access failed.
	ExplainCrashes bool

	// MaxTasks, if positive, bounds the tasks of the sandbox, live ones
	// and processes not yet reaped, as RLIMIT_NPROC bounds a user's:
	// clone, fork and vfork past it fail with EAGAIN.
	MaxTasks int
}

// Kernel is one sandbox: the tasks of one application, the platform they
// run on, and how the sandbox ends.
type Kernel struct {
	// Config is immutable after NewKernel.
	Config

	// futexes holds the futex waiter queues of every address space of the
	// sandbox: one manager, because shared futexes cross processes.
	// Immutable.
	futexes *futex.Manager

	// observing is set if any of Strace, Stats, Report or Trace is: the
	// one test the system call path makes for them (observe.go).
	// Immutable.
	observing bool

	// mu is the process tree lock: it protects the fields below and the
	// tree fields of every ThreadGroup (parents, children, tasks, zombies).
	mu sync.Mutex

	// tasks holds every live task by id.
	tasks map[ThreadID]*Task

	// nextTID is the id the next task gets.
	nextTID ThreadID

	// zombies counts the processes that have exited and wait to be
	// reaped, which MaxTasks counts with the live tasks.
	zombies int

	// init is the first process, pid 1: orphans are reparented to it, and
	// the sandbox ends when it does.
	init *ThreadGroup

	// unknownSyscalls records syscall numbers already reported as not
	// implemented, so that each is logged once.
	unknownSyscalls map[uintptr]bool

	// exitStatus is how the sandbox ended; valid once done is closed.
	exitStatus ExitStatus

	// err is a sentry failure that ended the sandbox, if any; valid once
	// done is closed.
	err error

	// done is closed when the last task has exited.
	done chan struct{}
}

// ExitStatus is how a thread group ended.
type ExitStatus struct {
	// Code is the status given to exit or exit_group.
	Code int
	// Signo is the signal that killed the group, or 0.
	Signo int
	// Core is set if the signal's default action dumps core.
	Core bool
}

// ShellStatus returns the status a shell would report: the exit code, or
// 128 plus the number of the signal that killed the program.
func (es ExitStatus) ShellStatus() int {
	if es.Signo != 0 {
		return 128 + es.Signo
	}
	return es.Code & 0xff
}

// WaitStatus returns the status as wait4(2) encodes it.
func (es ExitStatus) WaitStatus() uint32 {
	if es.Signo != 0 {
		ws := uint32(es.Signo) & 0x7f
		if es.Core {
			ws |= 0x80
		}
		return ws
	}
	return uint32(es.Code&0xff) << 8
}

// NewKernel returns a kernel with no tasks.
func NewKernel(cfg Config) *Kernel {
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	return &Kernel{
		Config:          cfg,
		futexes:         futex.NewManager(),
		tasks:           make(map[ThreadID]*Task),
		nextTID:         1,
		unknownSyscalls: make(map[uintptr]bool),
		done:            make(chan struct{}),
		observing:       cfg.Strace != nil || cfg.Stats != nil || cfg.Report != nil || cfg.Trace != nil,
	}
}

// Futexes returns the kernel's futex manager.
func (k *Kernel) Futexes() *futex.Manager {
	return k.futexes
}

// Wait blocks until the sandbox has ended and returns how: the first
// process's exit status, or the error that made the sentry end it.
func (k *Kernel) Wait() (ExitStatus, error) {
	<-k.done
	return k.exitStatus, k.err
}

// Kill ends every task of the sandbox. It is how a sentry failure, or the
// end of the first process, ends the sandbox.
func (k *Kernel) Kill(err error) {
	k.mu.Lock()
	if k.err == nil {
		k.err = err
	}
	groups := make(map[*ThreadGroup]struct{})
	for _, t := range k.tasks {
		groups[t.tg] = struct{}{}
	}
	k.mu.Unlock()
	for tg := range groups {
		tg.requestExit(ExitStatus{Signo: sigkill})
	}
}

// addTaskLocked registers t under a new id.
//
// Preconditions: k.mu is locked.
func (k *Kernel) addTaskLocked(t *Task) {
	t.tid = k.nextTID
	k.nextTID++
	k.tasks[t.tid] = t
	t.tg.tasks[t] = struct{}{}
	if k.init == nil {
		k.init = t.tg
	}
}

// atTaskLimit reports whether the sandbox has as many tasks as MaxTasks
// allows.
func (k *Kernel) atTaskLimit() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.atTaskLimitLocked()
}

// atTaskLimitLocked is atTaskLimit.
//
// Preconditions: k.mu is locked.
func (k *Kernel) atTaskLimitLocked() bool {
	return k.MaxTasks > 0 && len(k.tasks)+k.zombies >= k.MaxTasks
}

// TaskCount returns the number of live tasks.
func (k *Kernel) TaskCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.tasks)
}

// reportUnknownSyscall logs the first use of a syscall number that is not
// in the table. The line goes to the log at Info level, shown with --debug
// or --strace: the program's own standard error must stay its own.
func (k *Kernel) reportUnknownSyscall(t *Task, sysno uintptr) {
	k.mu.Lock()
	seen := k.unknownSyscalls[sysno]
	k.unknownSyscalls[sysno] = true
	k.mu.Unlock()
	if !seen {
		t.log().WithField("sysno", sysno).Infof("unsupported system call %s: returning ENOSYS", k.Syscalls.Name(sysno))
	}
}

// sentryError ends the sandbox because the sentry itself failed.
func (k *Kernel) sentryError(t *Task, err error) {
	k.Kill(fmt.Errorf("task %d: %w", t.tid, err))
}
