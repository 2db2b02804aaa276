package kernel

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// statsSlots is the number of system call numbers counted without a lock:
// every x86-64 system call number is below it.
const statsSlots = 512

// SyscallStats counts and times system calls for `minisentry run
// --stats`, which prints them at exit as `strace -c` does, with the time
// split between the handler and the interception (observe.go says what
// each covers). Its methods may be called from any goroutine.
type SyscallStats struct {
	// slots count the system calls numbered below statsSlots.
	slots [statsSlots]statsCounter

	// mu protects other, which counts the rest (numbers no system call
	// has, which only a confused or hostile program uses).
	mu    sync.Mutex
	other map[uintptr]*statsCounter

	// switches counts the returns from Switch, and switchTime the time
	// spent in it: the application running, and the ptrace round trip.
	switches, switchTime atomic.Int64

	// faults counts the page faults, and faultTime the time the memory
	// manager took to serve them.
	faults, faultTime atomic.Int64
}

// statsCounter counts the calls of one system call. Times are in
// nanoseconds. Accessed atomically.
type statsCounter struct {
	calls, errors      atomic.Int64
	handler, intercept atomic.Int64
}

// NewSyscallStats returns empty statistics.
func NewSyscallStats() *SyscallStats {
	return &SyscallStats{other: make(map[uintptr]*statsCounter)}
}

// counter returns sysno's counter.
func (s *SyscallStats) counter(sysno uintptr) *statsCounter {
	if sysno < statsSlots {
		return &s.slots[sysno]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.other[sysno]
	if !ok {
		c = new(statsCounter)
		s.other[sysno] = c
	}
	return c
}

// addCall counts a call: its handler's time, and the interception before
// it.
func (s *SyscallStats) addCall(sysno uintptr, failed bool, handler, intercept time.Duration) {
	c := s.counter(sysno)
	c.calls.Add(1)
	if failed {
		c.errors.Add(1)
	}
	c.handler.Add(int64(handler))
	c.intercept.Add(int64(intercept))
}

// addResume adds the interception after a call, up to the application's
// resumption.
func (s *SyscallStats) addResume(sysno uintptr, d time.Duration) {
	s.counter(sysno).intercept.Add(int64(d))
}

// addSwitch counts a return from Switch that took d.
func (s *SyscallStats) addSwitch(d time.Duration) {
	s.switches.Add(1)
	s.switchTime.Add(int64(d))
}

// addFault counts a page fault that the memory manager took d to serve.
func (s *SyscallStats) addFault(d time.Duration) {
	s.faults.Add(1)
	s.faultTime.Add(int64(d))
}

// SyscallStat is one line of the statistics.
type SyscallStat struct {
	Sysno  uintptr
	Name   string
	Calls  int64
	Errors int64
	// Handler and Intercept are the total times: the handler's, and
	// the sentry's own work around it.
	Handler, Intercept time.Duration
}

// Total is the call's whole time in the sentry.
func (s SyscallStat) Total() time.Duration {
	return s.Handler + s.Intercept
}

// Rows returns a line per system call used, the most time-consuming
// first; names come from table.
func (s *SyscallStats) Rows(table *SyscallTable) []SyscallStat {
	var rows []SyscallStat
	add := func(sysno uintptr, c *statsCounter) {
		if n := c.calls.Load(); n > 0 {
			rows = append(rows, SyscallStat{
				Sysno: sysno, Name: table.Name(sysno), Calls: n, Errors: c.errors.Load(),
				Handler: time.Duration(c.handler.Load()), Intercept: time.Duration(c.intercept.Load()),
			})
		}
	}
	for i := range s.slots {
		add(uintptr(i), &s.slots[i])
	}
	s.mu.Lock()
	for sysno, c := range s.other {
		add(sysno, c)
	}
	s.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Total() != b.Total() {
			return a.Total() > b.Total()
		}
		if a.Calls != b.Calls {
			return a.Calls > b.Calls
		}
		return a.Name < b.Name
	})
	return rows
}

// WriteTable prints the statistics as `strace -c` does, with two more
// columns: the share of each call's time spent in its handler and in the
// interception. A note below says what the sentry cannot split: the time
// inside Switch.
func (s *SyscallStats) WriteTable(w io.Writer, table *SyscallTable) error {
	rows := s.Rows(table)
	var total SyscallStat
	for _, r := range rows {
		total.Calls += r.Calls
		total.Errors += r.Errors
		total.Handler += r.Handler
		total.Intercept += r.Intercept
	}
	// The columns of strace -c, fixed-width as there, and two more.
	const (
		header = "% time     seconds  usecs/call     calls    errors   handler intercept syscall\n"
		rule   = "------ ----------- ----------- --------- --------- --------- --------- ----------------\n"
	)
	var b strings.Builder
	b.WriteString(header)
	b.WriteString(rule)
	row := func(r SyscallStat, name string, mean bool) {
		usecs := ""
		if mean && r.Calls > 0 {
			usecs = fmt.Sprint(r.Total().Microseconds() / r.Calls)
		}
		errs := ""
		if r.Errors > 0 {
			errs = fmt.Sprint(r.Errors)
		}
		fmt.Fprintf(&b, "%6s %11.6f %11s %9d %9s %9s %9s %s\n",
			percent(r.Total(), total.Total()), r.Total().Seconds(), usecs, r.Calls, errs,
			percent(r.Handler, r.Total())+"%", percent(r.Intercept, r.Total())+"%", name)
	}
	for _, r := range rows {
		row(r, r.Name, true)
	}
	b.WriteString(rule)
	row(total, "total", false)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	switches, switchTime := s.switches.Load(), time.Duration(s.switchTime.Load())
	var mean time.Duration
	if switches > 0 {
		mean = switchTime / time.Duration(switches)
	}
	_, err := fmt.Fprintf(w, `
handler: the system call's implementation. intercept: the sentry's own work
around it, from the stub's stop (Switch returning) to the handler, and from
the handler back to the application (the next Switch).
In Switch: %.6f s over %d stops (%v each): the application running, and
the ptrace round trip of each stop (registers, PTRACE_SYSEMU, the host's
switches to the stub and back), which the sentry cannot tell apart.
Page faults: %d, served in %.6f s.
`, switchTime.Seconds(), switches, mean.Round(100*time.Nanosecond), s.faults.Load(), time.Duration(s.faultTime.Load()).Seconds())
	return err
}

// percent shows part as a percentage of whole.
func percent(part, whole time.Duration) string {
	if whole <= 0 {
		return "0.00"
	}
	return fmt.Sprintf("%.2f", 100*float64(part)/float64(whole))
}
