package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
)

// ThreadGroup is a process: the tasks that share a pid, signal actions and
// resource limits.
type ThreadGroup struct {
	// leader is the task whose id is the group's pid. Immutable.
	leader *Task

	// mu protects the fields below.
	mu sync.Mutex

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
}

func newThreadGroup(leader *Task) *ThreadGroup {
	tg := &ThreadGroup{leader: leader, dumpable: 1}
	tg.limits = hostLimits()
	return tg
}

// ID returns the group's pid.
func (tg *ThreadGroup) ID() ThreadID {
	return tg.leader.tid
}

// ParentID returns the pid of the group's parent: 0 for the first process,
// whose parent is outside the sandbox.
func (tg *ThreadGroup) ParentID() ThreadID {
	return 0
}

// requestExit tells every task of the group to end, with status as the
// group's exit status unless a reason was already given.
func (tg *ThreadGroup) requestExit(status ExitStatus) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if !tg.exiting {
		tg.exiting = true
		tg.status = status
	}
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
