package main

import (
	"fmt"
	"io"
	"sort"
)

// none marks a column with no figure for a row.
const none = -1.0

// row is one line of the table. Times are nanoseconds per operation.
type row struct {
	name   string
	native float64
	floor  float64
	sentry float64

	// modelled says floor is computed from other measurements (see the
	// package comment), not measured by a tracer.
	modelled bool
}

// printTable writes rows with the names left-aligned and the figures
// right-aligned, so that the digits line up.
func printTable(w io.Writer, rows []row) {
	width := len("case")
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	line := func(name, native, floor, sentry, ratio string) {
		fmt.Fprintf(w, "%-*s  %9s  %9s  %10s  %7s\n", width, name, native, floor, sentry, ratio)
	}
	line("case", "native", "floor", "minisentry", "ratio")
	anyModel := false
	for _, r := range rows {
		floor := format(r.floor)
		if r.modelled {
			floor += "*"
			anyModel = true
		}
		ratio := "-"
		if r.floor > 0 && r.sentry > 0 {
			ratio = fmt.Sprintf("%.2fx", r.sentry/r.floor)
		}
		line(r.name, format(r.native), floor, format(r.sentry), ratio)
	}
	if anyModel {
		fmt.Fprintln(w, "* modelled floor: ptrace round trips at the pinned floor, plus the host work measured natively")
	}
}

func format(ns float64) string {
	if ns < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", ns)
}

// median returns the median of xs, which it sorts.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
