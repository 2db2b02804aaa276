package kernel

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/loader"
)

// maxInterpreterDepth bounds #! scripts naming scripts, as Linux does.
const maxInterpreterDepth = 4

// Execve replaces the task's program, as execve(2): path is looked up on
// the host relative to the working directory. Errors found before the old
// program is destroyed are returned to it; after that point the exec
// cannot fail.
func (t *Task) Execve(path string, argv, envv []string) error {
	path, argv, err := resolveInterpreter(path, argv, 0)
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
	if t.tg.vforkDone != nil {
		close(t.tg.vforkDone)
		t.tg.vforkDone = nil
	}
	k.mu.Unlock()
	return nil
}

// resolveInterpreter follows #! lines: a script runs as its interpreter,
// with the interpreter's optional argument and the script's path in front
// of the script's arguments.
func resolveInterpreter(path string, argv []string, depth int) (string, []string, error) {
	if depth > maxInterpreterDepth {
		return "", nil, unix.ELOOP
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || unix.Access(path, unix.X_OK) != nil {
		return "", nil, unix.EACCES
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	head := make([]byte, 256)
	n, _ := unix.Read(fd, head)
	unix.Close(fd)
	head = head[:max(n, 0)]
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
	if !filepath.IsAbs(interp) {
		interp, _ = filepath.Abs(interp)
	}
	return resolveInterpreter(interp, newArgv, depth+1)
}

// killOtherThreads ends every other task of the group and waits for them,
// for execve. If the caller is not the group leader, it takes the leader's
// id, as on Linux. It returns false if the group is being killed
// meanwhile.
func (t *Task) killOtherThreads() bool {
	tg := t.tg
	k := t.k
	tg.mu.Lock()
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
