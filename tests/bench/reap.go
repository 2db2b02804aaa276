package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The bench is a child subreaper: a process whose parent dies while the
// bench runs is reparented to the bench, not to init. A sentry's stubs are
// such processes when the sentry exits, so after each command the bench's
// children are exactly what that command left behind, and sweep can find,
// reap and, if need be, kill them.

func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// sweepGrace is how long processes left behind get to die by themselves:
// a sentry's exit kills its stubs with SIGKILL (PTRACE_O_EXITKILL, the
// master stub's PR_SET_PDEATHSIG), and the host takes a moment to carry it
// out, longer for a stub with a large address space to tear down.
const sweepGrace = 2 * time.Second

// sweep reaps the bench's children, which at this point are all leftovers:
// the ones that die within sweepGrace quietly, as a clean exit's stubs do,
// and the others by SIGKILL, returning a description of each of those.
//
// Preconditions: no command is running and no platform is open, so that
// every child of the bench is a leftover.
func sweep() []string {
	var killed []string
	deadline := time.Now().Add(sweepGrace)
	for {
		live := reapZombies()
		if len(live) == 0 {
			return killed
		}
		if time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, pid := range live {
			killed = append(killed, fmt.Sprintf("pid %d (%s)", pid, procName(pid)))
			unix.Kill(pid, unix.SIGKILL)
		}
		// The killed ones are reaped on the next round, which also finds
		// their own children, now reparented to the bench.
		deadline = time.Now().Add(sweepGrace)
	}
}

// reapZombies reaps the children that have exited and returns the pids of
// the others.
func reapZombies() []int {
	var live []int
	for _, pid := range children() {
		var status unix.WaitStatus
		got, err := unix.Wait4(pid, &status, unix.WNOHANG|unix.WALL, nil)
		if (err == nil && got == pid) || err == unix.ECHILD {
			continue // reaped now, or by someone else already
		}
		live = append(live, pid)
	}
	return live
}

// children lists the bench's children: each thread's, since a reparented
// process becomes the child of one thread of the subreaper.
func children() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread has exited
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// procName returns the command name of pid, or "?".
func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
