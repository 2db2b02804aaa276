package kernel

import (
	"encoding/binary"
	"github.com/minisentry/minisentry/kernel/futex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// fakeMemory is application memory for the decoders: one region of bytes
// at base. Everything else is unmapped.
type fakeMemory struct {
	base usermem.Addr
	data []byte
}

// CopyInBytes implements straceMemory.CopyInBytes.
func (m *fakeMemory) CopyInBytes(addr usermem.Addr, dst []byte) (int, error) {
	if addr < m.base || uint64(addr-m.base) >= uint64(len(m.data)) {
		if len(dst) == 0 {
			return 0, nil
		}
		return 0, unix.EFAULT
	}
	n := copy(dst, m.data[addr-m.base:])
	if n < len(dst) {
		return n, unix.EFAULT
	}
	return n, nil
}

// CopyInString implements straceMemory.CopyInString.
func (m *fakeMemory) CopyInString(addr usermem.Addr, maxlen int) (string, error) {
	var s []byte
	for i := 0; i < maxlen; i++ {
		var b [1]byte
		if _, err := m.CopyInBytes(addr+usermem.Addr(i), b[:]); err != nil {
			return string(s), err
		}
		if b[0] == 0 {
			return string(s), nil
		}
		s = append(s, b[0])
	}
	return string(s), unix.ENAMETOOLONG
}

// memBase is where the tests' memory lies; memBad is unmapped.
const (
	memBase = usermem.Addr(0x10000)
	memBad  = usermem.Addr(0xdead0000)
)

// newMemory returns memory at memBase holding the given pieces, each at
// its offset.
func newMemory(pieces map[int][]byte) *fakeMemory {
	m := &fakeMemory{base: memBase, data: make([]byte, 0x1000)}
	for off, b := range pieces {
		copy(m.data[off:], b)
	}
	return m
}

// le builds little-endian struct bytes from fields of 4 or 8 bytes.
func le(fields ...any) []byte {
	var b []byte
	for _, f := range fields {
		switch v := f.(type) {
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case int32:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		case uint64:
			b = binary.LittleEndian.AppendUint64(b, v)
		case int:
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		default:
			panic("le: unsupported field")
		}
	}
	return b
}

// stat builds a struct stat with mode, rdev and size.
func stat(mode uint32, rdev uint64, size int) []byte {
	b := make([]byte, 144)
	binary.LittleEndian.PutUint32(b[24:], mode)
	binary.LittleEndian.PutUint64(b[40:], rdev)
	binary.LittleEndian.PutUint64(b[48:], uint64(size))
	return b
}

// args builds system call arguments.
func args(vals ...uint64) SyscallArguments {
	var a SyscallArguments
	for i, v := range vals {
		a[i].Value = uintptr(v)
	}
	return a
}

// word returns a C int as the register holding it.
func word(v int32) uint64 { return uint64(uint32(v)) }

// at is an address in the tests' memory.
func at(off int) uint64 { return uint64(memBase) + uint64(off) }

func TestStraceDecoders(t *testing.T) {
	sigBitsOf := func(sigs ...int) uint64 {
		var set uint64
		for _, s := range sigs {
			set |= sigBit(s)
		}
		return set
	}
	for _, tc := range []struct {
		name  string
		f     ArgFormat
		i     int
		args  SyscallArguments
		ret   int64
		mem   map[int][]byte
		limit int
		want  string
	}{
		{name: "hex", f: Hex, args: args(0x1234), want: "0x1234"},
		{name: "hex NULL", f: Hex, args: args(0), want: "NULL"},
		{name: "int", f: Int, args: args(0xffffffff), want: "-1"},
		{name: "fd cwd", f: FD, args: args(uint64(0xffffff9c)), want: "AT_FDCWD"},
		{name: "path", f: Path, args: args(at(0)), mem: map[int][]byte{0: []byte("/etc/passwd\x00")}, want: `"/etc/passwd"`},
		{name: "path unreadable", f: Path, args: args(uint64(memBad)), want: "0xdead0000 (bad address)"},
		{name: "write buffer", f: WriteBuffer, args: args(at(0), 6), mem: map[int][]byte{0: []byte("hello\n")}, want: `"hello\n"`},
		{name: "write buffer cut", f: WriteBuffer, args: args(at(0), 6), limit: 4, mem: map[int][]byte{0: []byte("hello\n")}, want: `"hell"...`},
		{name: "read buffer", f: ReadBuffer, args: args(at(0), 100), ret: 3, mem: map[int][]byte{0: []byte("abcdef")}, want: `"abc"`},
		{name: "write iovec", f: WriteIOVec, args: args(at(0), 2), mem: map[int][]byte{
			0:     le(at(0x100), 2, at(0x200), 3),
			0x100: []byte("ab"), 0x200: []byte("cde"),
		}, want: `[{0x10100, 2, "ab"}, {0x10200, 3, "cde"}]`},
		{name: "iovcnt", f: WriteIOVec, args: args(at(0), 1025), want: "0x10000 (invalid iovcnt 1025)"},
		{name: "open flags", f: OpenFlags, args: args(unix.O_WRONLY | unix.O_CREAT | unix.O_CLOEXEC), want: "O_WRONLY|O_CREAT|O_CLOEXEC"},
		{name: "mmap prot none", f: MmapProt, args: args(0), want: "PROT_NONE"},
		{name: "mmap flags", f: MmapFlags, args: args(unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | 0x10000000), want: "MAP_PRIVATE|MAP_ANONYMOUS|0x10000000"},
		{name: "mmap shared validate", f: MmapFlags, args: args(unix.MAP_SHARED_VALIDATE), want: "MAP_SHARED_VALIDATE"},
		{name: "signal", f: Signal, args: args(uint64(unix.SIGSEGV)), want: "SIGSEGV"},
		{name: "signal rtmin", f: Signal, args: args(32), want: "SIGRTMIN"},
		{name: "signal rt", f: Signal, args: args(34), want: "SIGRT_2"},
		{name: "signal bad", f: Signal, args: args(99), want: "99"},
		{name: "timespec", f: Timespec, args: args(at(0)), mem: map[int][]byte{0: le(1, 500)}, want: "{tv_sec=1, tv_nsec=500}"},
		{name: "timespec NULL", f: Timespec, args: args(0), want: "NULL"},
		{name: "timespec unreadable", f: Timespec, args: args(uint64(memBad)), want: "0xdead0000 (bad address)"},
		{name: "clone fork", f: CloneFlags, args: args(unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | uint64(unix.SIGCHLD)),
			want: "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"},
		{name: "clone thread", f: CloneFlags, args: args(0x3d0f00),
			want: "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"},
		{name: "clone none", f: CloneFlags, args: args(0), want: "0"},
		{name: "futex wait private", f: FutexOp, args: args(0, futex.OpWait|futex.FlagPrivate), i: 1, want: "FUTEX_WAIT_PRIVATE"},
		{name: "futex wait bitset realtime", f: FutexOp, args: args(0, futex.OpWaitBitset|futex.FlagPrivate|futex.FlagClockRealtime), i: 1,
			want: "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"},
		{name: "futex wake", f: FutexOp, args: args(0, futex.OpWake), i: 1, want: "FUTEX_WAKE"},
		{name: "futex unknown", f: FutexOp, args: args(0, 99), i: 1, want: "0x63"},
		{name: "futex timeout", f: FutexTimeout, i: 3, args: args(0, futex.OpWait, 0, at(0)), mem: map[int][]byte{0: le(0, 1000)},
			want: "{tv_sec=0, tv_nsec=1000}"},
		{name: "futex no timeout", f: FutexTimeout, i: 3, args: args(0, futex.OpWait|futex.FlagPrivate, 0, 0), want: "NULL"},
		{name: "futex val2", f: FutexTimeout, i: 3, args: args(0, futex.OpCmpRequeue, 1, 0x7fffffff), want: "2147483647"},
		{name: "futex wake op", f: FutexVal3, i: 5, args: args(0, futex.OpWakeOp, 1, 1, 0, 0x04000001),
			want: "FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_GT, 1)"},
		{name: "futex bitset", f: FutexVal3, i: 5, args: args(0, futex.OpWaitBitset, 0, 0, 0, 0xffffffff), want: "0xffffffff"},
		{name: "sigaction", f: SigActionPtr, args: args(at(0)), mem: map[int][]byte{
			0: le(0x401000, SASigInfo|SARestorer|SARestart, 0x402000, int(sigBitsOf(int(unix.SIGINT), int(unix.SIGQUIT)))),
		}, want: "{sa_handler=0x401000, sa_mask=[INT QUIT], sa_flags=SA_SIGINFO|SA_RESTORER|SA_RESTART, sa_restorer=0x402000}"},
		{name: "sigaction ignore", f: SigActionPtr, args: args(at(0)), mem: map[int][]byte{0: le(SigIgn, 0, 0, 0)},
			want: "{sa_handler=SIG_IGN, sa_mask=[], sa_flags=0}"},
		{name: "sigset", f: SigSet, args: args(at(0)), mem: map[int][]byte{0: le(int(sigBitsOf(int(unix.SIGCHLD))))}, want: "[CHLD]"},
		{name: "sigset most", f: SigSet, args: args(at(0)), mem: map[int][]byte{0: le(int(^sigBitsOf(32, 33)))}, want: "~[RTMIN RT_1]"},
		{name: "sigset all", f: SigSet, args: args(at(0)), mem: map[int][]byte{0: le(-1)}, want: "~[]"},
		{name: "sig how", f: SigHow, args: args(unix.SIG_SETMASK), want: "SIG_SETMASK"},
		{name: "sigaltstack", f: SigAltStack, args: args(at(0)), mem: map[int][]byte{0: le(0x7000, int32(SSDisable), int32(0), 8192)},
			want: "{ss_sp=0x7000, ss_flags=SS_DISABLE, ss_size=8192}"},
		{name: "stat file", f: Stat, args: args(at(0)), mem: map[int][]byte{0: stat(unix.S_IFREG|0o644, 0, 13)},
			want: "{st_mode=S_IFREG|0644, st_size=13, ...}"},
		{name: "stat tty", f: Stat, args: args(at(0)), mem: map[int][]byte{0: stat(unix.S_IFCHR|0o620, unix.Mkdev(136, 1), 0)},
			want: "{st_mode=S_IFCHR|0620, st_rdev=makedev(0x88, 0x1), ...}"},
		{name: "stat setuid", f: Stat, args: args(at(0)), mem: map[int][]byte{0: stat(unix.S_IFREG|0o4755, 0, 1)},
			want: "{st_mode=S_IFREG|04755, st_size=1, ...}"},
		{name: "at flags", f: AtFlags, args: args(unix.AT_EMPTY_PATH | unix.AT_SYMLINK_NOFOLLOW), want: "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"},
		{name: "at flags none", f: AtFlags, args: args(0), want: "0"},
		{name: "wait exited", f: WaitStatus, i: 1, args: args(0, at(0)), ret: 2, mem: map[int][]byte{0: le(uint32(3 << 8))},
			want: "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"},
		{name: "wait signaled", f: WaitStatus, i: 1, args: args(0, at(0)), ret: 2, mem: map[int][]byte{0: le(uint32(unix.SIGSEGV) | 0x80)},
			want: "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"},
		{name: "wait stopped", f: WaitStatus, i: 1, args: args(0, at(0)), ret: 2, mem: map[int][]byte{0: le(uint32(unix.SIGSTOP)<<8 | 0x7f)},
			want: "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"},
		{name: "wait continued", f: WaitStatus, i: 1, args: args(0, at(0)), ret: 2, mem: map[int][]byte{0: le(uint32(0xffff))},
			want: "[{WIFCONTINUED(s)}]"},
		{name: "wait nothing", f: WaitStatus, i: 1, args: args(0, at(0)), ret: 0, want: "0x10000"},
		{name: "wait options", f: Wait4Options, args: args(unix.WNOHANG | unix.WUNTRACED | unix.WALL), want: "WNOHANG|WUNTRACED|__WALL"},
		{name: "waitid options", f: WaitidOptions, args: args(unix.WEXITED | unix.WSTOPPED), want: "WSTOPPED|WEXITED"},
		{name: "idtype", f: IDType, args: args(unix.P_PID), want: "P_PID"},
		{name: "pipe", f: PipeFDs, args: args(at(0)), mem: map[int][]byte{0: le(int32(3), int32(4))}, want: "[3, 4]"},
		{name: "argv", f: ExecveVector, args: args(at(0)), mem: map[int][]byte{
			0: le(at(0x100), at(0x110), 0), 0x100: []byte("ls\x00"), 0x110: []byte("-l\x00"),
		}, want: `["ls", "-l"]`},
		{name: "argv cut", f: ExecveVector, args: args(at(0)), limit: 3, mem: map[int][]byte{
			0: le(at(0x100), at(0x110), 0), 0x100: []byte("ls\x00"), 0x110: []byte("-l\x00"),
		}, want: `["ls", "-"...]`},
		{name: "argv more", f: ExecveVector, args: args(at(0)), limit: 2, mem: map[int][]byte{
			0: le(at(0x100), at(0x110), 0), 0x100: []byte("ls\x00"), 0x110: []byte("-l\x00"),
		}, want: `["ls", ...]`},
		{name: "argv unterminated", f: ExecveVector, args: args(at(0xff8)), mem: map[int][]byte{0xff8: le(at(0x100)), 0x100: []byte("a\x00")},
			want: `["a", (unreadable)]`},
		{name: "envp", f: EnvVector, args: args(at(0)), mem: map[int][]byte{0: le(at(0x100), at(0x110), 0)}, want: "0x10000 /* 2 vars */"},
		{name: "envp unterminated", f: EnvVector, args: args(at(0xff8)), mem: map[int][]byte{0xff8: le(at(0x100))},
			want: "0x10ff8 /* 1 vars, then unreadable */"},
		{name: "pipe flags", f: PipeFlags, args: args(unix.O_CLOEXEC | unix.O_NONBLOCK), want: "O_NONBLOCK|O_CLOEXEC"},
		{name: "pipe flags none", f: PipeFlags, args: args(0), want: "0"},
		{name: "arch_prctl", f: ArchPrctlCode, args: args(archSetFS), want: "ARCH_SET_FS"},
		{name: "arch_prctl unknown", f: ArchPrctlCode, args: args(0x9999), want: "0x9999"},
		{name: "arch_prctl get", f: ArchPrctlAddr, i: 1, args: args(archGetFS, at(0)), mem: map[int][]byte{0: le(0x4ac380)}, want: "[0x4ac380]"},
		{name: "arch_prctl set", f: ArchPrctlAddr, i: 1, args: args(archSetFS, 0x4ac380), want: "0x4ac380"},
		{name: "prctl", f: PrctlOption, args: args(unix.PR_SET_NO_NEW_PRIVS), want: "PR_SET_NO_NEW_PRIVS"},
		{name: "prctl unknown", f: PrctlOption, args: args(1398164801 + 1), want: "1398164802"},
		{name: "prctl name", f: PrctlArg, i: 1, args: args(unix.PR_GET_NAME, at(0)), mem: map[int][]byte{0: []byte("busybox\x00junk")}, want: `"busybox"`},
		{name: "prctl pdeathsig", f: PrctlArg, i: 1, args: args(unix.PR_SET_PDEATHSIG, uint64(unix.SIGKILL)), want: "SIGKILL"},
		{name: "fcntl", f: FcntlCmd, args: args(unix.F_DUPFD_CLOEXEC), want: "F_DUPFD_CLOEXEC"},
		{name: "fcntl setfd", f: FcntlArg, i: 2, args: args(3, unix.F_SETFD, unix.FD_CLOEXEC), want: "FD_CLOEXEC"},
		{name: "fcntl setfl", f: FcntlArg, i: 2, args: args(3, unix.F_SETFL, unix.O_NONBLOCK), want: "O_RDONLY|O_NONBLOCK"},
		{name: "fcntl dupfd", f: FcntlArg, i: 2, args: args(3, unix.F_DUPFD, 10), want: "10"},
		{name: "fcntl getfl", f: FcntlArg, i: 2, args: args(3, unix.F_GETFL, 0), want: "0"},
		{name: "ioctl", f: IoctlRequest, args: args(unix.TCGETS), want: "TCGETS"},
		{name: "ioctl fionread", f: IoctlRequest, args: args(0x541b), want: "FIONREAD"},
		{name: "clock", f: ClockID, args: args(unix.CLOCK_MONOTONIC), want: "CLOCK_MONOTONIC"},
		{name: "clock cpu", f: ClockID, args: args(word(^0<<3 | 2)), want: "MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED)"},
		{name: "clock thread cpu", f: ClockID, args: args(word(^5<<3 | 4 | 2)), want: "MAKE_THREAD_CPUCLOCK(5, CPUCLOCK_SCHED)"},
		{name: "timer flags", f: TimerFlags, args: args(unix.TIMER_ABSTIME), want: "TIMER_ABSTIME"},
		{name: "rlimit resource", f: RlimitResource, args: args(unix.RLIMIT_STACK), want: "RLIMIT_STACK"},
		{name: "rlimit", f: RlimitPtr, args: args(at(0)), mem: map[int][]byte{0: le(8<<20, -1)}, want: "{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}"},
		{name: "rlimit small", f: PostRlimitPtr, args: args(at(0)), mem: map[int][]byte{0: le(1000, 1024)}, want: "{rlim_cur=1000, rlim_max=1*1024}"},
		{name: "madvise", f: MadviseAdvice, args: args(unix.MADV_DONTNEED), want: "MADV_DONTNEED"},
		{name: "madvise unknown", f: MadviseAdvice, args: args(77), want: "77"},
		{name: "whence", f: Whence, args: args(unix.SEEK_END), want: "SEEK_END"},
		{name: "mremap", f: MremapFlags, args: args(unix.MREMAP_MAYMOVE), want: "MREMAP_MAYMOVE"},
		{name: "getrandom", f: GetrandomFlags, args: args(unix.GRND_NONBLOCK), want: "GRND_NONBLOCK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 1024
			}
			d := argDecoder{mem: newMemory(tc.mem), limit: limit}
			if diff := cmp.Diff(tc.want, d.format(tc.f, tc.i, tc.args, tc.ret)); diff != "" {
				t.Errorf("format(%d, %d, %#x, %d) (-want +got):\n%s", tc.f, tc.i, tc.args, tc.ret, diff)
			}
		})
	}
}

// TestStraceCall checks a whole call: arguments shown before the call,
// those shown after it only when it succeeds, the result, and the line.
func TestStraceCall(t *testing.T) {
	pipe2 := &Syscall{Name: "pipe2", Args: []ArgFormat{PipeFDs, PipeFlags}}
	for _, tc := range []struct {
		name string
		sc   *Syscall
		args SyscallArguments
		ret  uintptr
		err  error
		want []string
		ret2 string
	}{
		{name: "success", sc: pipe2, args: args(at(0), unix.O_CLOEXEC), want: []string{"[3, 4]", "O_CLOEXEC"}, ret2: "0"},
		{name: "failure", sc: pipe2, args: args(at(0), unix.O_CLOEXEC), err: unix.EMFILE,
			want: []string{"0x10000", "O_CLOEXEC"}, ret2: "-1 EMFILE (too many open files)"},
		{name: "unknown", args: args(1, 2, 3, 4, 5, 6), ret: 7, want: []string{"0x1", "0x2", "0x3", "0x4", "0x5", "0x6"}, ret2: "7"},
		{name: "no return", sc: &Syscall{Args: []ArgFormat{Int}, Ret: RetNone}, args: args(3), want: []string{"3"}, ret2: "?"},
		{name: "hex return", sc: &Syscall{Args: []ArgFormat{Hex}, Ret: RetHex}, args: args(0), ret: 0x4ac000, want: []string{"NULL"}, ret2: "0x4ac000"},
		{name: "odd errno", sc: &Syscall{}, err: unix.Errno(512), want: []string{}, ret2: "-1 errno 512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := argDecoder{mem: newMemory(map[int][]byte{0: le(int32(3), int32(4))}), limit: 1024}
			out := d.enter(tc.sc, tc.args)
			ret := d.exit(tc.sc, tc.args, out, tc.ret, tc.err)
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
			if ret != tc.ret2 {
				t.Errorf("result: got %q, want %q", ret, tc.ret2)
			}
		})
	}

	got := straceLine(1, "write", []string{"1", `"hello\n"`, "6"}, "6", 14*time.Microsecond)
	if want := `[   1] write(1, "hello\n", 6) = 6 (14µs)`; got != want {
		t.Errorf("straceLine: got %q, want %q", got, want)
	}
}
