package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

func registerMMap(t *kernel.SyscallTable) {
	t.Register(unix.SYS_BRK, kernel.Syscall{Fn: Brk, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex}, Ret: kernel.RetHex})
	t.Register(unix.SYS_MMAP, kernel.Syscall{Fn: Mmap, Support: kernel.Full,
		Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.MmapProt, kernel.MmapFlags, kernel.FD, kernel.Hex}, Ret: kernel.RetHex})
	t.Register(unix.SYS_MUNMAP, kernel.Syscall{Fn: Munmap, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_MPROTECT, kernel.Syscall{Fn: Mprotect, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.MmapProt}})
	t.Register(unix.SYS_MREMAP, kernel.Syscall{Fn: Mremap, Support: kernel.Partial, Note: "no MREMAP_DONTUNMAP",
		Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.Uint, kernel.MremapFlags, kernel.Hex}, Ret: kernel.RetHex})
	t.Register(unix.SYS_MADVISE, kernel.Syscall{Fn: Madvise, Support: kernel.Partial, Note: "advice other than MADV_DONTNEED is accepted and ignored",
		Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.MadviseAdvice}})
}

// Brk implements brk(2). It always returns the resulting break: the
// current one when the request fails, which is how libcs learn of failure.
func Brk(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	m, addr := t.MemoryManager(), args[0].Pointer()
	if cur, _ := m.Brk(t, 0); addr > cur && !fitsMemoryLimit(t, uint64(addr-cur)) {
		return uintptr(cur), nil
	}
	addr, _ = m.Brk(t, addr)
	return uintptr(addr), nil
}

// fitsMemoryLimit reports whether length more bytes of application memory
// fit under the memory limit (minisentry run --memory-limit) now. mmap and
// brk refuse a request that does not with ENOMEM, as Linux's heuristic
// overcommit refuses one that could never be met: only writable private or
// shared anonymous memory counts, and mmap's MAP_NORESERVE skips the check.
// Memory that fits when mapped may not fit when touched: a page fault that
// needs memory past the limit kills with SIGBUS (Task.handleFault).
func fitsMemoryLimit(t *kernel.Task, length uint64) bool {
	return length <= t.Kernel().Platform.MemoryFile().Available()
}

// Mmap implements mmap(2).
func Mmap(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	addr, length, prot, flags, fd, offset := args[0].Pointer(), args[1].Uint64(), args[2].Int(), args[3].Int(), args[4].Int(), args[5].Uint64()
	private := flags&unix.MAP_PRIVATE != 0
	shared := flags&unix.MAP_SHARED != 0
	if flags&unix.MAP_TYPE == unix.MAP_SHARED_VALIDATE {
		private, shared = false, true
	}
	if private == shared {
		return 0, unix.EINVAL
	}
	// The offset must be page-aligned even where it is then ignored.
	if offset%usermem.PageSize != 0 {
		return 0, unix.EINVAL
	}
	opts := mm.MMapOpts{
		Length:    length,
		Addr:      addr,
		Fixed:     flags&(unix.MAP_FIXED|unix.MAP_FIXED_NOREPLACE) != 0,
		Unmap:     flags&unix.MAP_FIXED != 0,
		Map32Bit:  flags&unix.MAP_32BIT != 0,
		Private:   private,
		GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
		Precommit: flags&unix.MAP_POPULATE != 0,
		Perms:     usermem.AccessTypeFromProt(int(prot)),
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		f, _, err := t.FDTable().Get(fd)
		if err != nil {
			return 0, err
		}
		mappable, ok := f.(mm.Mappable)
		if !ok {
			return 0, unix.ENODEV
		}
		maxPerms, err := fileMapPerms(f, shared, opts.Perms)
		if err != nil {
			return 0, err
		}
		opts.Mappable = mappable
		opts.Offset = offset
		opts.MaxPerms = maxPerms
	}
	if opts.Perms.Write && (private || opts.Mappable == nil) && flags&unix.MAP_NORESERVE == 0 && !fitsMemoryLimit(t, length) {
		return 0, unix.ENOMEM
	}
	got, err := t.MemoryManager().MMap(t, opts)
	return uintptr(got), err
}

// fileMapPerms checks that f may be mapped with perms, shared or not, as
// Linux's do_mmap does, and returns the mapping's maximum permissions. The
// file must be open for reading, and for writing too if a shared mapping
// is to be writable, now or after mprotect: a shared mapping of a file
// open read-only can never gain PROT_WRITE. Only regular files can be
// mapped (a directory or a terminal has no mmap: ENODEV).
func fileMapPerms(f fs.File, shared bool, perms usermem.AccessType) (usermem.AccessType, error) {
	flags, err := f.StatusFlags()
	if err != nil {
		return usermem.NoAccess, err
	}
	if flags&unix.O_PATH != 0 {
		return usermem.NoAccess, unix.EBADF
	}
	acc := flags & unix.O_ACCMODE
	maxPerms := usermem.AnyAccess
	if shared && acc != unix.O_RDWR {
		if perms.Write {
			return usermem.NoAccess, unix.EACCES
		}
		maxPerms.Write = false
	}
	if acc == unix.O_WRONLY {
		return usermem.NoAccess, unix.EACCES
	}
	if st, err := f.Stat(); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return usermem.NoAccess, unix.ENODEV
	}
	return maxPerms, nil
}

// Munmap implements munmap(2).
func Munmap(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MUnmap(t, args[0].Pointer(), args[1].Uint64())
}

// Mprotect implements mprotect(2).
func Mprotect(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	prot := args[2].Int()
	const known = unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC | unix.PROT_GROWSDOWN | unix.PROT_GROWSUP
	if prot&^known != 0 || prot&unix.PROT_GROWSDOWN != 0 && prot&unix.PROT_GROWSUP != 0 {
		return 0, unix.EINVAL
	}
	perms := usermem.AccessTypeFromProt(int(prot))
	return 0, t.MemoryManager().MProtect(args[0].Pointer(), args[1].Uint64(), perms, prot&unix.PROT_GROWSDOWN != 0)
}

// Mremap implements mremap(2).
func Mremap(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	oldAddr, oldSize, newSize, flags, newAddr := args[0].Pointer(), args[1].Uint64(), args[2].Uint64(), args[3].Int(), args[4].Pointer()
	if flags&^(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED) != 0 {
		// MREMAP_DONTUNMAP is not supported, nor any unknown flag.
		return 0, unix.EINVAL
	}
	opts := mm.MRemapOpts{Move: mm.MRemapNoMove}
	switch {
	case flags&unix.MREMAP_FIXED != 0:
		if flags&unix.MREMAP_MAYMOVE == 0 {
			return 0, unix.EINVAL
		}
		opts = mm.MRemapOpts{Move: mm.MRemapMustMove, NewAddr: newAddr}
	case flags&unix.MREMAP_MAYMOVE != 0:
		opts.Move = mm.MRemapMayMove
	}
	got, err := t.MemoryManager().MRemap(t, oldAddr, oldSize, newSize, opts)
	return uintptr(got), err
}

// Madvise implements madvise(2).
func Madvise(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.MemoryManager().MAdvise(t, args[0].Pointer(), args[1].Uint64(), int(args[2].Int()))
}
