package ptrace

import "syscall"

// forkExecTraced starts the program at path with PTRACE_TRACEME, in a
// session of its own (so the terminal's job-control signals reach the
// sentry, not the stub), dying with its parent thread, and with fds as its
// descriptors 0, 1, 2, ...
//
// Preconditions: the caller is locked to its OS thread, which becomes the
// tracer.
func forkExecTraced(path string, fds []uintptr) (int, error) {
	return syscall.ForkExec(path, []string{"minisentry-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: fds,
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Setsid:    true,
			Pdeathsig: syscall.SIGKILL,
		},
	})
}
