// Package trace records a timeline of a sandbox for `minisentry run
// --trace`, and writes it in the Chrome trace-event JSON format that
// Perfetto (ui.perfetto.dev) and chrome://tracing open.
//
// The format is a JSON object whose "traceEvents" array holds events, each
// with a phase ("ph"): "X" is a complete event, a span with a start ("ts")
// and a duration ("dur"), both in microseconds; "i" is an instant; "M" is
// metadata, such as the name of a process or a thread. Every event belongs
// to a process ("pid") and a thread ("tid"): the viewer draws one lane per
// thread, grouped by process. minisentry uses the sandbox's own ids, so a
// lane is a task and a group of lanes a thread group.
//
// Events are kept in memory, up to a limit, and written when the sandbox
// has ended: tracing then costs an append under a lock per event, and no
// I/O while the application runs. Events past the limit are counted and
// dropped.
package trace

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"
)

// DefaultLimit is the number of events a Recorder keeps by default: about
// a hundred megabytes at worst.
const DefaultLimit = 1 << 20

// Arg is one key and value of an event's "args", which the viewer shows
// when the event is selected. Value must be encodable by encoding/json.
type Arg struct {
	Key   string
	Value any
}

// event is one recorded event.
type event struct {
	// phase is 'X' or 'i'.
	phase byte
	// cat is the event's category ("syscall", "fault"...), which viewers
	// can filter on; name is what the viewer writes on it.
	cat, name string
	// ts is the start, dur the length of an 'X' event.
	ts, dur  time.Duration
	pid, tid int32
	args     []Arg
}

// thread is the metadata of one lane.
type thread struct {
	pid  int32
	name string
}

// Recorder collects the events of one sandbox. Its methods may be called
// from any goroutine.
type Recorder struct {
	// start is time zero of the timeline. Immutable.
	start time.Time

	// limit is the most events kept. Immutable.
	limit int

	// mu protects the fields below.
	mu sync.Mutex

	// events are the events recorded, in the order they were recorded
	// (which is not quite time order: a span is recorded when it ends).
	events []event

	// dropped counts the events that did not fit.
	dropped int64

	// processes and threads name the lanes: the last name given wins.
	processes map[int32]string
	threads   map[int32]thread
}

// NewRecorder returns a recorder whose timeline starts now and that keeps
// at most limit events (DefaultLimit if limit <= 0).
func NewRecorder(limit int) *Recorder {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Recorder{
		start:     time.Now(),
		limit:     limit,
		processes: make(map[int32]string),
		threads:   make(map[int32]thread),
	}
}

// add records e, if there is room.
func (r *Recorder) add(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) >= r.limit {
		r.dropped++
		return
	}
	r.events = append(r.events, e)
}

// Span records a complete event: something that began at start and took
// dur, on thread tid of process pid.
func (r *Recorder) Span(pid, tid int32, cat, name string, start time.Time, dur time.Duration, args ...Arg) {
	r.add(event{phase: 'X', cat: cat, name: name, ts: start.Sub(r.start), dur: dur, pid: pid, tid: tid, args: args})
}

// Instant records an instant event on thread tid of process pid.
func (r *Recorder) Instant(pid, tid int32, cat, name string, at time.Time, args ...Arg) {
	r.add(event{phase: 'i', cat: cat, name: name, ts: at.Sub(r.start), pid: pid, tid: tid, args: args})
}

// NameProcess names the group of lanes of process pid.
func (r *Recorder) NameProcess(pid int32, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.processes[pid] = name
}

// NameThread names the lane of thread tid, which belongs to process pid.
func (r *Recorder) NameThread(pid, tid int32, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.threads[tid] = thread{pid: pid, name: name}
}

// Dropped returns the number of events that did not fit.
func (r *Recorder) Dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// WriteJSON writes the timeline as a trace-event JSON object: the names of
// the processes and threads first, then the events in time order.
func (r *Recorder) WriteJSON(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	bw := bufio.NewWriter(w)
	// write emits one element of the array; the first has no comma.
	first := true
	write := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		_, err = bw.Write(b)
		return err
	}

	bw.WriteString("{\"traceEvents\": [\n")
	for _, pid := range sortedKeys(r.processes) {
		if err := write(metadata{Name: "process_name", Ph: "M", PID: pid, TID: pid, Args: map[string]string{"name": r.processes[pid]}}); err != nil {
			return err
		}
	}
	for _, tid := range sortedKeys(r.threads) {
		th := r.threads[tid]
		if err := write(metadata{Name: "thread_name", Ph: "M", PID: th.pid, TID: tid, Args: map[string]string{"name": th.name}}); err != nil {
			return err
		}
	}
	events := append([]event(nil), r.events...)
	sort.SliceStable(events, func(i, j int) bool { return events[i].ts < events[j].ts })
	for i := range events {
		if err := write(jsonEvent(&events[i])); err != nil {
			return err
		}
	}
	fmt.Fprintf(bw, "\n],\n\"displayTimeUnit\": \"ns\",\n\"otherData\": {\"generator\": \"minisentry\", \"droppedEvents\": %d}}\n", r.dropped)
	return bw.Flush()
}

// metadata is an "M" event as JSON.
type metadata struct {
	Name string            `json:"name"`
	Ph   string            `json:"ph"`
	PID  int32             `json:"pid"`
	TID  int32             `json:"tid"`
	Args map[string]string `json:"args"`
}

// traceEvent is an "X" or "i" event as JSON.
type traceEvent struct {
	Name string `json:"name"`
	Cat  string `json:"cat"`
	Ph   string `json:"ph"`
	// TS and Dur are in microseconds, with nanosecond digits.
	TS  json.Number `json:"ts"`
	Dur json.Number `json:"dur,omitempty"`
	// S is an instant event's scope: "t", the thread.
	S    string         `json:"s,omitempty"`
	PID  int32          `json:"pid"`
	TID  int32          `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// jsonEvent converts e for encoding.
func jsonEvent(e *event) traceEvent {
	te := traceEvent{Name: e.name, Cat: e.cat, Ph: string(e.phase), TS: micros(e.ts), PID: e.pid, TID: e.tid}
	switch e.phase {
	case 'X':
		te.Dur = micros(e.dur)
	case 'i':
		te.S = "t"
	}
	if len(e.args) > 0 {
		te.Args = make(map[string]any, len(e.args))
		for _, a := range e.args {
			te.Args[a.Key] = a.Value
		}
	}
	return te
}

// micros renders d in microseconds, to the nanosecond.
func micros(d time.Duration) json.Number {
	if d < 0 {
		d = 0
	}
	return json.Number(strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 3, 64))
}

// sortedKeys returns m's keys in increasing order.
func sortedKeys[V any](m map[int32]V) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
