package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerOpen(t *kernel.SyscallTable) {
	t.Register(unix.SYS_OPEN, kernel.Syscall{Fn: Open, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.OpenFlags, kernel.Oct}})
	t.Register(unix.SYS_OPENAT, kernel.Syscall{Fn: Openat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.OpenFlags, kernel.Oct}})
	t.Register(unix.SYS_OPENAT2, kernel.Syscall{Fn: Openat2, Support: kernel.Partial, Note: "RESOLVE_BENEATH and RESOLVE_IN_ROOT only from host directories",
		Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_CREAT, kernel.Syscall{Fn: Creat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Oct}})
}

// openHowSize is sizeof(struct open_how) in its first version (flags,
// mode, resolve: three u64s), the smallest size openat2(2) accepts.
const openHowSize = 24

// Open implements open(2).
func Open(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags, mode := fs.OpenFlags(args[1].Uint(), args[2].Uint())
	return openAt(t, unix.AT_FDCWD, args[0].Pointer(), flags, mode, 0)
}

// Openat implements openat(2).
func Openat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags, mode := fs.OpenFlags(args[2].Uint(), args[3].Uint())
	return openAt(t, args[0].Int(), args[1].Pointer(), flags, mode, 0)
}

// Creat implements creat(2).
func Creat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags, mode := fs.OpenFlags(unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, args[1].Uint())
	return openAt(t, unix.AT_FDCWD, args[0].Pointer(), flags, mode, 0)
}

// Openat2 implements openat2(2). Unlike open(2), it refuses what it does
// not know: unknown flags or resolve flags, a mode without O_CREAT or
// O_TMPFILE, flags O_PATH ignores. A struct open_how larger than the
// version it knows is accepted if the extra bytes are zero, as Linux's
// copy_struct_from_user does.
func Openat2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	size := args[3].SizeT()
	if size < openHowSize {
		return 0, unix.EINVAL
	}
	if size > usermem.PageSize {
		return 0, unix.E2BIG
	}
	raw := make([]byte, size)
	if _, err := t.CopyInBytes(args[2].Pointer(), raw); err != nil {
		return 0, err
	}
	for _, b := range raw[openHowSize:] {
		if b != 0 {
			return 0, unix.E2BIG
		}
	}
	var how unix.OpenHow
	how.Flags = usermem.ByteOrder.Uint64(raw[0:])
	how.Mode = usermem.ByteOrder.Uint64(raw[8:])
	how.Resolve = usermem.ByteOrder.Uint64(raw[16:])
	switch {
	case how.Flags&^uint64(fs.ValidOpenFlags) != 0,
		how.Mode&^0o7777 != 0,
		how.Mode != 0 && how.Flags&(unix.O_CREAT|unix.O_TMPFILE&^unix.O_DIRECTORY) == 0,
		how.Flags&unix.O_PATH != 0 && how.Flags&^fs.PathOpenFlags != 0,
		how.Resolve&^fs.ValidResolveFlags != 0,
		how.Resolve&unix.RESOLVE_BENEATH != 0 && how.Resolve&unix.RESOLVE_IN_ROOT != 0:
		return 0, unix.EINVAL
	}
	return openAt(t, args[0].Int(), args[1].Pointer(), uint32(how.Flags), uint32(how.Mode), how.Resolve)
}

// openAt opens the path at addr relative to dirfd and installs the file
// at the lowest free descriptor. flags and mode are as openat2(2)
// accepts them; resolve holds its RESOLVE_* flags.
func openAt(t *kernel.Task, dirfd int32, addr usermem.Addr, flags, mode uint32, resolve uint64) (uintptr, error) {
	p, err := copyInPath(t, addr)
	if err != nil {
		return 0, err
	}
	if p == "" {
		return 0, unix.ENOENT
	}
	mode &^= t.FSContext().Umask()
	var f fs.File
	if resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
		f, err = openBeneath(t, dirfd, p, flags, mode, resolve)
	} else {
		var abs string
		if abs, err = t.PathAt(dirfd, p); err == nil {
			f, err = openPath(t, abs, flags, mode, resolve)
		}
	}
	if err != nil {
		return 0, err
	}
	fd, err := t.FDTable().NewFD(0, f, kernel.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0}, fileLimit(t))
	if err != nil {
		f.Close()
		return 0, err
	}
	return uintptr(fd), nil
}

// openPath opens the sandbox path p: a synthetic file, or a file of the
// host tree.
func openPath(t *kernel.Task, p string, flags, mode uint32, resolve uint64) (fs.File, error) {
	return kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (fs.File, bool, error) {
		return s.Open(t, clean, flags)
	}, func(p string) (fs.File, error) {
		f, err := root(t).Open(t, p, flags, mode, resolve)
		if err != nil {
			return nil, err
		}
		return f, nil
	})
}

// openBeneath opens p relative to dirfd with RESOLVE_BENEATH or
// RESOLVE_IN_ROOT: the walk starts from the host directory itself, which
// the host then keeps it in. Only host directories can be such a start:
// EXDEV for a synthetic one.
func openBeneath(t *kernel.Task, dirfd int32, p string, flags, mode uint32, resolve uint64) (fs.File, error) {
	var dir fs.File
	if dirfd == unix.AT_FDCWD {
		cwd, err := openPath(t, t.FSContext().Cwd(), unix.O_PATH|unix.O_DIRECTORY, 0, 0)
		if err != nil {
			return nil, err
		}
		defer cwd.Close()
		dir = cwd
	} else {
		f, release, err := t.FDTable().GetRef(dirfd)
		if err != nil {
			return nil, err
		}
		defer release()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil, unix.ENOTDIR
		}
		dir = f
	}
	hf, ok := dir.(*fs.HostFile)
	if !ok {
		return nil, unix.EXDEV
	}
	f, err := root(t).OpenBeneath(t, hf, p, flags, mode, resolve)
	if err != nil {
		return nil, err
	}
	return f, nil
}
