package loader

import (
	"bytes"
	"debug/elf"
	"errors"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// fuzzSeeds are small files for the fuzz targets to start from, besides the
// checked-in corpus in testdata/fuzz: a valid program of each kind and a
// dynamically linked one.
func fuzzSeeds() [][]byte {
	exec := makeELF(elfSpec{typ: elf.ET_EXEC, entry: 0x400078, size: 0x180, progs: []elf.Prog64{
		load(elf.PF_R|elf.PF_X, 0, 0x400000, 0x100, 0x100),
		load(elf.PF_R|elf.PF_W, 0x100, 0x401100, 0x80, 0x2000),
	}})
	pie := makeELF(elfSpec{typ: elf.ET_DYN, entry: 0x80, size: 0x200, progs: []elf.Prog64{
		{Type: uint32(elf.PT_PHDR), Flags: uint32(elf.PF_R), Off: 64, Vaddr: 64, Filesz: 3 * phdrSize, Memsz: 3 * phdrSize},
		load(elf.PF_R|elf.PF_X, 0, 0, 0x200, 0x1000),
		{Type: uint32(elf.PT_GNU_STACK), Flags: uint32(elf.PF_R | elf.PF_W)},
	}})
	dyn := makeELF(elfSpec{typ: elf.ET_DYN, entry: 0x80, size: 0x200, progs: []elf.Prog64{
		interp(0x1e0, 0x10),
		load(elf.PF_R|elf.PF_X, 0, 0, 0x200, 0x200),
	}})
	copy(dyn[0x1e0:], "/lib/ld.so.2\x00\x00\x00\x00")
	return [][]byte{exec, pie, dyn}
}

// FuzzParseELF feeds ParseELF hostile files: it must never panic, must
// fail only with ENOEXEC (or ErrDynamic), and what it accepts must keep
// the promises of ELFInfo.
func FuzzParseELF(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
		switch {
		case errors.Is(err, ErrDynamic):
			if info == nil || info.Interp == "" {
				t.Fatalf("ErrDynamic without an interpreter: %+v", info)
			}
		case err != nil:
			if !errors.Is(err, unix.ENOEXEC) {
				t.Fatalf("ParseELF: %v, wanted ENOEXEC", err)
			}
			return
		}
		checkInfo(t, info, len(data))
	})
}

// checkInfo checks what ELFInfo promises about a file of size bytes.
func checkInfo(t *testing.T, info *ELFInfo, size int) {
	t.Helper()
	if info.Type != elf.ET_EXEC && info.Type != elf.ET_DYN {
		t.Fatalf("Type %v", info.Type)
	}
	if info.Phentsize != phdrSize || info.Phnum < 1 || info.Phnum*phdrSize > maxPhdrBytes {
		t.Fatalf("Phentsize %d, Phnum %d", info.Phentsize, info.Phnum)
	}
	if a := info.Align; a < usermem.PageSize || a > maxAlign || a&(a-1) != 0 {
		t.Fatalf("Align %#x", a)
	}
	nonEmpty := false
	for _, s := range info.Segments {
		nonEmpty = nonEmpty || s.Memsz > 0
	}
	if !nonEmpty {
		t.Fatalf("nothing to load: %+v", info.Segments)
	}
	var end uint64
	for i, s := range info.Segments {
		if i > 0 && s.Vaddr < end {
			t.Fatalf("segment %d at %#x starts before the end of the one before, %#x", i, s.Vaddr, end)
		}
		if s.Filesz > s.Memsz || s.End() > taskSize || s.End() < s.Vaddr {
			t.Fatalf("segment %d: %+v", i, s)
		}
		if s.Filesz > 0 && s.Offset+s.Filesz > uint64(size) {
			t.Fatalf("segment %d: file bytes past the end of the %d-byte file: %+v", i, size, s)
		}
		if s.Vaddr%usermem.PageSize != s.Offset%usermem.PageSize {
			t.Fatalf("segment %d: address and offset misaligned: %+v", i, s)
		}
		end = s.End()
	}
}

// The fuzzer's memory file, shared by all its memory managers: creating
// one per input would cost more than the load.
var (
	fuzzPlatformOnce sync.Once
	fuzzPlatform     *testPlatform
)

// FuzzLoad loads what ParseELF accepts into a real memory manager: mapping
// hostile segment layouts must fail cleanly or give a program whose
// segments hold the file's bytes.
func FuzzLoad(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	fuzzPlatformOnce.Do(func() {
		mf, err := platform.NewMemoryFile(1 << 30)
		if err != nil {
			f.Fatalf("NewMemoryFile: %v", err)
		}
		fuzzPlatform = &testPlatform{mf: mf}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		m := mm.NewMemoryManager(fuzzPlatform)
		defer m.DecUsers(ctx)
		res, err := Load(ctx, m, LoadArgs{
			File:     &bytesFile{data: data},
			Filename: "fuzz",
			Argv:     []string{"fuzz"},
			Random:   bytes.NewReader(testRandom[:]),
		})
		if err != nil {
			if !errors.Is(err, unix.ENOEXEC) && !errors.Is(err, unix.ENOMEM) {
				t.Fatalf("Load: %v", err)
			}
			return
		}
		if res.StackPointer%16 != 0 {
			t.Fatalf("stack pointer %#x", res.StackPointer)
		}
		bias := uint64(res.Entry) - info.Entry
		for i, s := range info.Segments {
			// Only the first bytes: a hostile segment may be huge.
			n := min(s.Filesz, 256)
			if n == 0 {
				// Its offset may be anything.
				continue
			}
			got := make([]byte, n)
			if _, err := m.CopyIn(ctx, usermem.Addr(s.Vaddr+bias), got, usermem.IOOpts{IgnorePermissions: true}); err != nil {
				t.Fatalf("segment %d: CopyIn: %v", i, err)
			}
			if !bytes.Equal(got, data[s.Offset:s.Offset+n]) {
				t.Fatalf("segment %d at %#x: memory differs from the file", i, s.Vaddr+bias)
			}
		}
	})
}
