package linux

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerFile(t *kernel.SyscallTable) {
	t.Register(unix.SYS_CLOSE, kernel.Syscall{Fn: Close, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD}})
	t.Register(unix.SYS_FSTAT, kernel.Syscall{Fn: Fstat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Stat}})
	t.Register(unix.SYS_NEWFSTATAT, kernel.Syscall{Fn: Newfstatat, Support: kernel.Partial, Note: "paths are the host's", Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Stat, kernel.AtFlags}})
	t.Register(unix.SYS_IOCTL, kernel.Syscall{Fn: Ioctl, Support: kernel.Partial, Note: "TCGETS and TIOCGWINSZ on host terminals", Args: []kernel.ArgFormat{kernel.FD, kernel.IoctlRequest, kernel.Hex}})
	t.Register(unix.SYS_READLINK, kernel.Syscall{Fn: Readlink, Support: kernel.Partial, Note: "/proc/self/exe and host paths", Args: []kernel.ArgFormat{kernel.Path, kernel.ReadBuffer, kernel.Int}})
	t.Register(unix.SYS_READLINKAT, kernel.Syscall{Fn: Readlinkat, Support: kernel.Partial, Note: "/proc/self/exe and host paths", Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.ReadBuffer, kernel.Int}})
}

// Close implements close(2).
func Close(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.FDTable().Remove(args[0].Int())
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	f, _, err := t.FDTable().Get(args[0].Int())
	if err != nil {
		return 0, err
	}
	return copyOutStat(t, f, args[1].Pointer())
}

// copyOutStat writes f's struct stat at addr.
func copyOutStat(t *kernel.Task, f fs.File, addr usermem.Addr) (uintptr, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(addr, &st)
	return 0, err
}

// Newfstatat implements newfstatat(2). Until the file system lands, a path
// is looked up on the host, relative to the sentry's working directory
// (which is the application's).
func Newfstatat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	dirfd, flags := args[0].Int(), args[3].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	path, err := t.CopyInString(args[1].Pointer(), unix.PathMax)
	if err != nil {
		return 0, err
	}
	if path == "" {
		if flags&unix.AT_EMPTY_PATH == 0 {
			return 0, unix.ENOENT
		}
		f, _, err := t.FDTable().Get(dirfd)
		if err != nil {
			return 0, err
		}
		return copyOutStat(t, f, args[2].Pointer())
	}
	hostDir, err := hostDirFD(t, dirfd, path)
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(hostDir, path, &st, int(flags&unix.AT_SYMLINK_NOFOLLOW)); err != nil {
		return 0, err
	}
	_, err = t.CopyOut(args[2].Pointer(), &st)
	return 0, err
}

// hostDirFD returns the host directory descriptor a relative path starts
// from: the working directory for AT_FDCWD, or the host descriptor behind
// dirfd.
func hostDirFD(t *kernel.Task, dirfd int32, path string) (int, error) {
	if dirfd == unix.AT_FDCWD || strings.HasPrefix(path, "/") {
		return unix.AT_FDCWD, nil
	}
	f, _, err := t.FDTable().Get(dirfd)
	if err != nil {
		return 0, err
	}
	hf, ok := f.(*fs.HostFile)
	if !ok {
		return 0, unix.ENOTDIR
	}
	return hf.FD(), nil
}

// Ioctl implements ioctl(2) for the requests files support.
func Ioctl(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	f, _, err := t.FDTable().Get(args[0].Int())
	if err != nil {
		return 0, err
	}
	return f.Ioctl(t, t.UserIO(), args[1].Uint(), args[2].Pointer())
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readlinkat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), args[2].Int())
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return readlinkat(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int())
}

// readlinkat reads the link at path into buf, without a NUL, truncated to
// size bytes. /proc/self/exe names the program the sandbox runs; other
// paths are the host's until the file system lands.
func readlinkat(t *kernel.Task, dirfd int32, pathAddr, buf usermem.Addr, size int32) (uintptr, error) {
	path, err := t.CopyInString(pathAddr, unix.PathMax)
	if err != nil {
		return 0, err
	}
	if size <= 0 {
		return 0, unix.EINVAL
	}
	var target string
	if isProcSelf(t, path, "exe") {
		target = t.Executable()
	} else {
		hostDir, err := hostDirFD(t, dirfd, path)
		if err != nil {
			return 0, err
		}
		b := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(hostDir, path, b)
		if err != nil {
			return 0, err
		}
		target = string(b[:n])
	}
	if len(target) > int(size) {
		target = target[:size]
	}
	n, err := t.CopyOutBytes(buf, []byte(target))
	return uintptr(n), err
}

// isProcSelf reports whether path is /proc/self/<name> or
// /proc/<this process's pid>/<name>.
func isProcSelf(t *kernel.Task, path, name string) bool {
	rest, ok := strings.CutPrefix(path, "/proc/")
	if !ok {
		return false
	}
	pid, file, ok := strings.Cut(rest, "/")
	return ok && file == name && (pid == "self" || pid == itoa(int64(t.ThreadGroup().ID())))
}
