package kernel

import "golang.org/x/sys/unix"

// Process groups and sessions, as setpgid(2) and setsid(2) keep them. They
// matter to shells and to wait4(0, ...); there is no terminal to control.

// processLocked returns the live process whose pid is pid.
//
// Preconditions: k.mu is locked.
func (k *Kernel) processLocked(pid ThreadID) *ThreadGroup {
	t, ok := k.tasks[pid]
	if !ok || t.tg.leader != t {
		return nil
	}
	return t.tg
}

// targetLocked returns the caller's process for pid 0, or process pid.
//
// Preconditions: k.mu is locked.
func (t *Task) targetLocked(pid ThreadID) (*ThreadGroup, error) {
	if pid == 0 {
		return t.tg, nil
	}
	if pid < 0 {
		return nil, unix.EINVAL
	}
	tg := t.k.processLocked(pid)
	if tg == nil {
		return nil, unix.ESRCH
	}
	return tg, nil
}

// ProcessGroup returns the process group of process pid (0: the caller).
func (t *Task) ProcessGroup(pid ThreadID) (ThreadID, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	tg, err := t.targetLocked(pid)
	if err != nil {
		return 0, err
	}
	return tg.pgid, nil
}

// Session returns the session of process pid (0: the caller).
func (t *Task) Session(pid ThreadID) (ThreadID, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	tg, err := t.targetLocked(pid)
	if err != nil {
		return 0, err
	}
	return tg.sid, nil
}

// SetProcessGroup moves process pid (0: the caller), which must be the
// caller or one of its children in its session, to process group pgid
// (0: pid), which must exist in the same session unless it is pid itself.
func (t *Task) SetProcessGroup(pid, pgid ThreadID) error {
	if pgid < 0 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg, err := t.targetLocked(pid)
	if err != nil {
		return err
	}
	if tg != t.tg {
		if _, ok := t.tg.children[tg]; !ok {
			return unix.ESRCH
		}
		if tg.sid != t.tg.sid {
			return unix.EPERM
		}
		if tg.execed {
			return unix.EACCES
		}
	}
	if tg.sid == tg.leader.tid {
		// A session leader cannot change its group.
		return unix.EPERM
	}
	if pgid == 0 {
		pgid = tg.leader.tid
	}
	if pgid != tg.leader.tid {
		exists := false
		for _, other := range k.tasks {
			if other.tg.pgid == pgid && other.tg.sid == tg.sid {
				exists = true
				break
			}
		}
		if !exists {
			return unix.EPERM
		}
	}
	tg.pgid = pgid
	return nil
}

// NewSession makes the caller's process the leader of a new session and
// process group, as setsid(2); EPERM if it already leads a process group.
func (t *Task) NewSession() (ThreadID, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	pid := tg.leader.tid
	for _, other := range k.tasks {
		if other.tg.pgid == pid {
			return 0, unix.EPERM
		}
	}
	tg.sid, tg.pgid = pid, pid
	return pid, nil
}
