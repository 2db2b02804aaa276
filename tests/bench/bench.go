package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/minisentry/minisentry/platform/ptrace"
)

// bench runs the cases and collects the table.
type bench struct {
	ctx context.Context
	cfg config
	ws  *workspace

	// p is the in-process platform of the platform cases, nil outside
	// them. While it is open its stubs are the bench's children, so the
	// sweep for leftovers waits until it is closed.
	p *ptrace.Platform

	// floorNS is the pinned floor per call, which the modelled floors are
	// built from; none until a case has measured it.
	floorNS float64

	rows []row

	// leftovers describes the processes that outlived the commands that
	// made them, which the bench had to kill.
	leftovers []string
}

// measure is one measurement: nanoseconds, per operation or in all as the
// case decides.
type measure func() (float64, error)

// stat sums up the repetitions of one measurement.
type stat struct {
	med    float64 // the median
	min    float64 // the fastest: time the case cannot do without
	spread float64 // (max - min) / median: how far apart the repetitions were
}

// noStat stands for a measurement a row does not have.
var noStat = stat{med: none, min: none}

// runAll runs the chosen cases in table order: the programs first, then the
// platform cases, so that the platform's stubs are never around while a
// command's leftovers are counted.
func (b *bench) runAll() error {
	// Whatever the builds left (nothing, normally) is not the sentry's.
	sweep()
	for _, c := range appCases {
		if b.cfg.cases[c] {
			if err := b.runApp(c); err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
		}
	}
	anyPlatform := false
	for _, c := range platformCases {
		anyPlatform = anyPlatform || b.cfg.cases[c]
	}
	if !anyPlatform {
		return nil
	}
	return b.runPlatform()
}

// runPlatform opens the platform, runs the chosen platform cases and closes
// it, then checks that closing it left no stub behind.
func (b *bench) runPlatform() (err error) {
	progress("platform")
	if b.p, err = ptrace.New(); err != nil {
		return fmt.Errorf("starting the ptrace platform: %w", err)
	}
	defer func() {
		b.p.Close()
		b.p = nil
		if left := sweep(); len(left) > 0 {
			b.leftovers = append(b.leftovers, "the platform cases: "+strings.Join(left, ", "))
		}
	}()
	for _, c := range platformCases {
		if b.cfg.cases[c] {
			if err := b.runPlatformCase(c); err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
		}
	}
	return nil
}

// progress tells a terminal watching a minutes-long run where it is. It
// goes to stderr, so that stdout holds just the report.
func progress(what string) {
	fmt.Fprintf(os.Stderr, "bench: measuring %s\n", what)
}

// medians runs each measure cfg.reps times, interleaved (a, b, a, b...) so
// that a slow spell of the machine hits them alike, and sums up each.
func (b *bench) medians(ms ...measure) ([]stat, error) {
	samples := make([][]float64, len(ms))
	for range b.cfg.reps {
		for i, m := range ms {
			ns, err := m()
			if err != nil {
				return nil, err
			}
			samples[i] = append(samples[i], ns)
		}
	}
	out := make([]stat, len(ms))
	for i, s := range samples {
		out[i] = summarize(s)
	}
	return out, nil
}

// summarize returns the median and the spread of xs, which it sorts.
func summarize(xs []float64) stat {
	sort.Float64s(xs)
	n := len(xs)
	med := xs[n/2]
	if n%2 == 0 {
		med = (xs[n/2-1] + xs[n/2]) / 2
	}
	spread := 0.0
	if med > 0 {
		spread = (xs[n-1] - xs[0]) / med
	}
	return stat{med: med, min: xs[0], spread: spread}
}

// model returns a modelled floor of trips ptrace round trips plus host
// nanoseconds, or none when the floor was not measured.
func (b *bench) model(trips int, host float64) float64 {
	if b.floorNS <= 0 {
		return none
	}
	return float64(trips)*b.floorNS + host
}
