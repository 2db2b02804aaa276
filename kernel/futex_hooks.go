package kernel

import (
	"github.com/minisentry/minisentry/kernel/futex"
	"github.com/minisentry/minisentry/usermem"
)

// wakeFutexOnExit wakes one waiter on the futex at addr, as a thread's exit
// does for its clear_child_tid address: what pthread_join waits on. Linux
// wakes it as a shared futex (FUTEX_WAKE without FUTEX_PRIVATE_FLAG),
// whose key for private memory is the same as a private futex's.
func (k *Kernel) wakeFutexOnExit(t *Task, addr usermem.Addr) {
	key, err := futex.KeyFor(t, t.mm, addr, false)
	if err != nil {
		return
	}
	k.futexes.Wake(key, futex.BitsetMatchAny, 1)
}
