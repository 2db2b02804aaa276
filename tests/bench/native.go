package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// The same work done by this process directly on the host: what each case
// would cost with no sentry in between. These are also the host work that
// the modelled floors add to their ptrace round trips.

func nativeGetppid(n int) (float64, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		unix.Getppid()
	}
	return perOp(time.Since(start), n), nil
}

// nativeMmap maps one page of a memfd over itself n times: the host's part
// of an injected MapFile.
func nativeMmap(n int) (float64, error) {
	fd, err := pageMemfd(1)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	// Raw mmap keeps the address a plain number: no unsafe needed to map
	// over it again.
	addr, err := mmapPage(0, fd, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Syscall(unix.SYS_MUNMAP, addr, usermem.PageSize, 0)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := mmapPage(addr, fd, unix.MAP_FIXED); err != nil {
			return 0, err
		}
	}
	return perOp(time.Since(start), n), nil
}

func mmapPage(addr uintptr, fd int, flags int) (uintptr, error) {
	got, _, errno := unix.Syscall6(unix.SYS_MMAP, addr, usermem.PageSize, unix.PROT_READ|unix.PROT_WRITE,
		uintptr(unix.MAP_SHARED|flags), uintptr(fd), 0)
	if errno != 0 {
		return 0, fmt.Errorf("mmap: %w", errno)
	}
	return got, nil
}

// nativeTouch writes a byte to each page of a fresh shared memfd mapping,
// as the application's memory is: the host's part of a fault.
func nativeTouch(pages int) (float64, error) {
	fd, err := pageMemfd(pages)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	m, err := unix.Mmap(fd, 0, pages*usermem.PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(m)
	start := time.Now()
	for off := 0; off < len(m); off += usermem.PageSize {
		m[off] = 1
	}
	return perOp(time.Since(start), pages), nil
}

func pageMemfd(pages int) (int, error) {
	fd, err := unix.MemfdCreate("minisentry-bench", unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(pages)*usermem.PageSize); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ftruncate: %w", err)
	}
	return fd, nil
}
