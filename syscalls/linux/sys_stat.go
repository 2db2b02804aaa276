package linux

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerStat(t *kernel.SyscallTable) {
	t.Register(unix.SYS_STAT, kernel.Syscall{Fn: Stat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Stat}})
	t.Register(unix.SYS_LSTAT, kernel.Syscall{Fn: Lstat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Stat}})
	t.Register(unix.SYS_FSTAT, kernel.Syscall{Fn: Fstat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Stat}})
	t.Register(unix.SYS_NEWFSTATAT, kernel.Syscall{Fn: Newfstatat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Stat, kernel.AtFlags}})
	t.Register(unix.SYS_STATX, kernel.Syscall{Fn: Statx, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.AtFlags, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_STATFS, kernel.Syscall{Fn: Statfs, Support: kernel.Partial, Note: "/proc and /dev report made-up numbers", Args: []kernel.ArgFormat{kernel.Path, kernel.Hex}})
	t.Register(unix.SYS_FSTATFS, kernel.Syscall{Fn: Fstatfs, Support: kernel.Partial, Note: "only files of the host tree", Args: []kernel.ArgFormat{kernel.FD, kernel.Hex}})
	t.Register(unix.SYS_ACCESS, kernel.Syscall{Fn: Access, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Oct}})
	t.Register(unix.SYS_FACCESSAT, kernel.Syscall{Fn: Faccessat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Oct}})
	t.Register(unix.SYS_FACCESSAT2, kernel.Syscall{Fn: Faccessat2, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Oct, kernel.AtFlags}})
}

// Stat implements stat(2).
func Stat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return fstatat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), 0)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return fstatat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Pointer(), unix.AT_SYMLINK_NOFOLLOW)
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		return copyOutStat(t, f, args[1].Pointer())
	})
}

// Newfstatat implements newfstatat(2), which libcs call fstatat.
func Newfstatat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[3].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	return fstatat(t, args[0].Int(), args[1].Pointer(), args[2].Pointer(), flags)
}

// fstatat writes at statAddr the struct stat of the path at pathAddr,
// relative to dirfd.
func fstatat(t *kernel.Task, dirfd int32, pathAddr, statAddr usermem.Addr, flags int32) (uintptr, error) {
	p, empty, err := statPathOrEmpty(t, dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	if empty {
		return fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			return copyOutStat(t, f, statAddr)
		})
	}
	st, err := statPath(t, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(statAddr, &st)
	return 0, err
}

// pathOrEmpty reads the path argument of a call that takes AT_EMPTY_PATH
// and returns the sandbox path it names relative to dirfd, or empty if
// the call is about dirfd's own file: an empty path with AT_EMPTY_PATH.
// Without it, an empty path is ENOENT.
func pathOrEmpty(t *kernel.Task, dirfd int32, addr usermem.Addr, flags int32) (p string, empty bool, err error) {
	if p, err = copyInPath(t, addr); err != nil {
		return "", false, err
	}
	if p == "" {
		if flags&unix.AT_EMPTY_PATH != 0 {
			return "", true, nil
		}
		return "", false, unix.ENOENT
	}
	p, err = t.PathAt(dirfd, p)
	return p, false, err
}

// statPathOrEmpty is pathOrEmpty for fstatat(2) and statx(2), which
// since Linux 6.11 also take a NULL path with AT_EMPTY_PATH.
func statPathOrEmpty(t *kernel.Task, dirfd int32, addr usermem.Addr, flags int32) (p string, empty bool, err error) {
	if addr == 0 && flags&unix.AT_EMPTY_PATH != 0 {
		return "", true, nil
	}
	return pathOrEmpty(t, dirfd, addr, flags)
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

// statxReserved is STATX__RESERVED, a mask bit kept for extending struct
// statx: asking for it is EINVAL.
const statxReserved = 0x80000000

// Statx implements statx(2). Files of the host tree are described by the
// host's own statx, every field it fills included; other files by their
// struct stat, for the basic fields.
func Statx(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	dirfd, flags, mask, addr := args[0].Int(), args[2].Int(), args[3].Uint(), args[4].Pointer()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|fs.AtStatxSyncType) != 0 ||
		flags&fs.AtStatxSyncType == fs.AtStatxSyncType || mask&statxReserved != 0 {
		return 0, unix.EINVAL
	}
	p, empty, err := statPathOrEmpty(t, dirfd, args[1].Pointer(), flags)
	if err != nil {
		return 0, err
	}
	var stx unix.Statx_t
	if empty {
		_, err = fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			stx, err = statxFile(f, int(flags), int(mask))
			return 0, err
		})
	} else {
		follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
		stx, err = kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (unix.Statx_t, bool, error) {
			st, handled, err := s.Stat(t, clean, follow)
			return statxFromStat(st), handled, err
		}, func(p string) (unix.Statx_t, error) {
			return root(t).Statx(p, follow, int(flags), int(mask))
		})
	}
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(addr, &stx)
	return 0, err
}

// statxFile describes an open file for statx(2).
func statxFile(f fs.File, flags, mask int) (unix.Statx_t, error) {
	if hf, ok := f.(*fs.HostFile); ok {
		return hf.Statx(flags, mask)
	}
	st, err := f.Stat()
	return statxFromStat(st), err
}

// statxFromStat fills the basic fields of a struct statx
// (STATX_BASIC_STATS) from a struct stat.
func statxFromStat(st unix.Stat_t) unix.Statx_t {
	ts := func(t unix.Timespec) unix.StatxTimestamp {
		return unix.StatxTimestamp{Sec: t.Sec, Nsec: uint32(t.Nsec)}
	}
	return unix.Statx_t{
		Mask:       unix.STATX_BASIC_STATS,
		Blksize:    uint32(st.Blksize),
		Nlink:      uint32(st.Nlink),
		Uid:        st.Uid,
		Gid:        st.Gid,
		Mode:       uint16(st.Mode),
		Ino:        st.Ino,
		Size:       uint64(st.Size),
		Blocks:     uint64(st.Blocks),
		Atime:      ts(st.Atim),
		Mtime:      ts(st.Mtim),
		Ctime:      ts(st.Ctim),
		Rdev_major: unix.Major(st.Rdev),
		Rdev_minor: unix.Minor(st.Rdev),
		Dev_major:  unix.Major(st.Dev),
		Dev_minor:  unix.Minor(st.Dev),
	}
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	p, err := pathAt(t, unix.AT_FDCWD, args[0].Pointer())
	if err != nil {
		return 0, err
	}
	sfs, err := kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (unix.Statfs_t, bool, error) {
		_, handled, err := s.Stat(t, clean, true)
		return syntheticStatfs(clean), handled, err
	}, func(p string) (unix.Statfs_t, error) {
		return root(t).Statfs(p)
	})
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(args[1].Pointer(), &sfs)
	return 0, err
}

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		var sfs unix.Statfs_t
		if hf, ok := f.(*fs.HostFile); ok {
			var err error
			if sfs, err = hf.Statfs(); err != nil {
				return 0, err
			}
		} else {
			sfs = syntheticStatfs(f.Name())
		}
		_, err := t.CopyOut(args[1].Pointer(), &sfs)
		return 0, err
	})
}

// Magic numbers of struct statfs's f_type, as in Linux's
// include/uapi/linux/magic.h.
const (
	procSuperMagic = 0x9fa0
	tmpfsMagic     = 0x01021994
	pipefsMagic    = 0x50495045
)

// syntheticStatfs describes the file system of a file the sentry makes
// up: /proc as procfs, /dev as the tmpfs it is on Linux, pipes as pipefs.
// The numbers are Linux's for empty file systems.
func syntheticStatfs(name string) unix.Statfs_t {
	sfs := unix.Statfs_t{Bsize: usermem.PageSize, Frsize: usermem.PageSize, Namelen: 255}
	switch {
	case name == "/proc" || strings.HasPrefix(name, "/proc/"):
		sfs.Type = procSuperMagic
	case strings.HasPrefix(name, "pipe:"):
		sfs.Type = pipefsMagic
	default:
		sfs.Type = tmpfsMagic
	}
	return sfs
}

// Access implements access(2).
func Access(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return faccessat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Uint(), 0)
}

// Faccessat implements faccessat(2), which has no flags argument.
func Faccessat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return faccessat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[3].Int()
	if flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	return faccessat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), flags)
}

// faccessat checks the task's permission to the path at addr, relative
// to dirfd, with the real ids unless AT_EACCESS.
func faccessat(t *kernel.Task, dirfd int32, addr usermem.Addr, mode uint32, flags int32) (uintptr, error) {
	if mode&^(unix.R_OK|unix.W_OK|unix.X_OK) != 0 {
		return 0, unix.EINVAL
	}
	p, empty, err := pathOrEmpty(t, dirfd, addr, flags)
	if err != nil {
		return 0, err
	}
	effective := flags&unix.AT_EACCESS != 0
	if empty {
		return fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			if hf, ok := f.(*fs.HostFile); ok {
				return 0, hf.Access(mode, effective)
			}
			st, err := f.Stat()
			if err != nil {
				return 0, err
			}
			return 0, accessByMode(st, t.Credentials(), mode, effective)
		})
	}
	follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
	_, err = kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (struct{}, bool, error) {
		st, handled, err := s.Stat(t, clean, follow)
		if handled && err == nil {
			err = accessByMode(st, t.Credentials(), mode, effective)
		}
		return struct{}{}, handled, err
	}, func(p string) (struct{}, error) {
		return struct{}{}, root(t).Access(p, mode, follow, effective)
	})
	return 0, err
}
