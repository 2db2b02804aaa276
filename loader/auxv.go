package loader

import (
	"encoding/binary"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// Auxiliary vector keys, from Linux's <uapi/linux/auxvec.h> and
// <uapi/asm-x86/asm/auxvec.h> (glibc's <elf.h> has the same numbers).
// golang.org/x/sys/unix does not define them for linux/amd64.
const (
	AT_NULL          = 0  // end of the vector
	AT_IGNORE        = 1  // entry to skip
	AT_EXECFD        = 2  // file descriptor of the program (binfmt_misc)
	AT_PHDR          = 3  // address of the program headers
	AT_PHENT         = 4  // size of one program header
	AT_PHNUM         = 5  // number of program headers
	AT_PAGESZ        = 6  // page size
	AT_BASE          = 7  // load address of the interpreter
	AT_FLAGS         = 8  // flags (always 0)
	AT_ENTRY         = 9  // the program's entry point
	AT_NOTELF        = 10 // program is not ELF
	AT_UID           = 11 // real user id
	AT_EUID          = 12 // effective user id
	AT_GID           = 13 // real group id
	AT_EGID          = 14 // effective group id
	AT_PLATFORM      = 15 // address of the platform name string
	AT_HWCAP         = 16 // CPU capabilities (CPUID leaf 1 EDX on x86)
	AT_CLKTCK        = 17 // frequency of times(2)
	AT_SECURE        = 23 // secure mode (setuid and friends)
	AT_BASE_PLATFORM = 24 // address of the real platform name string
	AT_RANDOM        = 25 // address of 16 random bytes
	AT_HWCAP2        = 26 // more CPU capabilities
	AT_EXECFN        = 31 // address of the filename given to execve
	AT_SYSINFO_EHDR  = 33 // address of the vDSO
	AT_MINSIGSTKSZ   = 51 // smallest signal stack the signal frame needs
)

// Values of the auxv entries that do not depend on the program.
const (
	// clockTicks is AT_CLKTCK: Linux's USER_HZ.
	clockTicks = 100

	// platformName is the string AT_PLATFORM points to: on x86-64
	// Linux, the machine name uname reports.
	platformName = "x86_64"
)

// AuxEntry is one entry of the auxiliary vector: a key (AT_*) and its value.
type AuxEntry struct {
	Key   uint64
	Value uint64
}

// auxvAddrs are the stack addresses some auxv entries point to.
type auxvAddrs struct {
	execfn   usermem.Addr // AT_EXECFN: the filename string
	random   usermem.Addr // AT_RANDOM: the 16 random bytes
	platform usermem.Addr // AT_PLATFORM: the platform name string
}

// buildAuxv returns the auxiliary vector of a program loaded with the
// information image, ending with AT_NULL.
//
// The order is Linux's (create_elf_tables), with the kernel's extra entries
// first, where Linux puts the architecture's own (AT_SYSINFO_EHDR,
// AT_MINSIGSTKSZ). Compared with Linux, it has:
//   - no AT_SYSINFO_EHDR unless the kernel provides a vDSO, so that libc
//     makes real system calls instead of calling into nothing;
//   - no AT_HWCAP2: its one bit of interest, HWCAP2_FSGSBASE, would invite
//     the program to change its FS base with WRFSBASE, behind the back of
//     a sentry that keeps the FS base in the registers it restores at
//     every switch, and so must see every change through arch_prctl;
//   - no AT_RSEQ_FEATURE_SIZE or AT_RSEQ_ALIGN: there is no rseq;
//   - AT_BASE 0: there is no interpreter.
func buildAuxv(image loadedImage, creds Credentials, addrs auxvAddrs, extra []AuxEntry) []AuxEntry {
	auxv := make([]AuxEntry, 0, len(extra)+18)
	auxv = append(auxv, extra...)
	return append(auxv,
		AuxEntry{AT_HWCAP, hostHWCap()},
		AuxEntry{AT_PAGESZ, usermem.PageSize},
		AuxEntry{AT_CLKTCK, clockTicks},
		AuxEntry{AT_PHDR, uint64(image.phdr)},
		AuxEntry{AT_PHENT, phdrSize},
		AuxEntry{AT_PHNUM, uint64(image.phnum)},
		AuxEntry{AT_BASE, 0},
		AuxEntry{AT_FLAGS, 0},
		AuxEntry{AT_ENTRY, uint64(image.entry)},
		AuxEntry{AT_UID, uint64(creds.UID)},
		AuxEntry{AT_EUID, uint64(creds.EUID)},
		AuxEntry{AT_GID, uint64(creds.GID)},
		AuxEntry{AT_EGID, uint64(creds.EGID)},
		AuxEntry{AT_SECURE, 0},
		AuxEntry{AT_RANDOM, uint64(addrs.random)},
		AuxEntry{AT_EXECFN, uint64(addrs.execfn)},
		AuxEntry{AT_PLATFORM, uint64(addrs.platform)},
		AuxEntry{AT_NULL, 0},
	)
}

// hostHWCap returns the host's AT_HWCAP, which is what Linux would give the
// program: CPUID leaf 1's EDX as the kernel sees it (with any feature it
// disabled cleared). Reading it from the host's auxiliary vector needs no
// assembly. It is 0 if the host's vector cannot be read: libc then asks
// CPUID itself.
var hostHWCap = sync.OnceValue(func() uint64 {
	if auxv, err := unix.Auxv(); err == nil {
		for _, e := range auxv {
			if e[0] == AT_HWCAP {
				return uint64(e[1])
			}
		}
	}
	// The runtime did not keep its vector (or this Go cannot say): read
	// the same words from procfs.
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0
	}
	for ; len(b) >= 16; b = b[16:] {
		if binary.LittleEndian.Uint64(b) == AT_HWCAP {
			return binary.LittleEndian.Uint64(b[8:])
		}
	}
	return 0
})
