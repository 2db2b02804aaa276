package tests

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// The harness: TestMain builds minisentry and every test program once into
// a temporary directory; compare runs a program natively and under the
// sentry and reports any difference.

// runTimeout bounds one run of one program. Every program here finishes in
// well under a second natively; a run that takes this long is hung.
const runTimeout = 60 * time.Second

// installHint is what to do when a tool the tests need is missing.
const installHint = "run tests/run, which installs musl-tools and busybox-static when they are missing"

// testEnv is the whole environment of every program run, natively and (by
// the sentry's pass-through of its own environment) under minisentry: small
// and fixed, so that programs that print their environment print the same
// thing on every machine. The marker shows that it really passed through.
var testEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"LC_ALL=C",
	"MINISENTRY_TEST_MARKER=passed through",
}

// A toolchain is one way of compiling the C programs.
type toolchain struct {
	cc    string
	flags []string
}

var toolchains = map[string]toolchain{
	"glibc":            {"gcc", []string{"-static", "-O1"}},
	"musl":             {"musl-gcc", []string{"-static", "-O1"}},
	"glibc-static-pie": {"gcc", []string{"-static-pie", "-O1"}},
	// Dynamically linked: only to check that minisentry refuses it clearly.
	"glibc-dynamic": {"gcc", []string{"-O1"}},
}

// staticLibcs are the toolchains every program is built with.
var staticLibcs = []string{"glibc", "musl"}

// programs maps each program in programs/ to the toolchains it is built
// with.
var programs = map[string][]string{
	"hello":   {"glibc", "musl", "glibc-static-pie", "glibc-dynamic"},
	"auxv":    {"glibc", "musl", "glibc-static-pie"},
	"exit":    staticLibcs,
	"args":    staticLibcs,
	"writev":  staticLibcs,
	"efault":  staticLibcs,
	"brk":     staticLibcs,
	"mmap":    staticLibcs,
	"die":     staticLibcs,
	"sysinfo": staticLibcs,
	"enosys":  staticLibcs,
	"timers":  staticLibcs,
	"poll":    staticLibcs,
	// Non-PIE only: its 32-bit code uses absolute addresses.
	"compat32": staticLibcs,
}

var (
	// moduleRoot is the directory holding go.mod.
	moduleRoot string
	// workDir holds the binaries. Its path has no symlinks in it, so that
	// a program's argv[0] is also what /proc/self/exe says.
	workDir string
	// sentryPath is the minisentry binary; sentryErr why it did not build.
	// A build failure fails each test that needs the sentry, after the
	// test has checked its program natively.
	sentryPath string
	sentryErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		if workDir != "" {
			os.RemoveAll(workDir)
		}
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(workDir)
	os.Exit(code)
}

// setup builds minisentry and the test programs.
func setup() error {
	// A program that dies of SIGSEGV natively must not leave a core file.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("setrlimit(RLIMIT_CORE): %w", err)
	}
	var err error
	if moduleRoot, err = filepath.Abs(".."); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(moduleRoot, "go.mod")); err != nil {
		return fmt.Errorf("the tests must run from the tests directory of the module: %w", err)
	}
	for _, cc := range []string{"gcc", "musl-gcc"} {
		if _, err := exec.LookPath(cc); err != nil {
			return fmt.Errorf("%s not found: the integration tests compile their programs with gcc and musl-gcc; %s", cc, installHint)
		}
	}
	dir, err := os.MkdirTemp("", "minisentry-tests-")
	if err != nil {
		return err
	}
	if workDir, err = filepath.EvalSymlinks(dir); err != nil {
		return err
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sentryPath, sentryErr = buildSentry()
	}()
	err = compilePrograms()
	wg.Wait()
	return err
}

// raceEnv, set to anything, builds the minisentry the tests run with the
// race detector (tests/run --race sets it).
const raceEnv = "MINISENTRY_RACE"

// buildSentry builds cmd/minisentry into workDir.
func buildSentry() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is not in PATH: %w", err)
	}
	out := filepath.Join(workDir, "minisentry")
	args := []string{"build", "-o", out}
	if os.Getenv(raceEnv) != "" {
		// A race the detector finds makes minisentry print a report on
		// stderr and exit with status 66: every comparison then fails.
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "./cmd/minisentry")...)
	cmd.Dir = moduleRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/minisentry: %v\n%s", err, msg)
	}
	return out, nil
}

// compilePrograms builds every program with each of its toolchains, a few
// compilers at a time.
func compilePrograms() error {
	type job struct{ prog, tc string }
	var jobs []job
	for prog, tcs := range programs {
		for _, tc := range tcs {
			jobs = append(jobs, job{prog, tc})
		}
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, runtime.NumCPU()+1)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = compile(j.prog, j.tc)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func compile(prog, tc string) error {
	t := toolchains[tc]
	src := filepath.Join(moduleRoot, "tests", "programs", prog+".c")
	args := append(append([]string{}, t.flags...), "-Wall", "-o", binPath(prog, tc), src)
	if out, err := exec.Command(t.cc, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", t.cc, strings.Join(args, " "), err, out)
	}
	return nil
}

// binPath is where compile puts a program built with a toolchain.
func binPath(prog, tc string) string {
	return filepath.Join(workDir, prog+"-"+tc)
}

// noteInputsOnce reads every source file the tests depend on without the go
// command knowing: minisentry's sources (built by a `go build` the test
// starts) and the C programs. `go test` records the files a test opens and
// reruns the test when one changes, instead of serving a cached pass for a
// sentry that has changed since. It must run inside a test: opens before
// m.Run are not recorded.
var noteInputsOnce sync.Once

func noteInputs() {
	noteInputsOnce.Do(func() {
		filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if name := d.Name(); name != "." && strings.HasPrefix(name, ".") && path != moduleRoot {
					return filepath.SkipDir
				}
				return nil
			}
			switch filepath.Ext(path) {
			case ".go", ".c", ".h", ".s", ".mod", ".sum":
				os.ReadFile(path)
			}
			return nil
		})
		for _, tool := range []string{"gcc", "musl-gcc", "/bin/busybox"} {
			if p, err := exec.LookPath(tool); err == nil {
				os.Stat(p)
			}
		}
	})
}

// outcome is what a run of a program shows the world.
type outcome struct {
	// Status is the exit status, or 128+N when signal N killed the
	// program (what a shell reports, and what minisentry must exit with).
	// For minisentry itself, death by signal N is -N: minisentry must
	// exit, not die.
	Status int
	Stdout string
	Stderr string
}

// invocation is how to run a program.
type invocation struct {
	args  []string // the arguments after argv[0]
	stdin string   // standard input (always a pipe, even when empty)

	// env is the environment the program must see; nil means testEnv.
	env []string
	// flags go to `minisentry run` before the "--".
	flags []string
	// sentryEnv is the environment of the minisentry process; nil means
	// env, which the sentry passes through.
	sentryEnv []string

	// dir is the working directory of the program (and of minisentry,
	// whose it is); "" means the test's.
	dir string
	// prepare, if not nil, runs before each run of the program, native
	// or not, to set up the files it works on afresh.
	prepare func(t *testing.T)
}

func (inv invocation) programEnv() []string {
	if inv.env == nil {
		return testEnv
	}
	return inv.env
}

// run runs argv and describes how it ended ("exit status 3", "killed by
// signal 11 (segmentation fault)").
func run(t *testing.T, argv, env []string, stdin, dir string, signalStatus func(syscall.Signal) int) (outcome, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var o outcome
	var how string
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		o.Status, how = -1, fmt.Sprintf("timed out after %v and was killed", runTimeout)
	case err == nil:
		how = "exit status 0"
	case errors.As(err, &exitErr):
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			o.Status = signalStatus(ws.Signal())
			how = fmt.Sprintf("killed by signal %d (%v)", ws.Signal(), ws.Signal())
		} else {
			o.Status = ws.ExitStatus()
			how = fmt.Sprintf("exit status %d", o.Status)
		}
	default:
		t.Fatalf("running %q: %v", argv, err)
	}
	o.Stdout, o.Stderr = stdout.String(), stderr.String()
	return o, how
}

// runNative runs bin directly.
func runNative(t *testing.T, bin string, inv invocation) (outcome, string) {
	t.Helper()
	if inv.prepare != nil {
		inv.prepare(t)
	}
	return run(t, append([]string{bin}, inv.args...), inv.programEnv(), inv.stdin, inv.dir,
		func(s syscall.Signal) int { return 128 + int(s) })
}

// runSentry runs bin under `minisentry run`, with extra flags before inv's.
func runSentry(t *testing.T, bin string, inv invocation, extra ...string) (outcome, string) {
	t.Helper()
	env := inv.sentryEnv
	if env == nil {
		env = inv.programEnv()
	}
	if inv.prepare != nil {
		inv.prepare(t)
	}
	return run(t, sentryArgv(bin, inv, extra...), env, inv.stdin, inv.dir,
		func(s syscall.Signal) int { return -int(s) })
}

func sentryArgv(bin string, inv invocation, extra ...string) []string {
	argv := append([]string{sentryPath, "run"}, extra...)
	argv = append(argv, inv.flags...)
	argv = append(argv, "--", bin)
	return append(argv, inv.args...)
}

// requireSentry fails the test if minisentry did not build.
func requireSentry(t *testing.T) {
	t.Helper()
	if sentryErr != nil {
		t.Fatalf("minisentry did not build, so this cannot run under it:\n%v", sentryErr)
	}
}

// compare runs bin natively, checks that it ended with wantStatus there (if
// not, the program or this machine is at fault, not minisentry), then runs
// it under minisentry and checks that stdout, stderr and exit status are
// the same.
func compare(t *testing.T, bin string, inv invocation, wantStatus int) {
	t.Helper()
	noteInputs()
	native, nativeHow := runNative(t, bin, inv)
	if native.Status != wantStatus {
		t.Fatalf("natively, %s ended with %s, want exit status %d: the test program (or this machine) is wrong, not minisentry\n%s",
			commandLine(bin, inv.args), nativeHow, wantStatus, showOutcome(native))
	}
	requireSentry(t)
	got, gotHow := runSentry(t, bin, inv)
	if diff := cmp.Diff(native, got); diff != "" {
		t.Errorf("%s differs under minisentry (-native +minisentry):\n%s\n"+
			"natively: %s\n%s\nunder minisentry: %s\n%s\n%s",
			commandLine(bin, inv.args), diff, nativeHow, showOutcome(native), gotHow, showOutcome(got),
			straceTail(t, bin, inv))
	}
}

// straceTail reruns the program under `minisentry run --strace` and returns
// the end of what it logged, to help find where the runs part ways.
func straceTail(t *testing.T, bin string, inv invocation) string {
	t.Helper()
	const keep = 80
	o, how := runSentry(t, bin, inv, "--strace")
	lines := strings.Split(strings.TrimRight(o.Stderr, "\n"), "\n")
	head := fmt.Sprintf("rerun as %s (%s); its stderr", strings.Join(sentryArgv(bin, inv, "--strace"), " "), how)
	if len(lines) > keep {
		head += fmt.Sprintf(", last %d of %d lines", keep, len(lines))
		lines = lines[len(lines)-keep:]
	}
	return head + ":\n" + indent(strings.Join(lines, "\n"))
}

func showOutcome(o outcome) string {
	return fmt.Sprintf("  stdout:\n%s\n  stderr:\n%s", indent(o.Stdout), indent(o.Stderr))
}

// indent prefixes each line with four spaces, and caps very long outputs.
func indent(s string) string {
	const maxLines = 120
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (empty)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = append(lines[:maxLines], fmt.Sprintf("(%d more lines)", len(lines)-maxLines))
	}
	return "    " + strings.Join(lines, "\n    ")
}

func commandLine(bin string, args []string) string {
	q := []string{filepath.Base(bin)}
	for _, a := range args {
		if len(a) > 40 {
			a = fmt.Sprintf("%s...(%d bytes)", a[:20], len(a))
		}
		q = append(q, fmt.Sprintf("%q", a))
	}
	return strings.Join(q, " ")
}

// forEach runs f as a parallel subtest for each of the toolchains tcs, or
// for each static toolchain prog is built with when tcs is empty.
func forEach(t *testing.T, prog string, f func(t *testing.T, bin string), tcs ...string) {
	t.Helper()
	if len(tcs) == 0 {
		for _, tc := range programs[prog] {
			if tc != "glibc-dynamic" {
				tcs = append(tcs, tc)
			}
		}
	}
	for _, tc := range tcs {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			f(t, binPath(prog, tc))
		})
	}
}
