//go:build exercise_proclimits

package exercises

import "testing"

// TestProcLimits: exercise 2, add a /proc file. /proc/PID/limits, and a
// thread's /proc/PID/task/TID/limits, print the process's resource limits
// in Linux's exact table, whatever the size of the reads.
func TestProcLimits(t *testing.T) {
	compare(t, compile(t, "limits"))
}
