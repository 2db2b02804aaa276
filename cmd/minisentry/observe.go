package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/kernel/trace"
)

// observeFlags are the flags of `minisentry run` that look inside a run
// and report on it when it ends (--strace is in run.go: it reports as the
// run goes).
type observeFlags struct {
	stats      bool
	report     string
	trace      string
	traceLimit int
}

// register adds the flags to fs.
func (o *observeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.stats, "stats", false, "at exit, print a table of the system calls (calls, errors, time in the handler and in the interception) to the log output")
	fs.StringVar(&o.report, "report", "", "at exit, write a report of every system call used, how minisentry handled it and where it was first called, to this file (Markdown, or JSON if it ends in .json)")
	fs.StringVar(&o.trace, "trace", "", "at exit, write a timeline of the run (system calls, page faults, signals, clone, exec, exit) to this file, as Chrome trace-event JSON for Perfetto")
	fs.IntVar(&o.traceLimit, "trace-limit", trace.DefaultLimit, "with --trace, the most events kept; later ones are counted and dropped")
}

// observers are the kernel's observers that report at exit, and the files
// they report to, created before the run so that a bad path fails at once.
type observers struct {
	stats  *kernel.SyscallStats
	report *kernel.Report
	trace  *trace.Recorder

	reportFile, traceFile *os.File
}

// newObservers creates the observers the flags ask for.
func newObservers(f *observeFlags) (*observers, error) {
	var o observers
	if f.stats {
		o.stats = kernel.NewSyscallStats()
	}
	if f.report != "" {
		file, err := os.Create(f.report)
		if err != nil {
			return nil, fmt.Errorf("--report: %w", err)
		}
		o.report, o.reportFile = kernel.NewReport(), file
	}
	if f.trace != "" {
		file, err := os.Create(f.trace)
		if err != nil {
			o.close()
			return nil, fmt.Errorf("--trace: %w", err)
		}
		o.trace, o.traceFile = trace.NewRecorder(f.traceLimit), file
	}
	return &o, nil
}

// close closes the files.
func (o *observers) close() {
	for _, f := range []*os.File{o.reportFile, o.traceFile} {
		if f != nil {
			f.Close()
		}
	}
}

// finish writes what the observers saw of a run of argv that ended with
// status, or failed with err: the statistics to the log's output, the
// report and the trace to their files. Failures are logged.
func (o *observers) finish(log *logrus.Logger, table *kernel.SyscallTable, argv []string, status kernel.ExitStatus, err error) {
	defer o.close()
	if o.stats != nil {
		if werr := o.stats.WriteTable(log.Out, table); werr != nil {
			log.Errorf("--stats: %v", werr)
		}
	}
	if o.report != nil {
		info := kernel.RunInfo{Argv: argv, Status: describeStatus(status, err)}
		write := o.report.WriteMarkdown
		if strings.HasSuffix(o.reportFile.Name(), ".json") {
			write = o.report.WriteJSON
		}
		if werr := write(o.reportFile, table, info); werr != nil {
			log.Errorf("--report: %v", werr)
		}
	}
	if o.trace != nil {
		if werr := o.trace.WriteJSON(o.traceFile); werr != nil {
			log.Errorf("--trace: %v", werr)
		}
		if n := o.trace.Dropped(); n > 0 {
			log.Warnf("--trace: %d events past --trace-limit were dropped", n)
		}
	}
}

// describeStatus says how a run ended, for a person.
func describeStatus(status kernel.ExitStatus, err error) string {
	switch {
	case err != nil:
		return "minisentry failed: " + err.Error()
	case status.Signo != 0:
		s := fmt.Sprintf("killed by signal %d (%s)", status.Signo, unix.SignalName(unix.Signal(status.Signo)))
		if status.Core {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("exit status %d", status.Code)
}
