package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// printMachine writes the header: what the figures were measured on and how
// busy it was just before, which is what a reader needs to compare them
// with figures from another run.
func printMachine(w io.Writer, cfg config) {
	kernel := "?"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	fmt.Fprintf(w, "minisentry bench, %s\n", time.Now().Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "machine: %d CPUs (%s), Linux %s, %s\n", runtime.NumCPU(), cpuModel(), kernel, runtime.Version())
	fmt.Fprintf(w, "load before the run: load average %s; %s of CPU time busy over the last 0.25 s\n", loadAverage(), hostBusy())
	mode := "full run"
	if cfg.quick {
		mode = "quick run (-quick): a fraction of each case's work"
	}
	reps := fmt.Sprintf("the median of %d repetitions", cfg.reps)
	if cfg.reps == 1 {
		reps = "one measurement, no median (-reps 1)"
	}
	fmt.Fprintf(w, "%s; each figure is %s (start-up: the median of %d runs)\n\n", mode, reps, cfg.sizes.startups)
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "?".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// loadAverage returns the three load averages of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// hostBusy returns the share of the host's CPU time spent on anything but
// idling over a quarter of a second, as "12%", or "?". The load average
// lags by minutes; this is the state the first case starts in.
func hostBusy() string {
	busy0, total0, err0 := cpuTimes()
	time.Sleep(250 * time.Millisecond)
	busy1, total1, err1 := cpuTimes()
	if err0 != nil || err1 != nil || total1 <= total0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(busy1-busy0)/float64(total1-total0))
}

// cpuTimes returns the busy and total clock ticks of all CPUs, from the
// "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal.
func cpuTimes() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	for i, f := range fields[1:9] {
		var v uint64
		if _, err := fmt.Sscan(f, &v); err != nil {
			return 0, 0, err
		}
		total += v
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return busy, total, nil
}
