package loader

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

// linuxStack runs the stackdump program natively, without address space
// randomisation (which would move the strings by a random amount), and
// returns what it printed: the depth below the top of the stack of each
// thing on it.
func linuxStack(t *testing.T, prog string, args, envv []string) map[string]uint64 {
	t.Helper()
	cmd := exec.Command("setarch", append([]string{"x86_64", "-R", prog}, args...)...)
	cmd.Env = envv
	if envv == nil {
		cmd.Env = []string{}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running %s natively: %v", prog, err)
	}
	depths := make(map[string]uint64)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("stackdump printed %q", sc.Text())
		}
		depths[k] = n
	}
	return depths
}

// loadedStack returns the same depths as linuxStack, for the stack Load
// built in m.
func loadedStack(t *testing.T, m *mm.MemoryManager, res LoadResult, top usermem.Addr, argc, envc int) map[string]uint64 {
	t.Helper()
	depth := func(a usermem.Addr) uint64 { return uint64(top - a) }
	d := map[string]uint64{
		"top%4096": uint64(top % usermem.PageSize),
		"sp":       depth(res.StackPointer),
		"nauxv":    uint64(len(res.Auxv)),
	}
	at := res.StackPointer + 8
	for i := 0; i < argc; i++ {
		d[fmt.Sprintf("argv%d", i)] = depth(usermem.Addr(readWord(t, m, at)))
		at += 8
	}
	at += 8
	for i := 0; i < envc; i++ {
		d[fmt.Sprintf("envp%d", i)] = depth(usermem.Addr(readWord(t, m, at)))
		at += 8
	}
	at += 8
	d["auxvend"] = depth(at + usermem.Addr(16*len(res.Auxv)))
	for _, e := range res.Auxv {
		switch e.Key {
		case AT_EXECFN:
			d["execfn"] = depth(usermem.Addr(e.Value))
		case AT_PLATFORM:
			d["platform"] = depth(usermem.Addr(e.Value))
		case AT_RANDOM:
			d["random"] = depth(usermem.Addr(e.Value))
		}
	}
	return d
}

// manyEnv returns n distinct environment strings: os/exec would drop
// duplicates.
func manyEnv(n int) []string {
	envv := make([]string, n)
	for i := range envv {
		envv[i] = fmt.Sprintf("V%d=%s", i, strings.Repeat("v", i%7))
	}
	return envv
}

// TestStackMatchesLinux compares, byte position for byte position, the
// initial stack Load builds with the one the host's Linux builds for the
// same program, arguments and environment. Linux's auxv has entries
// minisentry leaves out (AT_SYSINFO_EHDR, AT_HWCAP2, AT_RSEQ_*...), so the
// test pads minisentry's with AT_IGNORE entries to the same length.
func TestStackMatchesLinux(t *testing.T) {
	prog := builtProgram(t, "stackdump")
	data := readProgram(t, "stackdump")
	for _, tc := range []struct {
		name string
		args []string
		envv []string
	}{
		{name: "short strings", args: []string{"x", "yy", "zzz"}, envv: []string{"A=1", "BB=22"}},
		{name: "no environment", args: []string{"a"}},
		{name: "no arguments", envv: []string{"HOME=/root", "TERM=xterm-256color", "LANG=C.UTF-8"}},
		{name: "long strings", args: []string{strings.Repeat("a", 300), strings.Repeat("b", 7000)}, envv: []string{strings.Repeat("C", 4097)}},
		{name: "empty strings", args: []string{"", ""}, envv: []string{"E="}},
		{name: "many strings", args: strings.Fields(strings.Repeat("a bb ccc ", 100)), envv: manyEnv(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := linuxStack(t, prog, tc.args, tc.envv)
			m := newTestMM(t)
			var extra []AuxEntry
			for i := uint64(18); i < want["nauxv"]; i++ {
				extra = append(extra, AuxEntry{Key: AT_IGNORE})
			}
			argv := append([]string{prog}, tc.args...)
			res, err := Load(ctx, m, LoadArgs{
				File: &bytesFile{data: data}, Filename: prog, Argv: argv, Envv: tc.envv,
				Random: bytes.NewReader(testRandom[:]), ExtraAuxv: extra,
			})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := loadedStack(t, m, res, stackMapping("").End, len(argv), len(tc.envv))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("depths below the top of the stack, -Linux +minisentry:\n%s", diff)
			}
		})
	}
}
