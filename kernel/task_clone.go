package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// CloneOptions are clone(2)'s arguments, decoded.
type CloneOptions struct {
	// Flags are the CLONE_* flags, without the exit signal.
	Flags uint64
	// ExitSignal is the signal the parent gets when the child process
	// ends.
	ExitSignal int
	// Stack is the child's stack pointer; 0 keeps the parent's.
	Stack usermem.Addr
	// ParentTID and ChildTID are where CLONE_PARENT_SETTID,
	// CLONE_CHILD_SETTID and CLONE_CHILD_CLEARTID put the child's id.
	ParentTID usermem.Addr
	ChildTID  usermem.Addr
	// TLS is the child's fs base with CLONE_SETTLS.
	TLS usermem.Addr
}

// supportedCloneFlags are the flags minisentry honours or, where they have
// no meaning in a sandbox of one user (CLONE_SYSVSEM, CLONE_IO,
// CLONE_PTRACE, CLONE_UNTRACED, CLONE_DETACHED), accepts and ignores.
const supportedCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID |
	unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID | unix.CLONE_VFORK | unix.CLONE_PARENT |
	unix.CLONE_IO | unix.CLONE_PTRACE | unix.CLONE_UNTRACED | unix.CLONE_DETACHED

// Clone creates a task, as clone(2), and returns its id in the caller's
// namespace.
func (t *Task) Clone(opts CloneOptions) (ThreadID, error) {
	f := opts.Flags
	switch {
	case f&^supportedCloneFlags != 0:
		// Namespaces, pidfds and the like.
		return 0, unix.EINVAL
	case f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0,
		f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0:
		return 0, unix.EINVAL
	}
	if opts.ExitSignal < 0 || opts.ExitSignal > 0xff {
		// clone(2) takes any value of its low byte (CSIGNAL); one that
		// is no signal is never sent.
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_SETTLS != 0 && opts.TLS >= t.mm.Layout().MaxAddr {
		// As arch_prctl(ARCH_SET_FS): the host would refuse the
		// register, and the sentry must not find out only when it
		// switches to the child.
		return 0, unix.EPERM
	}
	// Refuse early what the check below would refuse anyway, before the
	// work of copying an address space: a fork bomb spins here.
	if t.k.atTaskLimit() {
		return 0, unix.EAGAIN
	}

	// The child's address space: the same one, or a copy-on-write copy.
	m := t.mm
	if f&unix.CLONE_VM != 0 {
		if !m.IncUsers() {
			return 0, unix.EINVAL
		}
	} else {
		var err error
		if m, err = t.mm.Fork(t); err != nil {
			return 0, err
		}
	}
	fdTable := t.fdTable
	if f&unix.CLONE_FILES != 0 {
		fdTable.IncRef()
	} else {
		fdTable = fdTable.Fork()
	}
	fsContext := t.fsContext
	if f&unix.CLONE_FS != 0 {
		fsContext.IncRef()
	} else {
		fsContext = fsContext.Fork()
	}
	fpState, err := t.pctx.FPState()
	if err != nil {
		m.DecUsers(t)
		fdTable.DecRef()
		fsContext.DecRef()
		return 0, err
	}

	child := &Task{
		k:             t.k,
		mm:            m,
		fdTable:       fdTable,
		fsContext:     fsContext,
		executable:    t.executable,
		argv:          t.argv,
		envv:          t.envv,
		comm:          t.comm,
		creds:         t.creds,
		noNewPrivs:    t.noNewPrivs,
		pctx:          t.k.Platform.NewContext(),
		clearChildTID: 0,
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		child.clearChildTID = opts.ChildTID
	}
	child.altStack = t.altStack
	if f&unix.CLONE_VM != 0 && f&unix.CLONE_VFORK == 0 {
		// A thread starts without an alternate stack: sharing its
		// creator's would have two threads run handlers on one stack.
		child.altStack = SignalStack{Flags: SSDisable}
	}
	child.signalMask.Store(t.signalMask.Load())
	regs := child.pctx.Regs()
	*regs = *t.Regs()
	regs.Rax = 0
	if opts.Stack != 0 {
		regs.Rsp = uint64(opts.Stack)
	}
	if f&unix.CLONE_SETTLS != 0 {
		regs.Fs_base = uint64(opts.TLS)
	}
	child.pctx.SetFPState(fpState)

	k := t.k
	k.mu.Lock()
	if exiting, full := t.tg.isExiting(), k.atTaskLimitLocked(); exiting || full {
		k.mu.Unlock()
		child.pctx.Release()
		m.DecUsers(t)
		fdTable.DecRef()
		fsContext.DecRef()
		if full {
			return 0, unix.EAGAIN
		}
		// The caller is being killed; do not let the child escape.
		return 0, unix.EINTR
	}
	var vforkDone chan struct{}
	if f&unix.CLONE_THREAD != 0 {
		child.tg = t.tg
	} else {
		parent := t.tg
		if f&unix.CLONE_PARENT != 0 && t.tg.parent != nil {
			parent = t.tg.parent
		}
		child.tg = newThreadGroup(k, parent)
		child.tg.exitSignal = opts.ExitSignal
		child.tg.pgid, child.tg.sid = t.tg.pgid, t.tg.sid
		parent.children[child.tg] = struct{}{}
	}
	if f&unix.CLONE_VFORK != 0 {
		// A thread can be a vfork child too (CLONE_VM|CLONE_VFORK|
		// CLONE_THREAD): the wait is for the task.
		vforkDone = make(chan struct{})
		child.vforkDone = vforkDone
	}
	k.addTaskLocked(child)
	if child.tg.leader == nil {
		child.tg.leader = child
	}
	tid := child.tid
	k.mu.Unlock()

	// The ids are written before the child runs, so that both see them.
	if f&unix.CLONE_PARENT_SETTID != 0 {
		t.CopyOut(opts.ParentTID, int32(tid))
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		child.CopyOut(opts.ChildTID, int32(tid))
	}
	child.start()

	if vforkDone != nil {
		// The parent sleeps until the child execs or exits, as vfork(2)
		// promises; a signal does not end the wait on Linux either.
		select {
		case <-vforkDone:
		case <-t.k.done:
		}
	}
	return tid, nil
}
