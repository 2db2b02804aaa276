//go:build exercise_stack

package exercises

import "testing"

// TestStackGrowsDown: exercise 4, grow the stack lazily. The main
// thread's [stack] starts at 128 KiB and some, grows on faults below it
// (the application's and the sentry's own) up to RLIMIT_STACK, keeps its
// guard gap from the mapping below, and ends in SIGSEGV when it can grow
// no more.
func TestStackGrowsDown(t *testing.T) {
	compare(t, compile(t, "stack", "-fno-stack-clash-protection"))
}
