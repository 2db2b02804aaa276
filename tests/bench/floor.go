package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
)

// floorTracer is the C floor tracer, compiled into a temporary directory.
type floorTracer struct {
	dir string
	bin string
}

// floorSource finds tests/floor/floor.c: next to this package's source when
// it is still where it was compiled from (go run), else under the current
// directory (a copied binary run from the repository root).
func floorSource() (string, error) {
	candidates := []string{filepath.Join("tests", "floor", "floor.c")}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append([]string{filepath.Join(filepath.Dir(file), "..", "floor", "floor.c")}, candidates...)
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("cannot find the floor tracer's source (tried %q)", candidates)
}

// buildFloor compiles floor.c with gcc, statically like the programs it
// stands for.
func buildFloor() (*floorTracer, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil, errors.New("gcc not found in PATH: it is needed to build the C floor tracer (install gcc, or leave out -cases getppid)")
	}
	src, err := floorSource()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "minisentry-floor-")
	if err != nil {
		return nil, err
	}
	f := &floorTracer{dir: dir, bin: filepath.Join(dir, "floor")}
	out, err := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-static", "-o", f.bin, src).CombinedOutput()
	if err != nil {
		f.remove()
		return nil, fmt.Errorf("building the floor tracer: %v: %s", err, bytes.TrimSpace(out))
	}
	return f, nil
}

func (f *floorTracer) remove() {
	os.RemoveAll(f.dir)
}

// run runs the floor for calls getppid calls, pinned to one CPU or not, and
// returns its nanoseconds per call.
func (f *floorTracer) run(calls int, pinned bool) (float64, error) {
	args := []string{"-n", strconv.Itoa(calls)}
	if !pinned {
		args = append(args, "-u")
	}
	cmd := exec.Command(f.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("floor tracer: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var n int
	var ns float64
	if _, err := fmt.Sscanf(string(out), "floor getppid: %d calls, %g ns/call", &n, &ns); err != nil || n != calls {
		return 0, fmt.Errorf("floor tracer: unexpected output %q", out)
	}
	return ns, nil
}
