package tests

import (
	"strconv"
	"strings"
	"testing"
)

// The limits of `minisentry run`: --max-tasks, --memory-limit, and the
// application's own RLIMIT_NOFILE. bombs.c takes all it can; the sandbox
// must end cleanly, with the program's status, within the run timeout,
// and leave no stub process behind.

func init() {
	programs["bombs"] = staticLibcs
}

// TestForkBomb: `while (1) fork();` under --max-tasks stops at the limit
// with EAGAIN (the first process then ends the sandbox, with status 7),
// and there are never more stub processes than the limit allows: one per
// process, plus the master and the address spaces made in advance.
func TestForkBomb(t *testing.T) {
	t.Parallel()
	const maxTasks = 24
	forEach(t, "bombs", func(t *testing.T, bin string) {
		w := startSentry(t, []string{"--max-tasks", strconv.Itoa(maxTasks)}, bin, "fork")
		if got := w.wait(); got != 7 || !strings.HasPrefix(w.out.String(), "fork refused: EAGAIN\n") {
			t.Errorf("the fork bomb ended with %d, want 7 after an EAGAIN\n%s", got, w.show())
		}
		// The master, the pool of two and one being made.
		if peak := w.peakStubs(); peak > maxTasks+4 {
			t.Errorf("%d stub processes at once under --max-tasks %d", peak, maxTasks)
		}
		w.checkNothingLeft()
	})
}

// TestThreadBomb: threads count against --max-tasks too: the program's
// first thread and 19 more make 20.
func TestThreadBomb(t *testing.T) {
	t.Parallel()
	forEach(t, "bombs", func(t *testing.T, bin string) {
		w := startSentry(t, []string{"--max-tasks", "20"}, bin, "threads")
		if got := w.wait(); got != 0 || w.out.String() != "pthread_create refused after 19 threads: EAGAIN\n" {
			t.Errorf("the thread bomb ended with %d, want 0 after 19 threads and an EAGAIN\n%s", got, w.show())
		}
		w.checkNothingLeft()
	})
}

// TestMemoryBomb: malloc and touch, 1 MiB at a time, under --memory-limit:
// brk and then mmap fail with ENOMEM before a fault runs out of memory, so
// malloc returns NULL and the program exits 3.
func TestMemoryBomb(t *testing.T) {
	t.Parallel()
	forEach(t, "bombs", func(t *testing.T, bin string) {
		w := startSentry(t, []string{"--memory-limit", "64M"}, bin, "memory")
		if got := w.wait(); got != 3 || w.out.String() != "malloc refused after some MiB: ENOMEM\n" {
			t.Errorf("the memory bomb ended with %d, want 3 after a malloc failed\n%s", got, w.show())
		}
		w.checkNothingLeft()
	})
}

// TestMemoryLimitFault: two mappings that each fit under --memory-limit,
// but not together: touching the second kills the program with SIGBUS
// once the limit is reached, rather than faulting forever.
func TestMemoryLimitFault(t *testing.T) {
	t.Parallel()
	forEach(t, "bombs", func(t *testing.T, bin string) {
		const limit = 64 << 20
		w := startSentry(t, []string{"--memory-limit", strconv.Itoa(limit)}, bin, "fault", strconv.Itoa(limit))
		want := "ok: a != MAP_FAILED && b != MAP_FAILED\nboth mapped; touching them\nthe first fits\n"
		if got := w.wait(); got != 128+7 || w.out.String() != want {
			t.Errorf("ended with %d, want 135 (SIGBUS) after the first mapping\n%s", got, w.show())
		}
		if !strings.Contains(w.err.String(), "out of memory") {
			t.Errorf("minisentry did not say why the program got SIGBUS\n%s", w.show())
		}
		w.checkNothingLeft()
	})
}

// TestMemoryLimitMmap: mmap and brk of more than --memory-limit fail with
// ENOMEM (reservations and MAP_NORESERVE excepted), and smaller requests
// still succeed.
func TestMemoryLimitMmap(t *testing.T) {
	t.Parallel()
	forEach(t, "bombs", func(t *testing.T, bin string) {
		const limit = 64 << 20
		w := startSentry(t, []string{"--memory-limit", strconv.Itoa(limit)}, bin, "mmap", strconv.Itoa(limit))
		if got := w.wait(); got != 0 || !strings.HasSuffix(w.out.String(), "\n0 checks failed\n") {
			t.Errorf("ended with %d\n%s", got, w.show())
		}
		w.checkNothingLeft()
	})
}

// TestFileLimit: open, dup, fcntl(F_DUPFD), dup2, pipe, eventfd and
// epoll_create1 past a lowered RLIMIT_NOFILE fail as on Linux (EMFILE,
// EBADF, EINVAL), and a pipe that gets one descriptor of two keeps none.
// Compared with a native run.
func TestFileLimit(t *testing.T) {
	t.Parallel()
	forEach(t, "bombs", func(t *testing.T, bin string) {
		compare(t, bin, invocation{args: []string{"files"}}, 0)
	})
}
