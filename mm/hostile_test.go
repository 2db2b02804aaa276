package mm

import (
	"math"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// TestHostileArguments feeds the system call entry points the arguments a
// hostile or buggy application may pass, and checks that each gets Linux's
// errno, never a panic.
func TestHostileArguments(t *testing.T) {
	const (
		a    = 0x10000000 // a mapped page
		huge = ^uint64(0)
		top  = usermem.Addr(testMaxAddr)
	)
	maxAddr := ^usermem.Addr(0)
	rw := usermem.ReadWrite
	file := &testFile{data: []byte("x")}
	for _, tc := range []struct {
		desc string
		do   func(mm *MemoryManager) error
		want error
	}{
		// mmap
		{"mmap length 0", mmapErr(MMapOpts{Private: true}), unix.EINVAL},
		{"mmap length -1", mmapErr(MMapOpts{Length: huge, Private: true}), unix.ENOMEM},
		{"mmap length rounds up to 2^64", mmapErr(MMapOpts{Length: huge - 0xffe, Private: true}), unix.ENOMEM},
		{"mmap length 2^63", mmapErr(MMapOpts{Length: 1 << 63, Private: true}), unix.ENOMEM},
		{"mmap length larger than the address space", mmapErr(MMapOpts{Length: testMaxAddr, Private: true}), unix.ENOMEM},
		{"mmap fixed unaligned", mmapErr(MMapOpts{Length: 1, Addr: a + 1, Fixed: true, Private: true}), unix.EINVAL},
		{"mmap fixed at 0", mmapErr(MMapOpts{Length: 1, Addr: 0, Fixed: true, Unmap: true, Private: true}), unix.EPERM},
		{"mmap fixed wrapping", mmapErr(MMapOpts{Length: 0x2000, Addr: maxAddr &^ 0xfff, Fixed: true, Unmap: true, Private: true}), unix.ENOMEM},
		{"mmap fixed at the top", mmapErr(MMapOpts{Length: 0x1000, Addr: top, Fixed: true, Unmap: true, Private: true}), unix.ENOMEM},
		{"mmap fixed across the top", mmapErr(MMapOpts{Length: 0x2000, Addr: top - 0x1000, Fixed: true, Unmap: true, Private: true}), unix.ENOMEM},
		{"mmap fixed noreplace over a mapping", mmapErr(MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true}), unix.EEXIST},
		{"mmap unmap without fixed", mmapErr(MMapOpts{Length: 0x1000, Unmap: true, Private: true}), unix.EINVAL},
		{"mmap growsdown file", mmapErr(MMapOpts{Length: 0x1000, GrowsDown: true, Private: true, Mappable: file}), unix.EINVAL},
		{"mmap file offset unaligned", mmapErr(MMapOpts{Length: 0x1000, Offset: 1, Private: true, Mappable: file}), unix.EINVAL},
		{"mmap file offset + length overflows", mmapErr(MMapOpts{Length: 0x2000, Offset: huge &^ 0xfff, Private: true, Mappable: file}), unix.EOVERFLOW},
		{"mmap file past the largest offset", mmapErr(MMapOpts{Length: 0x2000, Offset: math.MaxInt64 &^ 0xfff, Private: true, Mappable: file}), unix.EOVERFLOW},
		{"mmap shared file", mmapErr(MMapOpts{Length: 0x1000, Mappable: file}), unix.ENODEV},
		{"mmap perms beyond max", mmapErr(MMapOpts{Length: 0x1000, Perms: rw, MaxPerms: usermem.Read}), unix.EACCES},
		{"mmap exec beyond max", mmapErr(MMapOpts{Length: 0x1000, Perms: usermem.Execute, MaxPerms: usermem.ReadWrite}), unix.EACCES},
		{"mmap 32-bit too large", mmapErr(MMapOpts{Length: 2 << 30, Map32Bit: true, Private: true}), unix.ENOMEM},
		{"mmap 32-bit fits", mmapErr(MMapOpts{Length: 1 << 30, Map32Bit: true, Private: true}), nil},

		// munmap
		{"munmap unaligned", func(mm *MemoryManager) error { return mm.MUnmap(ctx, a+1, 0x1000) }, unix.EINVAL},
		{"munmap length 0", func(mm *MemoryManager) error { return mm.MUnmap(ctx, a, 0) }, unix.EINVAL},
		{"munmap length -1", func(mm *MemoryManager) error { return mm.MUnmap(ctx, a, huge) }, unix.EINVAL},
		{"munmap wrapping", func(mm *MemoryManager) error { return mm.MUnmap(ctx, maxAddr&^0xfff, 0x2000) }, unix.EINVAL},
		{"munmap past the user range", func(mm *MemoryManager) error { return mm.MUnmap(ctx, 0x7ffffffff000, 0x1000) }, unix.EINVAL},
		{"munmap of the platform's reserve", func(mm *MemoryManager) error { return mm.MUnmap(ctx, top, 0x1000) }, nil},
		{"munmap everything", func(mm *MemoryManager) error { return mm.MUnmap(ctx, 0, 0x7ffffffff000) }, nil},
		{"munmap a hole", func(mm *MemoryManager) error { return mm.MUnmap(ctx, a+0x100000, 0x1000) }, nil},

		// mprotect
		{"mprotect unaligned", func(mm *MemoryManager) error { return mm.MProtect(a+1, 0x1000, rw, false) }, unix.EINVAL},
		{"mprotect length 0", func(mm *MemoryManager) error { return mm.MProtect(a+1, 0, rw, false) }, unix.EINVAL},
		{"mprotect length 0, aligned", func(mm *MemoryManager) error { return mm.MProtect(0, 0, rw, false) }, nil},
		{"mprotect length -1", func(mm *MemoryManager) error { return mm.MProtect(a, huge, rw, false) }, unix.ENOMEM},
		{"mprotect wrapping", func(mm *MemoryManager) error { return mm.MProtect(a, huge&^0xfff, rw, false) }, unix.ENOMEM},
		{"mprotect a hole", func(mm *MemoryManager) error { return mm.MProtect(a+0x100000, 0x1000, rw, false) }, unix.ENOMEM},
		{"mprotect above everything", func(mm *MemoryManager) error { return mm.MProtect(top, 0x1000, rw, false) }, unix.ENOMEM},
		{"mprotect growsdown of a hole", func(mm *MemoryManager) error { return mm.MProtect(a-0x1000, 0x1000, rw, true) }, unix.ENOMEM},

		// brk
		{"brk -1", func(mm *MemoryManager) error { _, err := mm.Brk(ctx, maxAddr); return err }, unix.ENOMEM},
		{"brk up to a mapping", func(mm *MemoryManager) error { _, err := mm.Brk(ctx, a); return err }, nil},
		{"brk over a mapping", func(mm *MemoryManager) error { _, err := mm.Brk(ctx, a+0x1000); return err }, unix.ENOMEM},

		// faults and IO
		{"fault at -1", func(mm *MemoryManager) error { return mm.HandleUserFault(ctx, maxAddr, usermem.AnyAccess) }, unix.EFAULT},
		{"copy in at -1", func(mm *MemoryManager) error {
			_, err := mm.CopyIn(ctx, maxAddr, make([]byte, 2), usermem.IOOpts{})
			return err
		}, unix.EFAULT},
		{"zero out 2^63-1", func(mm *MemoryManager) error {
			_, err := mm.ZeroOut(ctx, a, math.MaxInt64, usermem.IOOpts{})
			return err
		}, unix.EFAULT},
		{"zero out to the top", func(mm *MemoryManager) error {
			_, err := mm.ZeroOut(ctx, a, int64(top-a), usermem.IOOpts{})
			return err
		}, unix.EFAULT},
	} {
		mm, _ := newTestMM(t)
		mm.BrkSetup(0x600000)
		mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: rw})
		if got := tc.do(mm); got != tc.want {
			t.Errorf("%s: got %v, wanted %v", tc.desc, got, tc.want)
		}
		check(t, mm)
	}
}

// mmapErr returns a test step that maps opts and returns the error.
func mmapErr(opts MMapOpts) func(*MemoryManager) error {
	return func(mm *MemoryManager) error {
		_, err := mm.MMap(ctx, opts)
		return err
	}
}
