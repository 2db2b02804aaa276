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

// Robust futex constants, from <linux/futex.h>.
const (
	futexWaiters    = 0x80000000
	futexOwnerDied  = 0x40000000
	futexTIDMask    = 0x3fffffff
	robustListLimit = 2048
)

// exitRobustList walks the robust futex list that set_robust_list(2)
// registered, as a dying thread does on Linux: every lock the thread still
// holds is marked FUTEX_OWNER_DIED and one waiter is woken, so that a
// process-shared robust mutex returns EOWNERDEAD to the next owner rather
// than deadlock. The list is the application's memory, hence hostile: the
// walk stops at the first fault and after robustListLimit entries.
func (t *Task) exitRobustList() {
	if t.robustList == 0 {
		return
	}
	// struct robust_list_head { struct robust_list *next; long
	// futex_offset; struct robust_list *list_op_pending; }
	var head [3]uint64
	if _, err := t.CopyIn(t.robustList, &head); err != nil {
		return
	}
	// Bit 0 of each pointer marks a PI futex; the entry is the rest.
	next, offset, pending := head[0]&^1, int64(head[1]), head[2]&^1
	for i := 0; next != uint64(t.robustList) && i < robustListLimit; i++ {
		// Read the link before releasing the lock: the next owner may
		// free the entry at once.
		var after uint64
		if _, err := t.CopyIn(usermem.Addr(next), &after); err != nil {
			break
		}
		if next != pending {
			t.robustFutexDied(usermem.Addr(uint64(int64(next) + offset)))
		}
		next = after &^ 1
	}
	if pending != 0 {
		t.robustFutexDied(usermem.Addr(uint64(int64(pending) + offset)))
	}
}

// robustFutexDied releases the robust futex word at addr if this task owns
// it: the owner's tid becomes FUTEX_OWNER_DIED (keeping FUTEX_WAITERS), and
// a waiter is woken.
func (t *Task) robustFutexDied(addr usermem.Addr) {
	if addr%4 != 0 {
		return
	}
	tid := uint32(t.tid)
	for {
		old, err := t.mm.LoadUint32(t, addr, ioOpts)
		if err != nil || old&futexTIDMask != tid {
			return
		}
		val := old&futexWaiters | futexOwnerDied
		prev, err := t.mm.CompareAndSwapUint32(t, addr, old, val, ioOpts)
		if err != nil {
			return
		}
		if prev != old {
			continue // the word changed under us: look again
		}
		if old&futexWaiters != 0 {
			t.k.wakeFutexOnExit(t, addr)
		}
		return
	}
}
