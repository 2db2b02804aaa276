package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// command is one subprocess to run.
type command struct {
	argv []string
	dir  string
	env  []string // nil: the bench's own environment
}

// outcome is what a command that exited with status 0 left.
type outcome struct {
	stdout, stderr []byte
	wall           time.Duration // from just before the fork to the reaped exit
}

// programEnv is the whole environment of the measured programs, native and
// under minisentry (which passes its own environment through), and so of
// minisentry itself: small and fixed, so that the runs compare alike and
// nothing in the user's environment (GODEBUG, GOGC, GOMAXPROCS, LD_*)
// changes a figure.
var programEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}

// runCommand runs c to its exit, for at most timeout, in a process group of
// its own. On timeout or when ctx is cancelled the whole group is killed:
// a program's children (forkexec's) die with it; a sentry's stubs are in
// sessions of their own and die with the sentry (PTRACE_O_EXITKILL), and
// bench.sweep catches any that do not. The error is one line: what ran, how
// it ended, and the last line it wrote to stderr, which is where the
// programs here and minisentry say what went wrong.
func runCommand(ctx context.Context, timeout time.Duration, c command) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A killed command's children may still hold its output pipes open;
	// Wait must not wait for them for ever.
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err := cmd.Run()
	out := outcome{stdout: stdout.Bytes(), stderr: stderr.Bytes(), wall: time.Since(start)}
	if err == nil {
		return out, nil
	}
	what := describe(c.argv)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return out, fmt.Errorf("%s: still running after %v, killed (raise -timeout if the machine is just slow)", what, timeout)
	case ctx.Err() != nil:
		return out, fmt.Errorf("%s: interrupted", what)
	case errors.Is(err, exec.ErrWaitDelay):
		return out, fmt.Errorf("%s: exited, but a process it started still held its output open %v later", what, cmd.WaitDelay)
	}
	if last := lastLine(stderr.Bytes()); last != "" {
		return out, fmt.Errorf("%s: %v: %s", what, err, last)
	}
	return out, fmt.Errorf("%s: %v", what, err)
}

// describe shortens argv for a message: base names of paths, which all
// point into the bench's temporary directory anyway.
func describe(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if filepath.IsAbs(a) {
			a = filepath.Base(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// lastLine returns the last non-empty line of b, trimmed and cut to a
// length that fits a line of a terminal or two.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if len(last) > 200 {
		last = last[:200] + "..."
	}
	return last
}
