package tests

import "testing"

// /dev and /proc: the C program procdev.c, which reads the memory devices
// and its own /proc directory, and checks what it finds against what it
// knows of itself.

func init() {
	programs["procdev"] = staticLibcs
}

// TestProcDev runs procdev with arguments to find in /proc/self/cmdline,
// an empty one among them.
func TestProcDev(t *testing.T) {
	t.Parallel()
	forEach(t, "procdev", func(t *testing.T, bin string) {
		compare(t, bin, invocation{args: []string{"one", "two words", ""}}, 0)
	})
}
