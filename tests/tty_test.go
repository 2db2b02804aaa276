package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// A terminal as standard input: the test makes a pseudo-terminal of 33
// rows by 111 columns and gives its slave to tty.c, natively and under
// minisentry; isatty, tcgetattr, TCGETS and TIOCGWINSZ must answer the
// same, and write no byte past the kernel's structures.

func init() {
	programs["tty"] = staticLibcs
}

// openPTY returns the master and slave of a new pseudo-terminal with the
// given window size.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	if err := unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatalf("TIOCSWINSZ: %v", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	slave, err = os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// TestEscapeTTYAttrs: the sandbox's /dev/tty is the host's, opened by the
// sentry for a program whose terminal it is (here a pseudo-terminal the
// test makes minisentry's controlling terminal). The program may use it
// but not change the host's /dev/tty inode: fchmod, fchown and futimens
// fail with EPERM, and its stat stays as it was.
func TestEscapeTTYAttrs(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		requireSentry(t)
		noteInputs()
		var before unix.Stat_t
		if err := unix.Stat("/dev/tty", &before); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			var after unix.Stat_t
			if err := unix.Stat("/dev/tty", &after); err != nil {
				t.Fatal(err)
			}
			if after.Mode != before.Mode || after.Uid != before.Uid || after.Gid != before.Gid || after.Mtim != before.Mtim {
				t.Errorf("the host's /dev/tty changed: mode %o uid %d gid %d mtime %v, was %o %d %d %v",
					after.Mode, after.Uid, after.Gid, after.Mtim, before.Mode, before.Uid, before.Gid, before.Mtim)
				// Put it back, for the machine's sake.
				unix.Chmod("/dev/tty", before.Mode&0o7777)
				unix.Chown("/dev/tty", int(before.Uid), int(before.Gid))
				unix.UtimesNano("/dev/tty", []unix.Timespec{before.Atim, before.Mtim})
			}
		})
		_, slave := openPTY(t, 24, 80)
		ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, sentryPath, "run", "--", bin, "ttyattr")
		cmd.Env = testEnv
		cmd.Stdin = slave
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		// A session of its own, with the terminal as its controlling one.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		err := cmd.Run()
		if err != nil || !strings.HasSuffix(stdout.String(), "\n0 checks failed\n") {
			t.Errorf("escape ttyattr under minisentry: %v\n%s", err, showOutcome(outcome{Stdout: stdout.String(), Stderr: stderr.String()}))
		}
	})
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	forEach(t, "tty", func(t *testing.T, bin string) {
		noteInputs()
		_, slave := openPTY(t, 33, 111)
		runOn := func(argv ...string) outcome {
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = testEnv
			cmd.Stdin = slave
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			o := outcome{}
			if err := cmd.Run(); err != nil {
				o.Status = -1
				if ee, ok := err.(*exec.ExitError); ok {
					o.Status = ee.ExitCode()
				}
			}
			o.Stdout, o.Stderr = stdout.String(), stderr.String()
			return o
		}
		native := runOn(bin)
		if native.Status != 0 {
			t.Fatalf("natively, tty failed: the program (or this machine) is wrong\n%s", showOutcome(native))
		}
		requireSentry(t)
		got := runOn(sentryPath, "run", "--", bin)
		if diff := cmp.Diff(native, got); diff != "" {
			t.Errorf("tty differs under minisentry (-native +minisentry):\n%s", diff)
		}
	})
}
