package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerAttr(t *kernel.SyscallTable) {
	t.Register(unix.SYS_CHMOD, kernel.Syscall{Fn: Chmod, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Oct}})
	t.Register(unix.SYS_FCHMOD, kernel.Syscall{Fn: Fchmod, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Oct}})
	t.Register(unix.SYS_FCHMODAT, kernel.Syscall{Fn: Fchmodat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Oct}})
	t.Register(unix.SYS_FCHMODAT2, kernel.Syscall{Fn: Fchmodat2, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Oct, kernel.AtFlags}})
	t.Register(unix.SYS_CHOWN, kernel.Syscall{Fn: Chown, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Int, kernel.Int}})
	t.Register(unix.SYS_FCHOWN, kernel.Syscall{Fn: Fchown, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Int, kernel.Int}})
	t.Register(unix.SYS_LCHOWN, kernel.Syscall{Fn: Lchown, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Int, kernel.Int}})
	t.Register(unix.SYS_FCHOWNAT, kernel.Syscall{Fn: Fchownat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Int, kernel.Int, kernel.AtFlags}})
	t.Register(unix.SYS_TRUNCATE, kernel.Syscall{Fn: Truncate, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Hex}})
	t.Register(unix.SYS_UTIMENSAT, kernel.Syscall{Fn: Utimensat, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Path, kernel.Hex, kernel.AtFlags}})
	t.Register(unix.SYS_UTIMES, kernel.Syscall{Fn: Utimes, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Hex}})
	t.Register(unix.SYS_UTIME, kernel.Syscall{Fn: Utime, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path, kernel.Hex}})
	t.Register(unix.SYS_UMASK, kernel.Syscall{Fn: Umask, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Oct}})
}

// The calls here change a file's attributes: mode, owner, size, times.
// Through a path, each finds the file in the host tree (the synthetic
// file systems refuse, with EPERM) and has fs.Root make the change;
// through a descriptor, the file must be a host one: the sentry's own
// files (pipes, /proc) refuse with EPERM, where Linux would change
// attributes nobody looks at.

// modeBits are the mode bits chmod(2) sets (S_IALLUGO): permissions,
// set-user-ID, set-group-ID and sticky.
const modeBits = 0o7777

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return fchmodat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Uint(), 0)
}

// Fchmodat implements fchmodat(2), which has no flags argument.
func Fchmodat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return fchmodat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), 0)
}

// Fchmodat2 implements fchmodat2(2) (Linux 6.6). Like Linux, it cannot
// change a symlink's mode: AT_SYMLINK_NOFOLLOW on one is EOPNOTSUPP.
func Fchmodat2(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[3].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	return fchmodat(t, args[0].Int(), args[1].Pointer(), args[2].Uint(), flags)
}

func fchmodat(t *kernel.Task, dirfd int32, addr usermem.Addr, mode uint32, flags int32) (uintptr, error) {
	p, empty, err := pathOrEmpty(t, dirfd, addr, flags)
	if err != nil {
		return 0, err
	}
	if empty {
		return fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			return 0, chmodFile(f, mode)
		})
	}
	if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		st, err := statPath(t, p, false)
		if err != nil {
			return 0, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return 0, unix.EOPNOTSUPP
		}
	}
	if p, err = hostPath(t, p, true, false); err != nil {
		return 0, err
	}
	return 0, root(t).Chmod(p, mode&modeBits)
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		return 0, chmodFile(f, args[1].Uint())
	})
}

func chmodFile(f fs.File, mode uint32) error {
	hf, ok := f.(*fs.HostFile)
	if !ok {
		return unix.EPERM
	}
	return hf.Chmod(mode & modeBits)
}

// Chown implements chown(2).
func Chown(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return fchownat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Int(), args[2].Int(), 0)
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return fchownat(t, unix.AT_FDCWD, args[0].Pointer(), args[1].Int(), args[2].Int(), unix.AT_SYMLINK_NOFOLLOW)
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	flags := args[4].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	return fchownat(t, args[0].Int(), args[1].Pointer(), args[2].Int(), args[3].Int(), flags)
}

// fchownat changes the owner and group; -1 (as a uid_t, all ones) leaves
// one as it is.
func fchownat(t *kernel.Task, dirfd int32, addr usermem.Addr, uid, gid int32, flags int32) (uintptr, error) {
	p, empty, err := pathOrEmpty(t, dirfd, addr, flags)
	if err != nil {
		return 0, err
	}
	if empty {
		return fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			return 0, chownFile(f, uid, gid)
		})
	}
	follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
	if p, err = hostPath(t, p, follow, false); err != nil {
		return 0, err
	}
	return 0, root(t).Chown(p, int(uid), int(gid), follow)
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		return 0, chownFile(f, args[1].Int(), args[2].Int())
	})
}

func chownFile(f fs.File, uid, gid int32) error {
	hf, ok := f.(*fs.HostFile)
	if !ok {
		return unix.EPERM
	}
	return hf.Chown(int(uid), int(gid))
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	p, err := pathAt(t, unix.AT_FDCWD, args[0].Pointer())
	if err != nil {
		return 0, err
	}
	length := args[1].Int64()
	if length < 0 {
		return 0, unix.EINVAL
	}
	if p, err = hostPath(t, p, true, false); err != nil {
		return 0, err
	}
	return 0, root(t).Truncate(p, length)
}

// utimeOmit and utimeNow are utimensat(2)'s special tv_nsec values.
const (
	utimeNow  = (1 << 30) - 1
	utimeOmit = (1 << 30) - 2
)

// bothNow is what a NULL times argument means: both times set to now,
// which Linux checks permissions for as it does for UTIME_NOW.
var bothNow = [2]unix.Timespec{{Nsec: utimeNow}, {Nsec: utimeNow}}

// Utimensat implements utimensat(2). A NULL path with a descriptor (how
// libcs implement futimens) changes the descriptor's file.
func Utimensat(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, timesAddr, flags := args[0].Int(), args[1].Pointer(), args[2].Pointer(), args[3].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	ts := bothNow
	if timesAddr != 0 {
		if _, err := t.CopyIn(timesAddr, &ts); err != nil {
			return 0, err
		}
		for _, tv := range ts {
			if tv.Nsec != utimeNow && tv.Nsec != utimeOmit && (tv.Nsec < 0 || tv.Nsec >= 1e9) {
				return 0, unix.EINVAL
			}
		}
	}
	if pathAddr == 0 && dirfd != unix.AT_FDCWD {
		if flags != 0 {
			return 0, unix.EINVAL
		}
		return withFile(t, dirfd, func(f fs.File) (uintptr, error) {
			return 0, utimensFile(f, ts)
		})
	}
	return utimensat(t, dirfd, pathAddr, ts, flags)
}

// utimensat sets the times of the path at addr relative to dirfd.
func utimensat(t *kernel.Task, dirfd int32, addr usermem.Addr, ts [2]unix.Timespec, flags int32) (uintptr, error) {
	p, empty, err := pathOrEmpty(t, dirfd, addr, flags)
	if err != nil {
		return 0, err
	}
	if empty {
		return fileOrCwd(t, dirfd, func(f fs.File) (uintptr, error) {
			return 0, utimensFile(f, ts)
		})
	}
	follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
	if p, err = hostPath(t, p, follow, false); err != nil {
		return 0, err
	}
	return 0, root(t).Utimens(p, ts, follow)
}

func utimensFile(f fs.File, ts [2]unix.Timespec) error {
	hf, ok := f.(*fs.HostFile)
	if !ok {
		return unix.EPERM
	}
	return hf.Utimens(ts)
}

// Utimes implements utimes(2): times as two struct timevals, or NULL for
// now.
func Utimes(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	ts := bothNow
	if addr := args[1].Pointer(); addr != 0 {
		var tv [2]unix.Timeval
		if _, err := t.CopyIn(addr, &tv); err != nil {
			return 0, err
		}
		for i := range tv {
			if tv[i].Usec < 0 || tv[i].Usec >= 1e6 {
				return 0, unix.EINVAL
			}
			ts[i] = unix.Timespec{Sec: tv[i].Sec, Nsec: tv[i].Usec * 1000}
		}
	}
	return utimensat(t, unix.AT_FDCWD, args[0].Pointer(), ts, 0)
}

// Utime implements utime(2): times as a struct utimbuf (two time_t, whole
// seconds), or NULL for now.
func Utime(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	ts := bothNow
	if addr := args[1].Pointer(); addr != 0 {
		var buf [2]int64
		if _, err := t.CopyIn(addr, &buf); err != nil {
			return 0, err
		}
		ts = [2]unix.Timespec{{Sec: buf[0]}, {Sec: buf[1]}}
	}
	return utimensat(t, unix.AT_FDCWD, args[0].Pointer(), ts, 0)
}

// Umask implements umask(2): it returns the old mask.
func Umask(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return uintptr(t.FSContext().SwapUmask(args[0].Uint())), nil
}
