package futex

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// testAS stands for an address space's identity in private keys.
type testAS struct{ name string }

var as1, as2 = &testAS{"as1"}, &testAS{"as2"}

// newMem returns a page of memory to keep futex words in.
func newMem() usermem.BytesIO {
	return usermem.BytesIO{Bytes: make([]byte, usermem.PageSize)}
}

// store writes v to the word at addr.
func store(t testing.TB, mem usermem.IO, addr usermem.Addr, v uint32) {
	t.Helper()
	if _, err := mem.SwapUint32(context.Background(), addr, v, ioOpts); err != nil {
		t.Fatalf("SwapUint32(%#x): %v", addr, err)
	}
}

// load reads the word at addr.
func load(t testing.TB, mem usermem.IO, addr usermem.Addr) uint32 {
	t.Helper()
	v, err := mem.LoadUint32(context.Background(), addr, ioOpts)
	if err != nil {
		t.Fatalf("LoadUint32(%#x): %v", addr, err)
	}
	return v
}

// numWaiters returns the number of waiters queued on key.
func (m *Manager) numWaiters(key Key) int {
	b, _ := m.bucketFor(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	if q, ok := b.queues[key]; ok {
		for w := q.head; w != nil; w = w.next {
			n++
		}
	}
	return n
}

// totalWaiters returns the number of waiters in every queue.
func (m *Manager) totalWaiters() int {
	n := 0
	for i := range m.buckets {
		b := &m.buckets[i]
		b.mu.Lock()
		for _, q := range b.queues {
			for w := q.head; w != nil; w = w.next {
				n++
			}
		}
		b.mu.Unlock()
	}
	return n
}

// awaitWaiters waits until n waiters are queued on key.
func awaitWaiters(t testing.TB, m *Manager, key Key, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.numWaiters(key) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters on %+v, waited for %d", m.numWaiters(key), key, n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// startWait runs Wait on a goroutine and returns where its result goes.
func startWait(ctx context.Context, m *Manager, mem usermem.IO, key Key, addr usermem.Addr, val, bitset uint32, timeout <-chan time.Time) <-chan error {
	ch := make(chan error, 1)
	go func() {
		ch <- m.Wait(ctx, mem, key, addr, val, bitset, timeout)
	}()
	return ch
}

// result returns what a startWait channel delivers.
func result(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
		return nil
	}
}

// stillWaiting checks that a startWait channel has delivered nothing.
func stillWaiting(t testing.TB, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned %v, wanted it still waiting", what, err)
	default:
	}
}

func TestWaitWake(t *testing.T) {
	var m Manager
	mem := newMem()
	key := PrivateKey(as1, 0x40)
	ch := startWait(context.Background(), &m, mem, key, 0x40, 0, BitsetMatchAny, nil)
	awaitWaiters(t, &m, key, 1)
	stillWaiting(t, ch, "Wait")
	if n := m.Wake(PrivateKey(as2, 0x40), BitsetMatchAny, 1); n != 0 {
		t.Errorf("Wake of another address space's word woke %d", n)
	}
	if n := m.Wake(key, BitsetMatchAny, 1); n != 1 {
		t.Errorf("Wake woke %d, wanted 1", n)
	}
	if err := result(t, ch); err != nil {
		t.Errorf("Wait: %v, wanted nil", err)
	}
	if n := m.Wake(key, BitsetMatchAny, 1); n != 0 {
		t.Errorf("second Wake woke %d, wanted 0", n)
	}
	if n := m.totalWaiters(); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

func TestWakeCountAndOrder(t *testing.T) {
	var m Manager
	mem := newMem()
	key := SharedKey(0x1000)
	var chs []<-chan error
	for i := range 4 {
		chs = append(chs, startWait(context.Background(), &m, mem, key, 0, 0, BitsetMatchAny, nil))
		awaitWaiters(t, &m, key, i+1)
	}
	// The oldest waiters go first.
	if n := m.Wake(key, BitsetMatchAny, 2); n != 2 {
		t.Fatalf("Wake(2) woke %d", n)
	}
	for i, ch := range chs[:2] {
		if err := result(t, ch); err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
	}
	stillWaiting(t, chs[2], "waiter 2")
	stillWaiting(t, chs[3], "waiter 3")
	// Like Linux's, a wake of zero wakes one.
	if n := m.Wake(key, BitsetMatchAny, 0); n != 1 {
		t.Errorf("Wake(0) woke %d, wanted 1", n)
	}
	if err := result(t, chs[2]); err != nil {
		t.Errorf("waiter 2: %v", err)
	}
	if n := m.Wake(key, BitsetMatchAny, 1<<30); n != 1 {
		t.Errorf("Wake(all) woke %d, wanted 1", n)
	}
	if err := result(t, chs[3]); err != nil {
		t.Errorf("waiter 3: %v", err)
	}
}

func TestWaitErrors(t *testing.T) {
	var m Manager
	mem := newMem()
	store(t, mem, 0x10, 7)
	for _, tc := range []struct {
		name   string
		addr   usermem.Addr
		val    uint32
		bitset uint32
		want   error
	}{
		{"value mismatch", 0x10, 6, BitsetMatchAny, unix.EAGAIN},
		{"unmapped", usermem.PageSize, 0, BitsetMatchAny, unix.EFAULT},
		{"unaligned", 0x11, 7, BitsetMatchAny, unix.EINVAL},
		{"zero bitset", 0x10, 7, 0, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Wait(context.Background(), mem, PrivateKey(as1, tc.addr), tc.addr, tc.val, tc.bitset, nil)
			if err != tc.want {
				t.Errorf("Wait: %v, wanted %v", err, tc.want)
			}
			if n := m.totalWaiters(); n != 0 {
				t.Errorf("%d waiters queued after a failed Wait", n)
			}
		})
	}
}

func TestWaitTimeout(t *testing.T) {
	var m Manager
	mem := newMem()
	key := PrivateKey(as1, 0)
	start := time.Now()
	if err := m.Wait(context.Background(), mem, key, 0, 0, BitsetMatchAny, time.After(20*time.Millisecond)); err != unix.ETIMEDOUT {
		t.Errorf("Wait: %v, wanted ETIMEDOUT", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("Wait timed out after %v, before its 20ms", d)
	}
	if n := m.totalWaiters(); n != 0 {
		t.Errorf("%d waiters left after a timeout", n)
	}
	// A value mismatch is reported before an expired timeout.
	expired := make(chan time.Time, 1)
	expired <- time.Now()
	if err := m.Wait(context.Background(), mem, key, 0, 1, BitsetMatchAny, expired); err != unix.EAGAIN {
		t.Errorf("Wait with a wrong value and an expired timeout: %v, wanted EAGAIN", err)
	}
}

func TestWaitInterrupted(t *testing.T) {
	var m Manager
	mem := newMem()
	key := PrivateKey(as1, 0)
	ctx, cancel := context.WithCancel(context.Background())
	ch := startWait(ctx, &m, mem, key, 0, 0, BitsetMatchAny, nil)
	awaitWaiters(t, &m, key, 1)
	cancel()
	if err := result(t, ch); err != unix.EINTR {
		t.Errorf("Wait: %v, wanted EINTR", err)
	}
	if n := m.totalWaiters(); n != 0 {
		t.Errorf("%d waiters left after an interruption", n)
	}
}

func TestWaitTimeoutBeatsInterruption(t *testing.T) {
	var m Manager
	mem := newMem()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		expired := make(chan time.Time, 1)
		expired <- time.Now()
		if err := m.Wait(ctx, mem, PrivateKey(as1, 0), 0, 0, BitsetMatchAny, expired); err != unix.ETIMEDOUT {
			t.Fatalf("Wait, timed out and interrupted: %v, wanted ETIMEDOUT", err)
		}
	}
}

func TestBitset(t *testing.T) {
	var m Manager
	mem := newMem()
	key := PrivateKey(as1, 0)
	bitsets := []uint32{0b001, 0b010, 0b110, BitsetMatchAny}
	chs := make([]<-chan error, len(bitsets))
	for i, bs := range bitsets {
		chs[i] = startWait(context.Background(), &m, mem, key, 0, 0, bs, nil)
		awaitWaiters(t, &m, key, i+1)
	}
	// 0b010 matches the second, third and fourth waiters, not the first.
	if n := m.Wake(key, 0b010, 10); n != 3 {
		t.Errorf("Wake(bitset 0b010) woke %d, wanted 3", n)
	}
	for i := 1; i < len(chs); i++ {
		if err := result(t, chs[i]); err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
	}
	stillWaiting(t, chs[0], "waiter with bitset 0b001")
	if n := m.Wake(key, 0b100, 10); n != 0 {
		t.Errorf("Wake(bitset 0b100) woke %d, wanted 0", n)
	}
	if n := m.Wake(key, 0b101, 10); n != 1 {
		t.Errorf("Wake(bitset 0b101) woke %d, wanted 1", n)
	}
	if err := result(t, chs[0]); err != nil {
		t.Errorf("waiter 0: %v", err)
	}
}

// startWaiters queues n waiters on key, one after the other, and returns
// their result channels, oldest first.
func startWaiters(t *testing.T, m *Manager, mem usermem.IO, key Key, n int) []<-chan error {
	t.Helper()
	base := m.numWaiters(key)
	chs := make([]<-chan error, n)
	for i := range chs {
		chs[i] = startWait(context.Background(), m, mem, key, usermem.Addr(key.Offset), 0, BitsetMatchAny, nil)
		awaitWaiters(t, m, key, base+i+1)
	}
	return chs
}

func TestRequeue(t *testing.T) {
	var m Manager
	mem := newMem()
	key1, key2 := PrivateKey(as1, 0x10), PrivateKey(as1, 0x20)
	chs := startWaiters(t, &m, mem, key1, 5)

	// One woken, two moved, two left behind.
	if n := m.Requeue(key1, key2, 1, 2); n != 3 {
		t.Errorf("Requeue(1, 2) = %d, wanted 3", n)
	}
	if err := result(t, chs[0]); err != nil {
		t.Errorf("woken waiter: %v", err)
	}
	if got1, got2 := m.numWaiters(key1), m.numWaiters(key2); got1 != 2 || got2 != 2 {
		t.Errorf("after Requeue: %d waiters on key1, %d on key2; wanted 2 and 2", got1, got2)
	}
	// The moved waiters are the oldest ones left, and a wake of key2
	// reaches them.
	if n := m.Wake(key2, BitsetMatchAny, 10); n != 2 {
		t.Errorf("Wake(key2) woke %d, wanted 2", n)
	}
	for i := 1; i <= 2; i++ {
		if err := result(t, chs[i]); err != nil {
			t.Errorf("moved waiter %d: %v", i, err)
		}
	}
	stillWaiting(t, chs[3], "waiter 3")
	stillWaiting(t, chs[4], "waiter 4")

	// Requeueing onto the same key moves nothing, but counts.
	if n := m.Requeue(key1, key1, 0, 10); n != 2 {
		t.Errorf("Requeue(key1, key1, 0, 10) = %d, wanted 2", n)
	}
	if n := m.numWaiters(key1); n != 2 {
		t.Errorf("%d waiters on key1 after requeueing onto itself, wanted 2", n)
	}
	if n := m.Requeue(key1, key2, 0, 0); n != 0 {
		t.Errorf("Requeue(0, 0) = %d, wanted 0", n)
	}
	if n := m.Wake(key1, BitsetMatchAny, 10); n != 2 {
		t.Errorf("Wake(key1) woke %d, wanted 2", n)
	}
	for i := 3; i <= 4; i++ {
		if err := result(t, chs[i]); err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
	}
}

func TestRequeueAcrossAddressSpaces(t *testing.T) {
	var m Manager
	mem := newMem()
	// A private key and a shared one: different buckets, most likely,
	// and different kinds of key.
	key1, key2 := PrivateKey(as2, 0x30), SharedKey(0x7000)
	chs := startWaiters(t, &m, mem, key1, 3)
	if n := m.Requeue(key1, key2, 0, 3); n != 3 {
		t.Errorf("Requeue(0, 3) = %d, wanted 3", n)
	}
	if n := m.Wake(key2, BitsetMatchAny, 3); n != 3 {
		t.Errorf("Wake(key2) woke %d, wanted 3", n)
	}
	for i, ch := range chs {
		if err := result(t, ch); err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
	}
}

func TestCmpRequeue(t *testing.T) {
	var m Manager
	mem := newMem()
	key1, key2 := PrivateKey(as1, 0x10), PrivateKey(as1, 0x20)
	chs := startWaiters(t, &m, mem, key1, 3)
	store(t, mem, 0x10, 5)

	if _, err := m.CmpRequeue(context.Background(), mem, key1, key2, 0x10, 4, 1, 1); err != unix.EAGAIN {
		t.Errorf("CmpRequeue with a wrong value: %v, wanted EAGAIN", err)
	}
	if n := m.numWaiters(key1); n != 3 {
		t.Errorf("CmpRequeue with a wrong value left %d waiters, wanted 3", n)
	}
	if _, err := m.CmpRequeue(context.Background(), mem, key1, key2, usermem.PageSize, 5, 1, 1); err != unix.EFAULT {
		t.Errorf("CmpRequeue on unmapped memory: %v, wanted EFAULT", err)
	}
	n, err := m.CmpRequeue(context.Background(), mem, key1, key2, 0x10, 5, 1, 1)
	if err != nil || n != 2 {
		t.Errorf("CmpRequeue: %d, %v; wanted 2, nil", n, err)
	}
	if err := result(t, chs[0]); err != nil {
		t.Errorf("woken waiter: %v", err)
	}
	if got1, got2 := m.numWaiters(key1), m.numWaiters(key2); got1 != 1 || got2 != 1 {
		t.Errorf("after CmpRequeue: %d waiters on key1, %d on key2; wanted 1 and 1", got1, got2)
	}
	m.Wake(key1, BitsetMatchAny, 1)
	m.Wake(key2, BitsetMatchAny, 1)
	for i, ch := range chs[1:] {
		if err := result(t, ch); err != nil {
			t.Errorf("waiter %d: %v", i+1, err)
		}
	}
}

// encodeWakeOp is FUTEX_OP(op, oparg, cmp, cmparg) from <linux/futex.h>.
func encodeWakeOp(op, oparg, cmp, cmparg int32) uint32 {
	return uint32((op&0xf)<<28 | (cmp&0xf)<<24 | (oparg&0xfff)<<12 | cmparg&0xfff)
}

func TestWakeOp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		old       uint32
		op        uint32
		want      uint32 // the word afterwards
		wakeBoth  bool   // whether the comparison holds
		wantError error
	}{
		{"set eq", 1, encodeWakeOp(opSet, 0, cmpEq, 1), 0, true, nil},
		{"set eq false", 2, encodeWakeOp(opSet, 0, cmpEq, 1), 0, false, nil},
		{"add ne", 5, encodeWakeOp(opAdd, 3, cmpNe, 5), 8, false, nil},
		{"add negative", 5, encodeWakeOp(opAdd, -1, cmpNe, 0), 4, true, nil},
		{"or lt", 0b0101, encodeWakeOp(opOr, 0b1010, cmpLt, 6), 0b1111, true, nil},
		{"andn le", 0b1111, encodeWakeOp(opAndN, 0b0110, cmpLe, 14), 0b1001, false, nil},
		{"xor gt", 0b1100, encodeWakeOp(opXor, 0b0110, cmpGt, 11), 0b1010, true, nil},
		{"ge", 7, encodeWakeOp(opAdd, 0, cmpGe, 7), 7, true, nil},
		{"ge false", 6, encodeWakeOp(opAdd, 0, cmpGe, 7), 6, false, nil},
		// Comparisons are signed: 0xffffffff is -1.
		{"signed lt", 0xffffffff, encodeWakeOp(opAdd, 1, cmpLt, 0), 0, true, nil},
		{"signed cmparg", 0xfffffffe, encodeWakeOp(opSet, 3, cmpEq, -2), 3, true, nil},
		{"cmparg -2048", 0xfffff800, encodeWakeOp(opSet, 0, cmpEq, -2048), 0, true, nil},
		// glibc's condition variable: unlock (set 0), wake key2 if it was
		// contended (old > 1).
		{"glibc unlock contended", 2, encodeWakeOp(opSet, 0, cmpGt, 1), 0, true, nil},
		{"glibc unlock uncontended", 1, encodeWakeOp(opSet, 0, cmpGt, 1), 0, false, nil},
		{"shift", 0, encodeWakeOp(opOr|opArgShift, 31, cmpEq, 0), 1 << 31, true, nil},
		{"shift masked", 0, encodeWakeOp(opSet|opArgShift, 33, cmpEq, 0), 1 << 1, true, nil},
		{"bad op", 9, encodeWakeOp(5, 1, cmpEq, 9), 9, false, unix.ENOSYS},
		{"bad cmp", 9, encodeWakeOp(opAdd, 1, 6, 9), 10, false, unix.ENOSYS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Manager
			mem := newMem()
			key1, key2 := PrivateKey(as1, 0x10), PrivateKey(as1, 0x20)
			chs1 := startWaiters(t, &m, mem, key1, 2)
			chs2 := startWaiters(t, &m, mem, key2, 2)
			store(t, mem, 0x20, tc.old)

			n, err := m.WakeOp(context.Background(), mem, key1, key2, 0x20, 1, 2, tc.op)
			if err != tc.wantError {
				t.Fatalf("WakeOp: %v, wanted %v", err, tc.wantError)
			}
			if got := load(t, mem, 0x20); got != tc.want {
				t.Errorf("word after WakeOp: %#x, wanted %#x", got, tc.want)
			}
			wantN, want2 := 1, 0
			if tc.wakeBoth {
				wantN, want2 = 3, 2
			}
			if tc.wantError != nil {
				wantN = 0
			}
			if n != wantN {
				t.Errorf("WakeOp woke %d, wanted %d", n, wantN)
			}
			// The oldest waiters were woken; the others are still
			// queued.
			rest := append(chs1, chs2...)
			if tc.wantError == nil {
				awaitWaiters(t, &m, key1, 1)
				if err := result(t, chs1[0]); err != nil {
					t.Errorf("key1 waiter: %v", err)
				}
				rest = rest[1:]
			} else {
				awaitWaiters(t, &m, key1, 2)
			}
			awaitWaiters(t, &m, key2, 2-want2)
			m.Wake(key1, BitsetMatchAny, 10)
			m.Wake(key2, BitsetMatchAny, 10)
			for _, ch := range rest {
				if err := result(t, ch); err != nil {
					t.Errorf("waiter: %v", err)
				}
			}
		})
	}
}

func TestWakeOpFaults(t *testing.T) {
	var m Manager
	mem := newMem()
	key1, key2 := PrivateKey(as1, 0), PrivateKey(as1, usermem.PageSize)
	if _, err := m.WakeOp(context.Background(), mem, key1, key2, usermem.PageSize, 1, 1, encodeWakeOp(opSet, 0, cmpEq, 0)); err != unix.EFAULT {
		t.Errorf("WakeOp on unmapped memory: %v, wanted EFAULT", err)
	}
	if _, err := m.WakeOp(context.Background(), mem, key1, key2, 2, 1, 1, encodeWakeOp(opSet, 0, cmpEq, 0)); err != unix.EINVAL {
		t.Errorf("WakeOp on an unaligned word: %v, wanted EINVAL", err)
	}
}

func TestDecodeWakeOp(t *testing.T) {
	// FUTEX_OP(FUTEX_OP_ADD, 0x7ff, FUTEX_OP_CMP_GE, 0x800): the largest
	// positive oparg and the most negative cmparg.
	o := decodeWakeOp(0x157ff800)
	if o != (wakeOp{op: opAdd, cmp: cmpGe, oparg: 2047, cmparg: -2048}) {
		t.Errorf("decodeWakeOp(0x157ff800) = %+v", o)
	}
}

// fakeResolver is a KeyResolver answering as a memory manager would.
type fakeResolver struct {
	sharedAt map[usermem.Addr]uint64
}

func (r *fakeResolver) FutexKey(ctx context.Context, addr usermem.Addr, shared bool) (uint64, bool, error) {
	if addr%4 != 0 {
		return 0, false, unix.EINVAL
	}
	if off, ok := r.sharedAt[addr]; ok && shared {
		return off, true, nil
	}
	return 0, false, nil
}

func TestKeyFor(t *testing.T) {
	ctx := context.Background()
	r1 := &fakeResolver{sharedAt: map[usermem.Addr]uint64{0x1000: 0x5000}}
	r2 := &fakeResolver{sharedAt: map[usermem.Addr]uint64{0x2000: 0x5000}}
	k1, err1 := KeyFor(ctx, r1, 0x1000, false)
	k2, err2 := KeyFor(ctx, r2, 0x2000, false)
	if err1 != nil || err2 != nil || k1 != k2 || k1 != SharedKey(0x5000) {
		t.Errorf("shared keys of the same memory: %+v, %v and %+v, %v; wanted both %+v", k1, err1, k2, err2, SharedKey(0x5000))
	}
	p1, _ := KeyFor(ctx, r1, 0x1000, true)
	p2, _ := KeyFor(ctx, r2, 0x1000, true)
	if p1 == p2 || p1 != PrivateKey(r1, 0x1000) {
		t.Errorf("private keys: %+v and %+v; wanted distinct, the first %+v", p1, p2, PrivateKey(r1, 0x1000))
	}
	// A shared futex in a private mapping has the private key.
	if k, _ := KeyFor(ctx, r1, 0x3000, false); k != PrivateKey(r1, 0x3000) {
		t.Errorf("shared futex in private memory: %+v, wanted %+v", k, PrivateKey(r1, 0x3000))
	}
	if _, err := KeyFor(ctx, r1, 0x1001, false); err != unix.EINVAL {
		t.Errorf("unaligned: %v, wanted EINVAL", err)
	}
}

// TestWakeRacesTimeout checks that a waiter a wake counted always reports
// the wake-up, however close the timeout.
func TestWakeRacesTimeout(t *testing.T) {
	var m Manager
	mem := newMem()
	key := PrivateKey(as1, 0)
	for i := range 300 {
		timer := time.NewTimer(50 * time.Microsecond)
		ch := startWait(context.Background(), &m, mem, key, 0, 0, BitsetMatchAny, timer.C)
		// Wake around the time the timer fires: before Wait has queued
		// the waiter, while it waits, or as it leaves.
		time.Sleep(time.Duration(i%100) * time.Microsecond)
		n := m.Wake(key, BitsetMatchAny, 1)
		err := result(t, ch)
		switch {
		case n == 1 && err != nil:
			t.Fatalf("Wake woke the waiter, but Wait returned %v", err)
		case n == 0 && err != unix.ETIMEDOUT:
			t.Fatalf("Wake found no waiter, but Wait returned %v", err)
		}
		timer.Stop()
	}
}

// TestRequeueRacesTimeout requeues waiters back and forth while they time
// out: each waiter must find its way out of whichever bucket holds it.
func TestRequeueRacesTimeout(t *testing.T) {
	var m Manager
	mem := newMem()
	keys := [2]Key{PrivateKey(as1, 0x10), PrivateKey(as2, 0x200)}
	stop := make(chan struct{})
	var mover sync.WaitGroup
	mover.Add(1)
	go func() {
		defer mover.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m.Requeue(keys[i%2], keys[(i+1)%2], 0, 1<<20)
			runtime.Gosched()
		}
	}()
	var waiters sync.WaitGroup
	for i := range 64 {
		waiters.Add(1)
		go func() {
			defer waiters.Done()
			for range 20 {
				key := keys[i%2]
				err := m.Wait(context.Background(), mem, key, usermem.Addr(key.Offset), 0, BitsetMatchAny, time.After(100*time.Microsecond))
				if err != unix.ETIMEDOUT {
					t.Errorf("Wait: %v, wanted ETIMEDOUT", err)
					return
				}
			}
		}()
	}
	waiters.Wait()
	close(stop)
	mover.Wait()
	if n := m.totalWaiters(); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

// mutex is a futex-based mutex (Drepper's "Futexes Are Tricky", mutex 2):
// 0 unlocked, 1 locked, 2 locked with waiters. A lost wake-up leaves a
// goroutine asleep forever.
type mutex struct {
	m    *Manager
	mem  usermem.IO
	addr usermem.Addr
	key  Key
}

func (mu *mutex) cas(old, new uint32) uint32 {
	prev, err := mu.mem.CompareAndSwapUint32(context.Background(), mu.addr, old, new, ioOpts)
	if err != nil {
		panic(err)
	}
	return prev
}

func (mu *mutex) swap(new uint32) uint32 {
	prev, err := mu.mem.SwapUint32(context.Background(), mu.addr, new, ioOpts)
	if err != nil {
		panic(err)
	}
	return prev
}

func (mu *mutex) lock() error {
	c := mu.cas(0, 1)
	if c == 0 {
		return nil
	}
	if c != 2 {
		c = mu.swap(2)
	}
	for c != 0 {
		if err := mu.m.Wait(context.Background(), mu.mem, mu.key, mu.addr, 2, BitsetMatchAny, nil); err != nil && err != unix.EAGAIN {
			return err
		}
		c = mu.swap(2)
	}
	return nil
}

func (mu *mutex) unlock() {
	if mu.swap(0) == 2 {
		mu.m.Wake(mu.key, BitsetMatchAny, 1)
	}
}

// TestNoLostWakeups runs a futex mutex on many goroutines: if a wake-up
// were lost, a goroutine would sleep forever and the test would time out.
func TestNoLostWakeups(t *testing.T) {
	var m Manager
	mem := newMem()
	mu := &mutex{m: &m, mem: mem, addr: 0x40, key: SharedKey(0x40)}
	const goroutines, iterations = 16, 2000
	counter := 0
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range iterations {
				if err := mu.lock(); err != nil {
					errs <- err
					return
				}
				counter++
				// Hold the lock across a reschedule, so that the
				// others contend and sleep.
				runtime.Gosched()
				mu.unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the mutex deadlocked: a wake-up was lost (%d waiters queued)", m.totalWaiters())
	}
	close(errs)
	for err := range errs {
		t.Errorf("lock: %v", err)
	}
	if counter != goroutines*iterations {
		t.Errorf("counter = %d, wanted %d", counter, goroutines*iterations)
	}
	if n := m.totalWaiters(); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

// TestEventNoLostWakeups is the lost wake-up race in its plainest form: a
// waiter sleeps while the word is 0; a waker sets it to 1, then wakes.
func TestEventNoLostWakeups(t *testing.T) {
	var m Manager
	const rounds = 500
	for i := range rounds {
		mem := newMem()
		key := PrivateKey(as1, 0)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for load(t, mem, 0) == 0 {
					err := m.Wait(context.Background(), mem, key, 0, 0, BitsetMatchAny, nil)
					if err != nil && !errors.Is(err, unix.EAGAIN) {
						t.Errorf("Wait: %v", err)
						return
					}
				}
			}()
		}
		store(t, mem, 0, 1)
		m.Wake(key, BitsetMatchAny, 1<<30)
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: a waiter slept through the wake", i)
		}
	}
}
