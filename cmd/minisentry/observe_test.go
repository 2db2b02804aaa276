package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/kernel/trace"
)

func TestCLIObserveFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want observeFlags
	}{
		{[]string{"--", "prog"}, observeFlags{traceLimit: trace.DefaultLimit}},
		{[]string{"--stats", "--report", "r.md", "--trace", "t.json", "--trace-limit", "5", "--", "prog"},
			observeFlags{stats: true, report: "r.md", trace: "t.json", traceLimit: 5}},
	} {
		f, argv, err := parseRunFlags(c.args)
		if err != nil {
			t.Errorf("parseRunFlags(%q): %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(c.want, f.observe, cmp.AllowUnexported(observeFlags{})); diff != "" || len(argv) != 1 {
			t.Errorf("parseRunFlags(%q): argv %q, observe flags (-want +got):\n%s", c.args, argv, diff)
		}
	}
}

func TestCLIObserveFiles(t *testing.T) {
	dir := t.TempDir()
	o, err := newObservers(&observeFlags{stats: true, report: filepath.Join(dir, "r.json"), trace: filepath.Join(dir, "t.json")})
	if err != nil {
		t.Fatal(err)
	}
	if o.stats == nil || o.report == nil || o.trace == nil {
		t.Errorf("newObservers: %+v, want all three observers", o)
	}
	o.close()

	// A file that cannot be created fails the run before it starts.
	for _, f := range []observeFlags{
		{report: filepath.Join(dir, "no", "such", "dir", "r.md")},
		{trace: filepath.Join(dir, "no", "such", "dir", "t.json")},
	} {
		if _, err := newObservers(&f); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("newObservers(%+v): got error %v, want one about the missing directory", f, err)
		}
	}
}

func TestCLIObserveStatus(t *testing.T) {
	for _, c := range []struct {
		status kernel.ExitStatus
		err    error
		want   string
	}{
		{kernel.ExitStatus{Code: 3}, nil, "exit status 3"},
		{kernel.ExitStatus{Signo: 11, Core: true}, nil, "killed by signal 11 (SIGSEGV) (core dumped)"},
		{kernel.ExitStatus{}, errors.New("stub died"), "minisentry failed: stub died"},
	} {
		if got := describeStatus(c.status, c.err); got != c.want {
			t.Errorf("describeStatus(%+v, %v): got %q, want %q", c.status, c.err, got, c.want)
		}
	}
}
