package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minisentry/minisentry/kernel/trace"
)

// smallTrace is a run of two processes as `run --trace` writes it: a
// thread that sleeps while its leader waits on a futex, a signal, a
// clone, page faults, and a child that execs and exits. Times are in µs.
const smallTrace = `{"traceEvents": [
{"name":"process_name","ph":"M","pid":1,"tid":1,"args":{"name":"observe"}},
{"name":"process_name","ph":"M","pid":3,"tid":3,"args":{"name":"child<x>"}},
{"name":"thread_name","ph":"M","pid":1,"tid":1,"args":{"name":"task 1"}},
{"name":"thread_name","ph":"M","pid":1,"tid":2,"args":{"name":"task 2"}},
{"name":"thread_name","ph":"M","pid":3,"tid":3,"args":{"name":"task 3"}},
{"name":"page fault","cat":"fault","ph":"i","ts":1000,"s":"t","pid":1,"tid":1,"args":{"addr":"0x401540","work":"file"}},
{"name":"write","cat":"syscall","ph":"X","ts":1500,"dur":40,"pid":1,"tid":1,"args":{"args":"1, \"hi\\n\", 3","return":"3"}},
{"name":"SIGUSR1","cat":"signal","ph":"i","ts":1200,"s":"t","pid":1,"tid":1,"args":{"delivery":"handler 0x401b20"}},
{"name":"clone","cat":"process","ph":"i","ts":3000,"s":"t","pid":1,"tid":1,"args":{"child":2}},
{"name":"futex","cat":"syscall","ph":"X","ts":3100,"dur":20000,"pid":1,"tid":1,"args":{"args":"0x4c3690, FUTEX_WAIT, 2","return":"0"}},
{"name":"clock_nanosleep","cat":"syscall","ph":"X","ts":3200,"dur":19500,"pid":1,"tid":2,"args":{"args":"CLOCK_REALTIME, 0, {20ms}","return":"0"}},
{"name":"openat","cat":"syscall","ph":"X","ts":24000,"dur":3,"pid":3,"tid":3,"args":{"args":"AT_FDCWD, \"/nope\", O_RDONLY","return":"-1 ENOENT (no such file or directory)"}},
{"name":"exec","cat":"process","ph":"i","ts":25000,"s":"t","pid":3,"tid":3,"args":{"filename":"/bin/observe"}},
{"name":"exit","cat":"process","ph":"i","ts":30000,"s":"t","pid":3,"tid":3,"args":{"status":"exit_group(3)"}},
{"name":"mystery","ph":"B","ts":30000,"pid":3,"tid":3}
],
"displayTimeUnit": "ns",
"otherData": {"generator": "minisentry", "droppedEvents": 7}}
`

func TestTraceHTMLParse(t *testing.T) {
	tl, err := parseTrace([]byte(smallTrace))
	if err != nil {
		t.Fatal(err)
	}
	var lanes []string
	for _, l := range tl.lanes {
		lanes = append(lanes, fmt.Sprintf("%d/%d %s %s: %d spans, %d instants", l.pid, l.tid, l.process, l.thread, len(l.spans), len(l.instants)))
	}
	want := []string{
		"1/1 observe task 1: 2 spans, 3 instants",
		"1/2 observe task 2: 1 spans, 0 instants",
		"3/3 child<x> task 3: 1 spans, 2 instants",
	}
	if strings.Join(lanes, "\n") != strings.Join(want, "\n") {
		t.Errorf("lanes:\n%s\nwant:\n%s", strings.Join(lanes, "\n"), strings.Join(want, "\n"))
	}
	if tl.start != 1000 || tl.end != 30000 || tl.spans != 4 || tl.instants != 5 || tl.other != 1 || tl.dropped != 7 {
		t.Errorf("got start %v, end %v, %d spans, %d instants, %d others, %d dropped; want 1000, 30000, 4, 5, 1, 7",
			tl.start, tl.end, tl.spans, tl.instants, tl.other, tl.dropped)
	}

	// The bare array form of the format is read too.
	tl, err = parseTrace([]byte(`[{"name":"read","cat":"syscall","ph":"X","ts":5,"dur":2,"pid":9,"tid":9}]`))
	if err != nil || len(tl.lanes) != 1 || tl.lanes[0].tid != 9 || tl.end != 7 {
		t.Errorf("parseTrace(array): %+v, %v", tl, err)
	}

	for _, bad := range []string{``, `{"traceEvents": [`, `{"traceEvents": []}`, `[{"name":"x","ph":"M","pid":1,"tid":1}]`} {
		if _, err := parseTrace([]byte(bad)); err == nil {
			t.Errorf("parseTrace(%q) succeeded, want an error", bad)
		}
	}
}

// renderTrace returns the page for a trace, with default options and the
// changes that opts makes.
func renderTrace(t *testing.T, data string, opts func(*traceHTMLOptions)) string {
	t.Helper()
	tl, err := parseTrace([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	o := traceHTMLOptions{from: -1, to: -1, width: 1360, title: "small"}
	if opts != nil {
		opts(&o)
	}
	var b bytes.Buffer
	if err := writeTraceHTML(&b, tl, &o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// svgOf returns the <svg> element of page.
func svgOf(t *testing.T, page string) string {
	t.Helper()
	start, end := strings.Index(page, "<svg"), strings.LastIndex(page, "</svg>")
	if start < 0 || end < start {
		t.Fatalf("no <svg> element in the page:\n%s", page)
	}
	return page[start : end+len("</svg>")]
}

// spanRect matches the rectangle of a span or of a column of spans, and
// captures its x, width, fill and tooltip.
var spanRect = regexp.MustCompile(`<rect x="([0-9.]+)" y="[0-9]+" width="([0-9.]+)" height="18" fill="(#[0-9a-f]+)"[^>]*><title>([^<]*)</title></rect>`)

func TestTraceHTMLPage(t *testing.T) {
	page := renderTrace(t, smallTrace, nil)
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "<title>small · minisentry trace</title>") {
		t.Errorf("not a titled HTML page:\n%.300s", page)
	}
	// Self-contained: no script, no external resource.
	for _, bad := range []string{"<script", "src=", "href=", "http://", "https://", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	svg := svgOf(t, page)

	// One lane per task, labelled with its name and its process, which is
	// escaped.
	for _, want := range []string{
		`<text class="lane-name" x="8" y="50">task 1</text>`,
		`<text class="lane-process" x="8" y="65">observe · pid 1</text>`,
		`<text class="lane-name" x="8" y="96">task 2</text>`,
		`<text class="lane-name" x="8" y="142">task 3</text>`,
		`<text class="lane-process" x="8" y="157">child&lt;x&gt; · pid 3</text>`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG has no %s", want)
		}
	}

	// Spans: the wide ones labelled with their name and length, coloured
	// by family, with the call as strace shows it as a tooltip.
	spans := make(map[string][]string)
	for _, m := range spanRect.FindAllStringSubmatch(svg, -1) {
		name, _, _ := strings.Cut(m[4], "(")
		spans[name] = m[1:4]
	}
	waits := syscallFamilies[familyMembers["futex"]].fill
	if s := spans["futex"]; s == nil || s[2] != waits {
		t.Errorf("futex span: got %q, want one filled with %s; spans: %q", s, waits, spans)
	}
	if s := spans["clock_nanosleep"]; s == nil || s[2] != waits {
		t.Errorf("clock_nanosleep span: got %q, want one filled with %s", s, waits)
	}
	for _, want := range []string{
		`>futex 20 ms</text>`,
		`>clock_nanosleep 19.5 ms</text>`,
		`<title>futex(0x4c3690, FUTEX_WAIT, 2) = 0` + "\nat 3.1 ms, for 20 ms</title>",
		`<title>write(1, &#34;hi\n&#34;, 3) = 3`,
		`<title>openat(AT_FDCWD, &#34;/nope&#34;, O_RDONLY) = -1 ENOENT (no such file or directory)`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG has no %q", want)
		}
	}
	// The futex wait spans about two thirds of the width of the plot.
	if s := spans["futex"]; s != nil {
		var x, w float64
		fmt.Sscan(s[0], &x)
		fmt.Sscan(s[1], &w)
		plot := float64(1360 - rightMargin - labelWidth)
		if wantW := plot * 20000 / 29000; w < wantW-1 || w > wantW+1 {
			t.Errorf("futex span: width %v, want %v", w, wantW)
		}
		if wantX := labelWidth + plot*2100/29000; x < wantX-1 || x > wantX+1 {
			t.Errorf("futex span: x %v, want %v", x, wantX)
		}
	}

	// Instants: a short tick per page fault, a tall labelled one for the
	// signal, the clone, the exec and the exit.
	if n := strings.Count(svg, `stroke="#6b6b6b" stroke-width="1.4"><title>page fault at 1 ms`); n != 1 {
		t.Errorf("got %d page fault ticks, want 1", n)
	}
	for _, name := range []string{"SIGUSR1", "clone", "exec", "exit"} {
		if !regexp.MustCompile(`<text [^>]*>` + name + `</text>`).MatchString(svg) {
			t.Errorf("the SVG has no label %q", name)
		}
	}
	if !strings.Contains(svg, "<title>exit at 30 ms\nstatus: exit_group(3)</title>") {
		t.Error("the exit tick has no tooltip with its status")
	}

	// The axis: ticks every 5 ms from 5 to 30.
	for _, ms := range []string{"5 ms", "10 ms", "15 ms", "20 ms", "25 ms", "30 ms"} {
		if !strings.Contains(svg, ">"+ms+"</text>") {
			t.Errorf("the axis has no %q", ms)
		}
	}

	// Around the SVG: the summary, the notes and the table.
	for _, want := range []string{
		"3 tasks in 2 processes · 4 spans · 5 instant events",
		"The recorder dropped 7 events past --trace-limit",
		"Not drawn: 1 event whose phase is not X, i or M.",
		`<td><i class="swatch" style="background: #8fd3cc"></i> futex</td><td class="n">1</td><td class="n">0</td><td class="n">20 ms</td>`,
		`openat</td><td class="n">1</td><td class="n">1</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
}

func TestTraceHTMLWindow(t *testing.T) {
	// From 20 to 26 ms: the end of the futex and sleep, the openat and
	// the exec, but not the write nor the exit.
	svg := svgOf(t, renderTrace(t, smallTrace, func(o *traceHTMLOptions) { o.from, o.to = 20, 26 }))
	for _, want := range []string{"<title>futex(", "<title>clock_nanosleep(", "<title>openat(", ">exec</text>", ">21 ms</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG from 20 to 26 ms has no %q", want)
		}
	}
	for _, absent := range []string{"<title>write(", ">exit</text>", "SIGUSR1"} {
		if strings.Contains(svg, absent) {
			t.Errorf("the SVG from 20 to 26 ms has %q", absent)
		}
	}
	// The futex span is cut at the start of the window.
	for _, m := range spanRect.FindAllStringSubmatch(svg, -1) {
		if strings.HasPrefix(m[4], "futex(") && m[1] != fmt.Sprint(labelWidth)+".0" {
			t.Errorf("the futex span starts at x %s, want %d", m[1], labelWidth)
		}
	}

	tl, err := parseTrace([]byte(smallTrace))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTraceHTML(&bytes.Buffer{}, tl, &traceHTMLOptions{from: 5, to: 5, width: 1000}); err == nil {
		t.Error("an empty window: no error")
	}
}

func TestTraceHTMLColumns(t *testing.T) {
	// Ten thousand short calls in 10 ms, and a page fault after each:
	// one mark per pixel column, not one per event.
	var b strings.Builder
	b.WriteString(`{"traceEvents": [`)
	for i := 0; i < 10000; i++ {
		name := "read"
		if i%4 == 0 {
			name = "mmap"
		}
		fmt.Fprintf(&b, `{"name":%q,"cat":"syscall","ph":"X","ts":%d,"dur":0.5,"pid":1,"tid":1,"args":{"args":"0","return":"0"}},`, name, i)
		fmt.Fprintf(&b, `{"name":"page fault","cat":"fault","ph":"i","ts":%d.7,"pid":1,"tid":1},`, i)
	}
	b.WriteString(`{"name":"exit","cat":"process","ph":"i","ts":10000,"pid":1,"tid":1}]}`)
	svg := svgOf(t, renderTrace(t, b.String(), nil))

	rects := spanRect.FindAllStringSubmatch(svg, -1)
	plot := 1360 - rightMargin - labelWidth
	if len(rects) < plot/2 || len(rects) > plot+1 {
		t.Errorf("%d span marks for 10000 calls over %d pixels", len(rects), plot)
	}
	io := syscallFamilies[familyMembers["read"]].stroke
	for _, m := range rects[:3] {
		if m[3] != io || !strings.HasPrefix(m[4], "8 events:\nread(0) = 0") && !strings.HasPrefix(m[4], "9 events:") {
			t.Errorf("a column of reads and mmaps: fill %s, tooltip %q; want %s and a list of its events", m[3], m[4], io)
			break
		}
	}
	if n := strings.Count(svg, `stroke="#6b6b6b"`); n < plot/2 || n > plot+1 {
		t.Errorf("%d page fault ticks for 10000 faults over %d pixels", n, plot)
	}
	if len(svg) > 1<<20 {
		t.Errorf("the SVG of 20000 events takes %d bytes", len(svg))
	}
}

// TestTraceHTMLRecorder renders what the recorder of `run --trace` writes,
// so that the viewer and the writer cannot drift apart.
func TestTraceHTMLRecorder(t *testing.T) {
	r := trace.NewRecorder(0)
	start := time.Now()
	r.NameProcess(4, "busybox")
	r.NameThread(4, 4, "task 4")
	r.NameThread(4, 5, "task 5")
	r.Span(4, 4, "syscall", "wait4", start.Add(time.Millisecond), 3*time.Millisecond,
		trace.Arg{Key: "args", Value: "-1, NULL, 0, NULL"}, trace.Arg{Key: "return", Value: "5"})
	r.Span(4, 5, "syscall", "mmap", start.Add(2*time.Millisecond), 10*time.Microsecond)
	r.Instant(4, 5, "process", "exit", start.Add(3*time.Millisecond), trace.Arg{Key: "status", Value: "exit(0)"})
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	svg := svgOf(t, renderTrace(t, js.String(), nil))
	for _, want := range []string{
		">task 4</text>", ">task 5</text>", ">busybox · pid 4</text>",
		"<title>wait4(-1, NULL, 0, NULL) = 5\n", ">wait4 3 ms</text>",
		"<title>mmap\nat ", ">exit</text>",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG of the recorder's trace has no %q", want)
		}
	}
}

func TestTraceHTMLCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "run.json")
	if err := os.WriteFile(file, []byte(smallTrace), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := traceHTMLCommand([]string{"--width", "900", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("trace-html: status %d, stderr %s", code, &stderr)
	}
	if page := stdout.String(); !strings.Contains(page, "<title>run.json · minisentry trace</title>") || !strings.Contains(page, `<svg width="900"`) {
		t.Errorf("trace-html --width 900: a page without the file's name or the width:\n%.600s", page)
	}

	for _, c := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"a.json", "b.json"}, 2},
		{[]string{"--width", "10", file}, 2},
		{[]string{filepath.Join(dir, "missing.json")}, 1},
		{[]string{"--from", "9", "--to", "3", file}, 1},
		{[]string{"-h"}, 0},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := traceHTMLCommand(c.args, &stdout, &stderr); code != c.code {
			t.Errorf("trace-html %q: status %d, want %d (stderr %s)", c.args, code, c.code, &stderr)
		}
	}
}

func TestTraceHTMLUnits(t *testing.T) {
	for _, c := range []struct {
		us   float64
		want string
	}{
		{0.25, "250 ns"}, {4.2, "4.2 µs"}, {51.417, "51.42 µs"}, {541.2, "541 µs"},
		{20134, "20.13 ms"}, {20000, "20 ms"}, {1.5e6, "1.5 s"},
	} {
		if got := formatMicros(c.us); got != c.want {
			t.Errorf("formatMicros(%v): got %q, want %q", c.us, got, c.want)
		}
	}
	for _, c := range []struct {
		span, ticks, end, step float64
		t                      float64
		label                  string
	}{
		{29000, 10, 30000, 5000, 25000, "25 ms"},
		{6000, 10, 26000, 1000, 21000, "21 ms"},
		{300, 6, 20300, 50, 20050, "20.05 ms"},
		{900, 10, 900, 100, 300, "300 µs"},
		{3, 10, 3, 0.5, 1.5, "1.5 µs"},
		{40e6, 10, 40e6, 5e6, 35e6, "35 s"},
		{1500, 10, 1500, 200, 1400, "1.4 ms"},
	} {
		step := axisStep(c.span, c.ticks)
		if step != c.step {
			t.Errorf("axisStep(%v, %v): got %v, want %v", c.span, c.ticks, step, c.step)
		}
		if got := axisLabel(c.t, step, c.end); got != c.label {
			t.Errorf("axisLabel(%v, %v, %v): got %q, want %q", c.t, step, c.end, got, c.label)
		}
	}
	if got := familyOf("syscall", "futex"); syscallFamilies[got].name != "waits & time" {
		t.Errorf("futex is in %q", syscallFamilies[got].name)
	}
	if got := familyOf("gc", "futex"); got != len(syscallFamilies)-1 {
		t.Errorf("a span of another category is in %q, want other", syscallFamilies[got].name)
	}
}
