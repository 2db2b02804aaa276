package main

// `minisentry trace-html` turns the Chrome trace-event JSON that `run
// --trace` writes into one static HTML page: an SVG timeline with a lane
// per task, the system calls as coloured spans, the instant events (page
// faults, signals, clone, exec, exit) as ticks, and a table of where the
// time went. The page needs no network and no JavaScript: it is for a
// machine without Perfetto, for documentation, and for screenshots. Each
// span and tick carries an SVG <title>, which a browser shows on hover.
//
// The output stays small whatever the trace's size: spans narrower than
// two pixels, and ticks, are gathered per pixel column of their lane, and
// one mark stands for all of a column.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// traceHTMLOptions are the flags of `minisentry trace-html`.
type traceHTMLOptions struct {
	// from and to bound the time shown, in milliseconds of the trace's
	// clock; a negative value means the first or the last event.
	from, to float64
	// width is the SVG's width in pixels.
	width int
	// title heads the page; empty means the trace file's name.
	title string
}

// traceHTMLCommand implements `minisentry trace-html [flags] TRACE.json`,
// which writes the page to stdout, and returns the exit status.
func traceHTMLCommand(args []string, stdout, stderr io.Writer) int {
	var o traceHTMLOptions
	fs := flag.NewFlagSet("minisentry trace-html", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Float64Var(&o.from, "from", -1, "show the timeline from this time, in milliseconds (default: the first event)")
	fs.Float64Var(&o.to, "to", -1, "show the timeline up to this time, in milliseconds (default: the end of the last event)")
	fs.IntVar(&o.width, "width", 1360, "the timeline's width in pixels")
	fs.StringVar(&o.title, "title", "", "the page's title (default: the trace file's name)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: minisentry trace-html [flags] TRACE.json > trace.html")
		fmt.Fprintln(fs.Output(), "Renders a trace written by `minisentry run --trace` as a static HTML page (- reads standard input).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if o.width < 400 {
		fmt.Fprintln(stderr, "minisentry trace-html: --width must be at least 400")
		return 2
	}
	name := fs.Arg(0)
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "minisentry trace-html: %v\n", err)
		return 1
	}
	tl, err := parseTrace(data)
	if err != nil {
		fmt.Fprintf(stderr, "minisentry trace-html: %s: %v\n", name, err)
		return 1
	}
	if o.title == "" {
		o.title = filepath.Base(name)
	}
	if err := writeTraceHTML(stdout, tl, &o); err != nil {
		fmt.Fprintf(stderr, "minisentry trace-html: %v\n", err)
		return 1
	}
	return 0
}

// jsonTraceEvent is one element of "traceEvents" as the viewer reads it.
// Times are in microseconds.
type jsonTraceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ph   string         `json:"ph"`
	TS   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	PID  int64          `json:"pid"`
	TID  int64          `json:"tid"`
	Args map[string]any `json:"args"`
}

// timeline is a parsed trace.
type timeline struct {
	// lanes are the tasks, ordered by process, then thread id.
	lanes []*lane
	// start is the first event's time, end the last one's end, in µs.
	start, end float64
	// spans and instants count the events of each kind; other counts the
	// events of phases the viewer does not draw.
	spans, instants, other int
	// dropped is the number of events the recorder dropped, as its
	// otherData says.
	dropped int64
}

// lane is one task's row.
type lane struct {
	pid, tid int64
	// process and thread are the names the trace gives, or "".
	process, thread string
	spans           []traceMark
	instants        []traceMark
}

// traceMark is a span or an instant event.
type traceMark struct {
	name, cat string
	// ts is the start and dur the length, in µs; dur is 0 for an
	// instant.
	ts, dur float64
	args    map[string]any
}

// parseTrace reads a trace in either of the trace-event formats: an
// object with "traceEvents", or a bare array of events.
func parseTrace(data []byte) (*timeline, error) {
	var file struct {
		TraceEvents []jsonTraceEvent `json:"traceEvents"`
		OtherData   map[string]any   `json:"otherData"`
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &file.TraceEvents); err != nil {
			return nil, err
		}
	} else if err := json.Unmarshal(data, &file); err != nil {
		return nil, err
	}

	tl := &timeline{start: math.Inf(1), end: math.Inf(-1)}
	if d, ok := file.OtherData["droppedEvents"].(float64); ok {
		tl.dropped = int64(d)
	}
	type key struct{ pid, tid int64 }
	lanes := make(map[key]*lane)
	laneOf := func(pid, tid int64) *lane {
		l := lanes[key{pid, tid}]
		if l == nil {
			l = &lane{pid: pid, tid: tid}
			lanes[key{pid, tid}] = l
		}
		return l
	}
	processNames := make(map[int64]string)
	for _, e := range file.TraceEvents {
		switch e.Ph {
		case "M":
			name, _ := e.Args["name"].(string)
			switch e.Name {
			case "process_name":
				processNames[e.PID] = name
			case "thread_name":
				laneOf(e.PID, e.TID).thread = name
			}
		case "X":
			l := laneOf(e.PID, e.TID)
			l.spans = append(l.spans, traceMark{name: e.Name, cat: e.Cat, ts: e.TS, dur: math.Max(e.Dur, 0), args: e.Args})
			tl.spans++
			tl.start = math.Min(tl.start, e.TS)
			tl.end = math.Max(tl.end, e.TS+e.Dur)
		case "i", "I":
			l := laneOf(e.PID, e.TID)
			l.instants = append(l.instants, traceMark{name: e.Name, cat: e.Cat, ts: e.TS, args: e.Args})
			tl.instants++
			tl.start = math.Min(tl.start, e.TS)
			tl.end = math.Max(tl.end, e.TS)
		default:
			tl.other++
		}
	}
	if tl.spans+tl.instants == 0 {
		return nil, errors.New("no span (\"X\") or instant (\"i\") event in the trace")
	}
	for _, l := range lanes {
		l.process = processNames[l.pid]
		sort.SliceStable(l.spans, func(i, j int) bool { return l.spans[i].ts < l.spans[j].ts })
		sort.SliceStable(l.instants, func(i, j int) bool { return l.instants[i].ts < l.instants[j].ts })
		tl.lanes = append(tl.lanes, l)
	}
	sort.Slice(tl.lanes, func(i, j int) bool {
		a, b := tl.lanes[i], tl.lanes[j]
		if a.pid != b.pid {
			return a.pid < b.pid
		}
		return a.tid < b.tid
	})
	return tl, nil
}

// syscallFamily is a group of system calls that share a colour.
type syscallFamily struct {
	name string
	// fill is the colour of the spans, stroke of their edges.
	fill, stroke string
}

// The families, in the legend's order; the last is the default.
var syscallFamilies = []syscallFamily{
	{"I/O", "#8fb3dc", "#3f6a9a"},
	{"files & descriptors", "#9fd18f", "#4c8a3c"},
	{"memory", "#f6b56b", "#b36b12"},
	{"processes & ids", "#d2a8dd", "#7d4a8c"},
	{"signals", "#f19092", "#b0343a"},
	{"waits & time", "#8fd3cc", "#2f8a80"},
	{"other", "#cfcfcf", "#7a7a7a"},
}

// familyMembers maps a system call's name to its family's index.
var familyMembers = func() map[string]int {
	lists := []string{
		"read write pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2 sendfile splice tee vmsplice copy_file_range recvfrom sendto recvmsg sendmsg",
		"open openat openat2 creat close close_range stat fstat lstat newfstatat statx statfs fstatfs access faccessat faccessat2 " +
			"readlink readlinkat getdents getdents64 lseek mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat " +
			"symlink symlinkat chmod fchmod fchmodat chown fchown lchown fchownat utime utimes utimensat futimesat truncate ftruncate " +
			"fallocate fsync fdatasync sync syncfs dup dup2 dup3 fcntl ioctl pipe pipe2 chdir fchdir getcwd umask flock memfd_create " +
			"eventfd eventfd2 epoll_create epoll_create1 epoll_ctl socket socketpair bind connect listen accept accept4 getxattr fadvise64",
		"brk mmap munmap mprotect mremap madvise msync mincore mlock munlock mlockall munlockall membarrier",
		"clone clone3 fork vfork execve execveat exit exit_group getpid getppid gettid set_tid_address arch_prctl prctl " +
			"prlimit64 getrlimit setrlimit getrusage uname sysinfo getuid geteuid getgid getegid getgroups setgroups setuid setgid " +
			"setreuid setregid setresuid setresgid getresuid getresgid setpgid getpgid getpgrp setsid getsid capget capset personality",
		"rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigqueueinfo rt_tgsigqueueinfo kill tgkill tkill sigaltstack signalfd signalfd4",
		"futex wait4 waitid nanosleep clock_nanosleep poll ppoll select pselect6 epoll_wait epoll_pwait epoll_pwait2 pause " +
			"rt_sigsuspend rt_sigtimedwait sched_yield clock_gettime clock_getres gettimeofday time times alarm setitimer getitimer " +
			"timer_create timer_settime timer_gettime timer_delete timerfd_create timerfd_settime timerfd_gettime",
	}
	m := make(map[string]int)
	for i, list := range lists {
		for _, name := range strings.Fields(list) {
			m[name] = i
		}
	}
	return m
}()

// familyOf returns the index in syscallFamilies of a span's family: only
// system calls have one other than "other".
func familyOf(cat, name string) int {
	if i, ok := familyMembers[name]; ok && cat == "syscall" {
		return i
	}
	return len(syscallFamilies) - 1
}

// tickStyle is how an instant event of a category is drawn: short ticks
// below the spans for page faults, the lane's height for the rest.
type tickStyle struct {
	colour string
	short  bool
}

// tickStyleOf returns the style of an instant event of category cat.
func tickStyleOf(cat string) tickStyle {
	switch cat {
	case "fault":
		return tickStyle{"#6b6b6b", true}
	case "signal":
		return tickStyle{"#d62728", false}
	case "process":
		return tickStyle{"#4b2a84", false}
	}
	return tickStyle{"#222222", false}
}

// The SVG's geometry, in pixels.
const (
	labelWidth  = 178 // the column of lane names
	rightMargin = 14
	axisHeight  = 30
	laneHeight  = 46
	// Within a lane: instant labels above, spans, fault ticks below.
	spanTop    = 16
	spanHeight = 18
	faultTop   = 36
	faultEnd   = 43
	// charWidth is the width of one character of the 11px monospace
	// font: how wide a span must be for its label.
	charWidth = 6.7
)

// view maps the trace's time to the SVG's x axis.
type view struct {
	t0, t1 float64 // µs
	x0, x1 float64 // px
}

// x returns the abscissa of time t.
func (v *view) x(t float64) float64 {
	return v.x0 + (t-v.t0)*(v.x1-v.x0)/(v.t1-v.t0)
}

// writeTraceHTML writes the page for tl.
func writeTraceHTML(w io.Writer, tl *timeline, o *traceHTMLOptions) error {
	v := view{t0: tl.start, t1: tl.end, x0: labelWidth, x1: float64(o.width - rightMargin)}
	if o.from >= 0 {
		v.t0 = o.from * 1000
	}
	if o.to >= 0 {
		v.t1 = o.to * 1000
	}
	if v.t1 <= v.t0 {
		if o.from >= 0 && o.to >= 0 {
			return fmt.Errorf("--to (%g ms) must be after --from (%g ms)", o.to, o.from)
		}
		// One event only, or a window past the trace: show 1 µs.
		v.t1 = v.t0 + 1
	}
	processes := make(map[int64]bool)
	for _, l := range tl.lanes {
		processes[l.pid] = true
	}
	summary := fmt.Sprintf("%s in %s · %s · %s · events from %s to %s; this view: %s to %s",
		plural(len(tl.lanes), "task"), plural(len(processes), "process"),
		plural(tl.spans, "span"), plural(tl.instants, "instant event"),
		formatMicros(tl.start), formatMicros(tl.end), formatMicros(v.t0), formatMicros(v.t1))
	var notes []string
	if tl.dropped > 0 {
		notes = append(notes, fmt.Sprintf("The recorder dropped %s past --trace-limit: the end of the run is missing.", plural(int(tl.dropped), "event")))
	}
	if tl.other > 0 {
		notes = append(notes, fmt.Sprintf("Not drawn: %s whose phase is not X, i or M.", plural(tl.other, "event")))
	}
	page := tracePage{
		Title:    o.title,
		Summary:  summary,
		Notes:    notes,
		Families: syscallFamilies,
		SVG:      template.HTML(timelineSVG(tl, &v)),
	}
	// The costliest calls first; the rest folded away.
	const shownRows = 10
	page.Rows = syscallRows(tl, &v)
	if len(page.Rows) > shownRows+2 {
		page.Rows, page.MoreRows = page.Rows[:shownRows], page.Rows[shownRows:]
	}
	return tracePageTemplate.Execute(w, &page)
}

// tracePage is what the page template shows.
type tracePage struct {
	Title, Summary string
	Notes          []string
	Families       []syscallFamily
	SVG            template.HTML
	// Rows are the costliest system calls, MoreRows the others.
	Rows, MoreRows []syscallRow
}

// Methods for the template, which cannot read unexported fields.
func (f syscallFamily) Name() string { return f.name }
func (f syscallFamily) Fill() string { return f.fill }

var tracePageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} · minisentry trace</title>
<style>
body { font: 14px/1.4 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1d1d1f; margin: 18px 20px; background: #fff; }
h1 { font-size: 19px; margin: 0 0 4px; }
h1 small { font-weight: normal; color: #666; font-size: 14px; }
h2 { font-size: 16px; margin: 22px 0 6px; }
p { margin: 4px 0; }
.summary { color: #444; }
.note { color: #a33; }
.legend { margin: 8px 0 10px; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.swatch { display: inline-block; width: 14px; height: 12px; border: 1px solid #0003; }
.tick { display: inline-block; width: 2px; height: 14px; }
svg text { font-family: "DejaVu Sans Mono", monospace; }
svg .lane-name { font: bold 12px "DejaVu Sans", Arial, sans-serif; }
svg .lane-process { font: 11px "DejaVu Sans", Arial, sans-serif; fill: #666; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 2px 10px; border-bottom: 1px solid #e4e4e4; }
th { text-align: left; background: #f4f4f6; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.hint { color: #666; font-size: 13px; }
details { margin-top: 4px; font-size: 13px; }
</style>
</head>
<body>
<h1>{{.Title}} <small>minisentry run --trace</small></h1>
<p class="summary">{{.Summary}}</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}<div class="legend">
{{range .Families}}<span><i class="swatch" style="background: {{.Fill}}"></i>{{.Name}}</span>
{{end}}<span><i class="tick" style="background: #6b6b6b; height: 8px"></i>page fault</span>
<span><i class="tick" style="background: #d62728"></i>signal</span>
<span><i class="tick" style="background: #4b2a84"></i>clone, exec, exit</span>
</div>
{{.SVG}}
<p class="hint">Hover a span or a tick for its arguments and result. A mark narrower than two pixels stands for every event in its pixel column.
Zoom with <code>minisentry trace-html --from MS --to MS</code>; open the JSON in Perfetto or chrome://tracing for an interactive view.</p>
<h2>System calls in this view</h2>
{{define "rows"}}{{range .}}<tr><td><i class="swatch" style="background: {{.Fill}}"></i> {{.Name}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Errors}}</td><td class="n">{{.Total}}</td><td class="n">{{.Mean}}</td><td class="n">{{.Longest}}</td></tr>
{{end}}{{end}}<table>
<tr><th>system call</th><th>calls</th><th>errors</th><th>total</th><th>mean</th><th>longest</th></tr>
{{template "rows" .Rows}}</table>
{{if .MoreRows}}<details><summary>{{len .MoreRows}} more</summary>
<table>
{{template "rows" .MoreRows}}</table>
</details>
{{end}}</body>
</html>
`))

// timelineSVG draws the lanes of tl as seen through v.
func timelineSVG(tl *timeline, v *view) string {
	width := v.x1 + rightMargin
	height := axisHeight + laneHeight*len(tl.lanes) + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%.0f" height="%d" viewBox="0 0 %.0f %d" role="img" aria-label="timeline">`+"\n", width, height, width, height)

	// Lane backgrounds, shaded by process, and their names.
	shade := false
	for i, l := range tl.lanes {
		y := axisHeight + i*laneHeight
		if i == 0 || l.pid != tl.lanes[i-1].pid {
			shade = !shade
			if i > 0 {
				fmt.Fprintf(&b, `<line x1="0" x2="%.0f" y1="%d" y2="%d" stroke="#9a9a9a"/>`+"\n", width, y, y)
			}
		} else {
			fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%d" y2="%d" stroke="#dddddd"/>`+"\n", labelWidth, width, y, y)
		}
		fill := "#ffffff"
		if shade {
			fill = "#f3f4f7"
		}
		fmt.Fprintf(&b, `<rect x="0" y="%d" width="%.0f" height="%d" fill="%s"/>`+"\n", y+1, width, laneHeight-1, fill)
		thread, process := l.thread, l.process
		if thread == "" {
			thread = fmt.Sprintf("thread %d", l.tid)
		}
		if process == "" {
			process = "process"
		}
		fmt.Fprintf(&b, `<text class="lane-name" x="8" y="%d">%s</text>`, y+20, esc(truncate(thread, 22)))
		fmt.Fprintf(&b, `<text class="lane-process" x="8" y="%d">%s · pid %d</text>`+"\n", y+35, esc(truncate(process, 16)), l.pid)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="0" y2="%d" stroke="#9a9a9a"/>`+"\n", labelWidth-4, labelWidth-4, height)

	// The time axis, with a grid through the lanes.
	step := axisStep(v.t1-v.t0, (v.x1-v.x0)/110)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.1f" y1="%d" y2="%d" stroke="#555"/>`+"\n", v.x0, v.x1, axisHeight-1, axisHeight-1)
	for t := math.Ceil(v.t0/step) * step; t <= v.t1+step/1e6; t += step {
		x := v.x(t)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#555"/>`, x, x, axisHeight-6, axisHeight-1)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#0000001a"/>`, x, x, axisHeight, height)
		anchor := "middle"
		if x > v.x1-30 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="%s" fill="#333">%s</text>`+"\n", x, axisHeight-9, anchor, axisLabel(t, step, v.t1))
	}
	fmt.Fprintf(&b, `<text x="8" y="%d" font-size="11" fill="#666">time since start</text>`+"\n", axisHeight-9)

	for i, l := range tl.lanes {
		drawSpans(&b, l, v, axisHeight+i*laneHeight)
		drawInstants(&b, l, v, axisHeight+i*laneHeight)
	}
	b.WriteString("</svg>")
	return b.String()
}

// column gathers the marks that fall in one pixel column of a lane.
type column struct {
	x     int
	marks []*traceMark
}

// columns groups marks by the pixel column of their start.
func columns(marks []*traceMark, v *view) []column {
	var cols []column
	for _, m := range marks {
		x := int(math.Floor(v.x(math.Max(m.ts, v.t0))))
		if n := len(cols); n > 0 && cols[n-1].x == x {
			cols[n-1].marks = append(cols[n-1].marks, m)
		} else {
			cols = append(cols, column{x: x, marks: []*traceMark{m}})
		}
	}
	return cols
}

// drawSpans draws the spans of l, in the lane whose top is y.
func drawSpans(b *strings.Builder, l *lane, v *view, y int) {
	top := y + spanTop
	var narrow []*traceMark
	for i := range l.spans {
		s := &l.spans[i]
		if s.ts+s.dur < v.t0 || s.ts > v.t1 {
			continue
		}
		x0, x1 := v.x(math.Max(s.ts, v.t0)), v.x(math.Min(s.ts+s.dur, v.t1))
		if x1-x0 < 2 {
			narrow = append(narrow, s)
			continue
		}
		f := syscallFamilies[familyOf(s.cat, s.name)]
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" stroke="%s" stroke-width="0.6"><title>%s</title></rect>`,
			x0, top, x1-x0, spanHeight, f.fill, f.stroke, esc(spanTitle(s)))
		label := s.name
		if withTime := s.name + " " + formatMicros(s.dur); float64(len(withTime))*charWidth+8 <= x1-x0 {
			label = withTime
		}
		if float64(len(label))*charWidth+6 <= x1-x0 {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" fill="#111" pointer-events="none">%s</text>`, x0+3, top+13, esc(label))
		}
		b.WriteString("\n")
	}
	// Each column of narrow spans is one mark, coloured by the family
	// that took most of its time.
	for _, c := range columns(narrow, v) {
		spent := make([]float64, len(syscallFamilies))
		for _, s := range c.marks {
			// A call of no length still counts.
			spent[familyOf(s.cat, s.name)] += s.dur + 1e-3
		}
		best := 0
		for i := range spent {
			if spent[i] > spent[best] {
				best = i
			}
		}
		f := syscallFamilies[best]
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="1.6" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
			c.x, top, spanHeight, f.stroke, esc(columnTitle(c.marks, spanTitle)))
	}
}

// drawInstants draws the instant events of l as ticks, in the lane whose
// top is y; the first tick of a column names its event when there is room.
func drawInstants(b *strings.Builder, l *lane, v *view, y int) {
	byCat := make(map[string][]*traceMark)
	var cats []string
	for i := range l.instants {
		e := &l.instants[i]
		if e.ts < v.t0 || e.ts > v.t1 {
			continue
		}
		if byCat[e.cat] == nil {
			cats = append(cats, e.cat)
		}
		byCat[e.cat] = append(byCat[e.cat], e)
	}
	// Faults first, so that the taller ticks are drawn over them.
	sort.SliceStable(cats, func(i, j int) bool { return tickStyleOf(cats[i]).short && !tickStyleOf(cats[j]).short })
	type tickLabel struct {
		x      float64
		text   string
		colour string
	}
	var labels []tickLabel
	for _, cat := range cats {
		st := tickStyleOf(cat)
		for _, c := range columns(byCat[cat], v) {
			x := float64(c.x) + 0.5
			title := esc(columnTitle(c.marks, instantTitle))
			if st.short {
				fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="1.4"><title>%s</title></line>`+"\n",
					x, x, y+faultTop, y+faultEnd, st.colour, title)
				continue
			}
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="2"><title>%s</title></line>`+"\n",
				x, x, y+3, y+faultEnd, st.colour, title)
			label := c.marks[0].name
			if len(c.marks) > 1 {
				label += fmt.Sprintf(" ×%d", len(c.marks))
			}
			labels = append(labels, tickLabel{x + 3, label, st.colour})
		}
	}
	// The labels go over every tick, from left to right, each where it
	// does not cover the one before: right of its tick, or left of it at
	// the end of the plot. A white halo keeps them legible over the ticks
	// that follow.
	sort.SliceStable(labels, func(i, j int) bool { return labels[i].x < labels[j].x })
	end := math.Inf(-1)
	for _, l := range labels {
		w := float64(len([]rune(l.text))) * charWidth
		x := l.x
		if x+w > v.x1+rightMargin {
			x -= w + 6
		}
		if x <= end {
			continue
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" fill="%s" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text>`+"\n",
			x, y+12, l.colour, esc(l.text))
		end = x + w + 4
	}
}

// spanTitle describes a span for its tooltip: a system call as strace
// shows it, anything else by its arguments.
func spanTitle(s *traceMark) string {
	args, hasArgs := s.args["args"].(string)
	ret, hasRet := s.args["return"].(string)
	var head string
	if hasArgs && hasRet {
		head = fmt.Sprintf("%s(%s) = %s", s.name, args, ret)
	} else {
		head = s.name + argsText(s.args)
	}
	return fmt.Sprintf("%s\nat %s, for %s", head, formatMicros(s.ts), formatMicros(s.dur))
}

// instantTitle describes an instant event for its tooltip.
func instantTitle(e *traceMark) string {
	return fmt.Sprintf("%s at %s%s", e.name, formatMicros(e.ts), argsText(e.args))
}

// argsText lists args, one "key: value" a line, in key order.
func argsText(args map[string]any) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n%s: %v", k, args[k])
	}
	return b.String()
}

// columnTitle describes the marks of one column: the first few of them.
func columnTitle(marks []*traceMark, describe func(*traceMark) string) string {
	if len(marks) == 1 {
		return describe(marks[0])
	}
	const shown = 4
	parts := []string{fmt.Sprintf("%d events:", len(marks))}
	for i, m := range marks {
		if i == shown {
			parts = append(parts, fmt.Sprintf("… and %d more", len(marks)-shown))
			break
		}
		parts = append(parts, describe(m))
	}
	return strings.Join(parts, "\n")
}

// syscallRow is one row of the table of system calls.
type syscallRow struct {
	Name, Fill           string
	Calls, Errors        int
	Total, Mean, Longest string
	total                float64
}

// syscallRows sums the system call spans that end in v, by name, the
// costliest first.
func syscallRows(tl *timeline, v *view) []syscallRow {
	type sums struct {
		calls, errors  int
		total, longest float64
	}
	byName := make(map[string]*sums)
	for _, l := range tl.lanes {
		for i := range l.spans {
			s := &l.spans[i]
			if s.cat != "syscall" || s.ts+s.dur < v.t0 || s.ts > v.t1 {
				continue
			}
			n := byName[s.name]
			if n == nil {
				n = &sums{}
				byName[s.name] = n
			}
			n.calls++
			if ret, ok := s.args["return"].(string); ok && strings.HasPrefix(ret, "-") {
				n.errors++
			}
			n.total += s.dur
			n.longest = math.Max(n.longest, s.dur)
		}
	}
	rows := make([]syscallRow, 0, len(byName))
	for name, n := range byName {
		rows = append(rows, syscallRow{
			Name: name, Fill: syscallFamilies[familyOf("syscall", name)].fill,
			Calls: n.calls, Errors: n.errors,
			Total: formatMicros(n.total), Mean: formatMicros(n.total / float64(n.calls)), Longest: formatMicros(n.longest),
			total: n.total,
		})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].total != rows[j].total {
			return rows[i].total > rows[j].total
		}
		return rows[i].Name < rows[j].Name
	})
	return rows
}

// axisStep returns a step of 1, 2 or 5 times a power of ten that cuts an
// axis over span µs into at most about ticks parts.
func axisStep(span, ticks float64) float64 {
	if ticks < 2 {
		ticks = 2
	}
	raw := span / ticks
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

// axisLabel writes tick t of an axis with this step that ends at end, in
// the unit that end suits and with as many decimals as the step needs.
func axisLabel(t, step, end float64) string {
	unit, scale := "µs", 1.0
	switch {
	case end >= 1e6:
		unit, scale = "s", 1e6
	case end >= 1e3:
		unit, scale = "ms", 1e3
	}
	decimals := 0
	for s := step / scale; s < 1 && decimals < 6; s *= 10 {
		decimals++
	}
	return fmt.Sprintf("%.*f %s", decimals, t/scale, unit)
}

// formatMicros writes a duration or a time of us microseconds for a
// person, with three significant digits or so.
func formatMicros(us float64) string {
	switch a := math.Abs(us); {
	case a >= 1e6:
		return fmt.Sprintf("%.3g s", us/1e6)
	case a >= 1e3:
		return trimFloat(us/1e3, "ms")
	case a >= 1:
		return trimFloat(us, "µs")
	}
	return fmt.Sprintf("%.0f ns", us*1e3)
}

// trimFloat writes v with up to two decimals (none above 100).
func trimFloat(v float64, unit string) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	return s + " " + unit
}

// plural writes "n thing" or "n things" ("processes" for process).
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	if strings.HasSuffix(thing, "s") {
		return fmt.Sprintf("%d %ses", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// truncate shortens s to at most n runes, with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// esc escapes s for SVG text and attributes.
func esc(s string) string {
	return html.EscapeString(s)
}
