package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
)

// ForwardHostSignal passes a signal that the sentry itself received (a
// Ctrl-C at the terminal, a kill from the host) to the application: to
// every process in the first process's process group, the sandbox's
// foreground, as if the terminal had sent it. It reports whether any
// process received it.
func (k *Kernel) ForwardHostSignal(sig unix.Signal) bool {
	k.mu.Lock()
	if k.init == nil {
		k.mu.Unlock()
		return false
	}
	pgid := k.init.pgid
	var targets []*ThreadGroup
	seen := make(map[*ThreadGroup]bool)
	for _, t := range k.tasks {
		if tg := t.tg; !seen[tg] && tg.pgid == pgid {
			seen[tg] = true
			targets = append(targets, tg)
		}
	}
	k.mu.Unlock()
	for _, tg := range targets {
		// Sent from outside the sandbox: si_pid 0, as for a signal from
		// an ancestor pid namespace.
		tg.SendSignal(&SignalInfo{Signo: int32(sig), Code: platform.SI_USER})
	}
	return len(targets) > 0
}
