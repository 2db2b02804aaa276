package mm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// bigFile is a Mappable whose numbers are as wide as they get.
type bigFile struct{ testFile }

func (*bigFile) DeviceID() uint64 { return unix.Mkdev(0xfff, 0xfffff) }
func (*bigFile) InodeID() uint64  { return ^uint64(0) }

func TestMapsText(t *testing.T) {
	mm, _ := newTestMM(t)
	file := &testFile{data: make([]byte, 0x2800)}
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: 0x400000, Fixed: true, Private: true, Perms: usermem.AccessType{Read: true, Execute: true}, Mappable: file})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Offset: 0x2000, Addr: 0x402000, Fixed: true, Private: true, Perms: usermem.ReadWrite, Mappable: file})
	mm.BrkSetup(0x404000)
	if _, err := mm.Brk(ctx, 0x405800); err != nil {
		t.Fatalf("Brk: %v", err)
	}
	shared := mustMMap(t, mm, MMapOpts{Length: 0x1000, Perms: usermem.ReadWrite})
	mustMMap(t, mm, anon(0x1000, usermem.ReadWrite))
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Offset: 0x7ffffffffff00000, Private: true, Perms: usermem.Read, Mappable: &bigFile{}})
	if _, err := mm.MapStack(ctx); err != nil {
		t.Fatalf("MapStack: %v", err)
	}
	i, _ := mm.vmas.find(shared)
	shmID := mm.vmas.segs[i].val.shm.id
	shmPrefix := fmt.Sprintf("7feff7fff000-7feff8000000 rw-s 00000000 00:01 %d ", shmID)

	want := "" +
		"00400000-00402000 r-xp 00000000 08:02 173521                             /bin/test\n" +
		"00402000-00403000 rw-p 00002000 08:02 173521                             /bin/test\n" +
		"00404000-00406000 rw-p 00000000 00:00 0                                  [heap]\n" +
		"7feff7ffd000-7feff7ffe000 r--p 7ffffffffff00000 fff:fffff 18446744073709551615  /bin/test\n" +
		"7feff7ffe000-7feff7fff000 rw-p 00000000 00:00 0 \n" +
		shmPrefix + strings.Repeat(" ", 73-len(shmPrefix)) + "/dev/zero (deleted)\n" +
		"7fefff800000-7ff000000000 rw-p 00000000 00:00 0                          [stack]\n"
	if diff := cmp.Diff(want, mm.MapsText()); diff != "" {
		t.Errorf("MapsText: -want +got:\n%s", diff)
	}
}

func TestMapsTextSplitAndMerge(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 3 * usermem.PageSize, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	steps := []struct {
		desc string
		do   func() error
		want string
	}{
		{
			desc: "mmap 3 pages",
			do:   func() error { return nil },
			want: "10000000-10003000 rw-p 00000000 00:00 0 \n",
		},
		{
			desc: "mprotect the middle page read-only",
			do:   func() error { return mm.MProtect(a+0x1000, 0x1000, usermem.Read, false) },
			want: "10000000-10001000 rw-p 00000000 00:00 0 \n" +
				"10001000-10002000 r--p 00000000 00:00 0 \n" +
				"10002000-10003000 rw-p 00000000 00:00 0 \n",
		},
		{
			desc: "mprotect it back",
			do:   func() error { return mm.MProtect(a+0x1000, 1, usermem.ReadWrite, false) },
			want: "10000000-10003000 rw-p 00000000 00:00 0 \n",
		},
		{
			desc: "munmap the middle page",
			do:   func() error { return mm.MUnmap(ctx, a+0x1000, 0x1000) },
			want: "10000000-10001000 rw-p 00000000 00:00 0 \n" +
				"10002000-10003000 rw-p 00000000 00:00 0 \n",
		},
		{
			desc: "map it again",
			do: func() error {
				_, err := mm.MMap(ctx, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Private: true, Perms: usermem.ReadWrite})
				return err
			},
			want: "10000000-10003000 rw-p 00000000 00:00 0 \n",
		},
		{
			desc: "mprotect the whole range executable",
			do:   func() error { return mm.MProtect(a, 0x3000, usermem.AccessType{Read: true, Execute: true}, false) },
			want: "10000000-10003000 r-xp 00000000 00:00 0 \n",
		},
		{
			desc: "mprotect write-only shows as -w-",
			do:   func() error { return mm.MProtect(a, 0x1000, usermem.Write, false) },
			want: "10000000-10001000 -w-p 00000000 00:00 0 \n" +
				"10001000-10003000 r-xp 00000000 00:00 0 \n",
		},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.desc, err)
		}
		check(t, mm)
		if diff := cmp.Diff(step.want, mm.MapsText()); diff != "" {
			t.Errorf("%s: MapsText -want +got:\n%s", step.desc, diff)
		}
	}
}
