package main

import (
	"fmt"
	"io"
	"math"
)

// computeTolerance is how far from native the compute target allows the
// fastest runs to be: "at native, within noise". Compared fastest to
// fastest, other load on the host, which only ever adds time, drops out,
// and what remains of noise is a few per cent of frequency and cache luck.
// A sentry that costs compute time (stops the stub, shares its CPU) slows
// every run, the fastest too, and shows.
const computeTolerance = 0.05

// printTargets ends the report with one line per target of issue 10, met or
// not met, from this run's figures. fork+exec+wait gets its measured time
// only: its target is a comparison with a model of injected operations,
// made outside the bench.
func printTargets(w io.Writer, b *bench) {
	title := "targets of issue 10, from this run"
	if b.cfg.quick {
		title += " (quick: smaller cases than the issue's)"
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, title+":")
	line := func(what, verdict string) { fmt.Fprintf(w, "  %-26s %s\n", what, verdict) }

	if r, ok := b.row("getppid"); ok {
		x := r.sentry / r.floor
		line("getppid <= 1.1x the floor", verdict(x <= 1.1, "%.2fx the floor (%s vs %s µs/call)", x, format(r.sentry, perUS), format(r.floor, perUS)))
	} else {
		line("getppid <= 1.1x the floor", "not measured (case getppid not run)")
	}
	if r, ok := b.row("compute"); ok {
		x := r.sentryMin / r.nativeMin
		line("compute-only at native", verdict(math.Abs(x-1) <= computeTolerance,
			"%.2fx native, fastest run to fastest run (allowed ±%.0f%%; medians %.2fx, spread %s)",
			x, 100*computeTolerance, r.sentry/r.native, percent(r.noise)))
	} else {
		line("compute-only at native", "not measured (case compute not run)")
	}
	ratioTarget(line, b, "touch", "page touch <= 2x native", 2)
	ratioTarget(line, b, "read", "file read <= 1.5x native", 1.5)
	if r, ok := b.row("startup"); ok {
		line("start-up <= 20 ms", verdict(r.sentry <= 20*perMS, "%s ms per run (natively %s ms)", format(r.sentry, perMS), format(r.native, perMS)))
	} else {
		line("start-up <= 20 ms", "not measured (case startup not run)")
	}
	if r, ok := b.row("forkexec"); ok {
		line("fork+exec+wait", fmt.Sprintf("measured: %s µs per fork+exec+wait under minisentry (natively %s µs); compare with the model",
			format(r.sentry, perUS), format(r.native, perUS)))
	} else {
		line("fork+exec+wait", "not measured (case forkexec not run)")
	}
}

// ratioTarget prints the line of a target of at most limit times native.
func ratioTarget(line func(what, verdict string), b *bench, key, what string, limit float64) {
	r, ok := b.row(key)
	if !ok {
		line(what, fmt.Sprintf("not measured (case %s not run)", key))
		return
	}
	x := r.sentry / r.native
	line(what, verdict(x <= limit, "%.2fx native", x))
}

// verdict writes "met: " or "not met: " before the figures.
func verdict(met bool, format string, args ...any) string {
	prefix := "met: "
	if !met {
		prefix = "not met: "
	}
	return prefix + fmt.Sprintf(format, args...)
}

// row returns the first row of case key.
func (b *bench) row(key string) (row, bool) {
	for _, r := range b.rows {
		if r.key == key {
			return r, true
		}
	}
	return row{}, false
}
