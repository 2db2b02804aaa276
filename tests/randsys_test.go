package tests

import (
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The random-syscall storm: randsys.c makes at least 100,000 system calls
// with random numbers and hostile arguments, wild pointers included, in
// worker processes under --root, --memory-limit and --max-tasks. The
// sentry must survive all of it: minisentry ends with the program's own
// status (0, printed with the tally), says nothing on stderr (no panic,
// no handler returning a non-errno error), leaves no stub process or
// temporary file behind, and nothing outside the root changes.
//
// There is no native run to compare with: natively, as root, the same
// calls would do what they ask to the host.

func init() {
	programs["randsys"] = staticLibcs
}

var (
	randsysSeeds = flag.Int("randsys.seeds", 1, "how many seeds TestRandomSyscalls runs per libc, each of -randsys.calls calls")
	randsysCalls = flag.Int("randsys.calls", 100000, "how many system calls each run of randsys makes")
)

// randsysTally is the line randsys prints at the end.
var randsysTally = regexp.MustCompile(`^randsys: seed (\d+): (\d+) calls in (\d+) workers \((\d+) exited, (\d+) killed by a signal, (\d+) by the watchdog\) in [0-9.]+ s\n$`)

func TestRandomSyscalls(t *testing.T) {
	t.Parallel()
	// Each libc gets seeds of its own, so that the runs differ.
	firstSeed := map[string]int{"glibc": 1, "musl": 1001}
	for _, tc := range staticLibcs {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			bin := binPath("randsys", tc)
			for seed := firstSeed[tc]; seed < firstSeed[tc]+*randsysSeeds; seed++ {
				t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
					stormOnce(t, bin, seed, *randsysCalls)
				})
			}
		})
	}
}

// stormOnce runs randsys once under minisentry with seed and checks how it
// ended.
func stormOnce(t *testing.T, bin string, seed, calls int) {
	root, _, check := confinedRoot(t, bin)
	flags := []string{"--root", root, "--memory-limit", "256M", "--max-tasks", "64"}
	w := startSentry(t, flags, "/confine", strconv.Itoa(seed), strconv.Itoa(calls))
	status := w.wait()
	out := w.out.String()
	m := randsysTally.FindStringSubmatch(out)
	switch {
	case status != 0:
		t.Errorf("minisentry ended with %d, want the program's 0\n%s", status, w.show())
	case m == nil:
		t.Errorf("randsys did not print its tally\n%s", w.show())
	case m[1] != strconv.Itoa(seed):
		t.Errorf("randsys ran seed %s, want %d", m[1], seed)
	default:
		if n, _ := strconv.Atoi(m[2]); n < calls {
			t.Errorf("randsys made %d calls, want at least %d", n, calls)
		}
		t.Logf("%s", strings.TrimSpace(out))
	}
	if stderr := w.err.String(); stderr != "" {
		t.Errorf("minisentry wrote to stderr during the storm:\n%s", indent(stderr))
	}
	w.checkNothingLeft()
	check()
}
