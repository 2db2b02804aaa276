package kernel

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rlimitCount is RLIM_NLIMITS: the number of resource limits Linux has.
const rlimitCount = unix.RLIMIT_RTTIME + 1

// Rlimit is a resource limit, as struct rlimit64.
type Rlimit struct {
	Cur uint64
	Max uint64
}

// hostLimits returns the sentry's own limits, which a new sandbox starts
// with, so a program sees the limits it would see running natively.
func hostLimits() [rlimitCount]Rlimit {
	var limits [rlimitCount]Rlimit
	for r := range limits {
		var rl unix.Rlimit
		if err := unix.Getrlimit(r, &rl); err != nil {
			rl = unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
		}
		limits[r] = Rlimit{Cur: rl.Cur, Max: rl.Max}
	}
	// The Go runtime raises its own soft RLIMIT_NOFILE to the hard limit
	// when it starts (and restores it only for programs it executes
	// itself). The program would natively have inherited the limit of
	// whoever started minisentry: take that one.
	if cur, ok := parentOpenFilesLimit(); ok && cur <= limits[unix.RLIMIT_NOFILE].Max {
		limits[unix.RLIMIT_NOFILE].Cur = cur
	}
	return limits
}

// parentOpenFilesLimit reads the soft "Max open files" limit of the
// sentry's parent process from /proc.
func parentOpenFilesLimit() (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", os.Getppid()))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Max open files")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		if fields[0] == "unlimited" {
			return unix.RLIM_INFINITY, true
		}
		v, err := strconv.ParseUint(fields[0], 10, 64)
		return v, err == nil
	}
	return 0, false
}

// Limit returns the group's limit for resource r.
//
// Preconditions: 0 <= r < rlimitCount.
func (tg *ThreadGroup) Limit(r int) Rlimit {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.limits[r]
}

// SetLimit sets the group's limit for resource r, with setrlimit(2)'s
// rules, and returns the old one.
func (t *Task) SetLimit(r int, rl Rlimit) (Rlimit, error) {
	if r < 0 || r >= rlimitCount {
		return Rlimit{}, unix.EINVAL
	}
	tg := t.tg
	tg.mu.Lock()
	old := tg.limits[r]
	if rl.Cur > rl.Max {
		tg.mu.Unlock()
		return old, unix.EINVAL
	}
	// Only a privileged process may raise a hard limit; the sandbox's
	// tasks are not privileged in the sentry's eyes.
	if rl.Max > old.Max {
		tg.mu.Unlock()
		return old, unix.EPERM
	}
	tg.limits[r] = rl
	tg.mu.Unlock()
	t.mm.SetLimits(tg.memoryLimits())
	return old, nil
}

// ValidLimit reports whether r names a resource.
func ValidLimit(r int) bool {
	return r >= 0 && r < rlimitCount
}
