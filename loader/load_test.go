package loader

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

// testRandom is what the tests give Load for AT_RANDOM.
var testRandom = [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// pieBias is where chooseBias puts a position-independent program on the
// test platform: two thirds of the way up, page-aligned.
const pieBias = testMaxAddr / 3 * 2 &^ (usermem.PageSize - 1)

// mapping is a line of /proc/self/maps, reduced to what the tests check.
type mapping struct {
	Start, End usermem.Addr
	Perms      string // "r-xp"
	Name       string
}

func (mp mapping) String() string {
	return fmt.Sprintf("%#x-%#x %s %s", mp.Start, mp.End, mp.Perms, mp.Name)
}

// mappings parses m's /proc/self/maps.
func mappings(t testing.TB, m *mm.MemoryManager) []mapping {
	t.Helper()
	var mps []mapping
	for _, line := range strings.Split(strings.TrimSuffix(m.MapsText(), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("maps line %q", line)
		}
		start, end, _ := strings.Cut(f[0], "-")
		s, err1 := strconv.ParseUint(start, 16, 64)
		e, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("maps line %q", line)
		}
		mp := mapping{Start: usermem.Addr(s), End: usermem.Addr(e), Perms: f[1]}
		if len(f) > 5 {
			mp.Name = f[5]
		}
		mps = append(mps, mp)
	}
	return mps
}

// stackMappings are the last lines of maps after any Load on the test
// platform: the empty heap has no line, the stack is 8 MiB at the top.
func stackMapping(perms string) mapping {
	top := usermem.Addr(testMaxAddr - 128<<20 + 128<<20)
	return mapping{Start: top - 8<<20, End: top, Perms: perms, Name: "[stack]"}
}

// stackWant is what a loaded program's initial stack must hold.
type stackWant struct {
	argv, envv []string
	filename   string
	// keys are the auxv keys, in order, AT_NULL included.
	keys []uint64
	// top is the end of the stack mapping.
	top usermem.Addr
}

// defaultKeys are the auxv keys Load writes without extra entries.
var defaultKeys = []uint64{AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY,
	AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL}

// checkStack reads the initial stack back from m and checks it word by word
// against Linux's layout (see stackLayout), and against res.
func checkStack(t *testing.T, m *mm.MemoryManager, res LoadResult, want stackWant) map[uint64]uint64 {
	t.Helper()
	sp := res.StackPointer
	if sp%16 != 0 {
		t.Errorf("stack pointer %#x is not 16-byte aligned", sp)
	}
	if argc := readWord(t, m, sp); argc != uint64(len(want.argv)) {
		t.Errorf("argc: got %d, wanted %d", argc, len(want.argv))
	}
	// The pointer arrays: each string right after the one before.
	at := sp + 8
	readArray := func(what string, strs []string, r usermem.AddrRange) {
		next := r.Start
		for i, s := range strs {
			p := usermem.Addr(readWord(t, m, at))
			if p != next {
				t.Errorf("%s[%d] = %#x, wanted %#x, right after the string before", what, i, p, next)
			}
			if got := readString(t, m, p); got != s {
				t.Errorf("%s[%d]: got %q, wanted %q", what, i, got, s)
			}
			next = p + usermem.Addr(len(s)+1)
			at += 8
		}
		if next != r.End {
			t.Errorf("%s strings end at %#x, wanted the range's end %#x", what, next, r.End)
		}
		if w := readWord(t, m, at); w != 0 {
			t.Errorf("%s is not NULL-terminated: %#x", what, w)
		}
		at += 8
	}
	readArray("argv", want.argv, res.ArgvRange)
	readArray("envp", want.envv, res.EnvvRange)
	if res.ArgvRange.End != res.EnvvRange.Start {
		t.Errorf("argv strings end at %#x, envp strings start at %#x: not contiguous", res.ArgvRange.End, res.EnvvRange.Start)
	}

	var auxv []AuxEntry
	for {
		e := AuxEntry{Key: readWord(t, m, at), Value: readWord(t, m, at+8)}
		auxv = append(auxv, e)
		at += 16
		if e.Key == AT_NULL || len(auxv) > 100 {
			break
		}
	}
	if diff := cmp.Diff(res.Auxv, auxv); diff != "" {
		t.Errorf("auxv on the stack, -LoadResult +stack:\n%s", diff)
	}
	vals := make(map[uint64]uint64)
	var keys []uint64
	for _, e := range auxv {
		keys = append(keys, e.Key)
		vals[e.Key] = e.Value
	}
	if diff := cmp.Diff(want.keys, keys); diff != "" {
		t.Errorf("auxv keys, -want +got:\n%s", diff)
	}

	// Above the pointers, from the top down: a NULL word, the filename,
	// the strings.
	if w := readWord(t, m, want.top-8); w != 0 {
		t.Errorf("top word: got %#x, wanted 0", w)
	}
	execfn := usermem.Addr(vals[AT_EXECFN])
	if want := want.top - 8 - usermem.Addr(len(want.filename)+1); execfn != want {
		t.Errorf("AT_EXECFN: got %#x, wanted %#x", execfn, want)
	}
	if execfn != res.EnvvRange.End {
		t.Errorf("AT_EXECFN %#x is not right after the environment strings (%#x)", execfn, res.EnvvRange.End)
	}
	if got := readString(t, m, execfn); got != want.filename {
		t.Errorf("AT_EXECFN string: got %q, wanted %q", got, want.filename)
	}
	platform := usermem.Addr(vals[AT_PLATFORM])
	if want := res.ArgvRange.Start&^15 - 7; platform != want {
		t.Errorf("AT_PLATFORM: got %#x, wanted %#x", platform, want)
	}
	if got := readString(t, m, platform); got != "x86_64" {
		t.Errorf("AT_PLATFORM string: got %q", got)
	}
	random := usermem.Addr(vals[AT_RANDOM])
	if random != platform-16 {
		t.Errorf("AT_RANDOM: got %#x, wanted %#x, right below the platform string", random, platform-16)
	}
	if got := mustCopyIn(t, m, random, 16); !bytes.Equal(got, testRandom[:]) {
		t.Errorf("AT_RANDOM bytes: got %x, wanted %x", got, testRandom)
	}
	// Between the auxv and the random bytes: less than 16 bytes of zeros.
	if random < at || random-at >= 16 {
		t.Errorf("padding between the auxv's end %#x and AT_RANDOM %#x is not 0 to 15 bytes", at, random)
	} else if pad := mustCopyIn(t, m, at, int(random-at)); !bytes.Equal(pad, make([]byte, len(pad))) {
		t.Errorf("padding is not zero: %x", pad)
	}
	return vals
}

// checkSegments checks that m holds the segments of the program data as
// ParseELF described them in info, moved by bias: file bytes, then zeros
// up to the end of the page if there is a bss.
func checkSegments(t *testing.T, m *mm.MemoryManager, data []byte, info *ELFInfo, bias uint64) {
	t.Helper()
	for i, s := range info.Segments {
		start := usermem.Addr(s.Vaddr + bias)
		if got := mustCopyIn(t, m, start, int(s.Filesz)); !bytes.Equal(got, data[s.Offset:s.Offset+s.Filesz]) {
			t.Errorf("segment %d at %#x: memory differs from the file", i, start)
		}
		if s.Memsz > s.Filesz {
			fileEnd := start + usermem.Addr(s.Filesz)
			end := (start + usermem.Addr(s.Memsz)).MustRoundUp()
			if got := mustCopyIn(t, m, fileEnd, int(end-fileEnd)); !bytes.Equal(got, make([]byte, len(got))) {
				t.Errorf("segment %d: bss [%#x, %#x) is not zero", i, fileEnd, end)
			}
		}
	}
}

// TestLoadRealPrograms loads gcc's static and static-PIE programs.
func TestLoadRealPrograms(t *testing.T) {
	for _, tc := range []struct {
		name string
		bias uint64
	}{
		{name: "hello-static", bias: 0},
		{name: "hello-static-pie", bias: pieBias},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := readProgram(t, tc.name)
			info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("ParseELF: %v", err)
			}
			m := newTestMM(t)
			args := LoadArgs{
				File:     &bytesFile{data: data},
				Filename: "./" + tc.name,
				Argv:     []string{tc.name, "one", "", "three four"},
				Envv:     []string{"PATH=/bin", "EMPTY=", "X=y"},
				Creds:    Credentials{UID: 1000, EUID: 1001, GID: 100, EGID: 101},
				Random:   bytes.NewReader(testRandom[:]),
			}
			res, err := Load(ctx, m, args)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if want := usermem.Addr(info.Entry + tc.bias); res.Entry != want {
				t.Errorf("Entry: got %#x, wanted %#x", res.Entry, want)
			}
			checkSegments(t, m, data, info, tc.bias)
			last := info.Segments[len(info.Segments)-1]
			if want := usermem.Addr(last.End() + tc.bias).MustRoundUp(); res.BrkStart != want {
				t.Errorf("BrkStart: got %#x, wanted %#x", res.BrkStart, want)
			}
			if brk, _ := m.Brk(ctx, 0); brk != res.BrkStart {
				t.Errorf("the memory manager's break is %#x, wanted %#x", brk, res.BrkStart)
			}

			stack := stackMapping("rw-p")
			vals := checkStack(t, m, res, stackWant{argv: args.Argv, envv: args.Envv, filename: args.Filename, keys: defaultKeys, top: stack.End})
			phdrs := data[info.Phoff : info.Phoff+uint64(info.Phnum*phdrSize)]
			if got := mustCopyIn(t, m, usermem.Addr(vals[AT_PHDR]), len(phdrs)); !bytes.Equal(got, phdrs) {
				t.Errorf("AT_PHDR %#x does not point to the program headers", vals[AT_PHDR])
			}
			wantVals := map[uint64]uint64{
				AT_PHDR: info.Phdr + tc.bias, AT_PHENT: 56, AT_PHNUM: uint64(info.Phnum), AT_PAGESZ: 4096,
				AT_ENTRY: uint64(res.Entry), AT_BASE: 0, AT_FLAGS: 0, AT_UID: 1000, AT_EUID: 1001,
				AT_GID: 100, AT_EGID: 101, AT_SECURE: 0, AT_CLKTCK: 100, AT_HWCAP: hostHWCap(),
			}
			for k, v := range wantVals {
				if vals[k] != v {
					t.Errorf("auxv key %d: got %#x, wanted %#x", k, vals[k], v)
				}
			}
			if got := mappings(t, m); got[len(got)-1] != stack {
				t.Errorf("last mapping: got %v, wanted %v", got[len(got)-1], stack)
			}
		})
	}
}

func TestHostHWCap(t *testing.T) {
	// Every x86-64 CPU has FPU (bit 0), TSC (4), CX8 (8), CMOV (15) and
	// SSE2 (26).
	const want = 1<<0 | 1<<4 | 1<<8 | 1<<15 | 1<<26
	if got := hostHWCap(); got&want != want {
		t.Errorf("hostHWCap() = %#x, lacks bits %#x", got, want&^got)
	}
}

// region is a range of memory a test expects to hold file bytes (from
// offset off) or zeros.
type region struct {
	start, end usermem.Addr
	zero       bool
	off        int
}

func fileRegion(start, end usermem.Addr, off int) region {
	return region{start: start, end: end, off: off}
}

func zeroRegion(start, end usermem.Addr) region {
	return region{start: start, end: end, zero: true}
}

// TestLoadSegments loads crafted programs and checks the memory and
// mappings of their segments.
func TestLoadSegments(t *testing.T) {
	const name = "/bin/prog"
	for _, tc := range []struct {
		name    string
		progs   []elf.Prog64
		size    int
		memory  []region
		mapping []mapping
	}{{
		name: "bss after data",
		progs: []elf.Prog64{
			load(elf.PF_R|elf.PF_X, 0, 0x400000, 0x1000, 0x1000),
			load(elf.PF_R|elf.PF_W, 0x1100, 0x401100, 0x100, 0x3000),
		},
		size: 0x1400,
		memory: []region{
			fileRegion(0x400000, 0x401000, 0),
			// Before p_offset on the first page: the file's bytes, as
			// on Linux.
			fileRegion(0x401000, 0x401200, 0x1000),
			// The rest of the page would hold the file's bytes
			// 0x1200-0x1400: zeroed.
			zeroRegion(0x401200, 0x405000),
		},
		mapping: []mapping{
			{0x400000, 0x401000, "r-xp", name},
			{0x401000, 0x402000, "rw-p", name},
			{0x402000, 0x405000, "rw-p", ""},
		},
	}, {
		name: "bss of a read-only segment",
		progs: []elf.Prog64{
			load(elf.PF_R, 0x0, 0x400000, 0x80, 0x1800),
		},
		size: 0x1000,
		memory: []region{
			fileRegion(0x400000, 0x400080, 0),
			zeroRegion(0x400080, 0x402000),
		},
		mapping: []mapping{
			{0x400000, 0x401000, "r--p", name},
			{0x401000, 0x402000, "rw-p", ""},
		},
	}, {
		name: "bss of an executable segment",
		progs: []elf.Prog64{
			load(elf.PF_R|elf.PF_X, 0x0, 0x400000, 0x80, 0x1800),
		},
		size: 0x1000,
		memory: []region{
			fileRegion(0x400000, 0x400080, 0),
			zeroRegion(0x400080, 0x402000),
		},
		mapping: []mapping{
			{0x400000, 0x401000, "r-xp", name},
			{0x401000, 0x402000, "rwxp", ""},
		},
	}, {
		name: "no bss: the rest of the page keeps the file's bytes",
		progs: []elf.Prog64{
			load(elf.PF_R, 0x0, 0x400000, 0x80, 0x80),
		},
		size: 0x1000,
		memory: []region{
			fileRegion(0x400000, 0x401000, 0),
		},
		mapping: []mapping{
			{0x400000, 0x401000, "r--p", name},
		},
	}, {
		name: "file ends inside the last page",
		progs: []elf.Prog64{
			load(elf.PF_R|elf.PF_W, 0x0, 0x400000, 0x80, 0x80),
		},
		size: 0x100,
		memory: []region{
			fileRegion(0x400000, 0x400100, 0),
			zeroRegion(0x400100, 0x401000),
		},
		mapping: []mapping{
			{0x400000, 0x401000, "rw-p", name},
		},
	}, {
		name: "segment of bss only, starting inside a page",
		progs: []elf.Prog64{
			load(elf.PF_R|elf.PF_X, 0, 0x400000, 0x100, 0x100),
			load(elf.PF_R, 0x1800, 0x401800, 0, 0x1000),
		},
		size: 0x1000,
		memory: []region{
			fileRegion(0x400000, 0x401000, 0),
			zeroRegion(0x401000, 0x403000),
		},
		mapping: []mapping{
			{0x400000, 0x401000, "r-xp", name},
			{0x401000, 0x403000, "rw-p", ""},
		},
	}, {
		name: "two segments share a page",
		progs: []elf.Prog64{
			load(elf.PF_R|elf.PF_W, 0x1000, 0x401000, 0x100, 0x800),
			load(elf.PF_R, 0x1900, 0x401900, 0x900, 0x900),
		},
		size: 0x3000,
		memory: []region{
			fileRegion(0x401000, 0x401100, 0x1000),
			// The first segment's bss, and the rest of its page up to
			// the second: zeros, not the file's bytes.
			zeroRegion(0x401100, 0x401900),
			fileRegion(0x401900, 0x402200, 0x1900),
			// No bss in the second: the file's bytes.
			fileRegion(0x402200, 0x403000, 0x2200),
		},
		mapping: []mapping{
			{0x401000, 0x402000, "rw-p", name},
			{0x402000, 0x403000, "r--p", name},
		},
	}, {
		name: "a page shared by a segment and a bss-only one",
		progs: []elf.Prog64{
			load(elf.PF_R|elf.PF_W, 0x1000, 0x401000, 0x100, 0x100),
			load(elf.PF_R|elf.PF_W, 0x1800, 0x401800, 0, 0x1000),
		},
		size: 0x2000,
		memory: []region{
			fileRegion(0x401000, 0x401800, 0x1000),
			zeroRegion(0x401800, 0x403000),
		},
		mapping: []mapping{
			{0x401000, 0x402000, "rw-p", name},
			{0x402000, 0x403000, "rw-p", ""},
		},
	}, {
		name: "three segments in one page",
		progs: []elf.Prog64{
			load(elf.PF_R, 0x1000, 0x401000, 0x100, 0x100),
			load(elf.PF_R, 0x1200, 0x401200, 0x100, 0x200),
			load(elf.PF_R, 0x1500, 0x401500, 0x100, 0x100),
		},
		size: 0x2000,
		memory: []region{
			fileRegion(0x401000, 0x401300, 0x1000),
			zeroRegion(0x401300, 0x401500),
			fileRegion(0x401500, 0x401600, 0x1500),
			// The second segment's bss zeroed to the end of the page,
			// as Linux does, before the third copied its bytes in.
			zeroRegion(0x401600, 0x402000),
		},
		mapping: []mapping{
			{0x401000, 0x402000, "r--p", name},
		},
	}, {
		name: "empty segments are skipped",
		progs: []elf.Prog64{
			load(elf.PF_R, 0, 0x400000, 0, 0),
			load(elf.PF_R, 0x1000, 0x401000, 0x10, 0x10),
			load(elf.PF_R|elf.PF_W|elf.PF_X, 0x1000, 0x402000, 0, 0),
		},
		size: 0x1100,
		memory: []region{
			fileRegion(0x401000, 0x401100, 0x1000),
		},
		mapping: []mapping{
			{0x401000, 0x402000, "r--p", name},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			data := makeELF(elfSpec{typ: elf.ET_EXEC, entry: tc.progs[0].Vaddr, progs: tc.progs, size: tc.size})
			m := newTestMM(t)
			if _, err := Load(ctx, m, LoadArgs{File: &bytesFile{data: data}, Filename: "prog", Random: bytes.NewReader(testRandom[:])}); err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, r := range tc.memory {
				want := make([]byte, r.end-r.start)
				if !r.zero {
					copy(want, data[r.off:])
				}
				got := mustCopyIn(t, m, r.start, len(want))
				if i := firstDiff(got, want); i >= 0 {
					t.Errorf("[%#x, %#x): byte at %#x is %#x, wanted %#x", r.start, r.end, r.start+usermem.Addr(i), got[i], want[i])
				}
			}
			got := mappings(t, m)
			want := append(tc.mapping, stackMapping("rw-p"))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("maps, -want +got:\n%s", diff)
			}
		})
	}
}

// TestLoadPIE loads a crafted position-independent program and checks that
// everything moved.
func TestLoadPIE(t *testing.T) {
	for _, tc := range []struct {
		name     string
		align    uint64
		wantBase uint64
	}{
		{name: "page-aligned", align: usermem.PageSize, wantBase: pieBias},
		{name: "2 MiB-aligned", align: 2 << 20, wantBase: pieBias &^ (2<<20 - 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			progs := []elf.Prog64{
				load(elf.PF_R, 0, 0, 0x200, 0x200),
				load(elf.PF_R|elf.PF_X, 0x1000, 0x1000, 0x100, 0x100),
				load(elf.PF_R|elf.PF_W, 0x1100, 0x2100, 0x100, 0x2000),
			}
			progs[1].Align = tc.align
			data := makeELF(elfSpec{typ: elf.ET_DYN, entry: 0x1010, progs: progs, size: 0x1200})
			m := newTestMM(t)
			res, err := Load(ctx, m, LoadArgs{File: &bytesFile{data: data}, Filename: "pie", Argv: []string{"pie"}, Random: bytes.NewReader(testRandom[:])})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			base := usermem.Addr(tc.wantBase)
			if res.Entry != base+0x1010 {
				t.Errorf("Entry: got %#x, wanted %#x", res.Entry, base+0x1010)
			}
			if res.BrkStart != base+0x5000 {
				t.Errorf("BrkStart: got %#x, wanted %#x", res.BrkStart, base+0x5000)
			}
			info, _ := ParseELF(bytes.NewReader(data), int64(len(data)))
			checkSegments(t, m, data, info, tc.wantBase)
			vals := checkStack(t, m, res, stackWant{argv: []string{"pie"}, filename: "pie", keys: defaultKeys, top: stackMapping("").End})
			if vals[AT_PHDR] != uint64(base)+ehdrSize || vals[AT_ENTRY] != uint64(res.Entry) {
				t.Errorf("AT_PHDR %#x, AT_ENTRY %#x: not moved to base %#x", vals[AT_PHDR], vals[AT_ENTRY], base)
			}
			want := []mapping{
				{base, base + 0x1000, "r--p", "/bin/prog"},
				{base + 0x1000, base + 0x2000, "r-xp", "/bin/prog"},
				{base + 0x2000, base + 0x3000, "rw-p", "/bin/prog"},
				{base + 0x3000, base + 0x5000, "rw-p", ""},
				stackMapping("rw-p"),
			}
			if diff := cmp.Diff(want, mappings(t, m)); diff != "" {
				t.Errorf("maps, -want +got:\n%s", diff)
			}
		})
	}
}

// TestLoadStack checks the initial stack for various arguments: the
// strings' lengths move every padding around.
func TestLoadStack(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name      string
		argv      []string
		envv      []string
		filename  string
		extra     []AuxEntry
		wantArgv  []string
		wantKeysF func() []uint64
	}{
		{name: "typical", argv: []string{"/bin/ls", "-l"}, envv: []string{"HOME=/root", "TERM=xterm"}, filename: "/bin/ls"},
		{name: "empty argv gets an empty argv[0]", argv: nil, envv: []string{"A=1"}, filename: "prog", wantArgv: []string{""}},
		{name: "no environment", argv: []string{"a"}, filename: "a"},
		{name: "empty strings", argv: []string{"", "", ""}, envv: []string{"", ""}, filename: ""},
		{name: "odd lengths 1", argv: []string{"a"}, envv: []string{"bb"}, filename: "ccc"},
		{name: "odd lengths 2", argv: []string{"aaaa", "b"}, envv: []string{"ccccccc"}, filename: "dddddddddddddddd"},
		{name: "odd lengths 3", argv: []string{"aaaaaaaaa"}, envv: []string{"b", "cc", "ddd"}, filename: "e"},
		{name: "long strings span pages", argv: []string{long, long}, envv: []string{long}, filename: long[:4000]},
		{name: "many strings", argv: strings.Split(strings.Repeat("arg ", 300), " "), envv: strings.Split(strings.Repeat("E=v ", 200), " "), filename: "p"},
		{name: "extra auxv entries come first", argv: []string{"p"}, filename: "p",
			extra:     []AuxEntry{{AT_SYSINFO_EHDR, 0x7fff00000000}, {AT_MINSIGSTKSZ, 2048}},
			wantKeysF: func() []uint64 { return append([]uint64{AT_SYSINFO_EHDR, AT_MINSIGSTKSZ}, defaultKeys...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := makeELF(goodSpec())
			m := newTestMM(t)
			res, err := Load(ctx, m, LoadArgs{
				File: &bytesFile{data: data}, Filename: tc.filename, Argv: tc.argv, Envv: tc.envv,
				Random: bytes.NewReader(testRandom[:]), ExtraAuxv: tc.extra,
			})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := stackWant{argv: tc.argv, envv: tc.envv, filename: tc.filename, keys: defaultKeys, top: stackMapping("").End}
			if tc.wantArgv != nil {
				want.argv = tc.wantArgv
			}
			if tc.wantKeysF != nil {
				want.keys = tc.wantKeysF()
			}
			vals := checkStack(t, m, res, want)
			for _, e := range tc.extra {
				if vals[e.Key] != e.Value {
					t.Errorf("extra auxv key %d: got %#x, wanted %#x", e.Key, vals[e.Key], e.Value)
				}
			}
		})
	}
}

// TestLoadExecutableStack checks PT_GNU_STACK's PF_X.
func TestLoadExecutableStack(t *testing.T) {
	s := goodSpec()
	s.progs[3].Flags |= uint32(elf.PF_X)
	m := newTestMM(t)
	if _, err := Load(ctx, m, LoadArgs{File: &bytesFile{data: makeELF(s)}, Random: bytes.NewReader(testRandom[:])}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := mappings(t, m)
	if want := stackMapping("rwxp"); got[len(got)-1] != want {
		t.Errorf("stack: got %v, wanted %v", got[len(got)-1], want)
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, unix.EIO }

// TestLoadErrors checks Load's refusals.
func TestLoadErrors(t *testing.T) {
	sizeErr := errors.New("size unknown")
	withSpec := func(change func(*elfSpec)) *bytesFile {
		s := goodSpec()
		change(&s)
		return &bytesFile{data: makeELF(s)}
	}
	good := &bytesFile{data: makeELF(goodSpec())}
	for _, tc := range []struct {
		name    string
		args    LoadArgs
		limits  func(*mm.Limits)
		wantErr error
	}{
		{name: "not ELF", args: LoadArgs{File: &bytesFile{data: []byte("#!/bin/sh\necho hi\n")}}, wantErr: unix.ENOEXEC},
		{name: "size error", args: LoadArgs{File: &bytesFile{data: good.data, sizeErr: sizeErr}}, wantErr: sizeErr},
		{name: "malformed PT_INTERP", args: LoadArgs{File: withSpec(func(s *elfSpec) {
			s.progs[3] = interp(0x1f00, 0x10)
			s.size = 0x2200
		})}, wantErr: unix.ENOEXEC},
		{name: "below the lowest address", args: LoadArgs{File: withSpec(func(s *elfSpec) {
			s.progs[0].Vaddr = 0x1000
			s.progs[0].Off = 0
		})}, wantErr: unix.ENOEXEC},
		{name: "above the highest address", args: LoadArgs{File: withSpec(func(s *elfSpec) {
			s.progs[2].Vaddr = testMaxAddr + 0x100
			s.progs[2].Off = 0x100
		})}, wantErr: unix.ENOEXEC},
		{name: "entry outside the address space", args: LoadArgs{File: withSpec(func(s *elfSpec) {
			s.entry = testMaxAddr
		})}, wantErr: unix.ENOEXEC},
		{name: "over the stack", args: LoadArgs{File: withSpec(func(s *elfSpec) {
			s.progs[2].Vaddr = testMaxAddr - 0x100000 + 0x100
			s.progs[2].Off = 0x100
		})}, wantErr: unix.ENOMEM},
		{name: "random source fails", args: LoadArgs{File: good, Random: errReader{}}, wantErr: unix.EIO},
		{name: "string too long", args: LoadArgs{File: good, Argv: []string{strings.Repeat("a", maxArgStrlen)}}, wantErr: unix.E2BIG},
		{name: "strings over the limit", args: LoadArgs{File: good, Envv: []string{strings.Repeat("a", 60000), strings.Repeat("b", 60000), strings.Repeat("c", 60000)}}, limits: func(l *mm.Limits) { l.Stack = 256 << 10 }, wantErr: unix.E2BIG},
		{name: "stack too small for ARG_MAX", args: LoadArgs{File: good, Envv: []string{strings.Repeat("a", 100000)}}, limits: func(l *mm.Limits) { l.Stack = 64 << 10 }, wantErr: unix.E2BIG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMM(t)
			if tc.limits != nil {
				l := m.Limits()
				tc.limits(&l)
				m.SetLimits(l)
			}
			if tc.args.Random == nil {
				tc.args.Random = bytes.NewReader(testRandom[:])
			}
			_, err := Load(ctx, m, tc.args)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Load: got %v, wanted %v", err, tc.wantErr)
			}
		})
	}
}

// TestLoadDynamic checks that a dynamically linked program is refused with
// ErrDynamic and leaves nothing mapped.
func TestLoadDynamic(t *testing.T) {
	data := readProgram(t, "hello-dynamic")
	m := newTestMM(t)
	_, err := Load(ctx, m, LoadArgs{File: &bytesFile{data: data}, Filename: "hello-dynamic"})
	if !errors.Is(err, ErrDynamic) {
		t.Fatalf("Load: got %v, wanted ErrDynamic", err)
	}
	if maps := m.MapsText(); maps != "" {
		t.Errorf("Load mapped something:\n%s", maps)
	}
}

func TestCheckArgLimits(t *testing.T) {
	const page = usermem.PageSize
	for _, tc := range []struct {
		name      string
		filename  string
		argv      []string
		envv      []string
		rlimStack uint64
		wantErr   bool
	}{
		{name: "small", filename: "p", argv: []string{"p"}, rlimStack: 8 << 20},
		{name: "longest string", argv: []string{strings.Repeat("a", maxArgStrlen-1)}, rlimStack: 8 << 20},
		{name: "string one byte too long", argv: []string{strings.Repeat("a", maxArgStrlen)}, rlimStack: 8 << 20, wantErr: true},
		{name: "long filename", filename: strings.Repeat("a", maxArgStrlen), argv: []string{"p"}, rlimStack: 8 << 20, wantErr: true},
		// A quarter of 8 MiB is 2 MiB; "p" counts 2 bytes, the
		// filename 1, each pointer 8.
		{name: "exactly the limit", argv: []string{"p"}, envv: fill(2<<20-8*17-3, 16), rlimStack: 8 << 20},
		{name: "one byte over the limit", argv: []string{"p"}, envv: fill(2<<20-8*17-2, 16), rlimStack: 8 << 20, wantErr: true},
		// A tiny stack still allows ARG_MAX (128 KiB).
		{name: "ARG_MAX with a tiny stack", argv: []string{"p"}, envv: fill(32*page-8*3-3, 2), rlimStack: 4 * page},
		{name: "over ARG_MAX with a tiny stack", argv: []string{"p"}, envv: fill(32*page-8*3-2, 2), rlimStack: 4 * page, wantErr: true},
		// An unlimited stack allows 6 MiB.
		{name: "6 MiB when unlimited", argv: []string{"p"}, envv: fill(6<<20-8*65-3, 64), rlimStack: mm.RLimInfinity},
		{name: "over 6 MiB when unlimited", argv: []string{"p"}, envv: fill(6<<20-8*65-2, 64), rlimStack: mm.RLimInfinity, wantErr: true},
		{name: "pointers alone over the limit", argv: make([]string, 32*page/8), rlimStack: 4 * page, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkArgLimits(tc.filename, tc.argv, tc.envv, tc.rlimStack)
			if tc.wantErr != errors.Is(err, unix.E2BIG) || (!tc.wantErr && err != nil) {
				t.Errorf("checkArgLimits: got %v, wanted E2BIG: %t", err, tc.wantErr)
			}
		})
	}
}

// firstDiff returns the index of the first byte where a and b differ, or
// -1. They have the same length.
func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// fill returns n strings that take total bytes with their NULs.
func fill(total, n int) []string {
	ss := make([]string, n)
	for i := range ss {
		l := total / n
		if i == 0 {
			l += total % n
		}
		ss[i] = strings.Repeat("e", l-1)
	}
	return ss
}
