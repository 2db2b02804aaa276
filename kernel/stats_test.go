package kernel

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// testTable is a system call table that knows a few names.
func testTable() *SyscallTable {
	table := NewSyscallTable(map[uintptr]string{unix.SYS_READ: "read", unix.SYS_WRITE: "write", unix.SYS_GETPPID: "getppid"})
	table.Register(unix.SYS_WRITE, Syscall{Support: Full, Fn: func(*Task, SyscallArguments) (uintptr, error) { return 0, nil }})
	table.Register(unix.SYS_READ, Syscall{Support: Partial, Note: "no O_DIRECT", Fn: func(*Task, SyscallArguments) (uintptr, error) { return 0, nil }})
	table.Register(unix.SYS_RSEQ, Syscall{Name: "rseq", Support: Unimplemented, Note: "ENOSYS: libcs fall back"})
	return table
}

func TestObserveSyscallStats(t *testing.T) {
	s := NewSyscallStats()
	s.addCall(unix.SYS_WRITE, false, 8*time.Microsecond, 1*time.Microsecond)
	s.addResume(unix.SYS_WRITE, 1*time.Microsecond)
	s.addCall(unix.SYS_WRITE, true, 2*time.Microsecond, 0)
	s.addCall(unix.SYS_GETPPID, false, 100*time.Nanosecond, 900*time.Nanosecond)
	s.addCall(9999, false, time.Microsecond, 0)
	s.addSwitch(3 * time.Microsecond)
	s.addFault(5 * time.Microsecond)

	rows := s.Rows(testTable())
	want := []SyscallStat{
		{Sysno: unix.SYS_WRITE, Name: "write", Calls: 2, Errors: 1, Handler: 10 * time.Microsecond, Intercept: 2 * time.Microsecond},
		{Sysno: unix.SYS_GETPPID, Name: "getppid", Calls: 1, Handler: 100 * time.Nanosecond, Intercept: 900 * time.Nanosecond},
		{Sysno: 9999, Name: "syscall_9999", Calls: 1, Handler: time.Microsecond},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Rows (-want +got):\n%s", diff)
	}

	var buf bytes.Buffer
	if err := s.WriteTable(&buf, testTable()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, re := range []string{
		`(?m)^% time     seconds  usecs/call     calls    errors   handler intercept syscall$`,
		`(?m)^ 85\.71    0\.000012           6         2         1    83\.33%    16\.67% write$`,
		`(?m)^  7\.14    0\.000001           1         1 {14}10\.00%    90\.00% getppid$`,
		`(?m)^100\.00    0\.000014 {21}4         1    79\.29%    20\.71% total$`,
		`In Switch: 0\.000003 s over 1 stops \(3µs each\)`,
		`Page faults: 1, served in 0\.000005 s`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the table has no line matching %q:\n%s", re, out)
		}
	}
	// Every line of the table is as wide as its header's columns.
	for _, line := range strings.Split(out, "\n")[:7] {
		if len(line) < 70 {
			t.Errorf("short table line %q", line)
		}
	}
}
