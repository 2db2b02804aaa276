// Package futex implements futexes (fast userspace mutexes, futex(2)) in
// the sentry, on application memory reached through usermem.IO's atomic
// operations.
//
// A futex is a 32-bit word of application memory plus a queue of tasks
// waiting on it, which the kernel keeps. The application does the
// uncontended work itself, with atomic instructions on the word; it only
// makes a system call to sleep until the word changes (FUTEX_WAIT) or to
// wake the sleepers after changing it (FUTEX_WAKE).
//
// # Keys
//
// The queue belongs to the word, not to an address: two processes that map
// the same shared memory at different addresses must meet on one queue,
// and two processes that use the same address for unrelated private words
// must not. A Key therefore names the word as Linux's futex_key does:
//
//   - a private word (FUTEX_PRIVATE_FLAG, or any word in a private
//     mapping) by the identity of its address space and its address;
//   - a word of a MAP_SHARED mapping, when the futex is not private, by
//     where the memory really is: its offset in the platform's memory file,
//     which every address space mapping the page sees alike.
//
// The memory manager decides which applies (mm.MemoryManager.FutexKey) and
// KeyFor builds the Key from its answer.
//
// # The lost wake-up
//
// A waiter checks that the word still holds the value it expects and then
// sleeps; a waker changes the word and then wakes the sleepers. If the
// check and the enqueueing were two steps, a waker could change the word
// and find the queue empty between them, and the waiter would sleep on a
// value that is already gone, possibly forever:
//
//	waiter                          waker
//	load word: 0 == 0, so sleep
//	                                store word = 1
//	                                wake: queue empty, nobody woken
//	enqueue, block                  (the wake-up is lost)
//
// So Wait loads the word and enqueues the waiter under its bucket's lock,
// and every wake takes the same lock: a waker that changed the word either
// runs before the load (and the waiter sees the new value: EAGAIN) or after
// the enqueueing (and finds the waiter). The word itself is never locked:
// the application changes it without asking the sentry, which is why the
// check must be made, atomically, by the sentry and not trusted from the
// caller.
//
// # Buckets
//
// Waiter queues live in a fixed number of buckets, chosen by hashing the
// key, each with its own mutex, as Linux's futex hash table: unrelated
// futexes rarely contend. Operations on two keys (requeue, wake-op) lock
// both buckets, in index order.
//
// A waiter that leaves on its own (a timeout, an interruption) must find
// its bucket, which a requeue may have changed under it; and a wake racing
// with the leaving must not be lost. The waiter's bucket is recorded in the
// waiter, written under the bucket's lock and cleared when a wake dequeues
// it: a leaving waiter locks the bucket it reads, checks that it is still
// queued there, and, if a waker dequeued it first, reports the wake-up and
// not the timeout.
//
// Lock order: a bucket's mutex, then the memory manager's locks (the
// values are loaded with the bucket locked). Two buckets are locked in index
// order.
package futex

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// BitsetMatchAny is FUTEX_BITSET_MATCH_ANY: the bitset of FUTEX_WAIT and
// FUTEX_WAKE, which matches every waiter.
const BitsetMatchAny = 0xffffffff

// Key identifies a futex word. Keys are comparable; two operations meet on
// the same waiter queue iff their keys are equal.
type Key struct {
	// AddressSpace is the identity of the address space of a private
	// word, nil for a shared one. It must be a comparable value, such as
	// a pointer (the kernel uses the *mm.MemoryManager); it is compared,
	// never used.
	AddressSpace any

	// Shared is set for a word keyed by its memory file offset.
	Shared bool

	// Offset is the word's address in AddressSpace if !Shared, its memory
	// file offset if Shared.
	Offset uint64
}

// PrivateKey returns the key of the word at addr in the address space as.
func PrivateKey(as any, addr usermem.Addr) Key {
	return Key{AddressSpace: as, Offset: uint64(addr)}
}

// SharedKey returns the key of the word at offset off of the memory file.
func SharedKey(off uint64) Key {
	return Key{Shared: true, Offset: off}
}

// KeyResolver is an address space that can say where a futex word is: the
// mm.MemoryManager.
type KeyResolver interface {
	// FutexKey returns the memory file offset of the word at addr and true
	// if shared is true and the word is in shared memory; otherwise 0 and
	// false. It fails with EINVAL if addr is not 4-byte aligned and EFAULT
	// if it cannot be reached.
	FutexKey(ctx context.Context, addr usermem.Addr, shared bool) (offset uint64, isShared bool, err error)
}

// KeyFor returns the key of the word at addr in as, which is also the
// address space's identity in a private key: private is FUTEX_PRIVATE_FLAG.
// as must be comparable (a pointer).
func KeyFor(ctx context.Context, as KeyResolver, addr usermem.Addr, private bool) (Key, error) {
	off, shared, err := as.FutexKey(ctx, addr, !private)
	if err != nil {
		return Key{}, err
	}
	if shared {
		return SharedKey(off), nil
	}
	return PrivateKey(as, addr), nil
}

// ioOpts are the options of every access to a futex word: the futex system
// call runs on the task whose address space it is, and honours the
// application's protections, as Linux's get_user does.
var ioOpts = usermem.IOOpts{AddressSpaceActive: true}

// bucketShift is log2 of the number of buckets.
const bucketShift = 8

// numBuckets is the number of buckets: enough that unrelated futexes
// rarely share one, few enough that a Manager stays small (Linux sizes its
// table at 256 per CPU).
const numBuckets = 1 << bucketShift

// Manager holds the waiter queues of every futex of a kernel. Its zero
// value is ready to use.
type Manager struct {
	buckets [numBuckets]bucket
}

// NewManager returns a Manager with no waiters.
func NewManager() *Manager {
	return &Manager{}
}

// bucket is one slot of the Manager's hash table.
type bucket struct {
	// mu protects queues and the queue fields of the waiters in them.
	mu sync.Mutex

	// queues holds the waiters of every key that hashes to this bucket
	// and has any, in the order they arrived. Protected by mu.
	//
	// Invariant: no queue in queues is empty; q.key is q's key in queues.
	queues map[Key]*queue
}

// queue is the waiters of one key, oldest first: an intrusive doubly
// linked list, so that a waiter leaves in constant time.
type queue struct {
	key        Key
	head, tail *waiter
}

// waiter is one task blocked in Wait.
type waiter struct {
	// bucket is the bucket whose queue holds the waiter, or nil once the
	// waiter is out of every queue. It is written with that bucket's mu
	// held (both buckets' for a requeue) and read atomically: the waiter,
	// leaving on a timeout, does not know which bucket a requeue put it in
	// until it has read bucket and locked it.
	bucket atomic.Pointer[bucket]

	// q, prev and next place the waiter in its queue. Protected by the mu
	// of bucket.
	q          *queue
	prev, next *waiter

	// bitset is FUTEX_WAIT_BITSET's mask: a FUTEX_WAKE_BITSET wakes the
	// waiter only if their bitsets intersect. Immutable.
	bitset uint32

	// woken is closed when a waker takes the waiter out of its queue.
	woken chan struct{}
}

// bucketFor returns the bucket of key. The hash leaves the address space
// out (hashing an interface value needs reflection): keys that differ only
// in it share a bucket, which costs contention, never correctness.
func (m *Manager) bucketFor(key Key) (*bucket, int) {
	h := key.Offset >> 2 // futex words are 4-byte aligned
	if key.Shared {
		h = ^h
	}
	// Fibonacci hashing: the top bits of the product depend on every bit
	// of h.
	i := int((h * 0x9e3779b97f4a7c15) >> (64 - bucketShift))
	return &m.buckets[i], i
}

// lockBuckets locks the buckets of key1 and key2, in index order, once if
// they are the same, and returns them.
func (m *Manager) lockBuckets(key1, key2 Key) (*bucket, *bucket) {
	b1, i1 := m.bucketFor(key1)
	b2, i2 := m.bucketFor(key2)
	switch {
	case i1 == i2:
		b1.mu.Lock()
	case i1 < i2:
		b1.mu.Lock()
		b2.mu.Lock()
	default:
		b2.mu.Lock()
		b1.mu.Lock()
	}
	return b1, b2
}

// unlockBuckets undoes lockBuckets.
func unlockBuckets(b1, b2 *bucket) {
	b1.mu.Unlock()
	if b2 != b1 {
		b2.mu.Unlock()
	}
}

// enqueueLocked adds w at the tail of key's queue.
//
// Preconditions: b.mu is locked; key hashes to b; w is in no queue.
func (b *bucket) enqueueLocked(key Key, w *waiter) {
	q, ok := b.queues[key]
	if !ok {
		if b.queues == nil {
			b.queues = make(map[Key]*queue)
		}
		q = &queue{key: key}
		b.queues[key] = q
	}
	w.q, w.prev, w.next = q, q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	w.bucket.Store(b)
}

// removeLocked takes w out of its queue, dropping the queue if it empties.
// It leaves w.bucket alone: the caller either clears it or requeues w.
//
// Preconditions: b.mu is locked; w is in one of b's queues.
func (b *bucket) removeLocked(w *waiter) {
	q := w.q
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.q, w.prev, w.next = nil, nil, nil
	if q.head == nil {
		delete(b.queues, q.key)
	}
}

// wakeLocked dequeues w and wakes it.
//
// Preconditions: b.mu is locked; w is in one of b's queues.
func (b *bucket) wakeLocked(w *waiter) {
	b.removeLocked(w)
	w.bucket.Store(nil)
	close(w.woken)
}

// wakeKeyLocked wakes up to n waiters of key whose bitset intersects bitset,
// oldest first, and returns how many it woke. Like Linux, it wakes one
// even if n <= 0.
//
// Preconditions: b.mu is locked; key hashes to b.
func (b *bucket) wakeKeyLocked(key Key, bitset uint32, n int) int {
	q, ok := b.queues[key]
	if !ok {
		return 0
	}
	woken := 0
	for w := q.head; w != nil; {
		// Waking w may drop q, but not w.next, which is read first.
		next := w.next
		if w.bitset&bitset != 0 {
			b.wakeLocked(w)
			woken++
			if woken >= n {
				break
			}
		}
		w = next
	}
	return woken
}

// leave takes w out of its queue if it is still in one, and reports
// whether it was: false means a waker dequeued it first, and w must report
// the wake-up.
func (m *Manager) leave(w *waiter) bool {
	for {
		b := w.bucket.Load()
		if b == nil {
			return false
		}
		b.mu.Lock()
		// A requeue may have moved w to another bucket between the load
		// and the lock: w.bucket only changes under the lock of the
		// bucket it names, so it is stable now if it is still b.
		if w.bucket.Load() == b {
			b.removeLocked(w)
			w.bucket.Store(nil)
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
	}
}

// loadWord reads the futex word at addr, for a comparison made with the
// word's bucket locked: EINVAL if addr is unaligned, EFAULT if the word
// cannot be read.
func loadWord(ctx context.Context, io usermem.IO, addr usermem.Addr) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	v, err := io.LoadUint32(ctx, addr, ioOpts)
	if err != nil {
		return 0, unix.EFAULT
	}
	return v, nil
}

// Wait is FUTEX_WAIT and FUTEX_WAIT_BITSET: if the word at addr in io,
// whose key is key, holds val, it blocks until a wake whose bitset
// intersects bitset takes it (nil), ctx is done (EINTR), or timeout
// delivers (ETIMEDOUT; a nil timeout never does). If the word holds
// anything else, it returns EAGAIN at once.
//
// If a wake and a timeout or an interruption race, the wake wins: a waiter
// that a waker counted returns nil. If both the timeout and ctx are done,
// the timeout wins, as on Linux.
//
// Errors: EINVAL for a zero bitset or an unaligned addr; EFAULT if the
// word cannot be read.
//
// Preconditions: the caller holds no memory manager lock; key is the key
// of addr in io.
func (m *Manager) Wait(ctx context.Context, io usermem.IO, key Key, addr usermem.Addr, val, bitset uint32, timeout <-chan time.Time) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	w := &waiter{bitset: bitset, woken: make(chan struct{})}
	b, _ := m.bucketFor(key)
	b.mu.Lock()
	cur, err := loadWord(ctx, io, addr)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	if cur != val {
		b.mu.Unlock()
		return unix.EAGAIN
	}
	b.enqueueLocked(key, w)
	b.mu.Unlock()

	var reason error
	select {
	case <-w.woken:
		return nil
	case <-timeout:
		reason = unix.ETIMEDOUT
	case <-ctx.Done():
		reason = unix.EINTR
		select {
		case <-timeout:
			reason = unix.ETIMEDOUT
		default:
		}
	}
	if !m.leave(w) {
		return nil
	}
	return reason
}

// Wake is FUTEX_WAKE and FUTEX_WAKE_BITSET: it wakes up to n waiters of
// key whose bitset intersects bitset, oldest first, and returns how many
// it woke. Like Linux, it wakes one if n <= 0.
func (m *Manager) Wake(key Key, bitset uint32, n int) int {
	b, _ := m.bucketFor(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wakeKeyLocked(key, bitset, n)
}

// Requeue is FUTEX_REQUEUE: it wakes up to nwake waiters of key1, then
// moves up to nrequeue more to key2's queue, where a wake of key2 finds
// them (pthread_cond_broadcast moves the waiters of a condition variable
// onto its mutex rather than waking them all to fight over it). Bitsets
// are ignored. It returns how many waiters it woke or moved, as Linux does.
//
// Preconditions: nwake >= 0 and nrequeue >= 0 (the system call checks:
// EINVAL).
func (m *Manager) Requeue(key1, key2 Key, nwake, nrequeue int) int {
	b1, b2 := m.lockBuckets(key1, key2)
	defer unlockBuckets(b1, b2)
	return requeueLocked(b1, b2, key1, key2, nwake, nrequeue)
}

// CmpRequeue is FUTEX_CMP_REQUEUE: Requeue, if the word at addr1 (whose key
// is key1) holds val; EAGAIN if it does not, EFAULT if it cannot be read.
// The value is checked with both buckets locked, so a waiter of key1 that
// saw val is already queued.
//
// Preconditions: as for Requeue; the caller holds no memory manager lock.
func (m *Manager) CmpRequeue(ctx context.Context, io usermem.IO, key1, key2 Key, addr1 usermem.Addr, val uint32, nwake, nrequeue int) (int, error) {
	b1, b2 := m.lockBuckets(key1, key2)
	defer unlockBuckets(b1, b2)
	cur, err := loadWord(ctx, io, addr1)
	if err != nil {
		return 0, err
	}
	if cur != val {
		return 0, unix.EAGAIN
	}
	return requeueLocked(b1, b2, key1, key2, nwake, nrequeue), nil
}

// requeueLocked does Requeue's work.
//
// Preconditions: b1.mu and b2.mu are locked; key1 hashes to b1, key2 to
// b2.
func requeueLocked(b1, b2 *bucket, key1, key2 Key, nwake, nrequeue int) int {
	q, ok := b1.queues[key1]
	if !ok {
		return 0
	}
	woken, moved := 0, 0
	for w := q.head; w != nil; {
		next := w.next
		switch {
		case woken < nwake:
			b1.wakeLocked(w)
			woken++
		case moved < nrequeue:
			// Requeueing onto the same key leaves the waiter where it is
			// (appending it to its own queue would meet it again), but
			// counts it, as Linux does.
			if key1 != key2 {
				b1.removeLocked(w)
				b2.enqueueLocked(key2, w)
			}
			moved++
		default:
			return woken + moved
		}
		w = next
	}
	return woken + moved
}

// FUTEX_WAKE_OP's operations and comparisons, from <linux/futex.h>.
const (
	opSet  = 0 // *uaddr2 = oparg
	opAdd  = 1 // *uaddr2 += oparg
	opOr   = 2 // *uaddr2 |= oparg
	opAndN = 3 // *uaddr2 &= ~oparg
	opXor  = 4 // *uaddr2 ^= oparg

	// opArgShift, in the op field, makes the operand 1 << oparg
	// (FUTEX_OP_OPARG_SHIFT).
	opArgShift = 8

	cmpEq = 0
	cmpNe = 1
	cmpLt = 2
	cmpLe = 3
	cmpGt = 4
	cmpGe = 5
)

// wakeOp is a decoded FUTEX_WAKE_OP operation:
//
//	+---+---+-----------+-----------+
//	|op |cmp|   oparg   |  cmparg   |
//	+---+---+-----------+-----------+
//	  4   4       12          12      <== number of bits
//
// oparg and cmparg are signed 12-bit numbers.
type wakeOp struct {
	op, cmp       uint32
	oparg, cmparg int32
}

// decodeWakeOp decodes FUTEX_WAKE_OP's val3.
func decodeWakeOp(encoded uint32) wakeOp {
	o := wakeOp{
		op:  (encoded >> 28) & 0x7,
		cmp: (encoded >> 24) & 0xf,
		// Shift the 12-bit fields to the top and back to sign-extend
		// them.
		oparg:  int32(encoded<<8) >> 20,
		cmparg: int32(encoded<<20) >> 20,
	}
	if (encoded>>28)&opArgShift != 0 {
		// Linux masks a shift out of [0, 31] (and logs that the
		// program should be fixed) rather than failing.
		o.oparg = 1 << (uint32(o.oparg) & 31)
	}
	return o
}

// apply returns the value op stores over old, or false for an unknown
// operation.
func (o wakeOp) apply(old uint32) (uint32, bool) {
	arg := uint32(o.oparg)
	switch o.op {
	case opSet:
		return arg, true
	case opAdd:
		return old + arg, true
	case opOr:
		return old | arg, true
	case opAndN:
		return old &^ arg, true
	case opXor:
		return old ^ arg, true
	default:
		return 0, false
	}
}

// compare returns the comparison of old, the word's value before the
// operation, with cmparg, both signed; false for an unknown comparison.
func (o wakeOp) compare(old uint32) (result, ok bool) {
	v := int32(old)
	switch o.cmp {
	case cmpEq:
		return v == o.cmparg, true
	case cmpNe:
		return v != o.cmparg, true
	case cmpLt:
		return v < o.cmparg, true
	case cmpLe:
		return v <= o.cmparg, true
	case cmpGt:
		return v > o.cmparg, true
	case cmpGe:
		return v >= o.cmparg, true
	default:
		return false, false
	}
}

// WakeOp is FUTEX_WAKE_OP: with the buckets of key1 and key2 locked, it
// atomically applies op's operation to the word at addr2 (whose key is
// key2), then wakes up to nwake1 waiters of key1 and, if op's comparison
// holds for the word's old value, up to nwake2 waiters of key2. Bitsets
// are ignored. It returns how many waiters it woke. (glibc's
// pthread_cond_signal used it to release the condition variable's internal
// lock and wake a waiter in one call.)
//
// Errors: ENOSYS for an unknown operation (the word is left alone) or an
// unknown comparison (the word has already changed, and no one is woken:
// Linux checks in that order too); EINVAL if addr2 is unaligned; EFAULT if
// the word cannot be written.
//
// Preconditions: the caller holds no memory manager lock.
func (m *Manager) WakeOp(ctx context.Context, io usermem.IO, key1, key2 Key, addr2 usermem.Addr, nwake1, nwake2 int, op uint32) (int, error) {
	if addr2%4 != 0 {
		return 0, unix.EINVAL
	}
	o := decodeWakeOp(op)
	if _, ok := o.apply(0); !ok {
		return 0, unix.ENOSYS
	}
	b1, b2 := m.lockBuckets(key1, key2)
	defer unlockBuckets(b1, b2)

	// The application may change the word at any time, so the new value
	// is only stored if the word still holds the value it was computed
	// from.
	old, err := io.LoadUint32(ctx, addr2, ioOpts)
	for err == nil {
		nv, _ := o.apply(old)
		var prev uint32
		prev, err = io.CompareAndSwapUint32(ctx, addr2, old, nv, ioOpts)
		if err == nil && prev == old {
			break
		}
		old = prev
	}
	if err != nil {
		return 0, unix.EFAULT
	}
	cond, ok := o.compare(old)
	if !ok {
		return 0, unix.ENOSYS
	}
	woken := b1.wakeKeyLocked(key1, BitsetMatchAny, nwake1)
	if cond {
		woken += b2.wakeKeyLocked(key2, BitsetMatchAny, nwake2)
	}
	return woken, nil
}
