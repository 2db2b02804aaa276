package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Static Go programs (goprogs/*, built with CGO_ENABLED=0) natively and
// under minisentry. The Go runtime is a demanding guest: several threads
// before main, futexes, signals on alternate stacks (SIGURG for
// preemption, SIGSEGV turned into panics), epoll for timers, and os/exec's
// vfork and CLOEXEC pipe.

var (
	goProgsOnce sync.Once
	goProgsDir  string
	goProgsErr  error
)

// goProg builds every program in goprogs/ on first use and returns the
// path of the one named.
func goProg(t *testing.T, name string) string {
	t.Helper()
	goProgsOnce.Do(func() {
		goProgsDir = filepath.Join(workDir, "goprogs")
		if goProgsErr = os.MkdirAll(goProgsDir, 0o755); goProgsErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goProgsErr = fmt.Errorf("the go command is not in PATH: %w", err)
			return
		}
		cmd := exec.Command(goTool, "build", "-o", goProgsDir+"/", "./tests/goprogs/...")
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goProgsErr = fmt.Errorf("go build ./tests/goprogs/...: %v\n%s", err, out)
		}
	})
	if goProgsErr != nil {
		t.Fatal(goProgsErr)
	}
	return filepath.Join(goProgsDir, name)
}

func TestGoPrograms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		prog   string
		args   []string
		stdin  string
		status int
	}{
		{name: "goroutines", prog: "goroutines"},
		{name: "exec", prog: "exec"},
		{name: "exec-devnull", prog: "exec", args: []string{"devnull"}},
		{name: "timers", prog: "timers"},
		{name: "gc", prog: "gc"},
		{name: "panic-recovered", prog: "panic"},
		{name: "panic-unrecovered", prog: "panic", args: []string{"unrecovered"}, status: 2},
		{name: "deadlock", prog: "panic", args: []string{"deadlock"}, status: 2},
		{name: "exit", prog: "exit", status: 3},
		{name: "stdin", prog: "stdin", stdin: strings.Repeat("a line of input\n", 1000) + "the last line, longer than the others\n"},
		{name: "stdin-empty", prog: "stdin"},
		{name: "signal", prog: "signal", status: 128 + 15},
		{name: "preempt", prog: "preempt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := goProg(t, c.prog)
			compare(t, bin, invocation{args: c.args, stdin: c.stdin}, c.status)
		})
	}
}
