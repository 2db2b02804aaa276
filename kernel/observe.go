package kernel

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel/trace"
	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
)

// The observers: --strace (strace.go), --stats (stats.go), --report
// (report.go) and --trace (package trace). They share one set of hooks in
// the run loop and the system call path, and one rule: when they are all
// off, the hooks cost one test of a nil pointer.
//
// Each task's run loop holds a *taskObserver, nil unless Kernel.observing.
// Around each stop it takes monotonic timestamps:
//
//	Switch entered ... Switch returns (stopped) ... dispatched (entered) ...
//	handler starts (start) ... handler ends (end) ... observers done (done)
//	... next Switch entered
//
// The handler's time is end-start. The interception, the sentry's own work
// around the handler, is (entered-stopped) + (next Switch - done): the
// observers' own decoding and logging, between entered and start and
// between end and done, are left out of both. The ptrace round trip
// itself (the registers set, PTRACE_SYSEMU, the host's switch to the stub
// and back, the registers read) is inside Switch, where it cannot be told
// apart from the application's own running time: --stats shows Switch's
// total separately.

// traceBufferBytes is the most bytes of a buffer a --trace event shows
// when --strace is off (with --strace on, the two share --strace-log-size).
const traceBufferBytes = 128

// taskObserver is a task's share of the observers. It belongs to the task
// goroutine.
type taskObserver struct {
	t *Task

	// pid and tid are the task's process and thread ids, for trace
	// events; they change only at execve.
	pid, tid int32

	// switched is when the last Switch was entered, stopped when it
	// returned.
	switched, stopped time.Time

	// call is the system call in progress, between enter and exit.
	call observedCall

	// pending is set when the last event was a system call whose
	// resumption, from done to the next Switch, is still to be counted
	// to pendingSysno.
	pending      bool
	pendingSysno uintptr
	done         time.Time
}

// observedCall is one system call as the observers see it.
type observedCall struct {
	sysno uintptr
	sc    *Syscall
	args  SyscallArguments

	// rip is the address of the syscall instruction.
	rip uint64

	// entered is when the dispatch reached the system call, start and
	// end when the handler started and ended.
	entered, start, end time.Time

	// decoder and argText are the arguments as --strace and --trace show
	// them; argText is nil if neither wants them.
	decoder argDecoder
	argText []string
}

// newTaskObserver returns the observer of a task that starts running, or
// nil if nothing observes the kernel.
func (t *Task) newTaskObserver() *taskObserver {
	k := t.k
	if !k.observing {
		return nil
	}
	o := &taskObserver{t: t}
	o.refreshIDs()
	if k.Report != nil {
		// A task starts either cloned from one whose program is known
		// already, or as the first task, at its program's entry point.
		k.Report.noteProgram(t.executable, t.Regs().Rip, false)
	}
	return o
}

// refreshIDs reads the task's ids, and names its lane and process in the
// trace.
func (o *taskObserver) refreshIDs() {
	t := o.t
	o.tid = int32(t.tid)
	o.pid = int32(t.tg.ID())
	if tr := t.k.Trace; tr != nil {
		tr.NameProcess(o.pid, filepath.Base(t.executable))
		tr.NameThread(o.pid, o.tid, "task "+strconv.Itoa(int(o.tid)))
	}
}

// beforeSwitch is called as the task returns to the application. It
// completes the interception time of the system call that stopped it
// last.
func (o *taskObserver) beforeSwitch() {
	now := time.Now()
	if o.pending {
		o.pending = false
		if s := o.t.k.Stats; s != nil {
			s.addResume(o.pendingSysno, now.Sub(o.done))
		}
	}
	o.switched = now
}

// afterSwitch is called when the application has stopped.
func (o *taskObserver) afterSwitch() {
	o.stopped = time.Now()
	if s := o.t.k.Stats; s != nil {
		s.addSwitch(o.stopped.Sub(o.switched))
	}
}

// enter is called before the handler of sysno runs.
func (o *taskObserver) enter(sysno uintptr, sc *Syscall, args SyscallArguments) {
	k := o.t.k
	c := &o.call
	*c = observedCall{sysno: sysno, sc: sc, args: args, entered: time.Now()}
	c.rip = o.t.Regs().Rip - syscallInstructionSize
	strace := k.Strace != nil && k.Strace.traces(sysno)
	if strace || k.Trace != nil {
		c.decoder = argDecoder{mem: o.t, limit: traceBufferBytes}
		if k.Strace != nil {
			c.decoder.limit = k.Strace.logSize()
		}
		c.argText = c.decoder.enter(sc, args)
		c.start = time.Now()
	} else {
		c.start = c.entered
	}
}

// exit is called when the handler has returned ret or err (a unix.Errno).
func (o *taskObserver) exit(ret uintptr, err error) {
	c := &o.call
	c.end = time.Now()
	t := o.t
	k := t.k
	if s := k.Stats; s != nil {
		s.addCall(c.sysno, err != nil, c.end.Sub(c.start), c.entered.Sub(o.stopped))
	}
	if r := k.Report; r != nil {
		r.record(t, c.sysno, c.rip, err)
	}
	if c.argText != nil {
		retText := c.decoder.exit(c.sc, c.args, c.argText, ret, err)
		name := k.Syscalls.Name(c.sysno)
		if k.Strace != nil && k.Strace.traces(c.sysno) {
			k.Log.Info(straceLine(t.tid, name, c.argText, retText, c.end.Sub(c.start)))
		}
		if tr := k.Trace; tr != nil {
			tr.Span(o.pid, o.tid, "syscall", name, o.stopped, c.end.Sub(o.stopped),
				trace.Arg{Key: "args", Value: strings.Join(c.argText, ", ")},
				trace.Arg{Key: "return", Value: retText},
				trace.Arg{Key: "handler_us", Value: micros(c.end.Sub(c.start))})
		}
	}
	if err == nil {
		o.processEvent(ret)
	}
	o.pending, o.pendingSysno = true, c.sysno
	o.done = time.Now()
}

// processEvent records what a successful call did to the process tree:
// a clone, fork or vfork, or an execve.
func (o *taskObserver) processEvent(ret uintptr) {
	c := &o.call
	t := o.t
	k := t.k
	switch c.sysno {
	case unix.SYS_CLONE, unix.SYS_CLONE3, unix.SYS_FORK, unix.SYS_VFORK:
		if tr := k.Trace; tr != nil {
			var flags string
			switch c.sysno {
			case unix.SYS_CLONE:
				flags = formatCloneFlags(c.args[0].Uint64())
			case unix.SYS_FORK:
				flags = "SIGCHLD"
			case unix.SYS_VFORK:
				flags = "CLONE_VM|CLONE_VFORK|SIGCHLD"
			}
			// At the call's start: a vfork's parent returns only once
			// the child has exec'd or exited.
			tr.Instant(o.pid, o.tid, "process", k.Syscalls.Name(c.sysno), o.stopped,
				trace.Arg{Key: "child", Value: int64(ret)}, trace.Arg{Key: "flags", Value: flags})
		}
	case unix.SYS_EXECVE, unix.SYS_EXECVEAT:
		// The task now runs a new program, from its entry point; a
		// thread that exec'd took its leader's id.
		if r := k.Report; r != nil {
			r.noteProgram(t.executable, t.Regs().Rip, true)
		}
		o.refreshIDs()
		if tr := k.Trace; tr != nil {
			tr.Instant(o.pid, o.tid, "process", "exec", c.end, trace.Arg{Key: "filename", Value: t.executable})
		}
	}
}

// fault records a page fault, which kind says how the memory manager was
// to serve and err how it went.
func (o *taskObserver) fault(ev *platform.Event, kind mm.FaultKind, err error, d time.Duration) {
	k := o.t.k
	if s := k.Stats; s != nil {
		s.addFault(d)
	}
	tr := k.Trace
	if tr == nil {
		return
	}
	result := "mapped"
	switch {
	case err == nil:
	case errors.Is(err, mm.ErrBusError):
		result = "SIGBUS"
	case errors.Is(err, unix.EFAULT), errors.Is(err, unix.EPERM):
		result = "SIGSEGV"
	default:
		result = err.Error()
	}
	args := []trace.Arg{
		{Key: "addr", Value: hex(uint64(ev.Addr))},
		{Key: "ip", Value: hex(uint64(ev.IP))},
		{Key: "access", Value: ev.Access.String()},
		{Key: "work", Value: kind.Work},
		{Key: "result", Value: result},
		{Key: "handler_us", Value: micros(d)},
	}
	if kind.VMAEnd != 0 {
		name := kind.VMA
		if name == "" {
			name = "anonymous"
		}
		args = append(args, trace.Arg{Key: "vma", Value: hex(uint64(kind.VMAStart)) + "-" + hex(uint64(kind.VMAEnd)) + " " + name})
	}
	tr.Instant(o.pid, o.tid, "fault", "page fault", o.stopped, args...)
}

// traceSignal records the delivery of a signal to t: to a handler, or to
// its default action of ending the process. It is called on the task
// goroutine, by signal delivery.
func (t *Task) traceSignal(info *SignalInfo, act SigAction) {
	tr := t.k.Trace
	if tr == nil {
		return
	}
	what := "handler " + formatSigHandler(act.Handler)
	if act.Handler == SigDfl {
		what = "default action: the process ends"
	}
	tr.Instant(int32(t.tg.ID()), int32(t.tid), "signal", signalName(int(info.Signo)), time.Now(),
		trace.Arg{Key: "code", Value: int64(info.Code)}, trace.Arg{Key: "delivery", Value: what})
}

// taskExit records the end of the task.
func (o *taskObserver) taskExit() {
	t := o.t
	tr := t.k.Trace
	if tr == nil {
		return
	}
	var how string
	if t.exitRequested {
		how = "exit(" + strconv.Itoa(t.exitCode) + ")"
	} else {
		es := t.tg.exitStatus()
		switch {
		case !t.tg.isExiting():
			how = "ended by another thread's execve"
		case es.Signo != 0:
			how = "killed by " + signalName(es.Signo)
		default:
			how = "exit_group(" + strconv.Itoa(es.Code) + ")"
		}
	}
	tr.Instant(o.pid, o.tid, "process", "exit", time.Now(), trace.Arg{Key: "status", Value: how})
}

// micros returns d in microseconds, for trace arguments.
func micros(d time.Duration) float64 {
	return float64(d.Nanoseconds()) / 1e3
}

// hex shows v as 0x... .
func hex(v uint64) string {
	return "0x" + strconv.FormatUint(v, 16)
}
