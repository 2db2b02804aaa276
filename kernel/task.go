package kernel

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// Task is one application thread.
//
// A Task is also a context.Context (task_block.go), the one the memory
// manager and files receive for work done on its behalf: its Done channel
// closes when the task must stop blocking.
type Task struct {
	// k is the kernel. Immutable.
	k *Kernel

	// tid is the task's id. Protected by Kernel.mu; it changes only when a
	// non-leader thread execs and takes its leader's id.
	tid ThreadID

	// tg is the task's thread group. Immutable.
	tg *ThreadGroup

	// intr is the task's interruption channel; it has its own lock.
	intr interruptState

	// signalMask is the set of blocked signals, bit N-1 for signal N.
	// Written only by the task goroutine; read atomically by senders.
	signalMask atomic.Uint64

	// waitSignalMask is the mask rt_sigtimedwait replaced while it
	// waits, and 0 the rest of the time: Linux's real_blocked. A signal
	// that it blocks is never discarded as ignored, so that a SIGCHLD
	// the application blocked to wait for is queued, although its
	// default action ignores it and the wait unblocks it. Written only by
	// the task goroutine; read atomically by senders.
	waitSignalMask atomic.Uint64

	// vforkDone, if not nil, is closed when the task, made by a clone
	// with CLONE_VFORK, executes a new program or exits: its creator
	// waits for it. Set before the task runs; then owned by the task
	// goroutine.
	vforkDone chan struct{}

	// savedSignalMask is the mask rt_sigsuspend replaced, restored when
	// the handler that ends the wait returns. Owned by the task goroutine.
	savedSignalMask *uint64

	// pending are the signals sent to this task alone. Protected by
	// tg.mu.
	pending pendingSignals

	// interrupted records a system call that a signal (or another
	// interruption) cut short with EINTR, for the signal delivery that
	// follows to restart it or let it fail. Owned by the task goroutine.
	interrupted *interruptedSyscall

	// pctx holds the task's registers and runs them. The platform
	// context itself is safe to Interrupt from any goroutine; everything
	// else about it belongs to the task goroutine.
	pctx platform.Context

	// mu protects the fields below, down to comm, and noNewPrivs, for
	// other goroutines: /proc (package kernel/procfs) shows another task's
	// address space, descriptors and program. The task goroutine writes
	// them with mu held and reads them without it, since no one else
	// writes them.
	mu sync.Mutex

	// The fields below are owned by the task goroutine: only it writes
	// them once the task runs, and only it reads them, except where mu
	// says otherwise.

	// mm is the task's address space.
	mm *mm.MemoryManager

	// fdTable is the task's file descriptor table.
	fdTable *FDTable

	// fsContext is the task's working directory and umask.
	fsContext *FSContext

	// executable is the sandbox path of the program the task runs, every
	// symlink resolved, as /proc/self/exe shows it.
	executable string

	// argv and envv are where the program's arguments and environment
	// strings lie in its memory, for /proc/pid/cmdline and environ.
	argv, envv usermem.AddrRange

	// comm is the task's name: the executable's base name, at most 15
	// bytes, as Linux keeps it.
	comm string

	// creds are the task's user and group ids.
	creds loader.Credentials

	// altStack is the alternate signal stack set by sigaltstack(2).
	altStack SignalStack

	// clearChildTID is set_tid_address(2)'s address, cleared and woken
	// when the task exits.
	clearChildTID usermem.Addr

	// robustList and robustListLen are set_robust_list(2)'s arguments.
	robustList    usermem.Addr
	robustListLen uint64

	// noNewPrivs is prctl(PR_SET_NO_NEW_PRIVS)'s flag.
	noNewPrivs bool

	// exitRequested is set by exit(2): this task ends, the group may not.
	// exitCode is its status.
	exitRequested bool
	exitCode      int

	// lastFault explains the last page fault the memory manager could not
	// resolve, for the message if the process dies of it.
	lastFault string

	// logger carries the task's fields for every log line.
	logger *logrus.Entry
}

// ProcessArgs describe the first process of a sandbox.
type ProcessArgs struct {
	// Filename is the path of the executable in the sandbox's view of
	// the file system, relative to Cwd.
	Filename string

	// Argv and Envv are the program's arguments and environment.
	Argv []string
	Envv []string

	// Stdio are the host descriptors the application gets as 0, 1 and 2.
	// They are duplicated, so the sentry keeps its own.
	Stdio [3]int

	// Creds are the application's user and group ids.
	Creds loader.Credentials

	// Cwd is the working directory, in the sandbox's view of the file
	// system; "" means "/".
	Cwd string

	// Umask is the initial umask.
	Umask uint32
}

// StartProcess loads the first program and starts its task, pid 1.
func (k *Kernel) StartProcess(args ProcessArgs) error {
	fdTable := NewFDTable()
	names := [3]string{"/dev/stdin", "/dev/stdout", "/dev/stderr"}
	for i, hostFD := range args.Stdio {
		f, err := fs.DupHostFile(hostFD, names[i])
		if err != nil {
			fdTable.DecRef()
			return err
		}
		fdTable.NewFDAt(int32(i), f, FDFlags{})
	}
	tg := newThreadGroup(k, nil)
	cwd := args.Cwd
	if cwd == "" {
		cwd = "/"
	}
	t := &Task{k: k, tg: tg, altStack: SignalStack{Flags: SSDisable}, creds: args.Creds, fdTable: fdTable, fsContext: NewFSContext(cwd, args.Umask), pctx: k.Platform.NewContext()}
	image, err := t.loadImage(args.Filename, args.Argv, args.Envv)
	if err != nil {
		fdTable.DecRef()
		t.pctx.Release()
		return fmt.Errorf("loading %s: %w", args.Filename, err)
	}
	t.installImage(image)

	k.mu.Lock()
	k.addTaskLocked(t)
	tg.leader = t
	tg.pgid, tg.sid = t.tid, t.tid
	k.mu.Unlock()
	t.start()
	return nil
}

// image is a program loaded into a fresh address space, ready to replace
// a task's.
type image struct {
	mm         *mm.MemoryManager
	executable string
	entry      usermem.Addr
	stack      usermem.Addr
	argv, envv usermem.AddrRange
}

// loadImage loads the executable at path (relative to the working
// directory) into a new address space.
func (t *Task) loadImage(path string, argv, envv []string) (*image, error) {
	file, err := t.openExecutable(path)
	if err != nil {
		return nil, err
	}
	// The address space holds its own references to the file for the
	// segments it maps.
	defer file.DecRef()
	m := mm.NewMemoryManager(t.k.Platform)
	m.SetLimits(t.tg.memoryLimits())
	res, err := loader.Load(t, m, loader.LoadArgs{
		File:     file,
		Filename: path,
		Argv:     argv,
		Envv:     envv,
		Creds:    t.creds,
	})
	if err != nil {
		m.DecUsers(t)
		return nil, err
	}
	return &image{mm: m, executable: file.Name(), entry: res.Entry, stack: res.StackPointer, argv: res.ArgvRange, envv: res.EnvvRange}, nil
}

// installImage makes the task run img from its first instruction, with
// the registers a new program starts with.
//
// Preconditions: the task has no address space, or is the only user of the
// one it drops.
func (t *Task) installImage(img *image) {
	t.mu.Lock()
	old := t.mm
	t.mm = img.mm
	t.executable = img.executable
	t.comm = commName(img.executable)
	t.argv, t.envv = img.argv, img.envv
	t.mu.Unlock()
	if old != nil {
		old.DecUsers(t)
	}
	regs := t.pctx.Regs()
	*regs = platform.Registers{}
	regs.Rip = uint64(img.entry)
	regs.Rsp = uint64(img.stack)
	regs.Eflags = eflagsIF
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

// start runs the task on a goroutine of its own.
func (t *Task) start() {
	t.logger = t.k.Log.WithField("task", t.ThreadID())
	go t.run()
}

// ThreadID returns the task's id.
func (t *Task) ThreadID() ThreadID {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
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

// SetClearChildTID records set_tid_address(2)'s address.
func (t *Task) SetClearChildTID(addr usermem.Addr) {
	t.clearChildTID = addr
}

// SetRobustList records set_robust_list(2)'s list.
func (t *Task) SetRobustList(head usermem.Addr, length uint64) {
	t.robustList, t.robustListLen = head, length
}

// RobustList returns set_robust_list(2)'s list. Another thread of the
// process may ask; the list is a pair of words, read without a lock, as
// Linux does.
func (t *Task) RobustList() (usermem.Addr, uint64) {
	return t.robustList, t.robustListLen
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
	t.mu.Lock()
	defer t.mu.Unlock()
	t.comm = name
}

// NoNewPrivs reports whether the task has no_new_privs set.
func (t *Task) NoNewPrivs() bool {
	return t.noNewPrivs
}

// SetNoNewPrivs sets no_new_privs, which can never be cleared.
func (t *Task) SetNoNewPrivs() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.noNewPrivs = true
}

// ArgvRange returns where the program's argument strings lie in memory.
func (t *Task) ArgvRange() usermem.AddrRange {
	return t.argv
}

// EnvvRange returns where the program's environment strings lie in
// memory.
func (t *Task) EnvvRange() usermem.AddrRange {
	return t.envv
}
