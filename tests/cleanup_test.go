package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// How minisentry ends, and what it leaves behind: for every way out (the
// program exits or crashes; minisentry gets SIGTERM, SIGINT twice or
// SIGKILL; a stub dies under the sentry's feet), the test watches the
// stub processes under minisentry while it runs and checks that none of
// them outlives it, and that no file of minisentry's is left in the
// temporary directory.

func init() {
	programs["linger"] = staticLibcs
}

// stubExe is what /proc/PID/exe shows for a stub process: every stub runs
// the stub ELF from a memfd of the sentry's (platform/ptrace).
const stubExe = "/memfd:minisentry-stub (deleted)"

// hostProcess is what the tests need to know of a host process.
type hostProcess struct {
	ppid  int
	state string // "R", "S", "Z"...
	exe   string // "" if unreadable (a zombie, a kernel thread)
}

// hostProcesses returns every process of the host by pid.
func hostProcesses() map[int]hostProcess {
	procs := make(map[int]hostProcess)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readHostProcess(pid); ok {
			procs[pid] = p
		}
	}
	return procs
}

// readHostProcess reads one process's state, parent and executable.
func readHostProcess(pid int) (hostProcess, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return hostProcess{}, false
	}
	// pid (comm) state ppid ...: the name may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return hostProcess{}, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return hostProcess{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return hostProcess{ppid: ppid, state: fields[0], exe: exe}, true
}

// running reports whether p still runs: a zombie runs nothing and holds
// no memory, and reaping an orphan is the host init's business.
func (p hostProcess) running() bool {
	return p.state != "Z" && p.state != "X"
}

// stubsUnder returns the stub processes that descend from pid.
func stubsUnder(procs map[int]hostProcess, pid int) []int {
	children := make(map[int][]int)
	for p, info := range procs {
		children[info.ppid] = append(children[info.ppid], p)
	}
	var stubs []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if procs[c].exe == stubExe {
				stubs = append(stubs, c)
			}
			queue = append(queue, c)
		}
	}
	return stubs
}

// orphanStubs returns the running stub processes that no sentry owns: the
// first of their ancestors that is not a stub is init, or gone.
func orphanStubs(procs map[int]hostProcess) []int {
	var orphans []int
	for pid, p := range procs {
		if p.exe != stubExe || !p.running() {
			continue
		}
		a := p.ppid
		for procs[a].exe == stubExe {
			a = procs[a].ppid
		}
		if _, ok := procs[a]; !ok || a <= 1 {
			orphans = append(orphans, pid)
		}
	}
	sort.Ints(orphans)
	return orphans
}

// sentryTempFiles returns the entries of the temporary directory that
// look like minisentry's, but for the test harness's own work directory.
func sentryTempFiles() []string {
	entries, _ := os.ReadDir(os.TempDir())
	var names []string
	for _, e := range entries {
		path := filepath.Join(os.TempDir(), e.Name())
		if strings.Contains(e.Name(), "minisentry") && path != workDir && !strings.HasPrefix(e.Name(), "minisentry-tests-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// syncBuffer is a bytes.Buffer safe for one writer and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// watchedSentry is a `minisentry run` that a test watches from outside:
// it records every stub process seen under it while it runs.
type watchedSentry struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	out   syncBuffer // standard output
	err   syncBuffer // standard error
	start time.Time

	// done is closed when the process has ended; state is then how, and
	// elapsed how long it ran.
	done    chan struct{}
	state   *os.ProcessState
	elapsed time.Duration

	mu sync.Mutex
	// stubs holds every stub process seen under minisentry; peak is the
	// most seen at once.
	stubs map[int]bool
	peak  int
	// tempBefore are minisentry's files in the temporary directory
	// before the run.
	tempBefore []string
}

// startSentry starts `minisentry run FLAGS -- BIN ARGS...` and a goroutine
// that samples its stub processes every few milliseconds until it ends.
func startSentry(t *testing.T, flags []string, bin string, args ...string) *watchedSentry {
	t.Helper()
	noteInputs()
	requireSentry(t)
	w := &watchedSentry{
		t:          t,
		lines:      make(chan string, 64),
		done:       make(chan struct{}),
		stubs:      make(map[int]bool),
		tempBefore: sentryTempFiles(),
	}
	w.cmd = exec.Command(sentryPath, sentryArgv(bin, invocation{args: args, flags: flags})[1:]...)
	// The program sees GOTRACEBACK too, which a C program ignores.
	w.cmd.Env = append(append([]string{}, testEnv...), "GOTRACEBACK=all")
	w.cmd.Stderr = &w.err
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	w.start = time.Now()
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stdout, &w.out))
		for sc.Scan() {
			select {
			case w.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		w.cmd.Wait()
		w.state = w.cmd.ProcessState
		w.elapsed = time.Since(w.start)
		close(w.done)
	}()
	go func() {
		for {
			w.sample()
			select {
			case <-w.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			w.cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

// sample records the stub processes under minisentry now.
func (w *watchedSentry) sample() {
	procs := hostProcesses()
	stubs := stubsUnder(procs, w.cmd.Process.Pid)
	w.mu.Lock()
	defer w.mu.Unlock()
	running := 0
	for _, pid := range stubs {
		w.stubs[pid] = true
		if procs[pid].running() {
			running++
		}
	}
	w.peak = max(w.peak, running)
}

// seenStubs returns, in order, every stub process seen under minisentry.
func (w *watchedSentry) seenStubs() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := make([]int, 0, len(w.stubs))
	for pid := range w.stubs {
		seen = append(seen, pid)
	}
	sort.Ints(seen)
	return seen
}

// peakStubs returns the most stub processes seen running at once.
func (w *watchedSentry) peakStubs() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// waitLine waits for the program to print line.
func (w *watchedSentry) waitLine(line string) {
	w.t.Helper()
	deadline := time.After(runTimeout)
	for {
		select {
		case got := <-w.lines:
			if got == line {
				// One last look, now that the program has started
				// everything it starts.
				w.sample()
				if len(w.seenStubs()) == 0 {
					w.t.Errorf("no stub process was seen under minisentry once the program was ready: the test proves nothing")
				}
				return
			}
		case <-w.done:
			w.t.Fatalf("minisentry ended (%v) before the program printed %q\n%s", w.state, line, w.show())
		case <-deadline:
			w.t.Fatalf("the program did not print %q in %v\n%s", line, runTimeout, w.show())
		}
	}
}

// wait waits for minisentry to end and returns its exit status, or -N if
// signal N killed it.
func (w *watchedSentry) wait() int {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(runTimeout):
		// SIGABRT, which minisentry does not forward, makes the Go
		// runtime print every goroutine (GOTRACEBACK=all, set in
		// startSentry) before it dies: where the sentry hangs.
		w.cmd.Process.Signal(syscall.SIGABRT)
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
			<-w.done
		}
		w.t.Logf("minisentry's whole stderr:\n%s", w.err.String())
		w.t.Fatalf("minisentry did not end within %v and was killed\n%s", runTimeout, w.show())
	}
	ws := w.state.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return -int(ws.Signal())
	}
	return ws.ExitStatus()
}

// signal sends sig to minisentry.
func (w *watchedSentry) signal(sig syscall.Signal) {
	w.t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		w.t.Fatalf("kill(%d, %v): %v", w.cmd.Process.Pid, sig, err)
	}
}

func (w *watchedSentry) show() string {
	return showOutcome(outcome{Stdout: w.out.String(), Stderr: w.err.String()})
}

// checkNothingLeft checks, once minisentry has ended, that no stub seen
// under it (if any was: a short run may end between two samples) still
// runs, that no stub on the host is an orphan, and that
// minisentry left no file in the temporary directory. Stubs die as their
// tracer does, so it gives them a moment.
func (w *watchedSentry) checkNothingLeft() {
	w.t.Helper()
	seen := w.seenStubs()
	w.t.Logf("%d stub processes seen under minisentry, at most %d at once; it ran %v",
		len(seen), w.peakStubs(), w.elapsed.Round(time.Millisecond))
	var left, orphans []int
	for deadline := time.Now().Add(5 * time.Second); ; {
		left = left[:0]
		procs := hostProcesses()
		for _, pid := range seen {
			// The exe check guards against a pid reused since.
			if p, ok := procs[pid]; ok && p.running() && p.exe == stubExe {
				left = append(left, pid)
			}
		}
		orphans = orphanStubs(procs)
		if len(left) == 0 && len(orphans) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) != 0 {
		w.t.Errorf("%d of the %d stub processes seen under minisentry still run after it ended: %v", len(left), len(seen), left)
	}
	if len(orphans) != 0 {
		w.t.Errorf("stub processes run without a minisentry: %v", orphans)
	}
	before := strings.Join(w.tempBefore, " ")
	if after := strings.Join(sentryTempFiles(), " "); after != before {
		w.t.Errorf("minisentry's files in %s: %q before the run, %q after", os.TempDir(), before, after)
	}
}

// TestCleanup runs linger, which has a child process and threads, and ends
// it each way there is; minisentry must exit with the right status, and
// leave no stub process and no file behind.
func TestCleanup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mode string
		// end ends the run once the program is ready.
		end func(t *testing.T, w *watchedSentry)
		// status is minisentry's exit status, -N for death by signal N.
		status int
		// stderr, if set, must match minisentry's standard error.
		stderr *regexp.Regexp
	}{
		{
			name: "exit", mode: "exit", status: 5,
			end: func(t *testing.T, w *watchedSentry) { w.stdin.Close() },
		},
		{
			name: "crash", mode: "crash", status: 128 + int(syscall.SIGSEGV),
			end: func(t *testing.T, w *watchedSentry) { w.stdin.Close() },
		},
		{
			// Forwarded to the program, which dies of it.
			name: "sigterm", mode: "wait", status: 128 + int(syscall.SIGTERM),
			end: func(t *testing.T, w *watchedSentry) { w.signal(syscall.SIGTERM) },
		},
		{
			// The first goes to the program, which ignores it; the
			// second ends the sandbox.
			name: "sigint-twice", mode: "nointr", status: 128 + int(syscall.SIGKILL),
			end: func(t *testing.T, w *watchedSentry) {
				w.signal(syscall.SIGINT)
				select {
				case <-w.done:
					t.Fatalf("minisentry ended (%v) at the first SIGINT, which the program ignores", w.state)
				case <-time.After(200 * time.Millisecond):
				}
				w.signal(syscall.SIGINT)
			},
		},
		{
			// minisentry cannot do anything: PTRACE_O_EXITKILL and
			// PR_SET_PDEATHSIG must take the stubs down.
			name: "sigkill", mode: "wait", status: -int(syscall.SIGKILL),
			end: func(t *testing.T, w *watchedSentry) { w.signal(syscall.SIGKILL) },
		},
		{
			// The sentry's failure path: the program's stub processes
			// die under it (all but the master), so the switch of the
			// task that spins fails and the sentry ends the sandbox
			// with status 125. (Were every task blocked in the sentry,
			// none would notice until it woke.)
			name: "stub-killed", mode: "spin", status: 125, stderr: regexp.MustCompile(`^minisentry: task \d+: .*\n$`),
			end: func(t *testing.T, w *watchedSentry) {
				procs := hostProcesses()
				n := 0
				for _, pid := range stubsUnder(procs, w.cmd.Process.Pid) {
					if procs[pid].ppid != w.cmd.Process.Pid {
						syscall.Kill(pid, syscall.SIGKILL)
						n++
					}
				}
				if n == 0 {
					t.Fatalf("no stub process to kill under minisentry")
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			forEach(t, "linger", func(t *testing.T, bin string) {
				w := startSentry(t, nil, bin, c.mode)
				w.waitLine("ready")
				if c.end != nil {
					c.end(t, w)
				}
				if got := w.wait(); got != c.status {
					t.Errorf("minisentry ended with %d, want %d\n%s", got, c.status, w.show())
				}
				if c.stderr != nil && !c.stderr.MatchString(w.err.String()) {
					t.Errorf("minisentry's stderr does not match %q\n%s", c.stderr, w.show())
				}
				if strings.Contains(w.err.String(), "goroutine ") || strings.Contains(w.err.String(), "panic") {
					t.Errorf("minisentry panicked\n%s", w.show())
				}
				w.checkNothingLeft()
			})
		})
	}
}
