package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerPath(t *kernel.SyscallTable) {
	t.Register(unix.SYS_MKDIR, kernel.Syscall{Fn: Mkdir, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Oct}})
	t.Register(unix.SYS_MKDIRAT, kernel.Syscall{Fn: Mkdirat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Oct}})
	t.Register(unix.SYS_MKNOD, kernel.Syscall{Fn: Mknod, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Oct, kernel.Hex}})
	t.Register(unix.SYS_MKNODAT, kernel.Syscall{Fn: Mknodat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Oct, kernel.Hex}})
	t.Register(unix.SYS_RMDIR, kernel.Syscall{Fn: Rmdir, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path}})
	t.Register(unix.SYS_UNLINK, kernel.Syscall{Fn: Unlink, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path}})
	t.Register(unix.SYS_UNLINKAT, kernel.Syscall{Fn: Unlinkat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Hex}})
	t.Register(unix.SYS_RENAME, kernel.Syscall{Fn: Rename, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Path}})
	t.Register(unix.SYS_RENAMEAT, kernel.Syscall{Fn: Renameat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.FD, kernel.Path}})
	t.Register(unix.SYS_RENAMEAT2, kernel.Syscall{Fn: Renameat2, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.FD, kernel.Path, kernel.Hex}})
	t.Register(unix.SYS_LINK, kernel.Syscall{Fn: Link, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Path}})
	t.Register(unix.SYS_LINKAT, kernel.Syscall{Fn: Linkat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.FD, kernel.Path, kernel.AtFlags}})
	t.Register(unix.SYS_SYMLINK, kernel.Syscall{Fn: Symlink, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Path}})
	t.Register(unix.SYS_SYMLINKAT, kernel.Syscall{Fn: Symlinkat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.FD, kernel.Path}})
	t.Register(unix.SYS_READLINK, kernel.Syscall{Fn: Readlink, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.ReadBuffer, kernel.Int}})
	t.Register(unix.SYS_READLINKAT, kernel.Syscall{Fn: Readlinkat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.ReadBuffer, kernel.Int}})
}

// The calls here create, remove and rename names. Each reads its paths,
// resolves them against their directory descriptors, refuses changes to
// the synthetic file systems (hostPath), and has fs.Root make the change,
// which checks the last component as Linux does.

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return mkdirat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Uint())
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return mkdirat(t, args[0].Int(), args[1].Pointer(), args[2].Uint())
}

func mkdirat(t *kernel.Task, dirfd int32, addr usermem.Addr, mode uint32) (uintptr, error) {
	p, err := createPath(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	// A directory keeps the permission bits and the sticky bit.
	return 0, root(t).Mkdir(p, mode&0o1777&^t.FSContext().Umask())
}

// createPath reads the path of a name about to be created, relative to
// dirfd, and returns where to create it in the host tree.
func createPath(t *kernel.Task, dirfd int32, addr usermem.Addr) (string, error) {
	p, err := pathAt(t, dirfd, addr)
	if err != nil {
		return "", err
	}
	return hostPath(t, p, false, true)
}

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return mknodat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Uint(), args[2].Uint())
}

// Mknodat implements mknodat(2).
func Mknodat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return mknodat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), args[3].Uint())
}

// mknodat makes a regular file, FIFO, socket or device node; the host
// decides who may make a device.
func mknodat(t *kernel.Task, dirfd int32, addr usermem.Addr, mode, dev uint32) (uintptr, error) {
	switch mode & unix.S_IFMT {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFDIR:
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	p, err := createPath(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	mode = mode&unix.S_IFMT | mode&0o7777&^t.FSContext().Umask()
	return 0, root(t).Mknod(p, mode, uint64(dev))
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return unlinkat(t, unix.AT_FDCWD, args[0].Pointer(), unix.AT_REMOVEDIR)
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return unlinkat(t, unix.AT_FDCWD, args[0].Pointer(), 0)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[2].Int()
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	return unlinkat(t, args[0].Int(), args[1].Pointer(), flags)
}

func unlinkat(t *kernel.Task, dirfd int32, addr usermem.Addr, flags int32) (uintptr, error) {
	p, err := pathAt(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	if p, err = hostPath(t, p, false, false); err != nil {
		return 0, err
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		return 0, root(t).Rmdir(p)
	}
	return 0, root(t).Unlink(p)
}

// Rename implements rename(2).
func Rename(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return renameat2(t, unix.AT_FDCWD, args[0].Pointer(), unix.AT_FDCWD, args[1].Pointer(), 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return renameat2(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer(), 0)
}

// Renameat2 implements renameat2(2): RENAME_NOREPLACE, RENAME_EXCHANGE
// and RENAME_WHITEOUT, which the host file system may refuse.
func Renameat2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return renameat2(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer(), uint(args[4].Uint()))
}

func renameat2(t *kernel.Task, oldDirfd int32, oldAddr usermem.Addr, newDirfd int32, newAddr usermem.Addr, flags uint) (uintptr, error) {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 ||
		flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return 0, unix.EINVAL
	}
	oldPath, err := pathAt(t, oldDirfd, oldAddr)
	if err != nil {
		return 0, err
	}
	newPath, err := pathAt(t, newDirfd, newAddr)
	if err != nil {
		return 0, err
	}
	if oldPath, err = hostPath(t, oldPath, false, false); err != nil {
		return 0, err
	}
	if newPath, err = hostPath(t, newPath, false, false); err != nil {
		return 0, err
	}
	return 0, root(t).Rename(oldPath, newPath, flags)
}

// Link implements link(2).
func Link(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return linkat(t, unix.AT_FDCWD, args[0].Pointer(), unix.AT_FDCWD, args[1].Pointer(), 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[4].Int()
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	return linkat(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Pointer(), flags)
}

// linkat makes a hard link. With AT_EMPTY_PATH and an empty old path, the
// link is to the file at oldDirfd, as the host allows it to a process
// with CAP_DAC_READ_SEARCH.
func linkat(t *kernel.Task, oldDirfd int32, oldAddr usermem.Addr, newDirfd int32, newAddr usermem.Addr, flags int32) (uintptr, error) {
	oldPath, empty, err := pathOrEmpty(t, oldDirfd, oldAddr, flags)
	if err != nil {
		return 0, err
	}
	newPath, err := createPath(t, newDirfd, newAddr)
	if err != nil {
		return 0, err
	}
	if empty {
		return fileOrCwd(t, oldDirfd, func(f fs.File) (uintptr, error) {
			hf, ok := f.(*fs.HostFile)
			if !ok {
				return 0, unix.EXDEV
			}
			return 0, root(t).LinkFile(hf, newPath)
		})
	}
	follow := flags&unix.AT_SYMLINK_FOLLOW != 0
	if oldPath, err = hostPath(t, oldPath, follow, false); err != nil {
		return 0, err
	}
	return 0, root(t).Link(oldPath, newPath, follow)
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return symlinkat(t, args[0].Pointer(), unix.AT_FDCWD, args[1].Pointer())
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return symlinkat(t, args[0].Pointer(), args[1].Int(), args[2].Pointer())
}

// symlinkat makes a symbolic link holding target, which is stored as
// given: only following it resolves it, inside the root.
func symlinkat(t *kernel.Task, targetAddr usermem.Addr, dirfd int32, addr usermem.Addr) (uintptr, error) {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	if target == "" {
		return 0, unix.ENOENT
	}
	p, err := createPath(t, dirfd, addr)
	if err != nil {
		return 0, err
	}
	return 0, root(t).Symlink(target, p)
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readlinkat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), args[2].Int())
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readlinkat(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int())
}

// readlinkat copies the target of the symbolic link at the path, without
// a NUL, truncated to size bytes. The synthetic file systems answer first
// (/proc/self/exe). An empty path reads the link open at dirfd (O_PATH
// with O_NOFOLLOW).
func readlinkat(t *kernel.Task, dirfd int32, pathAddr, buf usermem.Addr, size int32) (uintptr, error) {
	if size <= 0 {
		return 0, unix.EINVAL
	}
	p, empty, err := pathOrEmpty(t, dirfd, pathAddr, unix.AT_EMPTY_PATH)
	if err != nil {
		return 0, err
	}
	var target string
	if empty {
		_, err = fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			hf, ok := f.(*fs.HostFile)
			if !ok {
				return 0, unix.ENOENT
			}
			target, err = hf.Readlink()
			return 0, err
		})
	} else {
		target, err = kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (string, bool, error) {
			return s.Readlink(t, clean)
		}, func(p string) (string, error) {
			return root(t).Readlink(p)
		})
	}
	if err != nil {
		return 0, err
	}
	if len(target) > int(size) {
		target = target[:size]
	}
	n, err := t.CopyOutBytes(buf, []byte(target))
	return uintptr(n), err
}
