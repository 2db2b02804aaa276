package linux

import (
	"crypto/rand"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/kernel"
	"github.com/minisentry/minisentry/usermem"
)

func registerMisc(t *kernel.SyscallTable) {
	t.Register(unix.SYS_GETRANDOM, kernel.Syscall{Fn: Getrandom, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex, kernel.Uint, kernel.GetrandomFlags}})
	t.Register(unix.SYS_UNAME, kernel.Syscall{Fn: Uname, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex}})
	t.Register(unix.SYS_SCHED_GETAFFINITY, kernel.Syscall{Fn: SchedGetaffinity, Support: kernel.Partial, Note: "reports the host's CPUs", Args: []kernel.ArgFormat{kernel.Int, kernel.Uint, kernel.Hex}})
	t.Register(unix.SYS_SCHED_YIELD, kernel.Syscall{Fn: SchedYield, Support: kernel.Full})
	t.Register(unix.SYS_SYSINFO, kernel.Syscall{Fn: Sysinfo, Support: kernel.Full, Args: []kernel.ArgFormat{kernel.Hex}})
}

// getrandomChunk bounds the sentry-side buffer of one getrandom step.
const getrandomChunk = 64 << 10

// Getrandom implements getrandom(2) from the sentry's own random source.
func Getrandom(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	addr, length, flags := args[0].Pointer(), args[1].SizeT(), args[2].Uint()
	if flags&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 ||
		flags&(unix.GRND_RANDOM|unix.GRND_INSECURE) == unix.GRND_RANDOM|unix.GRND_INSECURE {
		return 0, unix.EINVAL
	}
	length = min(length, uint(kernel.MaxRWCount))
	buf := make([]byte, min(length, getrandomChunk))
	var done uint
	for done < length {
		chunk := buf[:min(length-done, uint(len(buf)))]
		rand.Read(chunk)
		n, err := t.CopyOutBytes(addr+usermem.Addr(done), chunk)
		done += uint(n)
		if err != nil {
			if done > 0 {
				break
			}
			return 0, err
		}
	}
	return uintptr(done), nil
}

// Uname implements uname(2) with the host's answers, so a program sees the
// system it would see running natively.
func Uname(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return 0, err
	}
	_, err := t.CopyOut(args[0].Pointer(), &u)
	return 0, err
}

// SchedGetaffinity implements sched_getaffinity(2): the host's CPUs the
// sentry may run on. The mask is as long as the kernel's cpumask (a whole
// number of longs covering every CPU), and the buffer must hold it.
func SchedGetaffinity(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	pid, size := args[0].Int(), args[1].SizeT()
	if pid < 0 {
		return 0, unix.EINVAL
	}
	if pid != 0 && kernel.ThreadID(pid) != t.ThreadID() {
		return 0, unix.ESRCH
	}
	set := sandboxCPUs
	words := (runtime.NumCPU() + 63) / 64
	for i := range set {
		if set[i] != 0 && i+1 > words {
			words = i + 1
		}
	}
	maskSize := uint(words * 8)
	if size < maskSize || size%8 != 0 {
		return 0, unix.EINVAL
	}
	mask := make([]byte, 0, maskSize)
	for i := 0; i < words; i++ {
		mask = usermem.ByteOrder.AppendUint64(mask, uint64(set[i]))
	}
	if _, err := t.CopyOutBytes(args[2].Pointer(), mask); err != nil {
		return 0, err
	}
	return uintptr(maskSize), nil
}

// sandboxCPUs are the CPUs the sentry may use, read when the package
// starts, on the main thread: the platform later pins each task's OS thread
// to one CPU, and the application must not see that pinning.
var sandboxCPUs = func() unix.CPUSet {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		set.Set(0)
	}
	return set
}()

// Sysinfo implements sysinfo(2) with the host's figures, except the
// process count, which is the sandbox's.
func Sysinfo(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	var info unix.Sysinfo_t
	if err := unix.Sysinfo(&info); err != nil {
		return 0, err
	}
	info.Procs = uint16(len(t.Kernel().ThreadGroups()))
	_, err := t.CopyOut(args[0].Pointer(), &info)
	return 0, err
}

// SchedYield implements sched_yield(2).
func SchedYield(t *kernel.Task, args kernel.SyscallArguments) (uintptr, error) {
	runtime.Gosched()
	return 0, nil
}

// itoa formats n in decimal.
func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}
