package kernel

import (
	"sync"
	"sync/atomic"
)

// FSContext is what a task's path lookups start from: the working
// directory and the umask. Tasks cloned with CLONE_FS share one; others
// copy it.
type FSContext struct {
	// users counts the tasks sharing the context. Atomic.
	users atomic.Int64

	// mu protects the fields below.
	mu sync.Mutex

	// cwd is the working directory, an absolute path in the sandbox's
	// view of the file system (the root is "/" even under --root).
	cwd string

	// umask is the file mode creation mask.
	umask uint32
}

// NewFSContext returns a context with one user.
func NewFSContext(cwd string, umask uint32) *FSContext {
	f := &FSContext{cwd: cwd, umask: umask}
	f.users.Store(1)
	return f
}

// Fork returns a copy for a task cloned without CLONE_FS.
func (f *FSContext) Fork() *FSContext {
	f.mu.Lock()
	defer f.mu.Unlock()
	return NewFSContext(f.cwd, f.umask)
}

// IncRef adds a user, for a task cloned with CLONE_FS.
func (f *FSContext) IncRef() {
	f.users.Add(1)
}

// DecRef drops a user.
func (f *FSContext) DecRef() {
	f.users.Add(-1)
}

// Cwd returns the working directory.
func (f *FSContext) Cwd() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cwd
}

// SetCwd changes the working directory.
func (f *FSContext) SetCwd(cwd string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd = cwd
}

// Umask returns the umask.
func (f *FSContext) Umask() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.umask
}

// SwapUmask sets the umask and returns the old one, as umask(2).
func (f *FSContext) SwapUmask(mask uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = mask & 0o777
	return old
}

// FSContext returns the task's file system context.
func (t *Task) FSContext() *FSContext {
	return t.fsContext
}
