package main

import (
	"fmt"
	"strconv"
)

// floorRun is a measure of the floor tracer (tests/floor/floor.c, built into
// the workspace) answering calls getppid calls, pinned to one CPU or not:
// its nanoseconds per call, as it reports them.
func (b *bench) floorRun(calls int, pinned bool) measure {
	return func() (float64, error) {
		argv := []string{b.ws.floor, "-n", strconv.Itoa(calls)}
		if !pinned {
			argv = append(argv, "-u")
		}
		out, err := b.run(argv, false)
		if err != nil {
			return 0, err
		}
		var n int
		var ns float64
		if _, err := fmt.Sscanf(string(out.stdout), "floor getppid: %d calls, %g ns/call", &n, &ns); err != nil || n != calls {
			return 0, fmt.Errorf("floor tracer: unexpected output %q", out.stdout)
		}
		return ns, nil
	}
}
