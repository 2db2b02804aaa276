package kernel

import "github.com/minisentry/minisentry/usermem"

// wakeFutexOnExit wakes one waiter on the futex at addr, as a thread's exit
// does for its clear_child_tid address.
func (k *Kernel) wakeFutexOnExit(t *Task, addr usermem.Addr) {
	// Filled in when futexes land.
}
