package main

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// modulePath is go.mod's module line, which tells the module root apart
// from any other go.mod on the way up.
const modulePath = "github.com/minisentry/minisentry"

// busyboxPath is where Debian's busybox-static puts its static busybox.
const busyboxPath = "/bin/busybox"

// buildTimeout bounds one compiler run. A cold `go build` of minisentry
// takes seconds; minutes mean something is wrong.
const buildTimeout = 5 * time.Minute

// workspace is the temporary directory that holds everything the cases
// run: minisentry, the programs, the floor tracer and the read case's file.
// Paths in it have no symlinks, so that a program's argv[0] is what
// /proc/self/exe says, natively and under the sentry.
type workspace struct {
	dir    string
	root   string            // the module root, where the sources are
	sentry string            // minisentry, "" if no case runs it
	floor  string            // the floor tracer, "" if no case runs it
	bins   map[string]string // programs by name: the C ones and "goroutines"
	data   string            // the read case's file, "" if it does not run
}

// need lists, for each case, the C programs (programs/NAME.c) it runs.
var need = map[string][]string{
	"getppid":  {"getppid"},
	"touch":    {"touch"},
	"read":     {"readfile"},
	"forkexec": {"forkexec", "true"},
	"compute":  {"compute"},
	"startup":  {"true"},
	"futex":    {"futex"},
}

// newWorkspace checks the tools the chosen cases need, then builds into a
// new temporary directory what they run. On error nothing is left behind.
func newWorkspace(ctx context.Context, cfg config) (*workspace, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	anyApp, needFloor := false, cfg.cases["getppid"] || cfg.cases["sysemu"]
	cprogs := map[string]bool{}
	for c := range cfg.cases {
		anyApp = anyApp || contains(appCases, c)
		for _, p := range need[c] {
			cprogs[p] = true
		}
	}
	if err := checkTools(cfg, anyApp, needFloor || len(cprogs) > 0); err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "minisentry-bench-")
	if err != nil {
		return nil, err
	}
	ws := &workspace{dir: dir, root: root, bins: map[string]string{}}
	if ws.dir, err = filepath.EvalSymlinks(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}

	// The builds are independent: run them side by side, a few at a time.
	var jobs []func() error
	if anyApp {
		ws.sentry = filepath.Join(ws.dir, "minisentry")
		jobs = append(jobs, func() error {
			return ws.goBuild(ctx, ws.sentry, "./cmd/minisentry", false)
		})
	}
	if cfg.cases["go"] {
		ws.bins["goroutines"] = filepath.Join(ws.dir, "goroutines")
		jobs = append(jobs, func() error {
			return ws.goBuild(ctx, ws.bins["goroutines"], "./tests/bench/programs/goroutines", true)
		})
	}
	if needFloor {
		ws.floor = filepath.Join(ws.dir, "floor")
		jobs = append(jobs, func() error {
			return ws.cc(ctx, ws.floor, filepath.Join(root, "tests", "floor", "floor.c"))
		})
	}
	for p := range cprogs {
		ws.bins[p] = filepath.Join(ws.dir, p)
		jobs = append(jobs, func() error {
			return ws.cc(ctx, ws.bins[p], filepath.Join(root, "tests", "bench", "programs", p+".c"))
		})
	}
	if cfg.cases["read"] {
		ws.data = filepath.Join(ws.dir, "data")
		jobs = append(jobs, func() error { return writeData(ws.data, cfg.sizes.readMiB) })
	}
	if err := parallel(jobs, runtime.NumCPU()+1); err != nil {
		ws.remove()
		return nil, err
	}
	return ws, nil
}

func (ws *workspace) remove() {
	os.RemoveAll(ws.dir)
}

// checkTools fails early, with what to install, when a tool a chosen case
// needs is missing: before minutes of building and measuring, not after.
func checkTools(cfg config, needGo, needGcc bool) error {
	if needGcc {
		if _, err := exec.LookPath("gcc"); err != nil {
			return errors.New("gcc not found in PATH: the bench builds its C programs and the floor tracer with gcc -static (install gcc and the static glibc, Debian's libc6-dev)")
		}
	}
	if needGo {
		if _, err := exec.LookPath("go"); err != nil {
			return errors.New("the go command is not in PATH: the bench builds minisentry with it")
		}
	}
	if cfg.cases["dd"] {
		return checkBusybox()
	}
	return nil
}

// checkBusybox checks that busyboxPath is a static executable: a dynamic
// busybox (Debian's busybox package rather than busybox-static) would be
// refused by minisentry, after the native run had already been timed.
func checkBusybox() error {
	const install = "install Debian's busybox-static, or leave out -cases dd"
	f, err := elf.Open(busyboxPath)
	if err != nil {
		return fmt.Errorf("dd: %s is missing or not an executable (%v): %s", busyboxPath, err, install)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dd: %s is dynamically linked, which minisentry does not run: %s", busyboxPath, install)
		}
	}
	return nil
}

// goBuild builds the package pkg of the module into out. static builds
// with CGO_ENABLED=0, as a Go application for the sentry must be.
func (ws *workspace) goBuild(ctx context.Context, out, pkg string, static bool) error {
	// The user's environment, for GOPATH, GOCACHE, GOFLAGS and the like.
	env := os.Environ()
	if static {
		env = append(env, "CGO_ENABLED=0")
	}
	_, err := runCommand(ctx, buildTimeout, command{argv: []string{"go", "build", "-o", out, pkg}, dir: ws.root, env: env})
	if err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

// cc compiles one C file into a static executable, -O2 as the issue asks:
// the programs must spend their time in the case, not in unoptimised
// loops.
func (ws *workspace) cc(ctx context.Context, out, src string) error {
	argv := []string{"gcc", "-static", "-O2", "-Wall", "-Wextra", "-o", out, src}
	if _, err := runCommand(ctx, buildTimeout, command{argv: argv, dir: ws.dir}); err != nil {
		return fmt.Errorf("building %s: %w", filepath.Base(src), err)
	}
	return nil
}

// writeData writes the read case's file: mib MiB of varied bytes (so that
// no file system could store it as holes or compress it), synced, so that
// write-back does not run during the timed reads. Its pages stay in the
// page cache, where the program's untimed first pass finds them.
func writeData(path string, mib int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	x := uint64(0x2545f4914f6cdd1d)
	for i := range chunk {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		chunk[i] = byte(x)
	}
	w := bufio.NewWriterSize(f, len(chunk))
	for range mib {
		if _, err := w.Write(chunk); err != nil {
			f.Close()
			return fmt.Errorf("writing the read case's file: %w", err)
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the read case's file: %w", err)
	}
	return nil
}

// parallel runs jobs at most n at a time and returns all their errors.
func parallel(jobs []func() error, n int) error {
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = job()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// moduleRoot finds the module's root directory: from this file's path when
// the bench runs where it was compiled (go run), else upwards from the
// working directory (a copied binary run inside the repository).
func moduleRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find the root of module %s: run the bench from inside the repository", modulePath)
}

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == modulePath
		}
	}
	return false
}
