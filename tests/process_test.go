package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Processes, threads, futexes, pipes and signals: the C programs
// process.c, threads.c, futex.c, pipes.c and signals.c. Each takes the
// name of a case as its first argument and runs only that case, so that
// each case is a subtest of its own (per libc) and a difference names it.

func init() {
	for _, prog := range []string{"process", "threads", "futex", "pipes", "signals"} {
		programs[prog] = staticLibcs
	}
}

// progCase is one case of a multi-case program: its arguments after the
// case name, and the exit status it must end with natively.
type progCase struct {
	name   string
	args   []string
	status int
}

// compareCases runs each case of prog natively and under minisentry, as
// parallel subtests under each libc.
func compareCases(t *testing.T, prog string, cases []progCase) {
	t.Helper()
	forEach(t, prog, func(t *testing.T, bin string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{c.name}, c.args...)
				compare(t, bin, invocation{args: args}, c.status)
			})
		}
	})
}

func TestProcess(t *testing.T) {
	t.Parallel()
	compareCases(t, "process", []progCase{
		{name: "cow"},
		{name: "vfork"},
		{name: "wait"},
		{name: "orphan"},
		{name: "pgrp"},
		{name: "clone"},
	})
	// exec needs files: a #! script naming the program itself as its
	// interpreter (so one per binary), a file without execute
	// permission, an executable file that is neither ELF nor script, and
	// a script whose interpreter does not exist.
	forEach(t, "process", func(t *testing.T, bin string) {
		t.Run("exec", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := []struct {
				name, text string
				mode       os.FileMode
			}{
				{"script", fmt.Sprintf("#!%s script-interp\necho not run by a shell\n", bin), 0o755},
				{"noexec", "#!/bin/sh\n", 0o644},
				{"garbage", "this is neither ELF nor a script\n", 0o755},
				{"badinterp", "#!/nonexistent/interpreter\n", 0o755},
			}
			var args []string
			for _, f := range files {
				path := filepath.Join(dir, f.name)
				if err := os.WriteFile(path, []byte(f.text), f.mode); err != nil {
					t.Fatal(err)
				}
				args = append(args, path)
			}
			compare(t, bin, invocation{args: append([]string{"exec"}, args...)}, 0)
		})
	})
}

func TestThreads(t *testing.T) {
	t.Parallel()
	compareCases(t, "threads", []progCase{
		{name: "join"},
		{name: "many"},
		{name: "mutex"},
		{name: "detach"},
		{name: "tid"},
		{name: "tls"},
		{name: "thread-exit"},
		{name: "exit-group", status: 5},
		{name: "main-exits", status: 4},
		{name: "exit-blocked", status: 6},
		{name: "signal-thread"},
		{name: "atomics"},
		{name: "fork"},
		{name: "altstack"},
		{name: "exec-race"},
		{name: "vfork-thread"},
	})
}

func TestFutex(t *testing.T) {
	t.Parallel()
	compareCases(t, "futex", []progCase{
		{name: "errors"},
		{name: "timeout"},
		{name: "wake"},
		{name: "requeue"},
		{name: "wake-op"},
		{name: "shared"},
		{name: "eintr"},
		{name: "robust"},
	})
}

func TestPipes(t *testing.T) {
	t.Parallel()
	compareCases(t, "pipes", []progCase{
		{name: "fifo"},
		{name: "eof"},
		{name: "epipe"},
		{name: "nonblock"},
		{name: "cloexec"},
		{name: "dup2"},
		{name: "stream"},
		{name: "atomic"},
	})
}

func TestSignals(t *testing.T) {
	t.Parallel()
	compareCases(t, "signals", []progCase{
		{name: "siginfo"},
		{name: "latechld"},
		{name: "sigpending-limit"},
		{name: "badframe"},
		{name: "restart"},
		{name: "resethand"},
		{name: "nodefer"},
		{name: "altstack"},
		{name: "mask"},
		{name: "sigsuspend"},
		{name: "sigtimedwait"},
		{name: "pgkill"},
		{name: "stopcont"},
		{name: "regs"},
		{name: "segv"},
		{name: "traps"},
		{name: "deaths"},
		{name: "nocldwait"},
	})
}

// TestSignalsDeath: the program itself dies of a signal; minisentry must
// exit with 128 + its number, whether or not Linux would dump core.
func TestSignalsDeath(t *testing.T) {
	t.Parallel()
	var cases []progCase
	for _, c := range []struct {
		how string
		sig int
	}{
		{"segv", 11},
		{"bus", 7},
		{"ill", 4},
		{"fpe", 8},
		{"abort", 6},
		{"trap", 5},
		{"kill-term", 15},
		{"kill-quit", 3},
		{"badframe", 11},
		{"segv-in-handler", 11},
	} {
		cases = append(cases, progCase{name: c.how, status: 128 + c.sig})
	}
	forEach(t, "signals", func(t *testing.T, bin string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				compare(t, bin, invocation{args: []string{"die", c.name}}, c.status)
			})
		}
	})
}
