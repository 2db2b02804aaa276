package kernel

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// Task is one application thread.
//
// A Task is also a context.Context, the one the memory manager and files
// receive for work done on its behalf.
type Task struct {
	context.Context

	// k is the kernel. Immutable.
	k *Kernel

	// tid is the task's id. Immutable once the task is registered.
	tid ThreadID

	// tg is the task's thread group. Immutable.
	tg *ThreadGroup

	// The fields below are owned by the task goroutine: only it reads or
	// writes them, so they need no lock.

	// mm is the task's address space.
	mm *mm.MemoryManager

	// pctx holds the task's registers and runs them.
	pctx platform.Context

	// fdTable is the task's file descriptor table.
	fdTable *FDTable

	// executable is the absolute path of the program the task runs, as
	// /proc/self/exe shows it.
	executable string

	// comm is the task's name: the executable's base name, at most 15
	// bytes, as Linux keeps it.
	comm string

	// signalMask is the set of blocked signals, bit N-1 for signal N.
	signalMask uint64

	// altStack is the alternate signal stack set by sigaltstack(2).
	altStack SignalStack

	// clearChildTID is set_tid_address(2)'s address, cleared and woken
	// when the task exits.
	clearChildTID usermem.Addr

	// robustList and robustListLen are set_robust_list(2)'s arguments.
	robustList    usermem.Addr
	robustListLen uint64

	// creds are the task's user and group ids.
	creds loader.Credentials

	// noNewPrivs is prctl(PR_SET_NO_NEW_PRIVS)'s flag.
	noNewPrivs bool

	// exitRequested is set by exit(2): this task ends, the group may not.
	exitRequested bool

	// logger carries the task's fields for every log line.
	logger *logrus.Entry
}

// ProcessArgs describe the first process of a sandbox.
type ProcessArgs struct {
	// Filename is the path of the executable on the host.
	Filename string

	// Argv and Envv are the program's arguments and environment.
	Argv []string
	Envv []string

	// Stdio are the host descriptors the application gets as 0, 1 and 2.
	// They are duplicated, so the sentry keeps its own.
	Stdio [3]int

	// Creds are the application's user and group ids.
	Creds loader.Credentials
}

// StartProcess loads the first program and starts its task.
func (k *Kernel) StartProcess(args ProcessArgs) error {
	path, err := filepath.Abs(args.Filename)
	if err != nil {
		return err
	}
	file, err := fs.OpenHostFile(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", args.Filename, err)
	}
	defer file.Close()

	t := &Task{Context: background, k: k, executable: path, comm: commName(path), creds: args.Creds}
	t.tg = newThreadGroup(t)
	t.mm = mm.NewMemoryManager(k.Platform)
	t.mm.SetLimits(t.tg.memoryLimits())
	res, err := loader.Load(t, t.mm, loader.LoadArgs{
		File:     file,
		Filename: args.Filename,
		Argv:     args.Argv,
		Envv:     args.Envv,
		Creds:    args.Creds,
	})
	if err != nil {
		t.mm.DecUsers(t)
		return fmt.Errorf("loading %s: %w", args.Filename, err)
	}

	t.fdTable = NewFDTable()
	names := [3]string{"/dev/stdin", "/dev/stdout", "/dev/stderr"}
	for i, hostFD := range args.Stdio {
		f, err := fs.DupHostFile(hostFD, names[i])
		if err != nil {
			t.fdTable.DecRef()
			t.mm.DecUsers(t)
			return err
		}
		t.fdTable.NewFDAt(int32(i), f, FDFlags{})
	}

	t.pctx = k.Platform.NewContext()
	regs := t.pctx.Regs()
	regs.Rip = uint64(res.Entry)
	regs.Rsp = uint64(res.StackPointer)
	regs.Eflags = eflagsIF

	k.addTask(t)
	t.logger = k.Log.WithField("task", t.tid)
	go t.run()
	return nil
}

// eflagsIF is the interrupt-enable flag, the only flag set when a program
// starts on Linux.
const eflagsIF = 0x200

// commName returns the task name Linux derives from an executable's path.
func commName(path string) string {
	name := filepath.Base(path)
	if len(name) > 15 {
		name = name[:15]
	}
	return name
}

// ThreadID returns the task's id.
func (t *Task) ThreadID() ThreadID {
	return t.tid
}

// ThreadGroup returns the task's thread group.
func (t *Task) ThreadGroup() *ThreadGroup {
	return t.tg
}

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel {
	return t.k
}

// MemoryManager returns the task's address space. Handlers use it only to
// reach memory while ignoring the application's protections (the seed's
// second usage pattern) or to change mappings; everything else goes through
// the Copy* wrappers.
func (t *Task) MemoryManager() *mm.MemoryManager {
	return t.mm
}

// FDTable returns the task's file descriptor table.
func (t *Task) FDTable() *FDTable {
	return t.fdTable
}

// Executable returns the path of the program the task runs.
func (t *Task) Executable() string {
	return t.executable
}

// Regs returns the task's registers. Only the task goroutine may use them.
func (t *Task) Regs() *platform.Registers {
	return t.pctx.Regs()
}

// log returns the task's logger.
func (t *Task) log() *logrus.Entry {
	if t.logger == nil {
		return t.k.Log.WithField("task", t.tid)
	}
	return t.logger
}

// interrupt makes the task's goroutine notice a change as soon as it can.
func (t *Task) interrupt() {
	t.pctx.Interrupt()
}

// SetClearChildTID records set_tid_address(2)'s address.
func (t *Task) SetClearChildTID(addr usermem.Addr) {
	t.clearChildTID = addr
}

// SetRobustList records set_robust_list(2)'s list.
func (t *Task) SetRobustList(head usermem.Addr, length uint64) {
	t.robustList, t.robustListLen = head, length
}

// Credentials returns the task's user and group ids.
func (t *Task) Credentials() loader.Credentials {
	return t.creds
}

// Name returns the task's name (comm).
func (t *Task) Name() string {
	return t.comm
}

// SetName sets the task's name, as prctl(PR_SET_NAME).
func (t *Task) SetName(name string) {
	t.comm = name
}

// NoNewPrivs reports whether the task has no_new_privs set.
func (t *Task) NoNewPrivs() bool {
	return t.noNewPrivs
}

// SetNoNewPrivs sets no_new_privs, which can never be cleared.
func (t *Task) SetNoNewPrivs() {
	t.noNewPrivs = true
}
