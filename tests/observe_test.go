package tests

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Tests of what minisentry shows of a run: --strace, --stats, --report and
// --trace. They run programs/observe.c, which forks, execs, starts a
// thread, takes a signal and uses a pipe, and busybox, whose symbols are
// stripped.

var (
	observeOnce sync.Once
	observeErr  error
)

// observeProgram builds programs/observe.c with glibc, once, and returns
// its path. Only these tests use it, so the harness does not build it.
func observeProgram(t *testing.T) string {
	t.Helper()
	observeOnce.Do(func() { observeErr = compile("observe", "glibc") })
	if observeErr != nil {
		t.Fatal(observeErr)
	}
	return binPath("observe", "glibc")
}

// observeStdout is what observe prints.
const observeStdout = "hello\nthread\nchild\nchild exit status 3, caught signal 10\n"

// runObserved runs observe under minisentry with flags and checks that
// they change nothing the program shows.
func runObserved(t *testing.T, flags ...string) outcome {
	t.Helper()
	noteInputs()
	bin := observeProgram(t)
	requireSentry(t)
	o, how := runSentry(t, bin, invocation{}, flags...)
	if o.Status != 0 || o.Stdout != observeStdout {
		t.Fatalf("observe with %q: %s, stdout %q; want exit status 0 and %q\n%s", flags, how, o.Stdout, observeStdout, showOutcome(o))
	}
	return o
}

// straceLineRE is the shape of every --strace line: the log's time and
// level, the task, the call, its result and the handler's time.
var straceLineRE = regexp.MustCompile(`^\S+ I \[ *(\d+)\] (\w+)\(.*\) = (\?|-?\d+|0x[0-9a-f]+|-1 E\w+ \(.*\)) \(\d[\d.]*[nµm]?s\)$`)

// TestObserveStrace: --strace decodes what each call takes and returns.
func TestObserveStrace(t *testing.T) {
	t.Parallel()
	o := runObserved(t, "--strace")
	lines := strings.Split(strings.TrimRight(o.Stderr, "\n"), "\n")
	for _, line := range lines {
		if strings.Contains(line, "] ") && !straceLineRE.MatchString(line) {
			t.Errorf("malformed --strace line %q", line)
		}
	}
	for _, want := range []string{
		`\[   1\] write\(1, "hello\\n", 6\) = 6 \(`,
		`\[   1\] arch_prctl\(ARCH_SET_FS, 0x[0-9a-f]+\) = 0`,
		`\[   1\] prlimit64\(0, RLIMIT_STACK, NULL, \{rlim_cur=[^,]+, rlim_max=[^}]+\}\) = 0`,
		`\[   1\] getrandom\(0x[0-9a-f]+, 8, GRND_NONBLOCK\) = 8`,
		`\[   1\] rseq\(.*\) = -1 ENOSYS \(function not implemented\)`,
		`\[   1\] pipe2?\(\[3, 4\](, 0)?\) = 0`,
		`\[   1\] read\(3, "x", 1\) = 1`,
		`\[   1\] rt_sigaction\(SIGUSR1, \{sa_handler=0x[0-9a-f]+, sa_mask=\[INT\], sa_flags=SA_RESTORER\|SA_RESTART, sa_restorer=0x[0-9a-f]+\}, NULL, 8\) = 0`,
		`\[   1\] kill\(1, SIGUSR1\) = 0`,
		`\[   1\] rt_sigprocmask\(SIG_BLOCK, ~\[\], \[\], 8\) = 0`,
		`\[   1\] clone\(CLONE_VM\|CLONE_FS\|CLONE_FILES\|CLONE_SIGHAND\|CLONE_THREAD\|CLONE_SYSVSEM\|CLONE_SETTLS\|CLONE_PARENT_SETTID\|CLONE_CHILD_CLEARTID, .*\) = 2`,
		`\[   2\] clock_nanosleep\(CLOCK_REALTIME, 0, \{tv_sec=0, tv_nsec=20000000\}, NULL\) = 0`,
		`\[   1\] futex\(0x[0-9a-f]+, FUTEX_WAIT\w*(\|FUTEX_CLOCK_REALTIME)?, 2, NULL, NULL, 0x[0-9a-f]+\) = 0`,
		`\[   1\] clone\(CLONE_CHILD_CLEARTID\|CLONE_CHILD_SETTID\|SIGCHLD, NULL, NULL, 0x[0-9a-f]+, NULL\) = 3`,
		`\[   3\] execve\("[^"]*observe-glibc", \["[^"]*observe-glibc", "child"\], 0x[0-9a-f]+ /\* \d+ vars \*/\) = 0`,
		`\[   3\] exit_group\(3\) = \?`,
		`\[   1\] wait4\(3, \[\{WIFEXITED\(s\) && WEXITSTATUS\(s\) == 3\}\], 0, NULL\) = 3`,
		`\[   1\] newfstatat\(1, "", \{st_mode=S_IFIFO\|0[0-7]+, st_size=\d+, \.\.\.\}, AT_EMPTY_PATH\) = 0`,
	} {
		if !regexp.MustCompile(want).MatchString(o.Stderr) {
			t.Errorf("--strace output has no line matching %q:\n%s", want, indent(o.Stderr))
		}
	}

	// --strace-syscalls keeps only the calls named.
	o = runObserved(t, "--strace", "--strace-syscalls=write,wait4")
	calls := map[string]int{}
	for _, line := range strings.Split(o.Stderr, "\n") {
		if m := straceLineRE.FindStringSubmatch(line); m != nil {
			calls[m[2]]++
		}
	}
	if want := map[string]int{"write": 5, "wait4": 1}; !mapsEqual(calls, want) {
		t.Errorf("--strace-syscalls=write,wait4 showed calls %v, want %v:\n%s", calls, want, indent(o.Stderr))
	}
}

// statsRow is one line of the --stats table.
type statsRow struct {
	percent, seconds             float64
	calls, errors                int
	handlerShare, interceptShare float64
	name                         string
}

// parseStats reads the --stats table: its rows, then its total.
func parseStats(t *testing.T, out string) ([]statsRow, statsRow) {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "% time     seconds  usecs/call     calls    errors   handler intercept syscall") {
			start = i
		}
	}
	if start < 0 || start+2 >= len(lines) {
		t.Fatalf("no --stats table in:\n%s", indent(out))
	}
	num := func(s string) float64 {
		s = strings.TrimSuffix(strings.TrimSpace(s), "%")
		if s == "" {
			return 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("--stats: %q is not a number:\n%s", s, indent(out))
		}
		return v
	}
	parse := func(l string) statsRow {
		// The columns are fixed-width, as strace -c's.
		if len(l) < 72 {
			t.Fatalf("--stats: short line %q", l)
		}
		return statsRow{
			percent: num(l[0:6]), seconds: num(l[7:18]), calls: int(num(l[31:40])), errors: int(num(l[41:50])),
			handlerShare: num(l[51:60]), interceptShare: num(l[61:70]), name: l[71:],
		}
	}
	var rows []statsRow
	i := start + 2
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "------"); i++ {
		rows = append(rows, parse(lines[i]))
	}
	if i+1 >= len(lines) {
		t.Fatalf("--stats: no total line:\n%s", indent(out))
	}
	return rows, parse(lines[i+1])
}

// TestObserveStats: --stats prints strace -c's table at exit, sorted by
// time, with the split between handler and interception.
func TestObserveStats(t *testing.T) {
	t.Parallel()
	o := runObserved(t, "--stats")
	rows, total := parseStats(t, o.Stderr)
	byName := map[string]statsRow{}
	calls := 0
	for i, r := range rows {
		byName[r.name] = r
		calls += r.calls
		if i > 0 && r.seconds > rows[i-1].seconds {
			t.Errorf("--stats: %s (%f s) comes after %s (%f s): not sorted by time", r.name, r.seconds, rows[i-1].name, rows[i-1].seconds)
		}
		if s := r.handlerShare + r.interceptShare; math.Abs(s-100) > 0.02 {
			t.Errorf("--stats: %s: handler %.2f%% and intercept %.2f%% do not add up to 100%%", r.name, r.handlerShare, r.interceptShare)
		}
	}
	if total.name != "total" || total.calls != calls {
		t.Errorf("--stats: total line %+v, want %d calls", total, calls)
	}
	for name, want := range map[string]int{"write": 5, "wait4": 1, "execve": 1, "exit_group": 2, "kill": 1, "read": 1} {
		if got := byName[name].calls; got != want {
			t.Errorf("--stats: %s made %d calls, want %d", name, got, want)
		}
	}
	// The futex wait lasts for most of the thread's 20 ms nap.
	if f := byName["futex"]; f.seconds < 0.005 {
		t.Errorf("--stats: futex took %f s in all, want the join's wait of about 20 ms", f.seconds)
	}
	if r := byName["rseq"]; r.errors != r.calls || r.calls == 0 {
		t.Errorf("--stats: rseq %+v: every call fails with ENOSYS", r)
	}
	for _, want := range []string{"In Switch: ", "Page faults: "} {
		if !strings.Contains(o.Stderr, want) {
			t.Errorf("--stats: no %q line:\n%s", want, indent(o.Stderr))
		}
	}
}

// reportJSON is --report's JSON.
type reportJSON struct {
	Argv     []string `json:"argv"`
	Status   string   `json:"status"`
	Calls    int      `json:"calls"`
	Syscalls []struct {
		Number  int            `json:"number"`
		Name    string         `json:"name"`
		Handled string         `json:"handled"`
		Note    string         `json:"note"`
		Calls   int            `json:"calls"`
		Errors  int            `json:"errors"`
		EINVAL  int            `json:"einval"`
		ENOSYS  int            `json:"enosys"`
		Errnos  map[string]int `json:"errnos"`
		First   struct {
			Task    int    `json:"task"`
			RIP     string `json:"rip"`
			Symbol  string `json:"symbol"`
			Program string `json:"program"`
		} `json:"first_call"`
	} `json:"syscalls"`
}

// TestObserveReport: --report lists each system call used, how it was
// handled and where the program first made it.
func TestObserveReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath, mdPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.md")
	runObserved(t, "--report", jsonPath)
	bin := observeProgram(t)

	var r reportJSON
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("--report %s is not valid JSON: %v\n%s", jsonPath, err, data)
	}
	if len(r.Argv) != 1 || r.Argv[0] != bin || r.Status != "exit status 0" {
		t.Errorf("--report: argv %q and status %q, want [%q] and \"exit status 0\"", r.Argv, r.Status, bin)
	}
	byName := map[string]int{}
	calls := 0
	for i, e := range r.Syscalls {
		byName[e.Name] = i
		calls += e.Calls
	}
	if calls != r.Calls {
		t.Errorf("--report: %d calls in all, but its entries add up to %d", r.Calls, calls)
	}
	for _, c := range []struct {
		name, handled string
		calls, task   int
		symbol        string
	}{
		{"write", "implemented", 5, 1, `^(__libc_)?write\+0x[0-9a-f]+$`},
		{"kill", "implemented", 1, 1, `^(__)?kill\+0x[0-9a-f]+$`},
		{"rseq", "ENOSYS", 2, 1, `\+0x[0-9a-f]+$`},
		{"execve", "partial", 1, 3, `execve\+0x[0-9a-f]+$`},
		{"wait4", "partial", 1, 1, `wait\w*\+0x[0-9a-f]+$`},
	} {
		i, ok := byName[c.name]
		if !ok {
			t.Errorf("--report has no %s", c.name)
			continue
		}
		e := r.Syscalls[i]
		if e.Handled != c.handled || e.Calls != c.calls || e.First.Task != c.task || e.First.Program != bin ||
			!regexp.MustCompile(c.symbol).MatchString(e.First.Symbol) || !strings.HasPrefix(e.First.RIP, "0x") {
			t.Errorf("--report: %s: %+v; want handled %q, %d calls, first by task %d in %s at a function matching %q",
				c.name, e, c.handled, c.calls, c.task, bin, c.symbol)
		}
	}
	if e := r.Syscalls[byName["rseq"]]; e.ENOSYS != e.Calls || e.Errnos["ENOSYS"] != e.Calls {
		t.Errorf("--report: rseq %+v: every call is ENOSYS", e)
	}

	// The Markdown report says the same.
	runObserved(t, "--report", mdPath)
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^# minisentry report: ` + "`observe-glibc`$",
		`(?m)^\| 1 \| ` + "`write`" + ` \| implemented \| 5 \|  \| ` + "`0x[0-9a-f]+` in `(__libc_)?write\\+0x[0-9a-f]+`",
		`(?m)^\| 334 \| ` + "`rseq`" + ` \| ENOSYS: .* \| 2 \| ENOSYS×2 \|`,
		`(?m)^## Needs attention$`,
		`(?m)^- ` + "`rseq`" + `: not implemented, ENOSYS 2 time\(s\)`,
	} {
		if !regexp.MustCompile(want).Match(md) {
			t.Errorf("the Markdown report has no line matching %q:\n%s", want, indent(string(md)))
		}
	}
}

// TestObserveReportStripped: busybox has no symbol table, and the report
// says so.
func TestObserveReportStripped(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%v: this test needs Debian's busybox-static; %s", err, installHint)
	}
	noteInputs()
	requireSentry(t)
	path := filepath.Join(t.TempDir(), "report.json")
	o, how := runSentry(t, busybox, invocation{args: []string{"echo", "hi"}}, "--report", path)
	if o.Status != 0 || o.Stdout != "hi\n" {
		t.Fatalf("busybox echo hi with --report: %s\n%s", how, showOutcome(o))
	}
	var r reportJSON
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("--report is not valid JSON: %v\n%s", err, data)
	}
	for _, e := range r.Syscalls {
		if e.First.Symbol != "unknown (stripped)" {
			t.Errorf("--report: %s first called from %q in stripped busybox, want \"unknown (stripped)\"", e.Name, e.First.Symbol)
		}
	}
}

// traceJSON is a Chrome trace-event file.
type traceJSON struct {
	TraceEvents []traceEvent `json:"traceEvents"`
}

type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ph   string         `json:"ph"`
	TS   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	Args map[string]any `json:"args"`
}

// TestObserveTrace: --trace writes a timeline Perfetto opens: a lane per
// task, named, with its system calls as spans that never overlap, and the
// page faults, signals, clones, exec and exits as instants.
func TestObserveTrace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "trace.json")
	runObserved(t, "--trace", path)
	bin := observeProgram(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr traceJSON
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatalf("--trace %s is not valid JSON: %v", path, err)
	}

	threads := map[int]int{} // tid -> pid, from the metadata
	processes := map[int]string{}
	spans := map[int][]traceEvent{} // by tid
	instants := map[string][]traceEvent{}
	for _, e := range tr.TraceEvents {
		switch e.Ph {
		case "M":
			switch e.Name {
			case "thread_name":
				threads[e.TID] = e.PID
			case "process_name":
				processes[e.PID], _ = e.Args["name"].(string)
			}
		case "X":
			if e.Cat != "syscall" || e.Name == "" || e.TS < 0 || e.Dur < 0 {
				t.Errorf("--trace: bad span %+v", e)
			}
			spans[e.TID] = append(spans[e.TID], e)
		case "i":
			instants[e.Name] = append(instants[e.Name], e)
		default:
			t.Errorf("--trace: event of unknown phase %+v", e)
		}
		if e.Ph != "M" {
			if pid, ok := threads[e.TID]; !ok || pid != e.PID {
				t.Errorf("--trace: event on task %d of process %d, which the metadata names as of process %d (ok %v): %+v", e.TID, e.PID, pid, ok, e)
			}
		}
	}
	// Task 1 and its thread 2 in process 1; task 3, the child, in process 3.
	if want := map[int]int{1: 1, 2: 1, 3: 3}; !mapsEqual(threads, want) {
		t.Errorf("--trace: lanes (task: process) %v, want %v", threads, want)
	}
	if name := filepath.Base(bin); processes[1] != name || processes[3] != name {
		t.Errorf("--trace: processes named %v, want 1 and 3 named %q", processes, name)
	}
	for tid := 1; tid <= 3; tid++ {
		s := spans[tid]
		if len(s) == 0 {
			t.Errorf("--trace: task %d has no system calls", tid)
		}
		sort.Slice(s, func(i, j int) bool { return s[i].TS < s[j].TS })
		for i := 1; i < len(s); i++ {
			// One system call at a time per task (the timestamps are
			// rounded to the nanosecond).
			if end := s[i-1].TS + s[i-1].Dur; end > s[i].TS+0.002 {
				t.Errorf("--trace: task %d: %s at %.3f ends at %.3f, after %s starts at %.3f", tid, s[i-1].Name, s[i-1].TS, end, s[i].Name, s[i].TS)
			}
		}
	}

	// The first write, its arguments and its result.
	var write *traceEvent
	for i, e := range spans[1] {
		if e.Name == "write" {
			write = &spans[1][i]
			break
		}
	}
	if write == nil || write.Args["args"] != `1, "hello\n", 6` || write.Args["return"] != "6" {
		t.Errorf("--trace: task 1's first write is %+v, want args 1, \"hello\\n\", 6 and return 6", write)
	}
	// pthread_join's futex wait lasts for most of the thread's nap.
	waited := false
	for _, e := range spans[1] {
		if e.Name == "futex" && strings.Contains(e.Args["args"].(string), "FUTEX_WAIT") && e.Dur > 5000 {
			waited = true
		}
	}
	if !waited {
		t.Errorf("--trace: task 1 has no futex wait span of more than 5 ms")
	}

	has := func(name string, tid int, key string, value any) bool {
		for _, e := range instants[name] {
			if e.TID == tid && (key == "" || e.Args[key] == value) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		name  string
		tid   int
		key   string
		value any
	}{
		{"SIGUSR1", 1, "", nil},
		{"clone", 1, "child", float64(2)},
		{"clone", 1, "child", float64(3)},
		{"exec", 3, "filename", bin},
		{"exit", 1, "status", "exit_group(0)"},
		{"exit", 2, "status", "exit(0)"},
		{"exit", 3, "status", "exit_group(3)"},
	} {
		if !has(c.name, c.tid, c.key, c.value) {
			t.Errorf("--trace: no %q event on task %d with %s = %v; %q events: %+v", c.name, c.tid, c.key, c.value, c.name, instants[c.name])
		}
	}
	faults := instants["page fault"]
	works := map[string]bool{}
	for _, f := range faults {
		w, _ := f.Args["work"].(string)
		works[w] = true
		if addr, _ := f.Args["addr"].(string); !strings.HasPrefix(addr, "0x") || f.Args["access"] == nil {
			t.Errorf("--trace: page fault without address or access: %+v", f)
		}
	}
	// The program's text is read from its file; its data and stack are
	// fresh memory; the fork child's writes break copy-on-write.
	for _, w := range []string{"file", "zero-fill", "copy-on-write"} {
		if !works[w] {
			t.Errorf("--trace: no %q page fault among %d: %v", w, len(faults), works)
		}
	}
}

// mapsEqual reports whether two maps hold the same entries.
func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
