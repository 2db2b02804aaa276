//go:build exercise_strace_itimerval

package exercises

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestStraceItimerval: exercise 3, decode a struct in --strace. The lines
// --strace logs for programs/itimer.c's setitimer and getitimer calls must
// be strace(1)'s: the timer by name, each struct itimerval in full, the
// old value once the call has filled it, and NULL for no pointer.
//
// The reference is strace(1) run on the same binary, when it is
// installed; otherwise the lines below, which are what strace 6.1 prints.
func TestStraceItimerval(t *testing.T) {
	bin := compile(t, "itimer")
	compare(t, bin)

	want := wantItimerLines
	if strace, err := exec.LookPath("strace"); err == nil {
		log := filepath.Join(t.TempDir(), "strace.log")
		if o := run(t, strace, "-o", log, "-e", "trace=setitimer,getitimer", bin); o.status != 0 {
			t.Fatalf("strace(1) failed:\n%v", o)
		}
		want = readCalls(t, log, straceLine)
		t.Logf("reference: strace(1) at %s", strace)
	}

	log := filepath.Join(t.TempDir(), "minisentry.log")
	if o := runSentry(t, bin, "--strace", "--strace-syscalls=setitimer,getitimer", "--log-file", log); o.status != 0 {
		t.Fatalf("under minisentry --strace:\n%v", o)
	}
	got := readCalls(t, log, sentryLine)
	if !slices.Equal(want, got) {
		var b strings.Builder
		for i := range max(len(want), len(got)) {
			w, g := "(none)", "(none)"
			if i < len(want) {
				w = want[i]
			}
			if i < len(got) {
				g = got[i]
			}
			mark := "  "
			if w != g {
				mark = "! "
			}
			fmt.Fprintf(&b, "%sstrace(1):  %s\n%sminisentry: %s\n", mark, w, mark, g)
		}
		t.Errorf("--strace lines differ from strace(1)'s (! marks a difference):\n%s", b.String())
	}
}

// wantItimerLines are strace(1)'s lines for programs/itimer.c, the
// results shortened as readCalls shortens them.
var wantItimerLines = []string{
	"setitimer(ITIMER_REAL, {it_interval={tv_sec=1, tv_usec=500000}, it_value={tv_sec=2, tv_usec=250000}}, {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=0}}) = 0",
	"setitimer(ITIMER_REAL, {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=0}}, NULL) = 0",
	"getitimer(ITIMER_REAL, {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=0}}) = 0",
	"getitimer(ITIMER_VIRTUAL, {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=0}}) = 0",
	"getitimer(ITIMER_PROF, {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=0}}) = 0",
	"setitimer(ITIMER_PROF, {it_interval={tv_sec=0, tv_usec=999999}, it_value={tv_sec=30, tv_usec=0}}, NULL) = 0",
	"setitimer(ITIMER_PROF, {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=0, tv_usec=0}}, NULL) = 0",
	"getitimer(ITIMER_REAL, 0x8) = -1 EFAULT",
}

var (
	// straceLine is a call as strace(1) logs it: the call, spaces that
	// align the results, and the result (an error's explanation dropped).
	straceLine = regexp.MustCompile(`^(\w+\(.*\))\s+= (-1 E[A-Z0-9]+|\S+)`)
	// sentryLine is a call as --strace logs it: the log's time and level
	// and the task first, the handler's time after.
	sentryLine = regexp.MustCompile(`\[ *\d+\] (\w+\(.*\)) = (-1 E[A-Z0-9]+|\S+)`)
)

// readCalls returns the calls logged in file, as "call(args) = result".
func readCalls(t *testing.T, file string, re *regexp.Regexp) []string {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, line := range strings.Split(string(text), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			calls = append(calls, m[1]+" = "+m[2])
		}
	}
	return calls
}
