// Package linux implements the Linux x86-64 system calls that minisentry
// supports, one file per family (sys_read.go, sys_mmap.go...). Each handler
// decodes its arguments, reaches application memory only through the
// kernel.Task's Copy* wrappers, an IOSequence handed to a file, or
// (ignoring protections, deliberately) Task.MemoryManager(), and returns a
// value for rax or a unix.Errno.
//
// Table builds the system call table; `minisentry syscalls` prints it.
package linux

//go:generate go run ./gennames

import "github.com/minisentry/minisentry/kernel"

// Table returns the table of every system call minisentry knows.
func Table() *kernel.SyscallTable {
	t := kernel.NewSyscallTable(names)
	for _, register := range []func(*kernel.SyscallTable){
		registerRead, registerWrite, registerFile, registerMMap, registerMsync, registerThread,
		registerIdentity, registerTime, registerLimits, registerMisc, registerSignal, registerPrctl, registerFcntl, registerSendfile, registerProcess,
		registerPipe, registerFutex, registerTimer, registerPoll, registerEpoll, registerEventFD, registerLock,
		registerOpen, registerStat, registerPath, registerDir, registerAttr,
	} {
		register(t)
	}
	return t
}
