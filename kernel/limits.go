package kernel

import (
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
	return limits
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
