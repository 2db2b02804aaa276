package kernel

import (
	"golang.org/x/sys/unix"
)

// WaitOptions select the children wait4(2) and waitid(2) wait for.
type WaitOptions struct {
	// Pid is wait4's pid: > 0 one child, -1 any child, 0 the caller's
	// process group, < -1 process group -Pid.
	Pid int32

	// NoHang returns at once if no child has exited (WNOHANG).
	NoHang bool

	// IgnoreExits leaves exited children unreported (waitid without
	// WEXITED); they still count as children that match.
	IgnoreExits bool

	// NoWait leaves the child a zombie (waitid's WNOWAIT).
	NoWait bool

	// Stopped and Continued also report children that stopped or
	// continued since the last report (WUNTRACED, WCONTINUED).
	Stopped   bool
	Continued bool

	// Clone and All choose between children that report with SIGCHLD and
	// the others (__WCLONE, __WALL).
	Clone bool
	All   bool
}

// WaitResult is a reaped child.
type WaitResult struct {
	// Pid is the child's pid, 0 if NoHang found none.
	Pid ThreadID
	// Status is how it ended.
	Status ExitStatus
	// Report, if not 0, replaces Status: the wait status of a stop or
	// continue.
	Report uint32
	// UID is its user id, for waitid's siginfo.
	UID uint32
}

// Wait waits for a child process to end, as wait4(2) and waitid(2):
// ECHILD if no child matches, EINTR if the task is interrupted first.
// Stopped and continued children are not reported: job control does not
// exist yet.
func (t *Task) Wait(opts WaitOptions) (WaitResult, error) {
	k := t.k
	for {
		k.mu.Lock()
		matched := false
		for child := range t.tg.children {
			if !t.waitMatchesLocked(child, opts) {
				continue
			}
			matched = true
			if !child.zombie || opts.IgnoreExits {
				if report := child.takeWaitReport(opts); report != 0 {
					res := WaitResult{Pid: child.leader.tid, Report: report, UID: child.leader.creds.UID}
					k.mu.Unlock()
					return res, nil
				}
				continue
			}
			res := WaitResult{Pid: child.leader.tid, Status: child.exitStatus(), UID: child.leader.creds.UID}
			if !opts.NoWait {
				delete(t.tg.children, child)
				k.zombies--
			}
			k.mu.Unlock()
			return res, nil
		}
		ch := t.tg.childEvent
		k.mu.Unlock()
		switch {
		case !matched:
			return WaitResult{}, unix.ECHILD
		case opts.NoHang:
			return WaitResult{}, nil
		}
		select {
		case <-ch:
		case <-t.Done():
			return WaitResult{}, unix.EINTR
		}
	}
}

// takeWaitReport returns the stop or continue report opts asks for, if
// one is waiting, and clears it (unless NoWait).
func (tg *ThreadGroup) takeWaitReport(opts WaitOptions) uint32 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	r := tg.waitReport
	if r == 0 || r == 0xffff && !opts.Continued || r != 0xffff && !opts.Stopped {
		return 0
	}
	if !opts.NoWait {
		tg.waitReport = 0
	}
	return r
}

// WaitStatus returns the result as wait4(2) encodes it.
func (r WaitResult) WaitStatus() uint32 {
	if r.Report != 0 {
		return r.Report
	}
	return r.Status.WaitStatus()
}

// waitMatchesLocked reports whether child is one opts waits for.
//
// Preconditions: k.mu is locked.
func (t *Task) waitMatchesLocked(child *ThreadGroup, opts WaitOptions) bool {
	switch {
	case opts.Pid > 0 && child.leader.tid != ThreadID(opts.Pid):
		return false
	case opts.Pid == 0 && child.pgid != t.tg.pgid:
		return false
	case opts.Pid < -1 && child.pgid != ThreadID(-opts.Pid):
		return false
	}
	if opts.All {
		return true
	}
	// A "clone" child is one that does not report with SIGCHLD.
	isClone := child.exitSignal != int(unix.SIGCHLD)
	return isClone == opts.Clone
}
