//go:build exercise_getcpu

package exercises

import "testing"

// TestGetcpu: exercise 1, add a system call. getcpu(2) answers with one of
// the process's CPUs and a node of the machine, accepts NULL for either,
// and fails with EFAULT on memory the program could not write, storing
// the CPU before it tries the node.
func TestGetcpu(t *testing.T) {
	compare(t, compile(t, "getcpu"))
}
