// Package loader turns an executable file into a running program's initial
// address space, as Linux's execve does for an ELF binary: it maps the
// program's segments, places the heap after them, maps the stack and lays
// out on it the arguments, the environment and the auxiliary vector that
// libc's start code reads. The kernel then sets the instruction pointer and
// the stack pointer from the result and lets the program run.
//
// minisentry loads 64-bit x86-64 programs that need no interpreter:
// statically linked ones (ET_EXEC, at the addresses in the file) and
// static-PIE ones (ET_DYN without PT_INTERP, which relocate themselves
// wherever they are put). A dynamically linked program (one with a
// PT_INTERP) is refused with ErrDynamic; anything else that is not such a
// program, however malformed, with ENOEXEC.
//
// The files are:
//
//   - elf.go: ParseELF, which reads and checks the headers;
//   - load.go: mapping the segments (file pages, the zeroed tail of the
//     last file page, the anonymous bss) and choosing where an ET_DYN
//     program goes;
//   - stack.go: the initial stack, byte for byte as Linux builds it;
//   - auxv.go: the auxiliary vector;
//   - osfile.go: FileFromOS, a File over a host file.
package loader

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

// File is the executable. It is a mm.Mappable, so that the segments can be
// mapped privately from it and read in only when the program touches them.
type File = mm.Mappable

// Credentials are the ids the program runs with, which the auxiliary
// vector reports (AT_UID, AT_EUID, AT_GID, AT_EGID).
type Credentials struct {
	UID, EUID, GID, EGID uint32
}

// LoadArgs are the inputs of Load.
type LoadArgs struct {
	// File is the executable.
	File File

	// Filename is the path as given to execve. AT_EXECFN points to a copy
	// of it on the stack.
	Filename string

	// Argv and Envv are the arguments and the environment. An empty Argv
	// becomes one empty string, as on Linux since 5.18, so that argv[0]
	// always exists. A string with a NUL in it reaches the program cut at
	// the NUL.
	Argv, Envv []string

	// Creds are the program's credentials.
	Creds Credentials

	// Random is the source of the 16 bytes AT_RANDOM points to, which libc
	// uses for its stack protector canary and pointer guard. nil means
	// crypto/rand.Reader.
	Random io.Reader

	// ExtraAuxv are auxiliary vector entries the kernel adds, such as
	// AT_SYSINFO_EHDR once there is a vDSO. They come first, where Linux
	// puts the architecture's own entries. None may be AT_NULL.
	ExtraAuxv []AuxEntry
}

// LoadResult is the program's initial state.
type LoadResult struct {
	// Entry is the initial instruction pointer: the program's entry
	// point, relocated.
	Entry usermem.Addr

	// StackPointer is the initial stack pointer. It is 16-byte aligned and
	// points to argc. Every other register starts at zero, as Linux's
	// ELF_PLAT_INIT leaves them; a zero rdx tells libc's start code that
	// there is no function for it to register with atexit.
	StackPointer usermem.Addr

	// ArgvRange and EnvvRange are where the argument and environment
	// strings are, NULs included; EnvvRange starts where ArgvRange ends.
	// /proc/self/cmdline and /proc/self/environ read them.
	ArgvRange, EnvvRange usermem.AddrRange

	// Auxv is the auxiliary vector as written on the stack, ending with
	// AT_NULL. /proc/self/auxv shows it.
	Auxv []AuxEntry

	// BrkStart is the start of the heap: the page after the program's
	// last segment.
	BrkStart usermem.Addr
}

// Load loads the program args describes into m, as execve does.
//
// Errors: ErrDynamic for a dynamically linked program; an error matching
// unix.ENOEXEC for a file that is not a program minisentry can load;
// unix.E2BIG for arguments and environment that Linux would refuse or that
// do not fit on the stack; otherwise the error of the file, of the memory
// manager (unix.ENOMEM) or of the random source. On error, m may hold part
// of the program: the caller discards it, as Linux discards the new memory
// of a failed execve.
//
// Preconditions: m is empty, and no one else uses it until Load returns.
func Load(ctx context.Context, m *mm.MemoryManager, args LoadArgs) (LoadResult, error) {
	size, err := args.File.Size()
	if err != nil {
		return LoadResult{}, fmt.Errorf("loader: size of %s: %w", args.File.MappedName(), err)
	}
	info, err := ParseELF(args.File, size)
	if err != nil {
		return LoadResult{}, err
	}
	argv := args.Argv
	if len(argv) == 0 {
		argv = []string{""}
	}
	// Refuse oversized arguments before anything is mapped, as Linux
	// copies the strings before it reads the program.
	if err := checkArgLimits(args.Filename, argv, args.Envv, m.Limits().Stack); err != nil {
		return LoadResult{}, err
	}
	var random [16]byte
	src := args.Random
	if src == nil {
		src = rand.Reader
	}
	if _, err := io.ReadFull(src, random[:]); err != nil {
		return LoadResult{}, fmt.Errorf("loader: reading AT_RANDOM bytes: %w", err)
	}

	img, err := mapImage(ctx, m, args.File, info)
	if err != nil {
		return LoadResult{}, err
	}
	brk := img.end.MustRoundUp()
	m.BrkSetup(brk)
	stack, err := mapStack(ctx, m, info.StackPerms)
	if err != nil {
		return LoadResult{}, err
	}

	l := newStackLayout(stack.End, args.Filename, argv, args.Envv)
	auxv := buildAuxv(img, args.Creds, l.auxvAddrs(), args.ExtraAuxv)
	l.placePointers(len(auxv))
	if l.spAt > uint64(stack.Length()) {
		return LoadResult{}, tooBig("the initial stack needs %d bytes, more than the stack's %d", l.spAt, stack.Length())
	}
	if _, err := m.CopyOut(ctx, l.sp(), l.image(random, auxv), usermem.IOOpts{}); err != nil {
		return LoadResult{}, fmt.Errorf("loader: writing the initial stack: %w", err)
	}
	return LoadResult{
		Entry:        img.entry,
		StackPointer: l.sp(),
		ArgvRange:    l.argvRange(),
		EnvvRange:    l.envvRange(),
		Auxv:         auxv,
		BrkStart:     brk,
	}, nil
}

// mapStack maps the stack, executable if PT_GNU_STACK asked for it (perms).
func mapStack(ctx context.Context, m *mm.MemoryManager, perms usermem.AccessType) (usermem.AddrRange, error) {
	stack, err := m.MapStack(ctx)
	if err != nil {
		return stack, fmt.Errorf("loader: mapping the stack: %w", err)
	}
	if perms.Execute {
		if err := m.MProtect(stack.Start, uint64(stack.Length()), usermem.AnyAccess, false); err != nil {
			return stack, fmt.Errorf("loader: making the stack executable: %w", err)
		}
	}
	return stack, nil
}
