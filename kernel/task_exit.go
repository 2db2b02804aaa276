package kernel

import (
	"golang.org/x/sys/unix"
)

// PrepareExit makes the task end after the current system call, as
// exit(2). The process ends with its last task.
func (t *Task) PrepareExit(code int) {
	t.exitRequested = true
	t.exitCode = code
}

// PrepareGroupExit makes every task of the group end after the current
// system call, as exit_group(2).
func (t *Task) PrepareGroupExit(code int) {
	t.tg.requestExit(ExitStatus{Code: code})
}

// exit ends the task: its stub thread, its share of the address space and
// file table, and its place in the process tree. The last task of a
// process makes it a zombie for its parent to reap.
func (t *Task) exit() {
	t.releaseVforkParent()
	t.pctx.Release()
	t.exitRobustList()
	if t.clearChildTID != 0 {
		// What pthread_join and the like wait for: the thread id cleared,
		// and a futex wake on it.
		var zero uint32
		if _, err := t.CopyOut(t.clearChildTID, zero); err == nil {
			t.k.wakeFutexOnExit(t, t.clearChildTID)
		}
	}
	t.mm.DecUsers(t)
	t.fdTable.DecRef()
	t.fsContext.DecRef()

	k := t.k
	var kill []*ThreadGroup
	k.mu.Lock()
	tg := t.tg
	delete(k.tasks, t.tid)
	delete(tg.tasks, t)
	close(tg.threadsChanged)
	tg.threadsChanged = make(chan struct{})
	if len(tg.tasks) == 0 {
		tg.mu.Lock()
		tg.setExitCodeLocked(t.exitCode)
		tg.mu.Unlock()
		tg.stopTimers()
		kill = tg.exitedLocked()
	}
	last := len(k.tasks) == 0
	k.mu.Unlock()

	for _, other := range kill {
		other.requestExit(ExitStatus{Signo: sigkill})
	}
	if last {
		close(k.done)
	}
}

// releaseVforkParent lets the task that made t with CLONE_VFORK go on: t
// is executing a new program or exiting, and so no longer borrows its
// memory (Linux's mm_release).
func (t *Task) releaseVforkParent() {
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
}

// exitedLocked turns a process whose last task has exited into a zombie:
// its children go to init, its parent is told. The first process ending
// ends the sandbox: it returns the other processes, which must be killed,
// as Linux kills a pid namespace whose init dies.
//
// Preconditions: k.mu is locked; tg has no tasks.
func (tg *ThreadGroup) exitedLocked() []*ThreadGroup {
	k := tg.k
	var kill []*ThreadGroup
	if tg == k.init {
		k.exitStatus = tg.exitStatus()
		for _, t := range k.tasks {
			kill = append(kill, t.tg)
		}
	}
	for child := range tg.children {
		delete(tg.children, child)
		if tg == k.init {
			child.parent = nil
			continue
		}
		child.parent = k.init
		k.init.children[child] = struct{}{}
		if child.zombie {
			k.init.notifyChildEventLocked()
		}
	}
	parent := tg.parent
	if parent == nil {
		return kill
	}
	if parent.ignoresChildrenLocked() {
		// SIGCHLD ignored or SA_NOCLDWAIT: the process is reaped at once
		// (waitpid in the parent then fails with ECHILD).
		delete(parent.children, tg)
	} else {
		tg.zombie = true
		k.zombies++
	}
	// The parent is told before a wait can find the zombie.
	status := tg.exitStatus()
	code, value := int32(cldExited), int32(status.Code)
	if status.Signo != 0 {
		code, value = cldKilled, int32(status.Signo)
		if status.Core {
			code = cldDumped
		}
	}
	parent.sendChildSignalLocked(tg, code, value)
	parent.notifyChildEventLocked()
	return kill
}

// ignoresChildrenLocked reports whether the process reaps its children
// automatically: SIGCHLD set to SIG_IGN, or SA_NOCLDWAIT on it.
//
// Preconditions: k.mu is locked.
func (tg *ThreadGroup) ignoresChildrenLocked() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	act := tg.actions[unix.SIGCHLD-1]
	return act.Handler == SigIgn || act.Flags&SANoCldWait != 0
}
