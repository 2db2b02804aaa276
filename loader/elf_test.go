package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// wantInfo is what ParseELF should say about a real program, worked out with
// debug/elf, an independent reader.
func wantInfo(t *testing.T, data []byte) *ELFInfo {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("debug/elf: %v", err)
	}
	phoff := binary.LittleEndian.Uint64(data[32:])
	info := &ELFInfo{
		Type:       f.Type,
		Entry:      f.Entry,
		Phoff:      phoff,
		Phentsize:  phdrSize,
		Phnum:      len(f.Progs),
		StackPerms: usermem.ReadWrite,
		Align:      usermem.PageSize,
	}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			info.Segments = append(info.Segments, Segment{
				Vaddr:  p.Vaddr,
				Offset: p.Off,
				Filesz: p.Filesz,
				Memsz:  p.Memsz,
				Perms:  usermem.AccessType{Read: p.Flags&elf.PF_R != 0, Write: p.Flags&elf.PF_W != 0, Execute: p.Flags&elf.PF_X != 0},
			})
			if info.Phdr == 0 && p.Off <= phoff && phoff < p.Off+p.Filesz {
				info.Phdr = p.Vaddr + phoff - p.Off
			}
		case elf.PT_INTERP:
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			info.Interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	return info
}

func TestParseELFRealPrograms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     elf.Type
		wantErr error
	}{
		{name: "hello-static", typ: elf.ET_EXEC},
		{name: "hello-static-pie", typ: elf.ET_DYN},
		{name: "hello-dynamic", typ: elf.ET_DYN, wantErr: ErrDynamic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := readProgram(t, tc.name)
			info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("ParseELF: got error %v, wanted %v", err, tc.wantErr)
			}
			if tc.wantErr != nil && err.Error() == tc.wantErr.Error() {
				t.Errorf("ParseELF: error %q does not name the interpreter", err)
			}
			want := wantInfo(t, data)
			if diff := cmp.Diff(want, info); diff != "" {
				t.Errorf("ParseELF: -want +got:\n%s", diff)
			}
			if info.Type != tc.typ {
				t.Errorf("Type: got %v, wanted %v", info.Type, tc.typ)
			}
			if info.Phdr == 0 {
				t.Errorf("Phdr: the program headers of a gcc program are in its first segment")
			}
		})
	}
}

func TestParseELFDynamicMessage(t *testing.T) {
	data := readProgram(t, "hello-dynamic")
	_, err := ParseELF(bytes.NewReader(data), int64(len(data)))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("dynamically linked programs are not supported yet")) {
		t.Errorf("ParseELF: got %v, wanted the ErrDynamic message", err)
	}
}

// goodSpec is a small valid program: a header page with the program
// headers, a page of code, and a data page with a bss.
func goodSpec() elfSpec {
	return elfSpec{
		typ:   elf.ET_EXEC,
		entry: 0x401000,
		progs: []elf.Prog64{
			load(elf.PF_R, 0, 0x400000, 0x200, 0x200),
			load(elf.PF_R|elf.PF_X, 0x1000, 0x401000, 0x100, 0x100),
			load(elf.PF_R|elf.PF_W, 0x2100, 0x402100, 0x100, 0x3000),
			{Type: uint32(elf.PT_GNU_STACK), Flags: uint32(elf.PF_R | elf.PF_W)},
		},
		size: 0x2200,
	}
}

func TestParseELFGood(t *testing.T) {
	data := makeELF(goodSpec())
	info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("ParseELF: %v", err)
	}
	want := &ELFInfo{
		Type:      elf.ET_EXEC,
		Entry:     0x401000,
		Phoff:     ehdrSize,
		Phentsize: phdrSize,
		Phnum:     4,
		Phdr:      0x400040,
		Segments: []Segment{
			{Vaddr: 0x400000, Offset: 0, Filesz: 0x200, Memsz: 0x200, Perms: usermem.Read},
			{Vaddr: 0x401000, Offset: 0x1000, Filesz: 0x100, Memsz: 0x100, Perms: usermem.AccessType{Read: true, Execute: true}},
			{Vaddr: 0x402100, Offset: 0x2100, Filesz: 0x100, Memsz: 0x3000, Perms: usermem.ReadWrite},
		},
		StackPerms: usermem.ReadWrite,
		Align:      usermem.PageSize,
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("ParseELF: -want +got:\n%s", diff)
	}
}

// TestParseELFFields checks the fields besides PT_LOAD that ParseELF reads.
func TestParseELFFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *elfSpec)
		check  func(t *testing.T, info *ELFInfo)
	}{{
		name: "executable stack",
		change: func(s *elfSpec) {
			s.progs[3].Flags = uint32(elf.PF_R | elf.PF_W | elf.PF_X)
		},
		check: func(t *testing.T, info *ELFInfo) {
			if info.StackPerms != usermem.AnyAccess {
				t.Errorf("StackPerms: got %v, wanted rwx", info.StackPerms)
			}
		},
	}, {
		name: "no PT_GNU_STACK",
		change: func(s *elfSpec) {
			s.progs[3].Type = uint32(elf.PT_NOTE)
		},
		check: func(t *testing.T, info *ELFInfo) {
			if info.StackPerms != usermem.ReadWrite {
				t.Errorf("StackPerms: got %v, wanted rw-", info.StackPerms)
			}
		},
	}, {
		name: "PT_PHDR when no segment holds the headers",
		change: func(s *elfSpec) {
			s.progs[0] = load(elf.PF_R, 0x1000, 0x400000, 0, 0x200)
			s.progs[3] = elf.Prog64{Type: uint32(elf.PT_PHDR), Vaddr: 0x500040}
		},
		check: func(t *testing.T, info *ELFInfo) {
			if info.Phdr != 0x500040 {
				t.Errorf("Phdr: got %#x, wanted PT_PHDR's 0x500040", info.Phdr)
			}
		},
	}, {
		name: "headers not loaded at all",
		change: func(s *elfSpec) {
			s.progs[0] = load(elf.PF_R, 0x1000, 0x400000, 0, 0x200)
		},
		check: func(t *testing.T, info *ELFInfo) {
			if info.Phdr != 0 {
				t.Errorf("Phdr: got %#x, wanted 0", info.Phdr)
			}
		},
	}, {
		name: "large power-of-two alignment",
		change: func(s *elfSpec) {
			s.progs[1].Align = 0x200000
			s.progs[2].Align = 0x3000 // not a power of two: ignored
		},
		check: func(t *testing.T, info *ELFInfo) {
			if info.Align != 0x200000 {
				t.Errorf("Align: got %#x, wanted 0x200000", info.Align)
			}
		},
	}, {
		name: "absurd alignment",
		change: func(s *elfSpec) {
			s.progs[1].Align = 1 << 62
		},
		check: func(t *testing.T, info *ELFInfo) {
			if info.Align != usermem.PageSize {
				t.Errorf("Align: got %#x, wanted a page", info.Align)
			}
		},
	}, {
		name: "empty segment in between",
		change: func(s *elfSpec) {
			s.progs[3] = s.progs[2]
			s.progs[2] = load(elf.PF_R, 0x2000, 0x402000, 0, 0)
		},
		check: func(t *testing.T, info *ELFInfo) {
			if len(info.Segments) != 4 {
				t.Errorf("Segments: got %d, wanted 4", len(info.Segments))
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSpec()
			tc.change(&s)
			data := makeELF(s)
			info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("ParseELF: %v", err)
			}
			tc.check(t, info)
		})
	}
}

// TestParseELFBad breaks a valid file one field at a time: each must give
// ENOEXEC, without a panic.
func TestParseELFBad(t *testing.T) {
	type file struct {
		hdr   elf.Header64
		progs []elf.Prog64
		size  int
	}
	for _, tc := range []struct {
		name   string
		change func(f *file)
	}{
		{"magic", func(f *file) { f.hdr.Ident[1] = 'F' }},
		{"ELFCLASS32", func(f *file) { f.hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS32) }},
		{"ELFCLASSNONE", func(f *file) { f.hdr.Ident[elf.EI_CLASS] = 0 }},
		{"big-endian", func(f *file) { f.hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB) }},
		{"ident version", func(f *file) { f.hdr.Ident[elf.EI_VERSION] = 2 }},
		{"machine i386", func(f *file) { f.hdr.Machine = uint16(elf.EM_386) }},
		{"machine aarch64", func(f *file) { f.hdr.Machine = uint16(elf.EM_AARCH64) }},
		{"ET_REL", func(f *file) { f.hdr.Type = uint16(elf.ET_REL) }},
		{"ET_CORE", func(f *file) { f.hdr.Type = uint16(elf.ET_CORE) }},
		{"ET_NONE", func(f *file) { f.hdr.Type = uint16(elf.ET_NONE) }},
		{"phentsize 32-bit", func(f *file) { f.hdr.Phentsize = 32 }},
		{"phentsize 57", func(f *file) { f.hdr.Phentsize = 57 }},
		{"phnum 0", func(f *file) { f.hdr.Phnum = 0 }},
		{"phnum 74", func(f *file) { f.hdr.Phnum = 74 }},
		{"phnum 0xffff", func(f *file) { f.hdr.Phnum = 0xffff }},
		{"phoff past EOF", func(f *file) { f.hdr.Phoff = 0x10000 }},
		{"phoff huge", func(f *file) { f.hdr.Phoff = 1<<64 - 8 }},
		{"phdrs straddle EOF", func(f *file) { f.hdr.Phoff = uint64(f.size) - phdrSize }},
		{"file too short", func(f *file) { f.size = ehdrSize - 1 }},
		{"empty file", func(f *file) { f.size = 0 }},
		{"no PT_LOAD", func(f *file) {
			for i := range f.progs {
				f.progs[i].Type = uint32(elf.PT_NOTE)
			}
		}},
		{"only empty PT_LOADs", func(f *file) {
			for i := range f.progs[:3] {
				f.progs[i].Filesz, f.progs[i].Memsz = 0, 0
			}
		}},
		{"filesz > memsz", func(f *file) { f.progs[2].Filesz = f.progs[2].Memsz + 1 }},
		{"offset past EOF", func(f *file) { f.progs[1].Off = 0x10000 }},
		{"file bytes past EOF", func(f *file) { f.progs[2].Filesz = 0x200 }},
		{"offset+filesz wraps", func(f *file) {
			f.progs[1].Off = 1<<64 - 0x1000
			f.progs[1].Vaddr = 0x401000
		}},
		{"vaddr+memsz wraps", func(f *file) {
			f.progs[2].Vaddr = 1<<64 - 0xf00
			f.progs[2].Off = 0x100
		}},
		{"memsz huge", func(f *file) { f.progs[2].Memsz = 1 << 63 }},
		{"segment above user range", func(f *file) {
			f.progs[2].Vaddr = taskSize + 0x100
		}},
		{"segment ends past user range", func(f *file) {
			f.progs[2].Vaddr = taskSize - 0x1f00
			f.progs[2].Memsz = 0x3000
		}},
		{"vaddr and offset misaligned", func(f *file) { f.progs[1].Vaddr = 0x401010 }},
		{"out of order", func(f *file) { f.progs[0], f.progs[1] = f.progs[1], f.progs[0] }},
		{"overlap", func(f *file) { f.progs[2].Vaddr = 0x401000 - 0x2000 + 0x100 }},
		{"overlap by one byte", func(f *file) {
			f.progs[1].Memsz = 0x1101
			f.progs[2].Vaddr = 0x402100
		}},
		{"same address", func(f *file) {
			f.progs[2].Vaddr = 0x401000
			f.progs[2].Off = 0x1000
		}},
		{"interp too short", func(f *file) { f.progs[3] = interp(0x1f00, 1) }},
		{"interp too long", func(f *file) { f.progs[3] = interp(0x1f00, pathMax+1) }},
		{"interp past EOF", func(f *file) { f.progs[3] = interp(0x2180, 0x100) }},
		{"interp not NUL-terminated", func(f *file) { f.progs[3] = interp(0x1f00, 0x10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSpec()
			f := file{hdr: validHeader(s.typ, s.entry, len(s.progs)), progs: s.progs, size: s.size}
			tc.change(&f)
			data := makeELF(s)
			var w bytes.Buffer
			binary.Write(&w, binary.LittleEndian, &f.hdr)
			binary.Write(&w, binary.LittleEndian, f.progs)
			copy(data, w.Bytes())
			if f.size < len(data) {
				data = data[:f.size]
			}
			info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, unix.ENOEXEC) {
				t.Errorf("ParseELF: got (%+v, %v), wanted ENOEXEC", info, err)
			}
		})
	}
}

// interp returns a PT_INTERP header for filesz bytes at off.
func interp(off, filesz uint64) elf.Prog64 {
	return elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: off, Filesz: filesz}
}

// TestParseELFInterp checks PT_INTERP's path: a good one gives ErrDynamic
// and the path, an empty one ENOEXEC.
func TestParseELFInterp(t *testing.T) {
	for _, tc := range []struct {
		path    string
		wantErr error
	}{
		{"/lib64/ld-linux-x86-64.so.2\x00", ErrDynamic},
		{"/lib/ld-musl-x86_64.so.1\x00\x00\x00", ErrDynamic},
		{"\x00\x00", unix.ENOEXEC},
		{"\x00/x\x00", unix.ENOEXEC},
	} {
		t.Run(tc.path, func(t *testing.T) {
			s := goodSpec()
			s.progs[3] = interp(0x1f00, uint64(len(tc.path)))
			data := makeELF(s)
			copy(data[0x1f00:], tc.path)
			info, err := ParseELF(bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseELF: got %v, wanted %v", err, tc.wantErr)
			}
			if tc.wantErr == ErrDynamic {
				want := string(bytes.TrimRight([]byte(tc.path), "\x00"))
				if info == nil || info.Interp != want {
					t.Errorf("ParseELF: got info %+v, wanted Interp %q", info, want)
				}
			}
		})
	}
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) ReadAt(p []byte, off int64) (int, error) { return 0, unix.EIO }

func TestParseELFReadErrors(t *testing.T) {
	data := makeELF(goodSpec())
	if _, err := ParseELF(bytes.NewReader(data[:100]), int64(len(data))); !errors.Is(err, unix.EIO) {
		t.Errorf("ParseELF of a file shorter than its size: got %v, wanted EIO", err)
	}
	if _, err := ParseELF(failingReader{}, int64(len(data))); !errors.Is(err, unix.EIO) {
		t.Errorf("ParseELF of a failing reader: got %v, wanted its error", err)
	}
	if _, err := ParseELF(bytes.NewReader(data), -1); !errors.Is(err, unix.ENOEXEC) {
		t.Errorf("ParseELF of size -1: got %v, wanted ENOEXEC", err)
	}
}
