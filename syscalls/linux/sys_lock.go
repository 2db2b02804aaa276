package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

// Advisory locks: fcntl(2)'s record locks and flock(2). The lock table is
// the sentry's (fs/lock.go): the host never sees these locks, since every
// host descriptor belongs to the one sentry process.

func registerLock(t *kernel.SyscallTable) {
	t.Register(unix.SYS_FLOCK, kernel.Syscall{Fn: Flock, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.Int}})
}

// flockSize is sizeof(struct flock) on x86-64: short l_type, short
// l_whence, 4 bytes of padding, off_t l_start, off_t l_len, pid_t l_pid,
// 4 bytes of padding.
const flockSize = 32

// flockStruct is a struct flock, decoded.
type flockStruct struct {
	typ, whence int16
	start, len  int64
	pid         int32
}

// decodeFlock reads a struct flock from buf.
func decodeFlock(buf []byte) flockStruct {
	le := usermem.ByteOrder
	return flockStruct{
		typ:    int16(le.Uint16(buf[0:])),
		whence: int16(le.Uint16(buf[2:])),
		start:  int64(le.Uint64(buf[8:])),
		len:    int64(le.Uint64(buf[16:])),
		pid:    int32(le.Uint32(buf[24:])),
	}
}

// encode stores fl in buf, leaving the padding as it was.
func (fl flockStruct) encode(buf []byte) {
	le := usermem.ByteOrder
	le.PutUint16(buf[0:], uint16(fl.typ))
	le.PutUint16(buf[2:], uint16(fl.whence))
	le.PutUint64(buf[8:], uint64(fl.start))
	le.PutUint64(buf[16:], uint64(fl.len))
	le.PutUint32(buf[24:], uint32(fl.pid))
}

// lockRange computes the range fl describes on f, as Linux's
// flock_to_posix_lock: l_whence is SEEK_SET, SEEK_CUR (the file offset;
// 0 for files without one, such as pipes) or SEEK_END (the file size).
func lockRange(f fs.File, fl flockStruct) (fs.LockRange, error) {
	var base int64
	switch fl.whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		if off, err := f.Seek(0, unix.SEEK_CUR); err == nil {
			base = off
		}
	case unix.SEEK_END:
		st, err := f.Stat()
		if err != nil {
			return fs.LockRange{}, err
		}
		base = st.Size
	default:
		return fs.LockRange{}, unix.EINVAL
	}
	return fs.ComputeLockRange(base, fl.start, fl.len)
}

// fcntlLock implements fcntl(2)'s lock commands on f, with the struct
// flock at addr. A POSIX lock's owner is the process's descriptor table,
// and F_GETLK reports its process id; an OFD lock's owner is the open file
// description, and F_OFD_GETLK reports -1, as Linux does.
func fcntlLock(t *kernel.Task, f fs.File, cmd int32, addr usermem.Addr) error {
	buf := make([]byte, flockSize)
	if _, err := t.CopyInBytes(addr, buf); err != nil {
		return err
	}
	fl := decodeFlock(buf)
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	owner := t.LockOwner()
	if ofd {
		if fl.pid != 0 {
			return unix.EINVAL
		}
		owner = fs.LockOwner{ID: f, PID: -1}
	}

	if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		if fl.typ != unix.F_RDLCK && fl.typ != unix.F_WRLCK {
			return unix.EINVAL
		}
		r, err := lockRange(f, fl)
		if err != nil {
			return err
		}
		l, found, err := fs.TestRecordLock(f, owner, fl.typ, r)
		if err != nil {
			return err
		}
		if !found {
			fl.typ = unix.F_UNLCK
		} else {
			fl = flockStruct{typ: l.Type, whence: unix.SEEK_SET, start: l.Range.Start, pid: l.PID}
			if l.Range.End != fs.MaxOffset {
				fl.len = l.Range.End - l.Range.Start + 1
			}
		}
		fl.encode(buf)
		_, err = t.CopyOutBytes(addr, buf)
		return err
	}

	r, err := lockRange(f, fl)
	if err != nil {
		return err
	}
	flags, err := f.StatusFlags()
	if err != nil {
		return err
	}
	switch mode := flags & unix.O_ACCMODE; fl.typ {
	case unix.F_RDLCK:
		if mode == unix.O_WRONLY {
			return unix.EBADF
		}
	case unix.F_WRLCK:
		if mode == unix.O_RDONLY {
			return unix.EBADF
		}
	case unix.F_UNLCK:
	default:
		return unix.EINVAL
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	return fs.SetRecordLock(t, f, owner, fl.typ, r, wait)
}

// Flock implements flock(2).
func Flock(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	f, release, err := t.FDTable().GetRef(args[0].Int())
	if err != nil {
		return 0, err
	}
	defer release()
	how := args[1].Int()
	nonBlocking := how&unix.LOCK_NB != 0
	how &^= unix.LOCK_NB
	switch how {
	case unix.LOCK_SH, unix.LOCK_EX, unix.LOCK_UN:
	default:
		return 0, unix.EINVAL
	}
	return 0, fs.Flock(t, f, int(how), nonBlocking)
}
