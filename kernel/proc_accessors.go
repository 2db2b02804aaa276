package kernel

import (
	"slices"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

// What /proc (package kernel/procfs) reads of the process tree. /proc is
// read by one task about another, so every accessor here is safe from any
// goroutine: it takes the lock that protects what it reads, and returns a
// copy, a snapshot that may be stale by the time it is printed, as the
// contents of /proc are on Linux too.

// TaskByID returns the live task whose id is tid, or nil.
func (k *Kernel) TaskByID(tid ThreadID) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// ThreadGroups returns the sandbox's processes in pid order: those with
// live tasks, and the zombies their parents have not reaped yet, which
// /proc lists too.
func (k *Kernel) ThreadGroups() []*ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := make(map[*ThreadGroup]struct{})
	var tgs []*ThreadGroup
	add := func(tg *ThreadGroup) {
		if _, ok := seen[tg]; !ok {
			seen[tg] = struct{}{}
			tgs = append(tgs, tg)
		}
	}
	for _, t := range k.tasks {
		add(t.tg)
		for child := range t.tg.children {
			if child.zombie {
				add(child)
			}
		}
	}
	slices.SortFunc(tgs, func(a, b *ThreadGroup) int {
		return int(a.leader.tid - b.leader.tid)
	})
	return tgs
}

// ThreadGroupByID returns the process whose pid is pid, live or zombie,
// or nil.
func (k *Kernel) ThreadGroupByID(pid ThreadID) *ThreadGroup {
	if tg := k.TaskByID(pid).processOrNil(); tg != nil {
		return tg
	}
	for _, tg := range k.ThreadGroups() {
		if tg.ID() == pid {
			return tg
		}
	}
	return nil
}

// processOrNil returns t's process if t leads it, and nil otherwise (or
// for a nil t).
func (t *Task) processOrNil() *ThreadGroup {
	if t == nil {
		return nil
	}
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if t.tg.leader != t {
		return nil
	}
	return t.tg
}

// LastThreadID returns the id most recently given to a task, as the last
// field of /proc/loadavg shows it.
func (k *Kernel) LastThreadID() ThreadID {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nextTID - 1
}

// ProcessInfo is what /proc/PID/stat and status show of a process as a
// whole, read at one instant.
type ProcessInfo struct {
	// PID is the process's id: its leader's thread id.
	PID ThreadID
	// PPID is the parent's pid, 0 for a process whose parent is outside
	// the sandbox.
	PPID ThreadID
	// PGID and SID are the process group and the session.
	PGID, SID ThreadID
	// Threads are the ids of the live tasks, in order.
	Threads []ThreadID
	// Zombie is set for a process that has ended and waits to be reaped.
	Zombie bool
	// Stopped is set while a stop signal holds the process.
	Stopped bool
	// ExitSignal is the signal the parent gets when the process ends.
	ExitSignal int
	// ExitStatus is a zombie's wait status, as wait4(2) reports it.
	ExitStatus uint32
	// Ignored and Caught are the signals set to SIG_IGN and to a handler,
	// bit N-1 for signal N; Pending are those sent to the process as a
	// whole and not yet delivered.
	Ignored, Caught, Pending uint64
}

// ProcessInfo returns what /proc shows of the process.
func (tg *ThreadGroup) ProcessInfo() ProcessInfo {
	k := tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	info := ProcessInfo{
		PID:        tg.leader.tid,
		PGID:       tg.pgid,
		SID:        tg.sid,
		Zombie:     tg.zombie,
		ExitSignal: tg.exitSignal,
	}
	if tg.parent != nil {
		info.PPID = tg.parent.leader.tid
	}
	for t := range tg.tasks {
		info.Threads = append(info.Threads, t.tid)
	}
	slices.Sort(info.Threads)

	tg.mu.Lock()
	defer tg.mu.Unlock()
	info.Stopped = tg.stopped
	if tg.zombie {
		info.ExitStatus = tg.status.WaitStatus()
	}
	for i, act := range tg.actions {
		switch act.Handler {
		case SigIgn:
			info.Ignored |= 1 << i
		case SigDfl:
		default:
			info.Caught |= 1 << i
		}
	}
	info.Pending = tg.pending.set
	return info
}

// Leader returns the task whose id is the process's pid. Once the
// process has ended, it is the task that led it last, which has exited.
func (tg *ThreadGroup) Leader() *Task {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.leader
}

// TaskInfo is what /proc shows of one task, read at one instant.
type TaskInfo struct {
	// TID is the task's id.
	TID ThreadID
	// Comm is the task's name.
	Comm string
	// Executable is the absolute path of the program the task runs.
	Executable string
	// Argv and Envv are where the program's argument and environment
	// strings lie in its memory.
	Argv, Envv usermem.AddrRange
	// Creds are the task's user and group ids.
	Creds loader.Credentials
	// FDTable and FSContext are the task's descriptor table and working
	// directory. Each has a lock of its own; a table may be empty, if the
	// task has exited.
	FDTable   *FDTable
	FSContext *FSContext
	// Blocked is the signal mask; Pending are the signals sent to this
	// task alone and not yet delivered.
	Blocked, Pending uint64
	// NoNewPrivs is prctl(PR_SET_NO_NEW_PRIVS)'s flag.
	NoNewPrivs bool
}

// Info returns what /proc shows of the task. It may be called from any
// goroutine.
func (t *Task) Info() TaskInfo {
	info := TaskInfo{
		TID: t.ThreadID(),
		// The ids never change once the task exists: minisentry has no
		// setuid(2) and friends. They would need mu if it had.
		Creds:   t.creds,
		Blocked: t.signalMaskAtomic(),
	}
	t.mu.Lock()
	info.Comm = t.comm
	info.Executable = t.executable
	info.Argv, info.Envv = t.argv, t.envv
	info.FDTable, info.FSContext = t.fdTable, t.fsContext
	info.NoNewPrivs = t.noNewPrivs
	t.mu.Unlock()
	t.tg.mu.Lock()
	info.Pending = t.pending.set
	t.tg.mu.Unlock()
	return info
}

// MemoryManagerRef returns the task's address space with a user added,
// or nil if it has none left (the task has exited). It may be called
// from any goroutine; the caller must call DecUsers when done.
func (t *Task) MemoryManagerRef() *mm.MemoryManager {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mm == nil || !t.mm.IncUsers() {
		return nil
	}
	return t.mm
}

// FDEntry is one descriptor of an FDTable snapshot.
type FDEntry struct {
	// FD is the descriptor number.
	FD int32
	// File is the open file description it refers to.
	File fs.File
	// Flags are the descriptor's flags.
	Flags FDFlags
}

// Snapshot returns the table's descriptors in order. Each entry holds a
// reference on its file, so that the file stays open however the
// application closes it meanwhile: the caller must call release, once,
// when done with the entries.
func (ft *FDTable) Snapshot() (entries []FDEntry, release func()) {
	ft.mu.Lock()
	var refs []*fileRef
	for fd, d := range ft.fds {
		if d == nil {
			continue
		}
		// The table's own reference keeps the count above zero while
		// ft.mu is held, so adding one cannot revive a closed file.
		d.file.refs.Add(1)
		refs = append(refs, d.file)
		entries = append(entries, FDEntry{FD: int32(fd), File: d.file.File, Flags: d.flags})
	}
	ft.mu.Unlock()
	return entries, func() {
		for _, r := range refs {
			r.decRef()
		}
	}
}
