package mm

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// fuzzPlatform is shared by all fuzz iterations of a process: a memory
// file per iteration would pile up memfds.
var fuzzPlatform = sync.OnceValue(func() *testPlatform {
	mf, err := platform.NewMemoryFile(1 << 30)
	if err != nil {
		panic(err)
	}
	return &testPlatform{mf: mf}
})

// fuzzBase is where the fuzzed operations happen: a small region, so that
// they collide.
const fuzzBase = 0x10000000

// fuzzInput decodes a fuzzer's bytes into arguments.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

// addr returns an address in the fuzzed region, or now and then a hostile
// one.
func (in *fuzzInput) addr() usermem.Addr {
	switch c := in.byte(); {
	case c < 240:
		return fuzzBase + usermem.Addr(c%64)*usermem.PageSize
	case c < 244:
		return fuzzBase + usermem.Addr(c) // unaligned
	case c < 248:
		return 0
	case c < 252:
		return testMaxAddr - usermem.PageSize
	default:
		return ^usermem.Addr(0) &^ 0xfff
	}
}

// length returns a length of a few pages, or now and then a hostile one.
func (in *fuzzInput) length() uint64 {
	switch c := in.byte(); {
	case c < 240:
		return uint64(c%16) * usermem.PageSize
	case c < 246:
		return uint64(c) // unaligned
	case c < 250:
		return 1 << 40
	default:
		return ^uint64(0) - uint64(c&3)
	}
}

func (in *fuzzInput) perms() usermem.AccessType {
	c := in.byte()
	return usermem.AccessType{Read: c&1 != 0, Write: c&2 != 0, Execute: c&4 != 0}
}

// FuzzMemoryManager runs sequences of hostile memory operations on a few
// memory managers related by fork, and checks after each that nothing
// panicked and that the invariants hold; at the end, that all memory was
// given back.
func FuzzMemoryManager(f *testing.F) {
	f.Add([]byte{0, 0, 4, 3, 6, 1, 2, 0, 5, 0, 1, 1, 2, 0})
	f.Add([]byte{0, 1, 16, 3, 7, 0, 8, 0, 2, 2, 0, 3, 2, 7, 1, 4, 2, 2})
	f.Add([]byte{0, 2, 5, 3, 9, 5, 0, 6, 1, 1, 7, 0, 2, 4, 8, 2, 5, 3, 0})
	f.Add([]byte{1, 3, 250, 3, 3, 255, 249, 7, 4, 244, 2, 2, 245, 0, 10, 9})
	// A shared file mapping, written, forked, truncated under both, faulted
	// past the new end, synced, read, probed and exited.
	f.Add([]byte{0, 0, 0, 8, 3, 13, 0, 6, 0, 3, 0, 0, 0, 9, 1, 1, 12, 1, 1, 8, 1, 2, 0,
		0, 13, 0, 4, 4, 1, 7, 2, 0, 0, 0, 14, 0, 4, 0, 10, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := fuzzPlatform()
		file := &refFile{testFile: testFile{data: make([]byte, 5*usermem.PageSize+123)}}
		sfile := newSharedFile(make([]byte, 5*usermem.PageSize+123))
		mms := []*MemoryManager{NewMemoryManager(p)}
		mms[0].BrkSetup(fuzzBase + 32*usermem.PageSize)
		testAddressSpace(t, mms[0])
		in := &fuzzInput{b: data}
		for steps := 0; len(in.b) > 0 && steps < 64; steps++ {
			mm := mms[int(in.byte())%len(mms)]
			switch op := in.byte() % 15; op {
			case 0:
				opts := MMapOpts{Addr: in.addr(), Length: in.length(), Perms: in.perms(), MaxPerms: usermem.AnyAccess}
				flags := in.byte()
				opts.Fixed, opts.Unmap, opts.Private = flags&1 != 0, flags&2 != 0, flags&4 == 0
				if flags&8 != 0 {
					opts.Mappable, opts.Offset = file, uint64(flags>>4)*usermem.PageSize
					if !opts.Private {
						opts.Mappable = sfile
					}
				}
				mm.MMap(ctx, opts)
			case 1:
				mm.MUnmap(ctx, in.addr(), in.length())
			case 2:
				mm.MProtect(in.addr(), in.length(), in.perms(), in.byte()&1 != 0)
			case 3:
				opts := MRemapOpts{Move: MRemapMoveMode(in.byte() % 3), NewAddr: in.addr()}
				mm.MRemap(ctx, in.addr(), in.length(), in.length(), opts)
			case 4:
				advice := []int{unix.MADV_DONTNEED, unix.MADV_FREE, unix.MADV_REMOVE, unix.MADV_DONTFORK,
					unix.MADV_DOFORK, unix.MADV_WIPEONFORK, unix.MADV_POPULATE_WRITE, unix.MADV_NORMAL, 1000}
				mm.MAdvise(ctx, in.addr(), in.length(), advice[int(in.byte())%len(advice)])
			case 5:
				mm.Brk(ctx, in.addr()+usermem.Addr(in.byte()))
			case 6:
				buf := make([]byte, in.length()%(8*usermem.PageSize))
				for i := range buf {
					buf[i] = byte(i)
				}
				mm.CopyOut(ctx, in.addr()+usermem.Addr(in.byte()), buf, usermem.IOOpts{IgnorePermissions: in.byte()&1 != 0})
			case 7:
				buf := make([]byte, in.length()%(8*usermem.PageSize))
				mm.CopyIn(ctx, in.addr()+usermem.Addr(in.byte()), buf, usermem.IOOpts{})
			case 8:
				at := in.perms()
				err := mm.HandleUserFault(ctx, in.addr()+usermem.Addr(in.byte()), at)
				if err != nil && err != unix.EFAULT && err != unix.EPERM && err != ErrBusError {
					t.Fatalf("HandleUserFault: unexpected error %v", err)
				}
			case 9:
				if len(mms) < 4 {
					child, err := mm.Fork(ctx)
					if err != nil {
						t.Fatalf("Fork: %v", err)
					}
					if in.byte()&1 != 0 {
						testAddressSpace(t, child)
					}
					mms = append(mms, child)
				}
			case 10:
				if len(mms) > 1 {
					i := int(in.byte()) % len(mms)
					mms[i].DecUsers(ctx)
					mms = append(mms[:i], mms[i+1:]...)
				}
			case 11:
				mm.SwapUint32(ctx, in.addr()+usermem.Addr(in.byte()&^3), 1, usermem.IOOpts{})
			case 12:
				sfile.truncate(t, int(in.length()%(8*usermem.PageSize)))
			case 13:
				mm.MSync(ctx, in.addr(), in.length(), int(in.byte()%8))
			case 14:
				mm.MinCore(ctx, in.addr(), in.length())
			}
			for _, mm := range mms {
				if err := checkInvariants(mm); err != nil {
					t.Fatalf("step %d: %v\nmaps:\n%s", steps, err, mm.MapsText())
				}
			}
		}
		for _, mm := range mms {
			mm.DecUsers(ctx)
		}
		if got := p.mf.Usage(); got != 0 {
			t.Fatalf("memory leaked: Usage %#x after every memory manager exited", got)
		}
		if got := file.refs.Load(); got != 0 {
			t.Fatalf("file references leaked: %d after every memory manager exited", got)
		}
		if got := sfile.refs.Load(); got != 0 || FileCached(sfile.id()) {
			t.Fatalf("shared file references leaked (%d), or its cache (%v), after every memory manager exited", got, FileCached(sfile.id()))
		}
	})
}
