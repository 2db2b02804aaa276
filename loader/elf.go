package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// ErrDynamic is the error for a program that names an interpreter
// (PT_INTERP): a dynamically linked program, which needs ld.so, which
// minisentry cannot load yet.
var ErrDynamic = errors.New("dynamically linked programs are not supported yet")

// Sizes fixed by the ELF64 format and Linux's limits on it.
const (
	// ehdrSize is sizeof(Elf64_Ehdr).
	ehdrSize = 64

	// phdrSize is sizeof(Elf64_Phdr), the only e_phentsize Linux accepts
	// for a 64-bit program.
	phdrSize = 56

	// maxPhdrBytes is the most program header bytes Linux reads: one
	// page. It caps e_phnum at 73.
	maxPhdrBytes = usermem.PageSize

	// pathMax is PATH_MAX, the longest interpreter path (with its NUL)
	// Linux accepts.
	pathMax = 4096

	// taskSize is the end of the x86-64 user address range with 4-level
	// page tables (Linux's TASK_SIZE_MAX). No segment can lie above it.
	taskSize = 0x7ffffffff000
)

// ELFInfo is what the loader needs from an executable's headers, checked.
// Addresses are the file's own: for an ET_DYN program, Load adds the load
// bias to them.
type ELFInfo struct {
	// Type is ET_EXEC (loaded at its addresses) or ET_DYN (a
	// position-independent program, loaded wherever Load chooses).
	Type elf.Type

	// Entry is e_entry, where the program starts.
	Entry uint64

	// Phoff, Phentsize and Phnum locate the program headers in the file
	// (e_phoff, e_phentsize, e_phnum). Phentsize is always 56.
	Phoff     uint64
	Phentsize int
	Phnum     int

	// Phdr is the address of the program headers in memory: inside the
	// PT_LOAD segment whose file bytes hold them, or else PT_PHDR's
	// address, or else 0 if they are not loaded at all. It becomes
	// AT_PHDR, which libc reads to find PT_TLS.
	Phdr uint64

	// Segments are the PT_LOAD segments, in ascending address order and
	// not overlapping.
	Segments []Segment

	// Interp is the path in PT_INTERP, without its NUL, or "" for a
	// statically linked program.
	Interp string

	// StackPerms are the stack's permissions as PT_GNU_STACK asks for
	// them. Without PT_GNU_STACK, the stack is not executable, as on
	// x86-64 Linux.
	StackPerms usermem.AccessType

	// Align is the largest power-of-two p_align of the PT_LOAD segments
	// (at least a page, capped at maxAlign), to which Load aligns an
	// ET_DYN program's load address.
	Align uint64
}

// Segment is one PT_LOAD program header.
type Segment struct {
	// Vaddr is the address of the segment's first byte (p_vaddr).
	Vaddr uint64
	// Offset is the file offset of that byte (p_offset).
	Offset uint64
	// Filesz is how many bytes come from the file (p_filesz).
	Filesz uint64
	// Memsz is the segment's size in memory (p_memsz); the bytes past
	// Filesz are zeros (the bss).
	Memsz uint64
	// Perms are the permissions from p_flags.
	Perms usermem.AccessType
}

// End returns the address one past the segment's last byte.
func (s Segment) End() uint64 {
	return s.Vaddr + s.Memsz
}

// maxAlign caps the alignment Load honours for an ET_DYN program: a hostile
// p_align of 2^62 must not make it reserve the whole address space.
const maxAlign = 1 << 30

// notExec returns an error that matches unix.ENOEXEC and says why.
func notExec(format string, args ...any) error {
	return fmt.Errorf("loader: %s: %w", fmt.Sprintf(format, args...), unix.ENOEXEC)
}

// ParseELF reads and checks the headers of an executable of size bytes.
//
// The file is hostile: anything a 64-bit little-endian x86-64 ET_EXEC or
// ET_DYN file cannot hold, or that Linux or minisentry's loader refuses
// (program headers that are not 56 bytes each or do not fit in a page,
// PT_LOAD segments out of order or overlapping, p_filesz > p_memsz, file
// bytes past the end of the file, addresses past the user range), gives an
// error matching unix.ENOEXEC. A failing read gives the reader's error, and
// one that comes up short unix.EIO, as Linux's elf_read does.
//
// A well-formed program with a PT_INTERP returns its ELFInfo (with Interp
// set) together with an error matching ErrDynamic.
//
// Like Linux, ParseELF ignores e_version, e_ident[EI_OSABI], the section
// headers and every program header type other than PT_LOAD, PT_INTERP,
// PT_PHDR and PT_GNU_STACK.
func ParseELF(r io.ReaderAt, size int64) (*ELFInfo, error) {
	if size < ehdrSize {
		return nil, notExec("file of %d bytes is too small for an ELF header", size)
	}
	var hdr elf.Header64
	buf := make([]byte, ehdrSize)
	if err := readFull(r, buf, 0); err != nil {
		return nil, err
	}
	if _, err := binary.Decode(buf, binary.LittleEndian, &hdr); err != nil {
		// Cannot happen: buf is exactly the header's size.
		return nil, notExec("decoding the ELF header: %v", err)
	}
	if err := checkHeader(&hdr); err != nil {
		return nil, err
	}
	info := &ELFInfo{
		Type:      elf.Type(hdr.Type),
		Entry:     hdr.Entry,
		Phoff:     hdr.Phoff,
		Phentsize: int(hdr.Phentsize),
		Phnum:     int(hdr.Phnum),
		Align:     usermem.PageSize,
	}
	phdrs, err := readPhdrs(r, size, info)
	if err != nil {
		return nil, err
	}
	if err := info.addPhdrs(r, size, phdrs); err != nil {
		return nil, err
	}
	if info.Interp != "" {
		return info, fmt.Errorf("%w (it asks for the interpreter %q)", ErrDynamic, info.Interp)
	}
	return info, nil
}

// checkHeader checks the ELF header's identity fields and program header
// geometry.
func checkHeader(hdr *elf.Header64) error {
	id := hdr.Ident
	switch {
	case !bytes.Equal(id[:elf.EI_CLASS], []byte(elf.ELFMAG)):
		return notExec("no ELF magic number")
	case elf.Class(id[elf.EI_CLASS]) != elf.ELFCLASS64:
		return notExec("class %v, not ELFCLASS64", elf.Class(id[elf.EI_CLASS]))
	case elf.Data(id[elf.EI_DATA]) != elf.ELFDATA2LSB:
		return notExec("data encoding %v, not little-endian", elf.Data(id[elf.EI_DATA]))
	case elf.Version(id[elf.EI_VERSION]) != elf.EV_CURRENT:
		return notExec("ELF version %v, not EV_CURRENT", elf.Version(id[elf.EI_VERSION]))
	case elf.Machine(hdr.Machine) != elf.EM_X86_64:
		return notExec("machine %v, not EM_X86_64", elf.Machine(hdr.Machine))
	case elf.Type(hdr.Type) != elf.ET_EXEC && elf.Type(hdr.Type) != elf.ET_DYN:
		return notExec("type %v, neither ET_EXEC nor ET_DYN", elf.Type(hdr.Type))
	case hdr.Phentsize != phdrSize:
		return notExec("e_phentsize %d, not %d", hdr.Phentsize, phdrSize)
	case hdr.Phnum == 0:
		return notExec("no program headers")
	case int(hdr.Phnum)*phdrSize > maxPhdrBytes:
		return notExec("%d program headers do not fit in a page", hdr.Phnum)
	}
	return nil
}

// readPhdrs reads info's program headers from r.
func readPhdrs(r io.ReaderAt, size int64, info *ELFInfo) ([]elf.Prog64, error) {
	n := uint64(info.Phnum * phdrSize)
	// n <= maxPhdrBytes, so the sum only wraps if Phoff is enormous.
	if end := info.Phoff + n; end < info.Phoff || end > uint64(size) {
		return nil, notExec("program headers at %#x run past the end of the %d-byte file", info.Phoff, size)
	}
	buf := make([]byte, n)
	if err := readFull(r, buf, int64(info.Phoff)); err != nil {
		return nil, err
	}
	phdrs := make([]elf.Prog64, info.Phnum)
	if _, err := binary.Decode(buf, binary.LittleEndian, phdrs); err != nil {
		return nil, notExec("decoding the program headers: %v", err)
	}
	return phdrs, nil
}

// addPhdrs checks the program headers and records what they say in info.
func (info *ELFInfo) addPhdrs(r io.ReaderAt, size int64, phdrs []elf.Prog64) error {
	var (
		phdrVaddr uint64
		hasPHDR   bool
		found     bool   // whether a PT_LOAD holds the program headers
		end       uint64 // the end of the segments so far
		nonEmpty  bool   // whether a PT_LOAD has bytes in memory
	)
	for i, ph := range phdrs {
		switch elf.ProgType(ph.Type) {
		case elf.PT_LOAD:
			seg, err := checkLoad(i, &ph, size)
			if err != nil {
				return err
			}
			if len(info.Segments) > 0 && seg.Vaddr < end {
				return notExec("PT_LOAD %d at %#x is out of order or overlaps the one before (which ends at %#x)", i, seg.Vaddr, end)
			}
			end = seg.End()
			nonEmpty = nonEmpty || seg.Memsz > 0
			info.Segments = append(info.Segments, seg)
			if a := ph.Align; a > info.Align && a <= maxAlign && a&(a-1) == 0 {
				info.Align = a
			}
			// Linux's choice: the first segment whose file bytes hold
			// e_phoff.
			if !found && ph.Off <= info.Phoff && info.Phoff-ph.Off < ph.Filesz {
				info.Phdr, found = ph.Vaddr+(info.Phoff-ph.Off), true
			}
		case elf.PT_INTERP:
			if info.Interp != "" {
				continue // Linux uses the first one.
			}
			interp, err := readInterp(r, size, &ph)
			if err != nil {
				return err
			}
			info.Interp = interp
		case elf.PT_PHDR:
			phdrVaddr, hasPHDR = ph.Vaddr, true
		case elf.PT_GNU_STACK:
			// Linux takes the last one.
			info.StackPerms = usermem.ReadWrite
			info.StackPerms.Execute = elf.ProgFlag(ph.Flags)&elf.PF_X != 0
		}
	}
	if !nonEmpty {
		// No PT_LOAD, or only empty ones: there is nothing to run.
		return notExec("no PT_LOAD segment with any bytes in memory")
	}
	if !found && hasPHDR {
		info.Phdr = phdrVaddr
	}
	if info.StackPerms == usermem.NoAccess {
		info.StackPerms = usermem.ReadWrite
	}
	return nil
}

// checkLoad checks the PT_LOAD program header ph, the i-th, of a file of
// size bytes, and returns its segment.
func checkLoad(i int, ph *elf.Prog64, size int64) (Segment, error) {
	seg := Segment{
		Vaddr:  ph.Vaddr,
		Offset: ph.Off,
		Filesz: ph.Filesz,
		Memsz:  ph.Memsz,
		Perms: usermem.AccessType{
			Read:    elf.ProgFlag(ph.Flags)&elf.PF_R != 0,
			Write:   elf.ProgFlag(ph.Flags)&elf.PF_W != 0,
			Execute: elf.ProgFlag(ph.Flags)&elf.PF_X != 0,
		},
	}
	switch {
	case ph.Filesz > ph.Memsz:
		return seg, notExec("PT_LOAD %d: p_filesz %#x > p_memsz %#x", i, ph.Filesz, ph.Memsz)
	case ph.Vaddr >= taskSize || ph.Memsz > taskSize-ph.Vaddr:
		return seg, notExec("PT_LOAD %d: [%#x, +%#x) is beyond the user address range", i, ph.Vaddr, ph.Memsz)
	case ph.Filesz > 0 && (ph.Off > uint64(size) || ph.Filesz > uint64(size)-ph.Off):
		return seg, notExec("PT_LOAD %d: file bytes [%#x, +%#x) run past the end of the %d-byte file", i, ph.Off, ph.Filesz, size)
	case ph.Vaddr%usermem.PageSize != ph.Off%usermem.PageSize:
		// The segment is mapped a page at a time, so its address and
		// offset must sit at the same place in their pages.
		return seg, notExec("PT_LOAD %d: p_vaddr %#x and p_offset %#x differ modulo the page size", i, ph.Vaddr, ph.Off)
	}
	return seg, nil
}

// readInterp reads and checks the path in the PT_INTERP header ph.
func readInterp(r io.ReaderAt, size int64, ph *elf.Prog64) (string, error) {
	if ph.Filesz < 2 || ph.Filesz > pathMax {
		return "", notExec("PT_INTERP of %d bytes", ph.Filesz)
	}
	if ph.Off > uint64(size) || ph.Filesz > uint64(size)-ph.Off {
		return "", notExec("PT_INTERP at %#x runs past the end of the %d-byte file", ph.Off, size)
	}
	buf := make([]byte, ph.Filesz)
	if err := readFull(r, buf, int64(ph.Off)); err != nil {
		return "", err
	}
	if buf[len(buf)-1] != 0 {
		return "", notExec("PT_INTERP path is not NUL-terminated")
	}
	path := string(buf[:bytes.IndexByte(buf, 0)])
	if path == "" {
		return "", notExec("PT_INTERP path is empty")
	}
	return path, nil
}

// readFull fills buf from r at off. The caller has checked that the bytes
// lie within the file's size, so a short read means the file changed
// under it or lied about its size: EIO, as Linux's elf_read returns.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		// io.ReaderAt may report io.EOF along with a full read that
		// ends at the end of the file.
		return nil
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("loader: reading %d bytes at %#x: %w", len(buf), off, err)
	}
	return fmt.Errorf("loader: reading %d bytes at %#x: got %d: %w", len(buf), off, n, unix.EIO)
}
