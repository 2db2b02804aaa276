package trace

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decoded is a trace as a viewer reads it.
type decoded struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		TS   float64        `json:"ts"`
		Dur  *float64       `json:"dur"`
		S    string         `json:"s"`
		PID  int32          `json:"pid"`
		TID  int32          `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
	OtherData struct {
		DroppedEvents int64 `json:"droppedEvents"`
	} `json:"otherData"`
}

func decode(t *testing.T, r *Recorder) decoded {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var d decoded
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		t.Fatalf("the trace is not valid JSON: %v\n%s", err, buf.String())
	}
	return d
}

func TestObserveTraceJSON(t *testing.T) {
	r := NewRecorder(0)
	r.NameProcess(1, "hello")
	r.NameThread(1, 1, "task 1")
	r.NameThread(1, 2, "task 2")
	t0 := r.start
	// Recorded out of order, as spans are: when they end.
	r.Span(1, 1, "syscall", "write", t0.Add(10*time.Microsecond), 1500*time.Nanosecond, Arg{"args", `1, "hi\n", 3`}, Arg{"return", "3"})
	r.Instant(1, 2, "fault", "page fault", t0.Add(5*time.Microsecond), Arg{"addr", "0x1000"})

	d := decode(t, r)
	type ev struct {
		Name, Ph string
		PID, TID int32
		TS       float64
		Dur      float64
	}
	var got []ev
	for _, e := range d.TraceEvents {
		x := ev{Name: e.Name, Ph: e.Ph, PID: e.PID, TID: e.TID, TS: e.TS}
		if e.Dur != nil {
			x.Dur = *e.Dur
		}
		if e.Ph == "M" {
			x.Name += "=" + e.Args["name"].(string)
		}
		got = append(got, x)
	}
	want := []ev{
		{Name: "process_name=hello", Ph: "M", PID: 1, TID: 1},
		{Name: "thread_name=task 1", Ph: "M", PID: 1, TID: 1},
		{Name: "thread_name=task 2", Ph: "M", PID: 1, TID: 2},
		{Name: "page fault", Ph: "i", PID: 1, TID: 2, TS: 5},
		{Name: "write", Ph: "X", PID: 1, TID: 1, TS: 10, Dur: 1.5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	write := d.TraceEvents[len(d.TraceEvents)-1]
	if write.Cat != "syscall" || write.Args["args"] != `1, "hi\n", 3` || write.Args["return"] != "3" {
		t.Errorf("the write span: got cat %q and args %v", write.Cat, write.Args)
	}
	if fault := d.TraceEvents[3]; fault.S != "t" {
		t.Errorf("an instant event's scope: got %q, want \"t\" (the thread)", fault.S)
	}
}

func TestObserveTraceLimit(t *testing.T) {
	r := NewRecorder(2)
	for i := 0; i < 5; i++ {
		r.Instant(1, 1, "test", "tick", time.Now())
	}
	if got := r.Dropped(); got != 3 {
		t.Errorf("Dropped: got %d, want 3", got)
	}
	d := decode(t, r)
	if len(d.TraceEvents) != 2 || d.OtherData.DroppedEvents != 3 {
		t.Errorf("got %d events and %d dropped, want 2 and 3", len(d.TraceEvents), d.OtherData.DroppedEvents)
	}
}
