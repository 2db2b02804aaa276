package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// none marks a column with no figure for a row.
const none = -1.0

// row is one line of the table. Times are nanoseconds; div converts them
// to the row's unit.
type row struct {
	key  string // the case, which the targets look rows up by
	name string
	unit string
	div  float64 // nanoseconds per unit

	native float64
	floor  float64
	sentry float64

	// modelled says floor is computed from other measurements (see the
	// package comment), not measured by a tracer.
	modelled bool

	// The fastest native and minisentry repetitions, none if not kept.
	nativeMin, sentryMin float64

	// noise is the largest spread of the native, floor and minisentry
	// repetitions, relative to their medians: the run's own measure of how
	// far a ratio may move by chance. none if not kept.
	noise float64
}

// printTable writes rows with the names and units left-aligned and the
// figures right-aligned, so that the digits line up.
func printTable(w io.Writer, rows []row) {
	cols := [][]string{{"case", "unit", "native", "floor", "minisentry", "x native", "x floor", "spread"}}
	anyModel, whole, cached := false, false, false
	for _, r := range rows {
		whole = whole || r.key == "dd" || r.key == "startup" || r.key == "go"
		cached = cached || r.key == "read"
		floor := format(r.floor, r.div)
		if r.modelled {
			floor += "*"
			anyModel = true
		}
		cols = append(cols, []string{r.name, r.unit, format(r.native, r.div), floor,
			format(r.sentry, r.div), ratio(r.sentry, r.native), ratio(r.sentry, r.floor), percent(r.noise)})
	}
	widths := make([]int, len(cols[0]))
	for _, c := range cols {
		for i, s := range c {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	for _, c := range cols {
		var line strings.Builder
		for i, s := range c {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if i < 2 { // the name and the unit read left to right
				line.WriteString(s + pad + "  ")
			} else {
				line.WriteString("  " + pad + s)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
	}
	fmt.Fprintln(w, "x native, x floor: minisentry's time over the native and the floor's (below 1.00x minisentry is faster)")
	fmt.Fprintln(w, "spread: the largest (slowest - fastest) / median of the row's native, floor and minisentry runs; high means a noisy machine")
	if whole {
		fmt.Fprintln(w, "dd, start-up and Go: the whole command, fork to reaped exit; the other programs time their own work")
	}
	if cached {
		fmt.Fprintln(w, "read: the bench writes the file just before, the program reads it once untimed, then the timed pass (page cache, warm)")
	}
	if anyModel {
		fmt.Fprintln(w, "* modelled floor: ptrace round trips at the pinned floor, plus the host work measured natively")
	}
}

// format writes ns in a unit of div nanoseconds with three or more
// significant digits, or "-" for none.
func format(ns, div float64) string {
	if ns < 0 {
		return "-"
	}
	v := ns / div
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// percent writes a fraction as a whole percentage, or "-" for none.
func percent(f float64) string {
	if f < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

// ratio writes a/b as "1.23x", or "-" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	r := a / b
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}
