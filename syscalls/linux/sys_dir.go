package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerDir(t *kernel.SyscallTable) {
	t.Register(unix.SYS_GETDENTS64, kernel.Syscall{Fn: Getdents64, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Hex, kernel.Uint}})
	t.Register(unix.SYS_CHDIR, kernel.Syscall{Fn: Chdir, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Path}})
	t.Register(unix.SYS_FCHDIR, kernel.Syscall{Fn: Fchdir, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD}})
	t.Register(unix.SYS_GETCWD, kernel.Syscall{Fn: Getcwd, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.ReadBuffer, kernel.Uint}})
}

// direntHeaderSize is the size of struct linux_dirent64 before d_name:
// d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1).
const direntHeaderSize = 19

// maxDirentBuf bounds the sentry's buffer for one getdents64: a larger
// application buffer gets fewer entries than would fit, which
// getdents64(2) allows.
const maxDirentBuf = 64 << 10

// direntSize is the record length of an entry named name: the header, the
// name and its NUL, rounded up to 8 bytes so that the next record is
// aligned.
func direntSize(name string) int {
	return (direntHeaderSize + len(name) + 1 + 7) &^ 7
}

// appendDirent appends ent's struct linux_dirent64 to buf.
func appendDirent(buf []byte, ent fs.Dirent) []byte {
	size := direntSize(ent.Name)
	buf = usermem.ByteOrder.AppendUint64(buf, ent.Ino)
	buf = usermem.ByteOrder.AppendUint64(buf, uint64(ent.Next))
	buf = usermem.ByteOrder.AppendUint16(buf, uint16(size))
	buf = append(buf, ent.Type)
	buf = append(buf, ent.Name...)
	for pad := size - direntHeaderSize - len(ent.Name); pad > 0; pad-- {
		buf = append(buf, 0)
	}
	return buf
}

// Getdents64 implements getdents64(2): as many whole records as fit in the
// buffer, EINVAL if not even the first does, 0 at the end. The directory
// offset is the file's (Seek), set past the last record returned.
func Getdents64(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	addr, count := args[1].Pointer(), int(args[2].Uint())
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		d, ok := f.(fs.Directory)
		if !ok {
			return 0, unix.ENOTDIR
		}
		start, err := f.Seek(0, unix.SEEK_CUR)
		if err == unix.ESPIPE {
			// A host pipe or terminal: no directory either.
			err = unix.ENOTDIR
		}
		if err != nil {
			return 0, err
		}
		buf, next, err := readDirents(t, d, start, min(count, maxDirentBuf))
		if err == nil && len(buf) > 0 {
			if _, err = t.CopyOutBytes(addr, buf); err != nil {
				next = start
			}
		}
		// Put the offset where the reader stopped: a ReadDir may have
		// moved it further.
		if _, serr := f.Seek(next, unix.SEEK_SET); err == nil {
			err = serr
		}
		if err != nil {
			return 0, err
		}
		return uintptr(len(buf)), nil
	})
}

// readDirents encodes the entries of d from offset on, as many as fit in
// size bytes, and returns them with the offset after the last.
func readDirents(t *kernel.Task, d fs.Directory, offset int64, size int) ([]byte, int64, error) {
	var buf []byte
	for {
		ents, err := d.ReadDir(t, offset)
		if err != nil {
			if len(buf) > 0 {
				// Return what was read; the error, if it lasts, comes
				// with the next call.
				return buf, offset, nil
			}
			return nil, offset, err
		}
		if len(ents) == 0 {
			return buf, offset, nil
		}
		for _, ent := range ents {
			if len(buf)+direntSize(ent.Name) > size {
				if len(buf) == 0 {
					return nil, offset, unix.EINVAL
				}
				return buf, offset, nil
			}
			buf = appendDirent(buf, ent)
			offset = ent.Next
		}
	}
}

// Chdir implements chdir(2): the path must be a directory the task may
// search. The working directory becomes its path with every symlink
// resolved, as getcwd(2) reports it.
func Chdir(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	p, err := pathAt(t, unix.AT_FDCWD, args[0].Pointer())
	if err != nil {
		return 0, err
	}
	cwd, err := kernel.LookupPath(t, p, func(s kernel.SyntheticFS, clean string) (string, bool, error) {
		st, handled, err := s.Stat(t, clean, true)
		if handled && err == nil {
			err = searchable(t, st)
		}
		return clean, handled, err
	}, func(p string) (string, error) {
		return root(t).Chdir(p)
	})
	if err != nil {
		return 0, err
	}
	t.FSContext().SetCwd(cwd)
	return 0, nil
}

// searchable checks that a synthetic file is a directory the task may
// search.
func searchable(t *kernel.Task, st unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return accessByMode(st, t.Credentials(), unix.X_OK, true)
}

// Fchdir implements fchdir(2): the working directory becomes the path the
// directory at fd was opened by.
func Fchdir(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	return withFile(t, args[0].Int(), func(f fs.File) (uintptr, error) {
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		if hf, ok := f.(*fs.HostFile); ok && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = hf.Access(unix.X_OK, true)
		} else {
			err = searchable(t, st)
		}
		if err != nil {
			return 0, err
		}
		t.FSContext().SetCwd(f.Name())
		return 0, nil
	})
}

// Getcwd implements getcwd(2): the working directory and a NUL, whose
// length it returns; ERANGE if the buffer is too small.
func Getcwd(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	cwd := append([]byte(t.FSContext().Cwd()), 0)
	if uint(len(cwd)) > args[1].SizeT() {
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOutBytes(args[0].Pointer(), cwd); err != nil {
		return 0, err
	}
	return uintptr(len(cwd)), nil
}
