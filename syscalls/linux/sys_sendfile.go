package linux

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerSendfile(t *kernel.SyscallTable) {
	t.Register(unix.SYS_SENDFILE, kernel.Syscall{Fn: Sendfile, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.FD, kernel.FD, kernel.Hex, kernel.Uint}})
}

// sendfileChunk is the size of the sentry's buffer between the two files.
const sendfileChunk = 64 << 10

// Sendfile implements sendfile(2): it moves up to count bytes from in to
// out through a buffer of the sentry's, never through application memory.
// With an offset pointer, in is read at *offset, which is then advanced,
// and in's own position is left alone.
func Sendfile(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	out, _, err := t.FDTable().Get(args[0].Int())
	if err != nil {
		return 0, err
	}
	in, _, err := t.FDTable().Get(args[1].Int())
	if err != nil {
		return 0, err
	}
	offAddr, count := args[2].Pointer(), int64(args[3].SizeT())
	offset := int64(-1)
	if offAddr != 0 {
		if _, err := t.CopyIn(offAddr, &offset); err != nil {
			return 0, err
		}
		if offset < 0 {
			return 0, unix.EINVAL
		}
	}
	if count < 0 {
		return 0, unix.EINVAL
	}
	count = min(count, int64(kernel.MaxRWCount))
	buf := make([]byte, min(count, sendfileChunk))
	var done int64
	for done < count {
		chunk := buf[:min(count-done, int64(len(buf)))]
		n, rerr := in.Read(t, usermem.BytesIOSequence(chunk), offset)
		if n > 0 {
			w, werr := out.Write(t, usermem.BytesIOSequence(chunk[:n]), -1)
			done += w
			if offset >= 0 {
				offset += w
			}
			if werr != nil || w < n {
				err = werr
				break
			}
		}
		if rerr != nil || n < int64(len(chunk)) {
			err = rerr
			break
		}
	}
	if offAddr != 0 {
		if _, cerr := t.CopyOut(offAddr, offset); cerr != nil {
			return 0, cerr
		}
	}
	if done > 0 {
		return uintptr(done), nil
	}
	return 0, err
}
