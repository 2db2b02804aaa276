package tests

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Tests of the command line contract of `minisentry run` beyond "same as
// native": its flags, and its errors for the person at the terminal.

// TestStrace: --strace logs each syscall with decoded arguments on stderr
// and leaves the program's own output and status alone.
func TestStrace(t *testing.T) {
	t.Parallel()
	forEach(t, "hello", func(t *testing.T, bin string) {
		noteInputs()
		native, _ := runNative(t, bin, invocation{})
		requireSentry(t)
		got, how := runSentry(t, bin, invocation{}, "--strace")
		if got.Status != native.Status || got.Stdout != native.Stdout {
			t.Errorf("with --strace: %s and stdout %q, want exit status %d and %q", how, got.Stdout, native.Status, native.Stdout)
		}
		// The write shows its buffer decoded as a quoted string, the way
		// strace and gVisor do; the exit_group shows up too.
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`write.*"hello, world`),
			regexp.MustCompile(`exit_group`),
		} {
			if !want.MatchString(got.Stderr) {
				t.Errorf("--strace output has no line matching %q:\n%s", want, indent(got.Stderr))
			}
		}
	}, "glibc", "musl")
}

// TestEnvFlags: --clear-env starts the program's environment empty and
// --env K=V adds to it; without --clear-env the sentry's own environment
// passes through, with --env's additions after it.
func TestEnvFlags(t *testing.T) {
	t.Parallel()
	forEach(t, "args", func(t *testing.T, bin string) {
		t.Run("clear-env", func(t *testing.T) {
			compare(t, bin, invocation{
				args:      []string{"x"},
				flags:     []string{"--clear-env", "--env", "A=1", "--env", "B=two words"},
				env:       []string{"A=1", "B=two words"},
				sentryEnv: testEnv,
			}, 0)
		})
		t.Run("add", func(t *testing.T) {
			compare(t, bin, invocation{
				flags:     []string{"--env", "EXTRA=added"},
				env:       append(append([]string{}, testEnv...), "EXTRA=added"),
				sentryEnv: testEnv,
			}, 0)
		})
	})
}

// TestRefusals: what minisentry cannot run, it refuses with one clear line
// on stderr and a failing status, never a stack trace or a hang.
func TestRefusals(t *testing.T) {
	t.Parallel()
	noteInputs()
	dynamic := binPath("hello", "glibc-dynamic")
	if o, how := runNative(t, dynamic, invocation{}); o.Status != 0 || o.Stdout != "hello, world\n" {
		t.Fatalf("natively, the dynamically linked hello ended with %s:\n%s", how, showOutcome(o))
	}
	cases := []struct {
		name, bin string
		message   *regexp.Regexp
	}{
		{"dynamic", dynamic, regexp.MustCompile(`dynamically linked`)},
		{"missing", filepath.Join(workDir, "no-such-program"), regexp.MustCompile(regexp.QuoteMeta("no-such-program"))},
		{"not-elf", filepath.Join(moduleRoot, "tests", "programs", "hello.c"), regexp.MustCompile(`hello\.c`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			requireSentry(t)
			o, how := runSentry(t, c.bin, invocation{})
			lines := strings.Split(strings.TrimRight(o.Stderr, "\n"), "\n")
			if o.Status <= 0 || o.Stdout != "" || len(lines) != 1 || !c.message.MatchString(o.Stderr) {
				t.Errorf("minisentry run -- %s: %s; want a failing exit status, no stdout and one line of stderr matching %q\n%s",
					c.bin, how, c.message, showOutcome(o))
			}
		})
	}
}

// TestStdoutToFile: the program's standard output is minisentry's own host
// descriptor, file offset and O_APPEND included, so that
// `{ echo before; minisentry run -- prog; } > f` leaves what a native run
// leaves in f.
func TestStdoutToFile(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		flag int
	}{
		{"offset", os.O_WRONLY},
		{"append", os.O_WRONLY | os.O_APPEND},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			forEach(t, "hello", func(t *testing.T, bin string) {
				noteInputs()
				// runInto runs argv with stdout on a file that already
				// holds a line, the descriptor's offset after it, and
				// returns the file's contents and how the run ended.
				runInto := func(argv []string) (string, string) {
					path := filepath.Join(t.TempDir(), "out")
					if err := os.WriteFile(path, []byte("before\n"), 0o644); err != nil {
						t.Fatal(err)
					}
					f, err := os.OpenFile(path, mode.flag, 0)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					if _, err := f.Seek(0, io.SeekEnd); err != nil {
						t.Fatal(err)
					}
					cmd := exec.Command(argv[0], argv[1:]...)
					cmd.Env = testEnv
					cmd.Stdout = f
					var stderr strings.Builder
					cmd.Stderr = &stderr
					how := "exit status 0"
					if err := cmd.Run(); err != nil {
						how = err.Error()
					}
					got, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					return string(got), how + ", stderr " + strconv.Quote(stderr.String())
				}
				native, nativeHow := runInto([]string{bin})
				if native != "before\nhello, world\n" {
					t.Fatalf("natively (%s) the file holds %q", nativeHow, native)
				}
				requireSentry(t)
				got, how := runInto(sentryArgv(bin, invocation{}))
				if got != native {
					t.Errorf("under minisentry (%s) the file holds %q, natively %q", how, got, native)
				}
			}, "glibc", "musl")
		})
	}
}
