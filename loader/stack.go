package loader

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Linux's limits on execve's strings (<uapi/linux/binfmts.h>, fs/exec.c).
const (
	// maxArgStrlen is MAX_ARG_STRLEN: the longest string, its NUL
	// included.
	maxArgStrlen = 32 * usermem.PageSize

	// maxArgStrings is MAX_ARG_STRINGS: the most strings in argv or envp.
	maxArgStrings = 0x7fffffff

	// argMax is ARG_MAX: the room the strings always get, however small
	// RLIMIT_STACK is.
	argMax = 32 * usermem.PageSize

	// stkLim is _STK_LIM, the default RLIMIT_STACK. The strings never get
	// more than three quarters of it, so that a huge RLIMIT_STACK cannot
	// let execve pin unbounded memory.
	stkLim = 8 << 20
)

// wordSize is the size of a pointer, and of argc and auxv values.
const wordSize = 8

// tooBig returns an error that matches unix.E2BIG and says why.
func tooBig(format string, args ...any) error {
	return fmt.Errorf("loader: %s: %w", fmt.Sprintf(format, args...), unix.E2BIG)
}

// checkArgLimits returns an error matching E2BIG if the strings of an exec
// take more room than Linux allows with an RLIMIT_STACK of rlimStack: each
// string (with its NUL) at most MAX_ARG_STRLEN, and the strings plus the
// argv and envp pointers at most a quarter of the stack limit, but never
// less than ARG_MAX nor more than 6 MiB.
//
// Preconditions: argv is not empty (Load has given an empty one its empty
// string, which Linux counts too).
func checkArgLimits(filename string, argv, envv []string, rlimStack uint64) error {
	if len(argv) > maxArgStrings || len(envv) > maxArgStrings {
		return tooBig("%d arguments and %d environment strings", len(argv), len(envv))
	}
	limit := max(min(stkLim/4*3, rlimStack/4), argMax)
	ptrs := uint64(len(argv)+len(envv)) * wordSize
	if limit <= ptrs {
		return tooBig("%d pointers exceed the limit of %d bytes", ptrs/wordSize, limit)
	}
	limit -= ptrs
	total := uint64(0)
	add := func(s string) error {
		n := uint64(len(s)) + 1
		if n > maxArgStrlen {
			return tooBig("a string of %d bytes is longer than %d", n, maxArgStrlen)
		}
		if total += n; total > limit {
			return tooBig("strings exceed the limit of %d bytes", limit)
		}
		return nil
	}
	for _, ss := range [][]string{{filename}, envv, argv} {
		for _, s := range ss {
			if err := add(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// stackLayout is the plan of the initial stack Linux builds for a new
// program (fs/exec.c and create_elf_tables in fs/binfmt_elf.c). From the top
// of the stack down:
//
//	a NULL word
//	the filename string (AT_EXECFN)
//	the environment strings, envp[0] lowest
//	the argument strings, argv[0] lowest, so that argv's and envp's strings
//	  are one contiguous area, which /proc/self/cmdline and setproctitle
//	  rely on
//	padding to 16 bytes
//	the platform string "x86_64" (AT_PLATFORM)
//	16 random bytes (AT_RANDOM)
//	padding, so that the stack pointer ends up 16-byte aligned
//	the auxv pairs, ending with AT_NULL
//	envp[0..m-1], NULL
//	argv[0..n-1], NULL
//	argc                       <- the initial stack pointer
//
// The x86-64 ABI wants the stack pointer 16-byte aligned at process entry,
// with argc at (%rsp): libc's start code reads it there, and the SSE code
// it runs later faults on a misaligned stack.
//
// Positions are depths: distances below the top of the stack, which is
// page-aligned, so that aligning a depth up aligns its address down.
type stackLayout struct {
	// top is the address one past the top of the stack.
	top usermem.Addr

	// The strings, as given; argv is never empty.
	filename   string
	argv, envv []string

	// argvAt and envvAt are the depths of each string; execfnAt,
	// platformAt and randomAt those of the other data.
	argvAt, envvAt                 []uint64
	execfnAt, platformAt, randomAt uint64

	// argvEnd is the depth of the end of the argument strings, which is
	// also the start of the environment strings; envvEnd is the depth of
	// their end.
	argvEnd, envvEnd uint64

	// spAt is the depth of the initial stack pointer, once placePointers
	// has run.
	spAt uint64
}

// newStackLayout places the strings of a stack whose top is at top.
//
// Preconditions: argv is not empty; the strings passed checkArgLimits.
func newStackLayout(top usermem.Addr, filename string, argv, envv []string) *stackLayout {
	l := &stackLayout{
		top:      top,
		filename: filename,
		argv:     argv,
		envv:     envv,
		argvAt:   make([]uint64, len(argv)),
		envvAt:   make([]uint64, len(envv)),
	}
	d := uint64(wordSize) // the NULL word
	d += uint64(len(filename)) + 1
	l.execfnAt = d
	l.envvEnd = d
	for i := len(envv) - 1; i >= 0; i-- {
		d += uint64(len(envv[i])) + 1
		l.envvAt[i] = d
	}
	l.argvEnd = d
	for i := len(argv) - 1; i >= 0; i-- {
		d += uint64(len(argv[i])) + 1
		l.argvAt[i] = d
	}
	d = alignUp(d, 16)
	d += uint64(len(platformName)) + 1
	l.platformAt = d
	d += 16
	l.randomAt = d
	return l
}

// addr returns the address at depth.
func (l *stackLayout) addr(depth uint64) usermem.Addr {
	return l.top - usermem.Addr(depth)
}

// auxvAddrs returns the addresses auxv entries point to.
func (l *stackLayout) auxvAddrs() auxvAddrs {
	return auxvAddrs{execfn: l.addr(l.execfnAt), random: l.addr(l.randomAt), platform: l.addr(l.platformAt)}
}

// placePointers places the pointer block for an auxv of nauxv entries
// (AT_NULL included) below the strings, and so the stack pointer.
func (l *stackLayout) placePointers(nauxv int) {
	words := uint64(2*nauxv) + uint64(len(l.envv)+1) + uint64(len(l.argv)+1) + 1
	l.spAt = alignUp(l.randomAt+words*wordSize, 16)
}

// sp returns the initial stack pointer.
//
// Preconditions: placePointers has run.
func (l *stackLayout) sp() usermem.Addr {
	return l.addr(l.spAt)
}

// argvRange and envvRange return where the argument and environment strings
// are, NULs included.
func (l *stackLayout) argvRange() usermem.AddrRange {
	return usermem.AddrRange{Start: l.addr(l.argvAt[0]), End: l.addr(l.argvEnd)}
}

func (l *stackLayout) envvRange() usermem.AddrRange {
	return usermem.AddrRange{Start: l.addr(l.argvEnd), End: l.addr(l.envvEnd)}
}

// image returns the bytes of the stack from the stack pointer to the top.
//
// Preconditions: placePointers has run with len(auxv).
func (l *stackLayout) image(random [16]byte, auxv []AuxEntry) []byte {
	buf := make([]byte, l.spAt)
	at := func(depth uint64) []byte { return buf[l.spAt-depth:] }
	// Strings: the NULs are already there, in the fresh buffer.
	copy(at(l.execfnAt), l.filename)
	for i, s := range l.envv {
		copy(at(l.envvAt[i]), s)
	}
	for i, s := range l.argv {
		copy(at(l.argvAt[i]), s)
	}
	copy(at(l.platformAt), platformName)
	copy(at(l.randomAt), random[:])

	// The pointer block, upwards from the stack pointer.
	off := 0
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[off:], v)
		off += wordSize
	}
	put(uint64(len(l.argv)))
	for _, d := range l.argvAt {
		put(uint64(l.addr(d)))
	}
	put(0)
	for _, d := range l.envvAt {
		put(uint64(l.addr(d)))
	}
	put(0)
	for _, e := range auxv {
		put(e.Key)
		put(e.Value)
	}
	return buf
}

// alignUp rounds x up to a multiple of align, a power of two.
func alignUp(x, align uint64) uint64 {
	return (x + align - 1) &^ (align - 1)
}
