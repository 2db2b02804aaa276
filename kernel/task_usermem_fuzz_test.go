package kernel

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// The iovec and IOSequence builders (CopyInIovecs, IovecsIOSequence,
// SingleIOSequence) take their arguments straight from the application. The
// fuzz targets here hand them hostile arrays, counts, addresses and lengths
// over a real memory manager, and check each result against a model of
// Linux's rules written from the kernel's order of checks:
//
//   - readv/writev: a count outside [0, UIO_MAXIOV] is EINVAL; an array
//     outside the user range is EFAULT; then, iovec by iovec,
//     copy_iovec_from_user fails with EFAULT where the array cannot be read
//     and with EINVAL for a length that does not fit ssize_t; only then does
//     import_iovec check each buffer with access_ok (EFAULT) and shorten the
//     total to MAX_RW_COUNT, later iovecs first;
//   - read/write: access_ok on the whole buffer (EFAULT), then the length is
//     shortened to MAX_RW_COUNT.
//
// A sequence that is built must also copy without panicking, and a short
// copy must come with an error.

// The test address space: a readable and writable region, a hole, and an
// inaccessible region, so that arrays can run off the end of readable memory.
const (
	fuzzMaxAddr  = usermem.Addr(0x7ff000000000)
	fuzzRWStart  = usermem.Addr(0x100000)
	fuzzRWEnd    = fuzzRWStart + 16*usermem.PageSize
	fuzzNoneAddr = fuzzRWEnd + usermem.PageSize
)

// memoryOnlyPlatform is a platform.Platform that runs nothing: a memory
// manager reaches memory through the memory file's internal mapping, and
// needs no address space for the copies these tests make.
type memoryOnlyPlatform struct {
	mf *platform.MemoryFile
}

func (p *memoryOnlyPlatform) MemoryFile() *platform.MemoryFile { return p.mf }
func (p *memoryOnlyPlatform) MinUserAddress() usermem.Addr     { return usermem.PageSize }
func (p *memoryOnlyPlatform) MaxUserAddress() usermem.Addr     { return fuzzMaxAddr }
func (p *memoryOnlyPlatform) NewContext() platform.Context     { return nil }

func (p *memoryOnlyPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return nil, errors.New("this test platform runs nothing")
}

// newFuzzTask returns a task whose memory manager holds the test address
// space, with data written at the start of the readable region.
func newFuzzTask(t testing.TB) *Task {
	t.Helper()
	mf, err := platform.NewMemoryFile(1 << 28)
	if err != nil {
		t.Fatalf("NewMemoryFile: %v", err)
	}
	m := mm.NewMemoryManager(&memoryOnlyPlatform{mf: mf})
	t.Cleanup(func() {
		m.DecUsers(context.Background())
		// MemoryFile has no Close: a sentry keeps its one file for life.
		unix.Munmap(mf.Window(platform.FileRange{Start: 0, End: mf.Size()}))
		unix.Close(mf.FD())
	})
	for _, r := range []struct {
		addr   usermem.Addr
		length uint64
		perms  usermem.AccessType
	}{
		{fuzzRWStart, uint64(fuzzRWEnd - fuzzRWStart), usermem.ReadWrite},
		{fuzzNoneAddr, usermem.PageSize, usermem.NoAccess},
	} {
		_, err := m.MMap(context.Background(), mm.MMapOpts{
			Addr: r.addr, Length: r.length, Fixed: true, Private: true, Perms: r.perms,
		})
		if err != nil {
			t.Fatalf("MMap(%#x): %v", r.addr, err)
		}
	}
	return &Task{mm: m}
}

// interestingAddrs are addresses the fuzzer picks by index: the edges of
// the user range, of the test regions, and kernel addresses.
var interestingAddrs = []usermem.Addr{
	0, 1, usermem.PageSize,
	fuzzRWStart, fuzzRWEnd - 16, fuzzRWEnd - 8, fuzzRWEnd, fuzzNoneAddr,
	fuzzMaxAddr - usermem.PageSize, fuzzMaxAddr - 16, fuzzMaxAddr - 1, fuzzMaxAddr,
	0x7fffffffffff, 0xffff800000000000, math.MaxUint64 - 15, math.MaxUint64,
}

// fuzzAddr turns the fuzzer's selector and offset into an address: one of
// interestingAddrs, or an offset into the readable region.
func fuzzAddr(sel uint8, off uint16) usermem.Addr {
	if int(sel) < len(interestingAddrs) {
		return interestingAddrs[sel]
	}
	return fuzzRWStart + usermem.Addr(off)%(fuzzRWEnd-fuzzRWStart)
}

// fuzzLength turns the fuzzer's word into a length, biased towards the
// edges: ssize_t's limit, MAX_RW_COUNT, the user range.
func fuzzLength(raw uint64) uint64 {
	switch raw % 8 {
	case 0:
		return math.MaxInt64 + raw>>60
	case 1:
		return uint64(MaxRWCount) + raw>>60 - 4
	case 2:
		return uint64(fuzzMaxAddr) - raw>>50
	default:
		return raw >> (raw % 64)
	}
}

// accessOK is the model's access_ok.
func accessOK(addr usermem.Addr, length uint64) bool {
	end := uint64(addr) + length
	return end >= uint64(addr) && end <= uint64(fuzzMaxAddr)
}

// readable is the model's answer to whether [addr, addr+length) can be
// read: only the readable region can.
func readable(addr usermem.Addr, length uint64) bool {
	end := uint64(addr) + length
	return addr >= fuzzRWStart && end >= uint64(addr) && end <= uint64(fuzzRWEnd)
}

// modelIovecs is what Linux makes of iovcnt iovecs at addr, given the
// iovecs that the memory there holds.
func modelIovecs(addr usermem.Addr, iovcnt int, iovs [][2]uint64) ([]usermem.AddrRange, error) {
	if iovcnt < 0 || iovcnt > UIOMaxIOV {
		return nil, unix.EINVAL
	}
	if iovcnt == 0 {
		return nil, nil
	}
	if !accessOK(addr, uint64(iovcnt)*iovecSize) {
		return nil, unix.EFAULT
	}
	for i := 0; i < iovcnt; i++ {
		if !readable(addr+usermem.Addr(i*iovecSize), iovecSize) {
			return nil, unix.EFAULT
		}
		if iovs[i][1] > math.MaxInt64 {
			return nil, unix.EINVAL
		}
	}
	var ars []usermem.AddrRange
	total := uint64(0)
	for i := 0; i < iovcnt; i++ {
		base, length := usermem.Addr(iovs[i][0]), iovs[i][1]
		if !accessOK(base, length) {
			return nil, unix.EFAULT
		}
		length = min(length, uint64(MaxRWCount)-total)
		total += length
		ars = append(ars, usermem.AddrRange{Start: base, End: base + usermem.Addr(length)})
	}
	return ars, nil
}

// checkSequence copies through seq, which must hold want, in both
// directions: no panic, and no short count without an error.
func checkSequence(t *testing.T, seq usermem.IOSequence, want []usermem.AddrRange) {
	t.Helper()
	var got []usermem.AddrRange
	for ars := seq.Addrs; !ars.IsEmpty(); ars = ars.Tail() {
		got = append(got, ars.Head())
	}
	if len(got) != len(want) {
		t.Fatalf("the sequence has %d ranges %v, the model %d %v", len(got), got, len(want), want)
	}
	var total int64
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("range %d is %v, the model's %v", i, got[i], want[i])
		}
		total += int64(got[i].Length())
	}
	if seq.NumBytes() != total {
		t.Fatalf("NumBytes() = %d, the ranges hold %d", seq.NumBytes(), total)
	}
	buf := make([]byte, 2*usermem.PageSize)
	wantN := min(int64(len(buf)), total)
	for _, dir := range []string{"CopyOut", "CopyIn"} {
		var n int
		var err error
		if dir == "CopyOut" {
			n, err = seq.CopyOut(context.Background(), buf)
		} else {
			n, err = seq.CopyIn(context.Background(), buf)
		}
		if int64(n) > wantN || int64(n) < wantN && err == nil {
			t.Fatalf("%s of %d bytes through %v: %d, %v", dir, len(buf), got, n, err)
		}
	}
}

func FuzzIovecsIOSequence(f *testing.F) {
	// Seeds: the errors each in turn, and one of each kind of iovec.
	iov := func(pairs ...uint64) []byte {
		var b []byte
		for _, p := range pairs {
			b = binary.LittleEndian.AppendUint64(b, p)
		}
		return b
	}
	rw := uint64(fuzzRWStart)
	f.Add(iov(rw, 16, rw+32, 0, rw+64, 100), uint8(255), uint16(0x800), int16(3))
	f.Add(iov(rw, 16), uint8(255), uint16(0x800), int16(1025))
	f.Add(iov(rw, 16), uint8(255), uint16(0x800), int16(-1))
	f.Add(iov(rw, 16), uint8(255), uint16(0x800), int16(0))
	f.Add(iov(0xffff800000000000, 1, rw, math.MaxInt64+1), uint8(255), uint16(0x800), int16(2))
	f.Add(iov(rw, math.MaxInt64+1), uint8(4), uint16(0), int16(2))
	f.Add(iov(rw, 1), uint8(4), uint16(0), int16(2))
	f.Add(iov(rw, 0x7ffff000, rw, 0x7ffff000, rw, 5), uint8(255), uint16(0x800), int16(3))
	f.Add(iov(uint64(fuzzMaxAddr)-8, 8, uint64(fuzzMaxAddr)-8, 9), uint8(255), uint16(0x800), int16(2))
	f.Add([]byte{}, uint8(14), uint16(0), int16(1))
	t := newFuzzTask(f)
	f.Fuzz(func(tt *testing.T, data []byte, sel uint8, off uint16, iovcnt int16) {
		addr := fuzzAddr(sel, off)
		// Lay the array out at addr where it is writable, and read back
		// what memory holds there for the model (zeros past the data).
		var iovs [][2]uint64
		for i := 0; i < int(max(iovcnt, 0)) && i < UIOMaxIOV; i++ {
			var raw [iovecSize]byte
			copy(raw[:], data[min(i*iovecSize, len(data)):])
			base, length := binary.LittleEndian.Uint64(raw[:]), binary.LittleEndian.Uint64(raw[8:])
			if i*iovecSize < len(data) {
				length = fuzzLength(length)
				binary.LittleEndian.PutUint64(raw[8:], length)
			}
			if a := addr + usermem.Addr(i*iovecSize); readable(a, iovecSize) {
				if _, err := t.CopyOutBytes(a, raw[:]); err != nil {
					tt.Fatalf("writing iovec %d at %#x: %v", i, a, err)
				}
			}
			iovs = append(iovs, [2]uint64{base, length})
		}
		want, wantErr := modelIovecs(addr, int(iovcnt), iovs)
		seq, err := t.IovecsIOSequence(addr, int(iovcnt), usermem.IOOpts{AddressSpaceActive: true})
		if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
			tt.Fatalf("IovecsIOSequence(%#x, %d) over %x: %v, want %v", addr, iovcnt, iovs, err, wantErr)
		}
		if err == nil {
			checkSequence(tt, seq, want)
		}
	})
}

func FuzzSingleIOSequence(f *testing.F) {
	f.Add(uint8(255), uint16(0), uint64(100))
	f.Add(uint8(255), uint16(0), uint64(math.MaxUint64))
	f.Add(uint8(4), uint16(0), uint64(17))
	f.Add(uint8(0), uint16(0), uint64(0))
	f.Add(uint8(11), uint16(0), uint64(0))
	f.Add(uint8(8), uint16(0), uint64(usermem.PageSize))
	t := newFuzzTask(f)
	f.Fuzz(func(tt *testing.T, sel uint8, off uint16, raw uint64) {
		addr, length := fuzzAddr(sel, off), fuzzLength(raw)
		var want []usermem.AddrRange
		var wantErr error
		if length > math.MaxInt64 || !accessOK(addr, length) {
			wantErr = unix.EFAULT
		} else {
			want = []usermem.AddrRange{{Start: addr, End: addr + usermem.Addr(min(length, uint64(MaxRWCount)))}}
		}
		// read(2) and write(2) take a size_t: a length past MaxInt64
		// arrives here as a negative int.
		seq, err := t.SingleIOSequence(addr, int(length), usermem.IOOpts{AddressSpaceActive: true})
		if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
			tt.Fatalf("SingleIOSequence(%#x, %d): %v, want %v", addr, int(length), err, wantErr)
		}
		if err == nil {
			checkSequence(tt, seq, want)
		}
	})
}
