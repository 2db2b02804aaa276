//go:build exercise_getcpu || exercise_proclimits || exercise_strace_itimerval || exercise_stack || exercise_dontunmap

package exercises

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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The harness of the exercises, a small cousin of tests/harness_test.go:
// TestMain builds minisentry once; each test compiles its own program with
// gcc -static, runs it natively and under `minisentry run`, and compares
// what the two runs print and how they end. Its build constraint names
// every exercise's tag: a new exercise adds its own.

// runTimeout bounds one run of a program; every exercise program takes
// well under a second.
const runTimeout = 60 * time.Second

// env is the whole environment of every run, small and fixed so that the
// stacks the programs start with are the same size natively and under the
// sentry.
var env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}

var (
	// moduleRoot holds go.mod; workDir the binaries.
	moduleRoot, workDir string
	// sentry is the minisentry binary, or sentryErr why it did not build.
	sentry    string
	sentryErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := 1
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "exercises: %v\n", err)
	} else {
		code = m.Run()
	}
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// setup makes the work directory and builds minisentry into it. A sentry
// that does not build fails each test, with the compiler's message.
func setup() error {
	// Programs that die of SIGSEGV natively must not leave core files.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return err
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		return fmt.Errorf("the exercises compile their programs with gcc -static: %w", err)
	}
	var err error
	if moduleRoot, err = filepath.Abs("../.."); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(moduleRoot, "go.mod")); err != nil {
		return fmt.Errorf("run the exercises from the module: go test -tags exercise_NAME ./tests/exercises/: %w", err)
	}
	dir, err := os.MkdirTemp("", "minisentry-exercises-")
	if err != nil {
		return err
	}
	// No symlinks in the path: argv[0] is then what /proc/self/exe says.
	if workDir, err = filepath.EvalSymlinks(dir); err != nil {
		return err
	}
	sentry = filepath.Join(workDir, "minisentry")
	build := exec.Command("go", "build", "-o", sentry, "./cmd/minisentry")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		sentryErr = fmt.Errorf("go build ./cmd/minisentry: %v\n%s", err, out)
	}
	return nil
}

// compile builds programs/NAME.c with gcc -static, with the extra flags,
// and returns the binary's path. The programs include tests/programs'
// check.h, the self-checking kit of the integration tests.
func compile(t *testing.T, name string, flags ...string) string {
	t.Helper()
	noteInputs()
	bin := filepath.Join(workDir, name)
	args := append([]string{"-static", "-O1", "-Wall", "-I", filepath.Join(moduleRoot, "tests", "programs")}, flags...)
	args = append(args, "-o", bin, filepath.Join("programs", name+".c"))
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// noteInputs reads every source file of the module once. go test caches a
// passing result and serves it again until a file the test opened
// changes; it does not know that the test builds minisentry with a `go
// build` of its own, so without this an edit to the sentry would not rerun
// the test.
var noteInputsOnce sync.Once

func noteInputs() {
	noteInputsOnce.Do(func() {
		filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return nil
			case d.IsDir() && path != moduleRoot && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			case !d.IsDir():
				switch filepath.Ext(path) {
				case ".go", ".c", ".h", ".mod", ".sum":
					os.ReadFile(path)
				}
			}
			return nil
		})
	})
}

// outcome is what a run shows: its output and how it ended, as a shell
// reports it (128+N for death by signal N).
type outcome struct {
	status         int
	stdout, stderr string
}

func (o outcome) String() string {
	return fmt.Sprintf("status %d\n--- stdout:\n%s--- stderr:\n%s", o.status, o.stdout, o.stderr)
}

// run runs argv with the fixed environment.
func run(t *testing.T, argv ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	o := outcome{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%q timed out after %v", argv, runTimeout)
	case errors.As(err, &exitErr):
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			o.status = 128 + int(ws.Signal())
		} else {
			o.status = ws.ExitStatus()
		}
	case err != nil:
		t.Fatalf("running %q: %v", argv, err)
	}
	return o
}

// runSentry runs bin under `minisentry run` with flags.
func runSentry(t *testing.T, bin string, flags ...string) outcome {
	t.Helper()
	if sentryErr != nil {
		t.Fatal(sentryErr)
	}
	argv := append(append([]string{sentry, "run"}, flags...), "--", bin)
	return run(t, argv...)
}

// compare runs bin natively, where it must exit with status 0 (if it does
// not, the program or the machine is wrong, not minisentry), then under
// minisentry, and fails the test if the two runs differ. On a difference
// it shows both runs, line by line, and the end of a --strace rerun.
func compare(t *testing.T, bin string) {
	t.Helper()
	native := run(t, bin)
	if native.status != 0 {
		t.Fatalf("natively, %s failed: the program or this machine is wrong, not minisentry\n%v", filepath.Base(bin), native)
	}
	got := runSentry(t, bin)
	if got == native {
		return
	}
	t.Errorf("%s differs under minisentry\n%s\n=== natively:\n%v\n=== under minisentry:\n%v\n=== the end of a rerun under --strace:\n%s",
		filepath.Base(bin), lineDiff(native.stdout, got.stdout), native, got, straceTail(t, bin))
}

// lineDiff shows how stdout differs between the two runs: the lines of
// both, those only in the native run marked "-", those only under
// minisentry "+".
func lineDiff(native, sentry string) string {
	if native == sentry {
		return "stdout is the same; the exit status or stderr differs"
	}
	return "stdout (-native +minisentry):\n" + diffLines(strings.Split(native, "\n"), strings.Split(sentry, "\n"))
}

// diffLines returns a line diff of a and b, from their longest common
// subsequence: short outputs, so the quadratic table is cheap.
func diffLines(a, b []string) string {
	// lcs[i][j] is the length of the longest common subsequence of a[i:]
	// and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			fmt.Fprintf(&out, "  %s\n", a[i])
			i, j = i+1, j+1
		case j == len(b) || (i < len(a) && lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&out, "- %s\n", a[i])
			i++
		default:
			fmt.Fprintf(&out, "+ %s\n", b[j])
			j++
		}
	}
	return out.String()
}

// straceTail reruns bin under --strace and returns the last lines logged.
func straceTail(t *testing.T, bin string) string {
	t.Helper()
	const keep = 40
	o := runSentry(t, bin, "--strace")
	lines := strings.Split(strings.TrimRight(o.stderr, "\n"), "\n")
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	return strings.Join(lines, "\n")
}
