package loader

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

var ctx = context.Background()

// The test platform's user range: the ptrace platform's, so that addresses
// look like real ones.
const (
	testMinAddr = 0x10000
	testMaxAddr = 0x7ff000000000
)

// testPlatform is a platform.Platform without address spaces: the memory
// manager reaches memory through the MemoryFile's internal mapping, which
// is all the loader's tests need.
type testPlatform struct {
	mf *platform.MemoryFile
}

func (p *testPlatform) MemoryFile() *platform.MemoryFile { return p.mf }
func (p *testPlatform) MinUserAddress() usermem.Addr     { return testMinAddr }
func (p *testPlatform) MaxUserAddress() usermem.Addr     { return testMaxAddr }
func (p *testPlatform) NewContext() platform.Context     { return nil }

func (p *testPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return nil, errors.New("the loader's test platform runs nothing")
}

// newTestMM returns an empty memory manager on a fresh memory file, which
// the test releases when it ends.
func newTestMM(t testing.TB) *mm.MemoryManager {
	t.Helper()
	mf, err := platform.NewMemoryFile(1 << 30)
	if err != nil {
		t.Fatalf("NewMemoryFile: %v", err)
	}
	m := mm.NewMemoryManager(&testPlatform{mf: mf})
	t.Cleanup(func() {
		m.DecUsers(ctx)
		// MemoryFile has no Close: a sentry keeps its one file for life.
		unix.Munmap(mf.Window(platform.FileRange{Start: 0, End: mf.Size()}))
		unix.Close(mf.FD())
	})
	return m
}

// bytesFile is a File over a byte slice.
type bytesFile struct {
	data []byte
	// sizeErr, if set, is Size's error.
	sizeErr error
}

func (f *bytesFile) ReadAt(dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(dst, f.data[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (f *bytesFile) Size() (int64, error) { return int64(len(f.data)), f.sizeErr }
func (f *bytesFile) MappedName() string   { return "/bin/prog" }
func (f *bytesFile) DeviceID() uint64     { return unix.Mkdev(8, 1) }
func (f *bytesFile) InodeID() uint64      { return 4242 }

// elfSpec describes a file for makeELF to write.
type elfSpec struct {
	typ   elf.Type
	entry uint64
	progs []elf.Prog64
	// size is the file's size; the bytes not taken by the headers hold
	// pattern(offset).
	size int
}

// pattern is the byte at off in a file makeELF writes, outside the
// headers: never 0, so that zeroing shows.
func pattern(off int) byte {
	return byte(off*7+off>>8) | 1
}

// makeELF returns the bytes of the file s describes: the ELF header, the
// program headers right after it, and pattern bytes.
func makeELF(s elfSpec) []byte {
	hdr := validHeader(s.typ, s.entry, len(s.progs))
	b := make([]byte, s.size)
	for i := range b {
		b[i] = pattern(i)
	}
	var w bytes.Buffer
	binary.Write(&w, binary.LittleEndian, &hdr)
	binary.Write(&w, binary.LittleEndian, s.progs)
	copy(b, w.Bytes())
	return b
}

// validHeader returns a valid ELF header with phnum program headers right
// after it.
func validHeader(typ elf.Type, entry uint64, phnum int) elf.Header64 {
	var hdr elf.Header64
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	hdr.Type = uint16(typ)
	hdr.Machine = uint16(elf.EM_X86_64)
	hdr.Version = uint32(elf.EV_CURRENT)
	hdr.Entry = entry
	hdr.Phoff = ehdrSize
	hdr.Ehsize = ehdrSize
	hdr.Phentsize = phdrSize
	hdr.Phnum = uint16(phnum)
	return hdr
}

// load returns a PT_LOAD program header.
func load(flags elf.ProgFlag, off, vaddr, filesz, memsz uint64) elf.Prog64 {
	return elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(flags), Off: off, Vaddr: vaddr, Paddr: vaddr, Filesz: filesz, Memsz: memsz, Align: usermem.PageSize}
}

// The program tests build with gcc, once for the whole package.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// helloC is the test program: it has data, a bss big enough to span pages,
// and checks what it got on its stack.
const helloC = `#include <stdio.h>
int data_var = 42;
char bss_buf[100000];
int main(int argc, char **argv) {
	printf("hello %s %d\n", argv[0], data_var);
	return bss_buf[argc];
}
`

// stackDumpC prints where the initial stack puts things, as distances below
// the top of the stack, for TestStackMatchesLinux.
const stackDumpC = `#include <stdio.h>
#include <string.h>
#include <elf.h>
int main(int argc, char **argv, char **envp) {
	char **e = envp;
	while (*e) e++;
	Elf64_auxv_t *av = (Elf64_auxv_t *)(e + 1), *a;
	unsigned long execfn = 0, platform = 0, random = 0;
	for (a = av; a->a_type != AT_NULL; a++) {
		if (a->a_type == AT_EXECFN) execfn = a->a_un.a_val;
		if (a->a_type == AT_PLATFORM) platform = a->a_un.a_val;
		if (a->a_type == AT_RANDOM) random = a->a_un.a_val;
	}
	unsigned long top = execfn + strlen((char *)execfn) + 1 + 8;
	printf("top%%4096 %lu\n", top % 4096);
	printf("sp %lu\n", top - (unsigned long)(argv - 1));
	for (int i = 0; i < argc; i++) printf("argv%d %lu\n", i, top - (unsigned long)argv[i]);
	for (int i = 0; envp[i]; i++) printf("envp%d %lu\n", i, top - (unsigned long)envp[i]);
	printf("execfn %lu\nplatform %lu\nrandom %lu\n", top - execfn, top - platform, top - random);
	printf("nauxv %ld\nauxvend %lu\n", (long)(a + 1 - av), top - (unsigned long)(a + 1));
	return 0;
}
`

// testPrograms are the programs the tests build, by file name.
var testPrograms = map[string]struct {
	src   string
	flags []string
}{
	"hello-static":     {helloC, []string{"-static"}},
	"hello-static-pie": {helloC, []string{"-static-pie"}},
	"hello-dynamic":    {helloC, nil},
	"stackdump":        {stackDumpC, []string{"-static"}},
}

// builtProgram returns the path of the test program built as name (a key of
// testPrograms). gcc is part of the machine: without it, the test fails.
func builtProgram(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "loader-test-")
		if buildErr != nil {
			return
		}
		for out, p := range testPrograms {
			src := filepath.Join(buildDir, out+".c")
			if buildErr = os.WriteFile(src, []byte(p.src), 0o644); buildErr != nil {
				return
			}
			args := append(append([]string{}, p.flags...), "-O1", "-o", filepath.Join(buildDir, out), src)
			if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("gcc %q: %v\n%s", args, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the test programs: %v", buildErr)
	}
	return filepath.Join(buildDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// readProgram returns the bytes of a built test program.
func readProgram(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(builtProgram(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustCopyIn reads n bytes at addr, ignoring permissions, or fails the test.
func mustCopyIn(t testing.TB, m *mm.MemoryManager, addr usermem.Addr, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := m.CopyIn(ctx, addr, b, usermem.IOOpts{IgnorePermissions: true}); got != n || err != nil {
		t.Fatalf("CopyIn(%#x, %d bytes): got (%d, %v), wanted (%d, nil)", addr, n, got, err, n)
	}
	return b
}

// readWord reads the 8-byte word at addr.
func readWord(t testing.TB, m *mm.MemoryManager, addr usermem.Addr) uint64 {
	t.Helper()
	return binary.LittleEndian.Uint64(mustCopyIn(t, m, addr, 8))
}

// readString reads the NUL-terminated string at addr.
func readString(t testing.TB, m *mm.MemoryManager, addr usermem.Addr) string {
	t.Helper()
	s, err := usermem.CopyStringIn(ctx, m, addr, 1<<20, usermem.IOOpts{})
	if err != nil {
		t.Fatalf("CopyStringIn(%#x): %v", addr, err)
	}
	return s
}
