package kernel

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Report records, for `minisentry run --report`, every system call a
// program used: how minisentry handled it, how often, with which errors,
// and where it was first called from (the instruction and the function of
// the program's ELF symbol table that contains it). It is the answer to
// "what would this program need from minisentry?". Its methods may be
// called from any goroutine.
type Report struct {
	// mu protects the fields below.
	mu sync.Mutex

	// calls holds a record per system call number used.
	calls map[uintptr]*reportCall

	// programs holds the symbol table of each program run, by path.
	programs map[string]*programSymbols
}

// reportCall is what the report knows of one system call.
type reportCall struct {
	// order is the number of distinct system calls used before this one.
	order  int
	calls  int64
	errnos map[unix.Errno]int64

	// The first call: by which task, from where, in which program.
	tid     ThreadID
	rip     uint64
	program *programSymbols
}

// NewReport returns an empty report.
func NewReport() *Report {
	return &Report{calls: make(map[uintptr]*reportCall), programs: make(map[string]*programSymbols)}
}

// record counts a call of sysno by t, from the syscall instruction at rip,
// that failed with err if not nil.
func (r *Report) record(t *Task, sysno uintptr, rip uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[sysno]
	if !ok {
		c = &reportCall{order: len(r.calls), tid: t.tid, rip: rip, program: r.programs[t.executable]}
		r.calls[sysno] = c
	}
	c.calls++
	var errno unix.Errno
	if errors.As(err, &errno) {
		if c.errnos == nil {
			c.errnos = make(map[unix.Errno]int64)
		}
		c.errnos[errno]++
	}
}

// noteProgram learns where the program at path lies in memory: entry is
// the address of its first instruction, where a task that has just
// exec'd it stands. Its symbol table is read once; exec says whether the
// program has just been exec'd again (a position-independent program may
// then lie elsewhere), else nothing changes for a known path.
func (r *Report) noteProgram(path string, entry uint64, exec bool) {
	r.mu.Lock()
	p, ok := r.programs[path]
	r.mu.Unlock()
	if ok && !exec {
		return
	}
	if !ok {
		p = readProgramSymbols(path)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.programs[path]; ok {
		p = q
	}
	p.bias = entry - p.entry
	r.programs[path] = p
}

// programSymbols is the symbol table of a program: its functions, sorted
// by address.
type programSymbols struct {
	path string

	// entry is the ELF header's entry point, and bias what was added to
	// the file's addresses to load it (0 unless it is
	// position-independent). Protected by Report.mu.
	entry, bias uint64

	// code are the file's executable segments, as [start, end) file
	// addresses.
	code [][2]uint64

	// funcs are the functions of .symtab; empty if the program is
	// stripped, and then why is in missing.
	funcs   []elf.Symbol
	missing string
}

// readProgramSymbols reads the functions of the program at path.
func readProgramSymbols(path string) *programSymbols {
	p := &programSymbols{path: path}
	f, err := elf.Open(path)
	if err != nil {
		p.missing = err.Error()
		return p
	}
	defer f.Close()
	p.entry = f.Entry
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_LOAD && prog.Flags&elf.PF_X != 0 {
			p.code = append(p.code, [2]uint64{prog.Vaddr, prog.Vaddr + prog.Memsz})
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		p.missing = "stripped"
		if !errors.Is(err, elf.ErrNoSymbols) {
			p.missing = err.Error()
		}
		return p
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && s.Value != 0 {
			p.funcs = append(p.funcs, s)
		}
	}
	// Several names often share an address (write, __write,
	// __libc_write): the first of each address, once sorted, is the one
	// shown, and the plainest wins: global, fewer leading underscores,
	// shorter.
	sort.SliceStable(p.funcs, func(i, j int) bool {
		a, b := p.funcs[i], p.funcs[j]
		if a.Value != b.Value {
			return a.Value < b.Value
		}
		ga, gb := elf.ST_BIND(a.Info) == elf.STB_GLOBAL, elf.ST_BIND(b.Info) == elf.STB_GLOBAL
		if ga != gb {
			return ga
		}
		ua, ub := len(a.Name)-len(strings.TrimLeft(a.Name, "_")), len(b.Name)-len(strings.TrimLeft(b.Name, "_"))
		if ua != ub {
			return ua < ub
		}
		if len(a.Name) != len(b.Name) {
			return len(a.Name) < len(b.Name)
		}
		return a.Name < b.Name
	})
	if len(p.funcs) == 0 {
		p.missing = "no function symbols"
	}
	return p
}

// symbolize names the function containing the loaded address addr, as
// name+0xoffset, or says why it cannot.
//
// Preconditions: Report.mu is locked (for bias).
func (p *programSymbols) symbolize(addr uint64) string {
	if p == nil {
		return "unknown (no symbol table read)"
	}
	if len(p.funcs) == 0 {
		return "unknown (" + p.missing + ")"
	}
	a := addr - p.bias
	inCode := false
	for _, c := range p.code {
		inCode = inCode || addr >= p.bias && a >= c[0] && a < c[1]
	}
	if !inCode {
		return "unknown (outside the program's code)"
	}
	// The last function starting at or below a.
	i := sort.Search(len(p.funcs), func(i int) bool { return p.funcs[i].Value > a }) - 1
	for i > 0 && p.funcs[i-1].Value == p.funcs[i].Value {
		i--
	}
	if i < 0 {
		return "unknown (below every function)"
	}
	s := p.funcs[i]
	if s.Size != 0 && a >= s.Value+s.Size {
		return "unknown (between functions)"
	}
	return fmt.Sprintf("%s+%#x", s.Name, a-s.Value)
}

// RunInfo describes the run a report is about.
type RunInfo struct {
	// Argv is the program and its arguments.
	Argv []string
	// Status is how it ended, for a person: "exit status 0".
	Status string
}

// ReportEntry is one system call in a report.
type ReportEntry struct {
	Number uintptr `json:"number"`
	Name   string  `json:"name"`
	// Handled is "implemented", "partial" or "ENOSYS", and Note says
	// more: what a partial implementation lacks, why a call is refused.
	Handled string `json:"handled"`
	Note    string `json:"note,omitempty"`
	Calls   int64  `json:"calls"`
	Errors  int64  `json:"errors"`
	// EINVAL counts the calls refused as invalid, often a flag or an
	// option minisentry does not support; ENOSYS those refused as not
	// implemented.
	EINVAL int64            `json:"einval"`
	ENOSYS int64            `json:"enosys"`
	Errnos map[string]int64 `json:"errnos,omitempty"`
	First  CallSite         `json:"first_call"`
}

// CallSite is where a system call was made.
type CallSite struct {
	Task    int32  `json:"task"`
	RIP     string `json:"rip"`
	Symbol  string `json:"symbol"`
	Program string `json:"program"`
}

// Entries returns the report's entries in the order the program first
// used them; table says how each is handled.
func (r *Report) Entries(table *SyscallTable) []ReportEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	nums := make([]uintptr, 0, len(r.calls))
	for n := range r.calls {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return r.calls[nums[i]].order < r.calls[nums[j]].order })
	entries := make([]ReportEntry, 0, len(nums))
	for _, n := range nums {
		c := r.calls[n]
		e := ReportEntry{Number: n, Name: table.Name(n), Calls: c.calls}
		e.Handled, e.Note = handling(table.Lookup(n))
		for errno, k := range c.errnos {
			if e.Errnos == nil {
				e.Errnos = make(map[string]int64)
			}
			e.Errnos[errnoName(errno)] += k
			e.Errors += k
			switch errno {
			case unix.EINVAL:
				e.EINVAL += k
			case unix.ENOSYS:
				e.ENOSYS += k
			}
		}
		e.First = CallSite{Task: int32(c.tid), RIP: fmt.Sprintf("%#x", c.rip), Symbol: c.program.symbolize(c.rip)}
		if c.program != nil {
			e.First.Program = c.program.path
		}
		entries = append(entries, e)
	}
	return entries
}

// handling says how minisentry handles a system call described by sc.
func handling(sc *Syscall) (handled, note string) {
	switch {
	case sc == nil:
		return "ENOSYS", "not in minisentry's table"
	case sc.Fn == nil:
		// Notes of unimplemented calls often start by saying so.
		return "ENOSYS", strings.TrimPrefix(sc.Note, "ENOSYS: ")
	case sc.Support == Partial:
		return "partial", sc.Note
	}
	return "implemented", sc.Note
}

// errnoName names errno: ENOENT.
func errnoName(errno unix.Errno) string {
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", int(errno))
}

// WriteJSON writes the report as a JSON object.
func (r *Report) WriteJSON(w io.Writer, table *SyscallTable, info RunInfo) error {
	entries := r.Entries(table)
	var calls int64
	for _, e := range entries {
		calls += e.Calls
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Argv     []string      `json:"argv"`
		Status   string        `json:"status"`
		Calls    int64         `json:"calls"`
		Syscalls []ReportEntry `json:"syscalls"`
	}{info.Argv, info.Status, calls, entries})
}

// WriteMarkdown writes the report as a Markdown document: a table of the
// system calls, then the ones that need attention.
func (r *Report) WriteMarkdown(w io.Writer, table *SyscallTable, info RunInfo) error {
	entries := r.Entries(table)
	var calls int64
	for _, e := range entries {
		calls += e.Calls
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# minisentry report: %s\n\n", mdCode(filepath.Base(firstOr(info.Argv, "?"))))
	fmt.Fprintf(&b, "Command: %s  \n", mdCode(strings.Join(info.Argv, " ")))
	fmt.Fprintf(&b, "Ended with: %s  \n", info.Status)
	fmt.Fprintf(&b, "System calls: %d distinct, %d calls.\n\n", len(entries), calls)
	b.WriteString("In the order the program first used them. The first call site is the address of the\n")
	b.WriteString("`syscall` instruction and the function of the program's symbol table that contains it.\n\n")
	b.WriteString("| # | system call | handled | calls | errors | first call site |\n")
	b.WriteString("| ---: | --- | --- | ---: | --- | --- |\n")
	for _, e := range entries {
		handled := e.Handled
		if e.Note != "" {
			handled += ": " + e.Note
		}
		site := fmt.Sprintf("%s in %s", mdCode(e.First.RIP), mdCode(e.First.Symbol))
		if e.First.Program != "" {
			site += " (" + mdCode(filepath.Base(e.First.Program)) + ", task " + fmt.Sprint(e.First.Task) + ")"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %s | %s |\n", e.Number, mdCode(e.Name), mdEscape(handled), e.Calls, formatErrnos(e.Errnos), site)
	}

	var attention []string
	for _, e := range entries {
		switch {
		case e.Handled == "ENOSYS":
			attention = append(attention, fmt.Sprintf("- %s: not implemented, ENOSYS %d time(s)%s.", mdCode(e.Name), e.Calls, noteSuffix(e.Note)))
		case e.EINVAL > 0:
			attention = append(attention, fmt.Sprintf("- %s: EINVAL %d time(s) of %d: an unsupported flag or option?%s", mdCode(e.Name), e.EINVAL, e.Calls, noteSuffix(e.Note)))
		}
	}
	if len(attention) > 0 {
		b.WriteString("\n## Needs attention\n\n")
		b.WriteString(strings.Join(attention, "\n"))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatErrnos shows an errno histogram: ENOENT×2, EINVAL×1.
func formatErrnos(errnos map[string]int64) string {
	names := make([]string, 0, len(errnos))
	for name := range errnos {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s×%d", name, errnos[name]))
	}
	return strings.Join(parts, ", ")
}

// noteSuffix appends a table note to a sentence.
func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return " (" + mdEscape(note) + ")"
}

// mdCode shows s as inline code.
func mdCode(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// mdEscape keeps s from breaking a table row.
func mdEscape(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// firstOr returns v[0], or def if v is empty.
func firstOr(v []string, def string) string {
	if len(v) == 0 {
		return def
	}
	return v[0]
}
