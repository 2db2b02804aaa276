package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// symbolAt returns the address of the function name in the ELF file at
// path, and the file's entry point.
func symbolAt(t *testing.T, path, name string) (addr, entry uint64) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value, f.Entry
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0, 0
}

// buildProgram compiles a C program with a symbol table (go test strips
// its own binaries) and returns its path.
func buildProgram(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("needs gcc to build a program with symbols: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(src, []byte("int helper(int x) { return x + 1; }\nint main(void) { return helper(0); }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "prog")
	if out, err := exec.Command(cc, "-O0", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return exe
}

func TestObserveReport(t *testing.T) {
	exe := buildProgram(t)
	fn, entry := symbolAt(t, exe, "helper")
	// Loaded 0x10000 above its addresses, as a position-independent
	// program is.
	const bias = 0x10000
	r := NewReport()
	r.noteProgram(exe, entry+bias, false)
	task := &Task{tid: 1, executable: exe}
	r.record(task, unix.SYS_WRITE, fn+bias+4, nil)
	r.record(task, unix.SYS_WRITE, 0x1234, unix.EPIPE)
	r.record(task, unix.SYS_RSEQ, fn+bias, unix.ENOSYS)
	r.record(task, unix.SYS_READ, 1, unix.EINVAL)
	r.record(task, 9999, fn+bias, unix.ENOSYS)

	got := r.Entries(testTable())
	want := []ReportEntry{
		{Number: unix.SYS_WRITE, Name: "write", Handled: "implemented", Calls: 2, Errors: 1, Errnos: map[string]int64{"EPIPE": 1},
			First: CallSite{Task: 1, RIP: hexAddr(fn + bias + 4), Symbol: "helper+0x4", Program: exe}},
		{Number: unix.SYS_RSEQ, Name: "rseq", Handled: "ENOSYS", Note: "libcs fall back", Calls: 1, Errors: 1, ENOSYS: 1,
			Errnos: map[string]int64{"ENOSYS": 1}, First: CallSite{Task: 1, RIP: hexAddr(fn + bias), Symbol: "helper+0x0", Program: exe}},
		{Number: unix.SYS_READ, Name: "read", Handled: "partial", Note: "no O_DIRECT", Calls: 1, Errors: 1, EINVAL: 1,
			Errnos: map[string]int64{"EINVAL": 1}, First: CallSite{Task: 1, RIP: "0x1", Symbol: "unknown (outside the program's code)", Program: exe}},
		{Number: 9999, Name: "syscall_9999", Handled: "ENOSYS", Note: "not in minisentry's table", Calls: 1, Errors: 1, ENOSYS: 1,
			Errnos: map[string]int64{"ENOSYS": 1}, First: CallSite{Task: 1, RIP: hexAddr(fn + bias), Symbol: "helper+0x0", Program: exe}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Entries (-want +got):\n%s", diff)
	}

	info := RunInfo{Argv: []string{exe, "-x"}, Status: "exit status 0"}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md, testTable(), info); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"| 1 | `write` | implemented | 2 | EPIPE×1 | `" + hexAddr(fn+bias+4) + "` in `helper+0x4`",
		"| 0 | `read` | partial: no O_DIRECT | 1 | EINVAL×1 |",
		"- `rseq`: not implemented, ENOSYS 1 time(s) (libcs fall back).",
		"- `read`: EINVAL 1 time(s) of 1: an unsupported flag or option? (no O_DIRECT)",
		"System calls: 4 distinct, 5 calls.",
	} {
		if !strings.Contains(md.String(), line) {
			t.Errorf("the Markdown report lacks %q:\n%s", line, md.String())
		}
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js, testTable(), info); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Argv     []string      `json:"argv"`
		Status   string        `json:"status"`
		Calls    int64         `json:"calls"`
		Syscalls []ReportEntry `json:"syscalls"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, js.String())
	}
	if diff := cmp.Diff(want, decoded.Syscalls); diff != "" || decoded.Calls != 5 || decoded.Status != info.Status {
		t.Errorf("JSON report: %d calls, status %q, entries (-want +got):\n%s", decoded.Calls, decoded.Status, diff)
	}
}

// TestReportStripped: a program without a symbol table has unknown call
// sites, and says why.
func TestObserveReportStripped(t *testing.T) {
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skipf("needs Debian's busybox-static, which is stripped: %v", err)
	}
	r := NewReport()
	r.noteProgram(busybox, 0x401000, true)
	r.record(&Task{tid: 1, executable: busybox}, unix.SYS_WRITE, 0x401234, nil)
	if got := r.Entries(testTable())[0].First.Symbol; got != "unknown (stripped)" {
		t.Errorf("call site in a stripped program: got %q, want \"unknown (stripped)\"", got)
	}
}

func hexAddr(v uint64) string { return hex(v) }
