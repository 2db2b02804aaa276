package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
)

// ThreadGroup is a process: the tasks that share a pid, signal actions and
// resource limits, and its place in the process tree.
type ThreadGroup struct {
	// k is the kernel. Immutable.
	k *Kernel

	// The fields below, down to mu, are protected by Kernel.mu (the
	// process tree lock).

	// leader is the task whose id is the group's pid. It changes only when
	// another thread execs, taking the leader's place.
	leader *Task

	// tasks holds the group's live tasks.
	tasks map[*Task]struct{}

	// parent is the process that waits for this one; nil for the first
	// process.
	parent *ThreadGroup

	// children are the processes this one may wait for, zombies included.
	children map[*ThreadGroup]struct{}

	// exitSignal is the signal the parent gets when this process ends
	// (SIGCHLD, or what clone(2) named; 0 for none).
	exitSignal int

	// zombie is set once every task has exited and the process waits to be
	// reaped.
	zombie bool

	// execed is set once the process has called execve: its parent may
	// no longer change its process group (setpgid's EACCES).
	execed bool

	// pgid and sid are the process group and session.
	pgid ThreadID
	sid  ThreadID

	// childEvent is closed, and replaced, whenever a child changes state,
	// to wake wait4 callers.
	childEvent chan struct{}

	// threadsChanged is closed, and replaced, whenever a task of the group
	// exits, to wake an execve waiting for the others to go.
	threadsChanged chan struct{}

	// mu protects the fields below.
	mu sync.Mutex

	// execing is the task performing an execve, which the other tasks
	// must leave to.
	execing *Task

	// exiting is set once the group has been told to end (exit_group, a
	// fatal signal); status says how it ends. The first reason wins.
	exiting bool
	status  ExitStatus

	// actions are the signal actions, index N-1 for signal N.
	actions [numSignals]SigAction

	// limits are the resource limits, indexed by RLIMIT_*.
	limits [rlimitCount]Rlimit

	// dumpable is prctl(PR_SET_DUMPABLE)'s value, 1 by default.
	dumpable int32

	// pending are the signals sent to the process as a whole.
	pending pendingSignals

	// stopped is set while the process is stopped by a stop signal;
	// continued is closed when it resumes. stopSignal is the signal that
	// stopped it.
	stopped    bool
	continued  chan struct{}
	stopSignal int

	// waitReport is a stop or continue that the parent's wait has not
	// reported yet (wait4's WUNTRACED and WCONTINUED); 0 for none.
	waitReport uint32

	// timers are the interval timers and POSIX timers (timers.go).
	// Protected by mu, but for timers.sendMu, which is a lock of its own.
	timers processTimers
}

// newThreadGroup returns a group with no tasks yet.
func newThreadGroup(k *Kernel, parent *ThreadGroup) *ThreadGroup {
	tg := &ThreadGroup{
		k:              k,
		tasks:          make(map[*Task]struct{}),
		children:       make(map[*ThreadGroup]struct{}),
		parent:         parent,
		exitSignal:     int(unix.SIGCHLD),
		childEvent:     make(chan struct{}),
		threadsChanged: make(chan struct{}),
		dumpable:       1,
	}
	if parent != nil {
		parent.mu.Lock()
		tg.actions = parent.actions
		tg.limits = parent.limits
		parent.mu.Unlock()
	} else {
		tg.limits = hostLimits()
	}
	return tg
}

// ID returns the group's pid.
func (tg *ThreadGroup) ID() ThreadID {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.leader.tid
}

// ParentID returns the pid of the group's parent: 0 for the first process,
// whose parent is outside the sandbox, and for orphans, whose parent the
// sandbox's init (pid 1) became.
func (tg *ThreadGroup) ParentID() ThreadID {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	if tg.parent == nil {
		return 0
	}
	return tg.parent.leader.tid
}

// notifyChildEventLocked wakes the group's wait4 callers.
//
// Preconditions: Kernel.mu is locked.
func (tg *ThreadGroup) notifyChildEventLocked() {
	close(tg.childEvent)
	tg.childEvent = make(chan struct{})
}

// requestExit tells every task of the group to end, with status as the
// group's exit status unless a reason was already given. It returns
// whether this call set the reason.
func (tg *ThreadGroup) requestExit(status ExitStatus) bool {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.requestExitLocked(status)
}

// requestExitLocked is requestExit for a caller that holds the kernel's
// lock.
//
// Preconditions: Kernel.mu is locked.
func (tg *ThreadGroup) requestExitLocked(status ExitStatus) bool {
	tg.mu.Lock()
	first := !tg.exiting
	if first {
		tg.exiting = true
		tg.status = status
	}
	tg.mu.Unlock()
	for t := range tg.tasks {
		t.interrupt()
	}
	return first
}

// mustLeave reports whether t must exit: its group is ending, or another
// of its tasks is executing a new program.
func (tg *ThreadGroup) mustLeave(t *Task) bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exiting || tg.execing != nil && tg.execing != t
}

// isExiting reports whether the group is ending.
func (tg *ThreadGroup) isExiting() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exiting
}

// exitStatus returns how the group ended.
func (tg *ThreadGroup) exitStatus() ExitStatus {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.status
}

// setExitCodeLocked records the exit code of a group whose last task
// called exit(2), unless an exit_group or a signal set the status already.
//
// Preconditions: tg.mu is locked.
func (tg *ThreadGroup) setExitCodeLocked(code int) {
	if !tg.exiting {
		tg.status = ExitStatus{Code: code}
	}
}

// memoryLimits returns the limits the memory manager enforces.
func (tg *ThreadGroup) memoryLimits() mm.Limits {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return mm.Limits{
		AS:    tg.limits[unix.RLIMIT_AS].Cur,
		Data:  tg.limits[unix.RLIMIT_DATA].Cur,
		Stack: tg.limits[unix.RLIMIT_STACK].Cur,
	}
}

// Dumpable returns the group's PR_GET_DUMPABLE value.
func (tg *ThreadGroup) Dumpable() int32 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.dumpable
}

// SetDumpable sets the group's PR_SET_DUMPABLE value.
func (tg *ThreadGroup) SetDumpable(d int32) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.dumpable = d
}
