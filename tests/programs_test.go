package tests

import (
	"fmt"
	"strings"
	"testing"
)

// One test per C program in programs/. Each runs the program natively and
// under minisentry, for every libc it is built with (subtests glibc, musl,
// and glibc-static-pie for some), and compares the two runs. The programs
// check themselves and print what they check, so a mismatch points at the
// line that differs.

func TestHello(t *testing.T) {
	t.Parallel()
	forEach(t, "hello", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	forEach(t, "exit", func(t *testing.T, bin string) {
		// exit(256) keeps the low 8 bits: status 0.
		for _, status := range []int{0, 1, 3, 42, 255, 256} {
			t.Run(fmt.Sprint(status), func(t *testing.T) {
				compare(t, bin, invocation{args: []string{fmt.Sprint(status)}}, status&0xff)
			})
		}
	})
}

func TestArgsAndEnv(t *testing.T) {
	t.Parallel()
	args := []string{
		"one", "", "two words", "ünïcödé", "-x", "--", "--strace",
		strings.Repeat("long", 2000),
	}
	forEach(t, "args", func(t *testing.T, bin string) {
		t.Run("none", func(t *testing.T) {
			compare(t, bin, invocation{}, 0)
		})
		t.Run("many", func(t *testing.T) {
			compare(t, bin, invocation{args: args}, 0)
		})
	})
}

func TestAuxv(t *testing.T) {
	t.Parallel()
	forEach(t, "auxv", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

func TestWritev(t *testing.T) {
	t.Parallel()
	forEach(t, "writev", func(t *testing.T, bin string) {
		compare(t, bin, invocation{stdin: "0123456789abcdef\n"}, 0)
	})
}

func TestEFAULT(t *testing.T) {
	t.Parallel()
	forEach(t, "efault", func(t *testing.T, bin string) {
		compare(t, bin, invocation{stdin: "input data\n"}, 0)
	})
}

func TestBrk(t *testing.T) {
	t.Parallel()
	forEach(t, "brk", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

func TestMmap(t *testing.T) {
	t.Parallel()
	forEach(t, "mmap", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

// TestDeathBySignal: natively the program dies of the signal; minisentry
// must exit with 128 + the signal's number, after passing on what the
// program printed.
func TestDeathBySignal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		how    string
		status int
	}{
		{"null", 128 + 11},
		{"unmapped", 128 + 11},
		{"readonly", 128 + 11},
		{"exec", 128 + 11},
		{"ill", 128 + 4},
		{"fpe", 128 + 8},
	}
	forEach(t, "die", func(t *testing.T, bin string) {
		for _, c := range cases {
			t.Run(c.how, func(t *testing.T) {
				compare(t, bin, invocation{args: []string{c.how}}, c.status)
			})
		}
	})
}

func TestSysinfo(t *testing.T) {
	t.Parallel()
	forEach(t, "sysinfo", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

func TestUnknownSyscall(t *testing.T) {
	t.Parallel()
	forEach(t, "enosys", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

// TestCompat32: 32-bit code segments, entered and left by far returns and
// by a signal frame, keep running in 32-bit mode across the faults and
// signals the sentry serves.
func TestCompat32(t *testing.T) {
	t.Parallel()
	forEach(t, "compat32", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

// TestTimers: alarm, setitimer and the POSIX timers, with their signals,
// overruns and errors; the program also execs itself, to check what exec
// keeps.
func TestTimers(t *testing.T) {
	t.Parallel()
	forEach(t, "timers", func(t *testing.T, bin string) {
		compare(t, bin, invocation{}, 0)
	})
}

// TestPoll: poll, select, epoll and eventfd on pipes, eventfds, epoll
// instances and standard input (a host pipe), the signal masks of ppoll,
// pselect6 and epoll_pwait, and record locks and flock between processes,
// on pipes and on a regular file.
func TestPoll(t *testing.T) {
	t.Parallel()
	cases := []string{"poll", "select", "sigmask", "epoll", "epoll_modes", "eventfd", "wakeup", "stdin", "locks", "flock"}
	forEach(t, "poll", func(t *testing.T, bin string) {
		for _, c := range cases {
			t.Run(c, func(t *testing.T) {
				compare(t, bin, invocation{args: []string{c}, stdin: "hello\n"}, 0)
			})
		}
		t.Run("files", func(t *testing.T) {
			dir, prepare := freshDir(t)
			compare(t, bin, invocation{args: []string{"files", dir}, prepare: prepare}, 0)
		})
	})
}
