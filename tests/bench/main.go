// Command bench measures minisentry against the host and against the floor
// of ptrace interposition, in one run on one machine.
//
// Each case runs natively, under the C floor tracer where that means
// something, and under the real `minisentry run`, built by the bench from
// this tree; the table shows the three side by side with the ratios of
// minisentry's time to the others. Absolute times move from machine to
// machine (a VM's ptrace stop costs 4 µs on one and 11 µs on the next); the
// ratios measured beside each other do not, so the ratios are the figures to
// judge. The output ends with a line per target of issue 10.
//
// The floor (tests/floor/floor.c) is the least any ptrace sentry can spend on
// an application syscall: a tiny C tracer that stops a child at each getppid
// with PTRACE_SYSEMU and answers it with waitpid, PTRACE_GETREGS,
// PTRACE_SETREGS and PTRACE_SYSEMU, tracer and child pinned to one CPU. Only
// the getppid case has a floor of that kind; the other cases do work the
// host does too (faults, copies, process creation), which no tracer of
// syscalls alone stands for.
//
// Cases (C programs in programs/, built with gcc -static -O2):
//
//	getppid   getppid calls in a loop, timed by the program; the floor is
//	          floor.c's own loop of as many calls, pinned
//	touch     one write to each page of a fresh 256 MiB anonymous mapping
//	read      a 100 MiB file read in 64 KiB reads, from the page cache: the
//	          bench writes it, the program reads it once untimed and once
//	          timed
//	dd        busybox dd of 64 KiB blocks x 20000 from /dev/zero to
//	          /dev/null, the whole command timed (/bin/busybox, from
//	          Debian's busybox-static)
//	forkexec  200 fork + exec of a static true + wait, timed by the program
//	compute   a dependent chain of 1e9 integer operations, no syscalls
//	startup   whole runs of a static true, the median of -runs of them
//	futex     two threads handing a turn back and forth through a futex,
//	          100,000 round trips with raw FUTEX_WAIT and FUTEX_WAKE
//	go        a static Go program (CGO_ENABLED=0) that hands work to
//	          goroutines on GOMAXPROCS=2 through channels, the whole command
//	          timed
//
// With -platform, the bench also measures the ptrace platform itself, in
// this process, with hand-assembled programs and no kernel above it:
//
//	sysemu   one emulated syscall round trip, against the floor pinned and
//	         unpinned (-n calls, and -n/10 unpinned)
//	inject   one syscall injected into a stub (AddressSpace.MapFile of one
//	         page), from the stub thread's own tracer and through the
//	         address space's control goroutine
//	fault    one page fault, the sentry mapping exactly the faulting page
//	space    NewAddressSpace, alone and followed by Release
//
// The platform pins each stub thread to its tracer's CPU but leaves the
// tracer (the task's OS thread) free to migrate. The platform rows "sentry
// thread pinned too" run the same case with the tracer pinned as the
// floor's is: the gap to the row above is what the tracer's migrations cost.
// inject and fault have no measured floor; their floor column holds a model,
// marked "*": the ptrace round trips the operation needs at the measured
// floor each, plus the host work it cannot avoid, measured natively.
//
// Run it on an otherwise idle machine. Other load changes the figures both
// ways: it takes CPU time from tracer and tracee, and a busy second CPU hides
// the cost of cross-CPU wake-ups, since the host then has nowhere to move a
// thread to. The header shows how busy the host was just before the run.
//
// Every subprocess runs in a process group of its own under a timeout
// (-timeout) and is killed with its group when it runs over; the bench is
// the subreaper of whatever they leave, and after each command it reaps or
// kills any process still around (a stub that outlived its sentry is a bug
// the bench reports). The temporary directory with the binaries and the data
// file is removed on every way out but SIGKILL.
//
// Usage:
//
//	go run ./tests/bench [-cases getppid,touch,...] [-reps 3] [-quick] [-platform]
//	                     [-runs 30] [-timeout 5m] [-n 200000] [-pages 4096] [-spaces 500]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// appCases are the cases that run programs, in the order they run and
// appear in the table; platformCases are the in-process platform cases.
var (
	appCases      = []string{"getppid", "touch", "read", "dd", "forkexec", "compute", "startup", "futex", "go"}
	platformCases = []string{"sysemu", "inject", "fault", "space"}
)

// sizes are the amounts of work of the program cases.
type sizes struct {
	getppidCalls int
	touchMiB     int
	readMiB      int
	ddBlocks     int
	forks        int
	computeOps   int
	startups     int
	futexRounds  int
	goItems      int
}

// fullSizes are the issue's; quickSizes cut each case to a fraction, for a
// run of well under a minute that still exercises every path.
var (
	fullSizes = sizes{
		getppidCalls: 1000000, touchMiB: 256, readMiB: 100, ddBlocks: 20000, forks: 200,
		computeOps: 1000000000, startups: 30, futexRounds: 100000, goItems: 100000,
	}
	quickSizes = sizes{
		getppidCalls: 100000, touchMiB: 64, readMiB: 25, ddBlocks: 5000, forks: 50,
		computeOps: 250000000, startups: 10, futexRounds: 10000, goItems: 25000,
	}
)

// config holds the command line.
type config struct {
	sizes   sizes
	reps    int           // repetitions; the table shows medians
	quick   bool          // the run uses quickSizes
	timeout time.Duration // the most any one subprocess may take
	cases   map[string]bool

	// The platform cases' amounts of work.
	calls  int // emulated and injected syscalls per repetition
	pages  int // pages faulted in per repetition
	spaces int // address spaces made per repetition
}

func main() {
	cfg, err := parseFlags()
	if err == nil {
		err = runBench(cfg)
	}
	if err != nil {
		// One line, whatever a subprocess wrote: the details are in the
		// message already, and a multi-line error hides in a long run's
		// output.
		fmt.Fprintf(os.Stderr, "bench: %s\n", oneLine(err.Error()))
		os.Exit(1)
	}
}

func parseFlags() (config, error) {
	var cfg config
	cases := flag.String("cases", "", "comma-separated cases to run (default: all of "+strings.Join(appCases, ",")+"); platform cases: "+strings.Join(platformCases, ","))
	platformFlag := flag.Bool("platform", false, "also run the platform cases ("+strings.Join(platformCases, ",")+") in this process")
	flag.BoolVar(&cfg.quick, "quick", false, "a short run: a fraction of each case's work, and -reps 1 unless given")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of each measurement (medians are shown)")
	runs := flag.Int("runs", 0, "whole runs of true timed by the startup case (default 30, -quick 10)")
	flag.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "the most any one subprocess may run before it is killed")
	flag.IntVar(&cfg.calls, "n", 200000, "platform cases: emulated and injected syscalls per repetition")
	flag.IntVar(&cfg.pages, "pages", 4096, "platform cases: pages faulted in per repetition")
	flag.IntVar(&cfg.spaces, "spaces", 500, "platform cases: address spaces made and released per repetition")
	flag.Parse()
	if flag.NArg() != 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", flag.Args())
	}

	cfg.sizes = fullSizes
	if cfg.quick {
		cfg.sizes = quickSizes
		if !flagSet("reps") {
			cfg.reps = 1
		}
	}
	if *runs != 0 {
		cfg.sizes.startups = *runs
	}
	if cfg.reps < 1 || cfg.sizes.startups < 1 || cfg.timeout <= 0 {
		return cfg, errors.New("-reps and -runs must be at least 1, -timeout positive")
	}
	if cfg.calls < 10 || cfg.pages < 1 || cfg.spaces < 1 {
		return cfg, errors.New("-n must be at least 10, -pages and -spaces at least 1")
	}

	cfg.cases = make(map[string]bool)
	selected := appCases
	if *cases != "" {
		selected = strings.Split(*cases, ",")
	}
	if *platformFlag {
		selected = append(selected, platformCases...)
	}
	for _, c := range selected {
		if !contains(appCases, c) && !contains(platformCases, c) {
			return cfg, fmt.Errorf("unknown case %q (have %s, and with -platform %s)",
				c, strings.Join(appCases, ","), strings.Join(platformCases, ","))
		}
		cfg.cases[c] = true
	}
	return cfg, nil
}

// flagSet reports whether the command line gave the flag name.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runBench prints the machine, builds what the chosen cases need, measures
// them and prints the table and the targets. Everything it creates (the
// temporary directory, subprocesses, stubs, the platform) is gone when it
// returns, error or not.
func runBench(cfg config) error {
	// The first SIGINT or SIGTERM cancels ctx, which kills the running
	// subprocess, so that the error path removes what the bench made; a
	// second one, once ctx is done, kills the bench as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	// Before anything else: orphans of the commands the bench runs, stubs
	// above all, must come to the bench to be found and reaped.
	if err := becomeSubreaper(); err != nil {
		return err
	}

	// The machine and its load come first, measured before the bench adds
	// load of its own.
	printMachine(os.Stdout, cfg)

	ws, err := newWorkspace(ctx, cfg)
	if err != nil {
		return err
	}
	defer ws.remove()

	b := &bench{ctx: ctx, cfg: cfg, ws: ws}
	err = b.runAll()
	if err == nil {
		printTable(os.Stdout, b.rows)
		printTargets(os.Stdout, b)
	}
	// Processes left behind are reported even after a failed case, and
	// fail a run whose figures are otherwise fine: they are a bug.
	if len(b.leftovers) > 0 {
		err = errors.Join(err, fmt.Errorf("processes outlived the commands that made them and were killed: %s",
			strings.Join(b.leftovers, "; ")))
	}
	return err
}

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
