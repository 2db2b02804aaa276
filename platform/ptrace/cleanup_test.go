package ptrace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a sentry that dies abruptly, for
// TestStubsDieWithTheSentry.
const helperEnv = "MINISENTRY_PTRACE_TEST_DIE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		dieWithStubs(mode)
		return
	}
	os.Exit(m.Run())
}

// dieWithStubs starts stubs, prints their pids, and ends the process
// without releasing anything: by exiting, or by a Go panic.
func dieWithStubs(mode string) {
	runtime.LockOSThread()
	p, err := New()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	as, err := p.NewAddressSpace()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c := p.NewContext()
	c.Regs().Rip = codeAddr
	// There is no code mapped: the first Switch faults, which is enough to
	// have a stub thread running in the new address space.
	if _, err := c.Switch(as); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("stub", p.master.pid)
	fmt.Println("stub", as.(*subprocess).pid)
	fmt.Println("stub", c.(*context).tid.Load())
	os.Stdout.Sync()
	if mode == "panic" {
		panic("the sentry fails")
	}
	os.Exit(3)
}

func TestStubsDieWithTheSentry(t *testing.T) {
	for _, mode := range []string{"exit", "panic"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode)
			out, err := cmd.Output()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Fatalf("helper: got %v, want it to fail; output:\n%s", err, out)
			}
			var pids []int32
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if pid, ok := strings.CutPrefix(sc.Text(), "stub "); ok {
					n, err := strconv.Atoi(pid)
					if err != nil {
						t.Fatalf("bad helper line %q", sc.Text())
					}
					pids = append(pids, int32(n))
				}
			}
			if len(pids) != 3 {
				t.Fatalf("helper printed %d stub pids, want 3; output:\n%s", len(pids), out)
			}
			for _, pid := range pids {
				if err := waitGone(pid); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// processState returns the state letter of /proc/pid/status ("R", "S",
// "Z"...), or "" if there is no such process.
func processState(pid int32) string {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "State:"); ok {
			return strings.Fields(v)[0]
		}
	}
	return ""
}

// waitGone waits until pid no longer runs. A zombie counts as gone: it
// runs nothing and holds no memory, and reaping an orphan is the host
// init's business.
func waitGone(pid int32) error {
	for i := 0; i < 200; i++ {
		if s := processState(pid); s == "" || s == "Z" || s == "X" {
			return nil
		}
		unix.Nanosleep(&unix.Timespec{Nsec: 10e6}, nil)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return fmt.Errorf("stub %d still runs:\n%s", pid, status)
}
