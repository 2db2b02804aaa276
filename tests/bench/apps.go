package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Units of the table: nanoseconds per unit.
const (
	perUS = 1e3
	perMS = 1e6
)

func (b *bench) runApp(name string) error {
	progress(name)
	sz := b.cfg.sizes
	switch name {
	case "getppid":
		return b.getppid(sz.getppidCalls)
	case "touch":
		return b.selfTimedCase(name, "touch", []string{strconv.Itoa(sz.touchMiB)}, sz.touchMiB<<8, false,
			fmt.Sprintf("touch %d MiB, one write per 4 KiB page", sz.touchMiB), "ms", perMS)
	case "read":
		return b.selfTimedCase(name, "readfile", []string{b.ws.data}, sz.readMiB<<4, false,
			fmt.Sprintf("read a %d MiB file, 64 KiB reads (cached)", sz.readMiB), "ms", perMS)
	case "dd":
		return b.dd(sz.ddBlocks)
	case "forkexec":
		return b.selfTimedCase(name, "forkexec", []string{strconv.Itoa(sz.forks), b.ws.bins["true"]}, sz.forks, true,
			fmt.Sprintf("fork+exec+wait of static true, x%s", count(sz.forks)), "µs/iter", perUS)
	case "compute":
		return b.selfTimedCase(name, "compute", []string{strconv.Itoa(sz.computeOps)}, sz.computeOps, false,
			fmt.Sprintf("compute only, %s rounds, no syscalls", count(sz.computeOps)), "ms", perMS)
	case "startup":
		return b.startup(sz.startups)
	case "futex":
		return b.selfTimedCase(name, "futex", []string{strconv.Itoa(sz.futexRounds)}, sz.futexRounds, true,
			fmt.Sprintf("futex ping-pong, 2 threads, x%s", count(sz.futexRounds)), "µs/trip", perUS)
	case "go":
		return b.goroutines(sz.goItems)
	}
	return fmt.Errorf("unknown case %q", name)
}

// run runs a program of the workspace, natively or under `minisentry
// run`, with the fixed programEnv, from the workspace directory. Then it
// looks for processes the command left behind; none should survive it.
func (b *bench) run(argv []string, underSentry bool) (outcome, error) {
	if underSentry {
		argv = append([]string{b.ws.sentry, "run", "--"}, argv...)
	}
	out, err := runCommand(b.ctx, b.cfg.timeout, command{argv: argv, dir: b.ws.dir, env: programEnv})
	if b.p == nil { // else the platform's own stubs are children too
		if left := sweep(); len(left) > 0 {
			b.leftovers = append(b.leftovers, describe(argv)+": "+strings.Join(left, ", "))
		}
	}
	return out, err
}

// selfTimed is a measure of one run of a program that times itself (see
// programs/bench.h), natively or under the sentry: its elapsed nanoseconds,
// divided by the operations it counted with perOp. The program must report
// wantOps operations, a check that it did the work asked of it.
func (b *bench) selfTimed(prog string, args []string, underSentry bool, wantOps int, perOp bool) measure {
	return func() (float64, error) {
		argv := append([]string{b.ws.bins[prog]}, args...)
		out, err := b.run(argv, underSentry)
		if err != nil {
			return 0, err
		}
		var ns float64
		var ops int
		if _, err := fmt.Sscanf(string(out.stdout), "elapsed_ns %g ops %d\n", &ns, &ops); err != nil {
			return 0, fmt.Errorf("%s: unexpected output %q", b.where(prog, underSentry), out.stdout)
		}
		if ops != wantOps {
			return 0, fmt.Errorf("%s: did %d operations, want %d", b.where(prog, underSentry), ops, wantOps)
		}
		if perOp {
			return ns / float64(ops), nil
		}
		return ns, nil
	}
}

// where names a program and how it ran, for messages.
func (b *bench) where(prog string, underSentry bool) string {
	if underSentry {
		return prog + " under minisentry"
	}
	return prog + " natively"
}

// selfTimedCase measures a self-timed program natively and under the
// sentry and adds its row.
func (b *bench) selfTimedCase(key, prog string, args []string, wantOps int, perOp bool, name, unit string, div float64) error {
	m, err := b.medians(
		b.selfTimed(prog, args, false, wantOps, perOp),
		b.selfTimed(prog, args, true, wantOps, perOp),
	)
	if err != nil {
		return err
	}
	b.rows = append(b.rows, appRow(key, name, unit, div, m[0], noStat, m[1]))
	return nil
}

// appRow makes the row of a program case from its measurements.
func appRow(key, name, unit string, div float64, native, floor, sentry stat) row {
	return row{key: key, name: name, unit: unit, div: div,
		native: native.med, floor: floor.med, sentry: sentry.med,
		nativeMin: native.min, sentryMin: sentry.min, noise: max(native.spread, floor.spread, sentry.spread)}
}

// getppid holds the program's loop against the floor tracer's, which makes
// the same number of the same calls, pinned as the floor is defined.
func (b *bench) getppid(calls int) error {
	args := []string{strconv.Itoa(calls)}
	m, err := b.medians(
		b.selfTimed("getppid", args, false, calls, true),
		b.floorRun(calls, true),
		b.selfTimed("getppid", args, true, calls, true),
	)
	if err != nil {
		return err
	}
	b.floorNS = m[1].med
	b.rows = append(b.rows, appRow("getppid", fmt.Sprintf("getppid, x%s", count(calls)), "µs/call", perUS, m[0], m[1], m[2]))
	return nil
}

// wallTimed is a measure of a whole command's wall time, from fork to
// reaped exit, after check has accepted its output.
func (b *bench) wallTimed(argv []string, underSentry bool, check func(outcome) error) measure {
	return func() (float64, error) {
		out, err := b.run(argv, underSentry)
		if err != nil {
			return 0, err
		}
		if err := check(out); err != nil {
			return 0, fmt.Errorf("%s: %w", b.where(describe(argv[:1]), underSentry), err)
		}
		return float64(out.wall.Nanoseconds()), nil
	}
}

// dd times busybox dd as a whole command: its 2 x blocks syscalls of 64 KiB
// dominate the sentry's start-up, which the startup case shows apart.
func (b *bench) dd(blocks int) error {
	argv := []string{busyboxPath, "dd", "if=/dev/zero", "of=/dev/null", "bs=64k", "count=" + strconv.Itoa(blocks)}
	// dd's own summary on stderr shows it copied every block.
	want := fmt.Sprintf("%d+0 records out", blocks)
	check := func(out outcome) error {
		if !bytes.Contains(out.stderr, []byte(want)) {
			return fmt.Errorf("no %q in its output %q", want, out.stderr)
		}
		return nil
	}
	m, err := b.medians(b.wallTimed(argv, false, check), b.wallTimed(argv, true, check))
	if err != nil {
		return err
	}
	b.rows = append(b.rows, appRow("dd", fmt.Sprintf("busybox dd bs=64k count=%d, whole run", blocks), "ms", perMS, m[0], noStat, m[1]))
	return nil
}

// goroutines times the Go program as a whole command, runtime start-up
// included: that is part of what a Go application costs under a sentry.
// Its output must be the same natively and under the sentry.
func (b *bench) goroutines(items int) error {
	argv := []string{b.ws.bins["goroutines"], strconv.Itoa(items)}
	var first []byte
	check := func(out outcome) error {
		if !bytes.HasPrefix(out.stdout, []byte("sum ")) {
			return fmt.Errorf("unexpected output %q", out.stdout)
		}
		if first == nil {
			first = out.stdout
		} else if !bytes.Equal(out.stdout, first) {
			return fmt.Errorf("printed %q, but the first run printed %q", out.stdout, first)
		}
		return nil
	}
	m, err := b.medians(b.wallTimed(argv, false, check), b.wallTimed(argv, true, check))
	if err != nil {
		return err
	}
	b.rows = append(b.rows, appRow("go", fmt.Sprintf("Go goroutines+channels, GOMAXPROCS=2, %s items, whole run", count(items)),
		"ms", perMS, m[0], noStat, m[1]))
	return nil
}

// startup times whole runs of a static true, alternately native and under
// the sentry, and takes the median of each. A single start-up is short
// enough that one slow run (a page cache miss, a preempted fork) would
// swing a mean, so runs replaces -reps here.
func (b *bench) startup(runs int) error {
	argv := []string{b.ws.bins["true"]}
	ok := func(outcome) error { return nil }
	native, sentry := b.wallTimed(argv, false, ok), b.wallTimed(argv, true, ok)
	var ns, ss []float64
	for range runs {
		n, err := native()
		if err != nil {
			return err
		}
		s, err := sentry()
		if err != nil {
			return err
		}
		ns, ss = append(ns, n), append(ss, s)
	}
	b.rows = append(b.rows, appRow("startup", fmt.Sprintf("start-up of static true, whole run, median of %d", runs),
		"ms", perMS, summarize(ns), noStat, summarize(ss)))
	return nil
}

// count writes n with thousands separated, or as a power of ten when it is
// one of at least a million.
func count(n int) string {
	if n >= 1000000 {
		p, m := 0, n
		for m%10 == 0 {
			p, m = p+1, m/10
		}
		if m < 10 {
			if m == 1 {
				return fmt.Sprintf("1e%d", p)
			}
			return fmt.Sprintf("%de%d", m, p)
		}
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
