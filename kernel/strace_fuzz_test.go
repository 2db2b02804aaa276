package kernel

import (
	"encoding/binary"
	"github.com/minisentry/minisentry/kernel/futex"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzStraceDecoders feeds every argument format, at every argument
// position, arbitrary register values and arbitrary memory: a decoder
// shows what it can and never panics, whatever a program passes. Each
// value is tried twice: as it is, and as an offset into the memory, so
// that pointers land on the fuzzer's bytes.
func FuzzStraceDecoders(f *testing.F) {
	// Seeds: memory holding the structs the decoders read, and arguments
	// that point at it.
	seed := func(mem []byte, a0, a1, a2, a3, a4, a5 uint64, ret int64, limit uint16) {
		f.Add(mem, a0, a1, a2, a3, a4, a5, ret, limit)
	}
	sigaction := le(0x401000, SASigInfo|SARestorer, 0x402000, 0x3)
	seed(sigaction, 0, 0, 0, 0, 0, 0, 0, 1024)
	seed(stat(unix.S_IFCHR|0o620, unix.Mkdev(136, 1), 0), 0, 0, 0, 0, 0, 0, 0, 64)
	seed(le(int32(3), int32(4)), 0, unix.O_CLOEXEC, 0, 0, 0, 0, 0, 16)
	seed(le(16, 2, 24, 3, 'a', 'b'), 0, 2, 0, 0, 0, 0, 5, 8)
	seed(le(16, 0, 'l'|'s'<<8), 0, 0, 0, 0, 0, 0, 0, 2)
	seed(le(1, 2), 0, futex.OpWait|futex.FlagPrivate, 0, 0, 0, 0xffffffff, 0, 100)
	seed(le(0, 0), 0, futex.OpWakeOp, 1, 1, 0, 0xffffffff, 0, 100)
	seed(le(uint32(0x80|11)), 0, 0, 0, 0, 0, 0, 1, 100)
	seed([]byte("busybox\x00"), unix.PR_SET_NAME, 0, 0, 0, 0, 0, 0, 100)
	seed(nil, archGetFS, 0, unix.F_SETFL, unix.O_NONBLOCK, 0, 0, -1, 0)
	seed(le(-1, -1), 0x1002, unix.F_SETSIG, 0xffffffff, 1<<63, 1025, 0, 1<<62, 65535)

	f.Fuzz(func(t *testing.T, mem []byte, a0, a1, a2, a3, a4, a5 uint64, ret int64, limit uint16) {
		m := &fakeMemory{base: memBase, data: mem}
		d := argDecoder{mem: m, limit: int(limit%4096) + 1}
		raw := args(a0, a1, a2, a3, a4, a5)
		rebased := raw
		if len(mem) > 0 {
			for i := range rebased {
				rebased[i].Value = uintptr(memBase) + raw[i].Value%uintptr(len(mem))
			}
		}
		// The operations and commands that later arguments depend on
		// come from the raw values in both cases.
		rebased[0], rebased[1] = raw[0], raw[1]
		for _, a := range []SyscallArguments{raw, rebased} {
			for fmtNo := ArgFormat(0); fmtNo < numArgFormats; fmtNo++ {
				for i := range a {
					if s := d.format(fmtNo, i, a, ret); s == "" {
						t.Errorf("format(%d, %d, %#x, %d) is empty", fmtNo, i, a, ret)
					}
				}
			}
			// Whole calls, as the table describes them.
			all := make([]ArgFormat, 0, numArgFormats)
			for fmtNo := ArgFormat(0); fmtNo < numArgFormats; fmtNo++ {
				all = append(all, fmtNo)
			}
			for start := 0; start+6 <= len(all); start++ {
				sc := &Syscall{Args: all[start : start+6]}
				out := d.enter(sc, a)
				d.exit(sc, a, out, uintptr(ret), nil)
				d.exit(sc, a, out, 0, unix.EFAULT)
			}
		}
		// The pure formatters, on the raw values.
		formatWaitStatus(uint32(a0))
		formatFutexWakeOp(a1)
		formatSigSet(a2)
		formatMode(uint32(a3))
		formatClockID(a4)
		formatRlimValue(a5)
		if len(mem) >= 8 {
			formatCloneFlags(binary.LittleEndian.Uint64(mem))
		}
	})
}
