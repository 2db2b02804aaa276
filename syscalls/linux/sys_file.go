package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerFile(t *kernel.SyscallTable) {
	t.Register(unix.SYS_CLOSE, kernel.Syscall{Fn: Close, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD}})
	t.Register(unix.SYS_LSEEK, kernel.Syscall{Fn: Lseek, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Int, kernel.Whence}})
	t.Register(unix.SYS_IOCTL, kernel.Syscall{Fn: Ioctl, Support: kernel.Partial, Note: "TCGETS and TIOCGWINSZ on host terminals; FIONREAD on pipes", Args: []kernel.ArgFormat{kernel.FD, kernel.IoctlRequest, kernel.Hex}})
	t.Register(unix.SYS_FSYNC, kernel.Syscall{Fn: Fsync, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD}})
	t.Register(unix.SYS_FDATASYNC, kernel.Syscall{Fn: Fdatasync, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD}})
	t.Register(unix.SYS_FTRUNCATE, kernel.Syscall{Fn: Ftruncate, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Hex}})
	t.Register(unix.SYS_FALLOCATE, kernel.Syscall{Fn: Fallocate, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Hex, kernel.Hex, kernel.Hex}})
	t.Register(unix.SYS_COPY_FILE_RANGE, kernel.Syscall{Fn: CopyFileRange, Support: kernel.Partial, Note: "between files of the host only",
		Args: []kernel.ArgFormat{kernel.FD, kernel.Hex, kernel.FD, kernel.Hex, kernel.Uint, kernel.Hex}})
}

// The calls here act on an open file through its descriptor. Most are
// the host's own on a HostFile's descriptor; the sentry's own files
// (pipes, /proc) answer as Linux answers for files of their kind.

// Close implements close(2).
func Close(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return 0, t.FDTable().Remove(args[0].Int())
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		off, err := f.Seek(args[1].Int64(), int(args[2].Int()))
		return uintptr(off), err
	})
}

// Ioctl implements ioctl(2) for the requests files support.
func Ioctl(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		return f.Ioctl(t, t.UserIO(), args[1].Uint(), args[2].Pointer())
	})
}

// Fsync implements fsync(2).
func Fsync(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return syncFile(t, args[0].Int(), false)
}

// Fdatasync implements fdatasync(2).
func Fdatasync(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return syncFile(t, args[0].Int(), true)
}

// syncFile flushes a host file; the sentry's own files have nothing to
// flush and, like Linux's pipes, say EINVAL.
func syncFile(t *kernel.Task, fd int32, dataOnly bool) (uintptr, error) {
	return withFile(t, fd, func(f fs.File) (uintptr, error) {
		hf, ok := f.(*fs.HostFile)
		if !ok {
			return 0, unix.EINVAL
		}
		return 0, hf.Sync(dataOnly)
	})
}

// Ftruncate implements ftruncate(2).
func Ftruncate(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	length := args[1].Int64()
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		hf, ok := f.(*fs.HostFile)
		if !ok || length < 0 {
			return 0, unix.EINVAL
		}
		return 0, hf.Truncate(length)
	})
}

// Fallocate implements fallocate(2); the host checks the mode against
// what its file system supports.
func Fallocate(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		switch f := f.(type) {
		case *fs.HostFile:
			return 0, f.Allocate(args[1].Uint(), args[2].Int64(), args[3].Int64())
		case *fs.PipeFile:
			return 0, unix.ESPIPE
		default:
			return 0, unix.ENODEV
		}
	})
}

// CopyFileRange implements copy_file_range(2) with the host's, between
// the host descriptors of two host files, which may then share blocks
// (reflinks) or copy inside the kernel: the data never comes up to the
// sentry. Offsets given are read and written back as the call says. The
// sentry's own files are not regular files: EINVAL.
func CopyFileRange(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	offInAddr, offOutAddr := args[1].Pointer(), args[3].Pointer()
	length, flags := args[4].SizeT(), args[5].Uint()
	in, releaseIn, err := t.FDTable().GetRef(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer releaseIn()
	out, releaseOut, err := t.FDTable().GetRef(args[2].Int())
	if err != nil {
		return 0, err
	}
	defer releaseOut()
	hin, ok1 := in.(*fs.HostFile)
	hout, ok2 := out.(*fs.HostFile)
	if !ok1 || !ok2 {
		return 0, unix.EINVAL
	}
	var offIn, offOut *int64
	for _, o := range []struct {
		addr usermem.Addr
		off  **int64
	}{{offInAddr, &offIn}, {offOutAddr, &offOut}} {
		if o.addr == 0 {
			continue
		}
		var v int64
		if _, err := t.CopyIn(o.addr, &v); err != nil {
			return 0, err
		}
		*o.off = &v
	}
	count := int64(min(length, uint(kernel.MaxRWCount)))
	// What shared mappings wrote to the source must reach it first, and
	// the destination's must see what the copy writes.
	inStart, outStart := int64(-1), int64(-1)
	if offIn != nil {
		inStart = *offIn
	}
	if err := hin.SyncForRead(inStart, count); err != nil {
		return 0, err
	}
	if offOut != nil {
		outStart = *offOut
	} else if pos, err := hout.Seek(0, unix.SEEK_CUR); err == nil {
		outStart = pos
	}
	// (A destination that cannot seek is no regular file, has no cache,
	// and makes the host's call fail as it should.)
	var n int
	err = hout.ChangeData(outStart, outStart+count, false, func() error {
		var cerr error
		n, cerr = unix.CopyFileRange(hin.FD(), offIn, hout.FD(), offOut, int(count), int(flags))
		return cerr
	})
	if err != nil {
		return 0, err
	}
	if offIn != nil {
		if _, err := t.CopyOut(offInAddr, *offIn); err != nil {
			return 0, err
		}
	}
	if offOut != nil {
		if _, err := t.CopyOut(offOutAddr, *offOut); err != nil {
			return 0, err
		}
	}
	return uintptr(n), nil
}
