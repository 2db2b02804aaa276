package kernel

import (
	"bytes"
	"errors"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/loader"
)

// maxInterpreterDepth bounds #! scripts naming scripts, as Linux does.
const maxInterpreterDepth = 4

// Execve replaces the task's program, as execve(2): path is looked up
// relative to the working directory. Errors found before the old program
// is destroyed are returned to it; after that point the exec cannot fail.
func (t *Task) Execve(path string, argv, envv []string) error {
	path, argv, err := t.resolveInterpreter(path, argv, 0)
	if err != nil {
		return err
	}
	img, err := t.loadImage(path, argv, envv)
	if err != nil {
		if errors.Is(err, loader.ErrDynamic) {
			t.log().Warnf("execve %s: %v", path, err)
			return unix.ENOEXEC
		}
		var errno unix.Errno
		if errors.As(err, &errno) {
			return errno
		}
		t.log().Warnf("execve %s: %v", path, err)
		return unix.ENOEXEC
	}

	// The point of no return: the other threads go, the old address
	// space with them.
	if !t.killOtherThreads() {
		img.mm.DecUsers(t)
		return unix.EINTR
	}
	if t.fdTable.users.Load() > 1 {
		// Shared with another process (CLONE_FILES without CLONE_THREAD):
		// the new program gets a table of its own.
		old := t.fdTable
		t.mu.Lock()
		t.fdTable = old.Fork()
		t.mu.Unlock()
		old.DecRef()
	}
	t.fdTable.RemoveCloseOnExec()
	t.tg.resetHandlersForExec()
	t.tg.deletePOSIXTimersForExec()
	t.altStack = SignalStack{Flags: SSDisable}
	t.clearChildTID = 0
	t.robustList, t.robustListLen = 0, 0
	t.installImage(img)

	k := t.k
	k.mu.Lock()
	t.tg.execed = true
	k.mu.Unlock()
	t.releaseVforkParent()
	return nil
}

// resolveInterpreter follows #! lines: a script runs as its interpreter,
// with the interpreter's optional argument and the script's path in front
// of the script's arguments. Paths are relative to the working directory.
func (t *Task) resolveInterpreter(path string, argv []string, depth int) (string, []string, error) {
	if depth > maxInterpreterDepth {
		return "", nil, unix.ELOOP
	}
	f, err := t.openExecutable(path)
	if err != nil {
		return "", nil, err
	}
	head := make([]byte, 256)
	n, _ := f.ReadAt(head, 0)
	f.DecRef()
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return path, argv, nil
	}
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return "", nil, unix.ENOEXEC
	}
	interp := fields[0]
	newArgv := []string{interp}
	if rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(line)), interp)); rest != "" {
		// Linux passes everything after the interpreter as one argument.
		newArgv = append(newArgv, rest)
	}
	newArgv = append(newArgv, path)
	if len(argv) > 1 {
		newArgv = append(newArgv, argv[1:]...)
	}
	return t.resolveInterpreter(interp, newArgv, depth+1)
}

// openExecutable opens the program at path (relative to the working
// directory) for execve(2): EACCES unless it is a regular file the task
// may execute. A synthetic symbolic link (/proc/self/exe) leads to its
// target.
func (t *Task) openExecutable(path string) (*fs.HostFile, error) {
	abs, err := t.PathAt(unix.AT_FDCWD, path)
	if err != nil {
		return nil, err
	}
	f, err := LookupPath(t, abs, func(s SyntheticFS, clean string) (*fs.HostFile, bool, error) {
		target, handled, err := s.Readlink(t, clean)
		switch {
		case !handled:
			return nil, false, nil
		case err == nil && strings.HasPrefix(target, "/"):
			return nil, true, &SyntheticRedirect{Path: target}
		case err == nil || err == unix.EINVAL:
			// A synthetic file, or a link to something that is not a
			// path ("pipe:[3]"): nothing to run.
			return nil, true, unix.EACCES
		default:
			return nil, true, err
		}
	}, func(p string) (*fs.HostFile, error) {
		// O_NONBLOCK, so that a FIFO does not wait for a writer before
		// being refused.
		return t.k.Root.Open(t, p, unix.O_RDONLY|unix.O_NONBLOCK, 0, 0)
	})
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && (st.Mode&unix.S_IFMT != unix.S_IFREG || f.Access(unix.X_OK, true) != nil) {
		err = unix.EACCES
	}
	if err != nil {
		f.DecRef()
		return nil, err
	}
	return f, nil
}

// killOtherThreads ends every other task of the group and waits for them,
// for execve. If the caller is not the group leader, it takes the leader's
// id, as on Linux. It returns false if the group is being killed
// meanwhile, or if another of its tasks is executing a program already:
// that one ends this one, as Linux's de_thread lets the first execve win.
func (t *Task) killOtherThreads() bool {
	tg := t.tg
	k := t.k
	tg.mu.Lock()
	if tg.execing != nil {
		tg.mu.Unlock()
		return false
	}
	tg.execing = t
	tg.mu.Unlock()
	defer func() {
		tg.mu.Lock()
		tg.execing = nil
		tg.mu.Unlock()
	}()
	for {
		k.mu.Lock()
		var others []*Task
		for other := range tg.tasks {
			if other != t {
				others = append(others, other)
			}
		}
		if len(others) == 0 {
			if tg.leader != t {
				delete(k.tasks, t.tid)
				t.tid = tg.leader.tid
				k.tasks[t.tid] = t
				tg.leader = t
				t.logger = k.Log.WithField("task", t.tid)
			}
			k.mu.Unlock()
			return true
		}
		changed := tg.threadsChanged
		k.mu.Unlock()
		for _, other := range others {
			other.interrupt()
		}
		select {
		case <-changed:
		case <-t.Done():
			if tg.isExiting() {
				return false
			}
			t.clearInterrupt()
		}
	}
}

// resetHandlersForExec restores the default action of every signal with a
// handler; ignored signals stay ignored, as execve(2) says.
func (tg *ThreadGroup) resetHandlersForExec() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for i := range tg.actions {
		if tg.actions[i].Handler != SigIgn {
			tg.actions[i] = SigAction{}
		}
	}
}
