package usermem

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// errString formats err for test names and messages; nil prints as "nil".
func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestBytesIOCopyOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mem     string
		addr    Addr
		src     string
		wantN   int
		wantErr error
		wantMem string
	}{
		{"fits", "ABCDE", 1, "foo", 3, nil, "AfooE"},
		{"runs past the end", "ABC", 1, "foo", 2, unix.EFAULT, "Afo"},
		{"starts at the end", "ABC", 3, "foo", 0, unix.EFAULT, "ABC"},
		{"starts far past the end", "ABC", 100, "foo", 0, unix.EFAULT, "ABC"},
		{"starts at the top of the address space", "ABC", top, "foo", 0, unix.EFAULT, "ABC"},
		{"zero length past the end", "ABC", top, "", 0, nil, "ABC"},
		{"up to the end", "ABC", 0, "xyz", 3, nil, "xyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := []byte(tc.mem)
			n, err := BytesIO{mem}.CopyOut(context.Background(), tc.addr, []byte(tc.src), IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyOut() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantMem, string(mem)); diff != "" {
				t.Errorf("memory mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBytesIOCopyIn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mem     string
		addr    Addr
		len     int
		wantN   int
		wantErr error
		wantDst string
	}{
		{"fits", "AfooE", 1, 3, 3, nil, "foo"},
		{"runs past the end", "Afo", 1, 3, 2, unix.EFAULT, "fo\x00"},
		{"starts at the end", "Afo", 3, 3, 0, unix.EFAULT, "\x00\x00\x00"},
		{"starts at the top of the address space", "Afo", top, 3, 0, unix.EFAULT, "\x00\x00\x00"},
		{"zero length past the end", "Afo", 100, 0, 0, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, tc.len)
			n, err := BytesIO{[]byte(tc.mem)}.CopyIn(context.Background(), tc.addr, dst, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyIn() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantDst, string(dst)); diff != "" {
				t.Errorf("dst mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBytesIOZeroOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mem     string
		addr    Addr
		toZero  int64
		wantN   int64
		wantErr error
		wantMem string
	}{
		{"fits", "ABCD", 1, 2, 2, nil, "A\x00\x00D"},
		{"runs past the end", "ABC", 1, 3, 2, unix.EFAULT, "A\x00\x00"},
		{"largest count", "ABC", 1, math.MaxInt64, 2, unix.EFAULT, "A\x00\x00"},
		{"starts at the end", "ABC", 3, 1, 0, unix.EFAULT, "ABC"},
		{"zero bytes", "ABC", 1, 0, 0, nil, "ABC"},
		{"zero bytes past the end", "ABC", 10, 0, 0, nil, "ABC"},
		{"negative count", "ABC", 1, -1, 0, unix.EINVAL, "ABC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := []byte(tc.mem)
			n, err := BytesIO{mem}.ZeroOut(context.Background(), tc.addr, tc.toZero, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("ZeroOut() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantMem, string(mem)); diff != "" {
				t.Errorf("memory mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// recordBlocks returns a BlockReader and a BlockWriter that record the
// windows they are given and how often they are called, then transfer like
// FromIOReader and FromIOWriter on data (the writer appends to *data).
func recordBlocks(data *[]byte, calls *int, windows *[]int) (BlockReader, BlockWriter) {
	record := func(bs BlockSeq) {
		*calls++
		*windows = nil
		for _, b := range bs {
			*windows = append(*windows, len(b))
		}
	}
	r := BlockReaderFunc(func(dsts BlockSeq) (uint64, error) {
		record(dsts)
		n := CopySeq(dsts, BlockSeq{*data})
		*data = (*data)[n:]
		return n, nil
	})
	w := BlockWriterFunc(func(srcs BlockSeq) (uint64, error) {
		record(srcs)
		for _, s := range srcs {
			*data = append(*data, s...)
		}
		return srcs.NumBytes(), nil
	})
	return r, w
}

func TestBytesIOCopyOutFrom(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mem         string
		ranges      []AddrRange
		src         string
		wantN       int64
		wantErr     error
		wantMem     string
		wantWindows []int
	}{
		{
			name:        "ranges out of order",
			mem:         "ABCDEFGH",
			ranges:      []AddrRange{{4, 7}, {1, 4}},
			src:         "barfoo",
			wantN:       6,
			wantMem:     "AfoobarH",
			wantWindows: []int{3, 3},
		},
		{
			name:        "second range runs past the end",
			mem:         "ABCDE",
			ranges:      []AddrRange{{1, 4}, {4, 7}},
			src:         "foobar",
			wantN:       4,
			wantErr:     unix.EFAULT,
			wantMem:     "Afoob",
			wantWindows: []int{3, 1},
		},
		{
			name:        "ranges after a bad one are not reached",
			mem:         "ABCDE",
			ranges:      []AddrRange{{1, 2}, {9, 10}, {2, 3}},
			src:         "xy",
			wantN:       1,
			wantErr:     unix.EFAULT,
			wantMem:     "AxCDE",
			wantWindows: []int{1},
		},
		{
			name:        "first range bad: the reader still runs, on nothing",
			mem:         "ABCDE",
			ranges:      []AddrRange{{5, 6}, {1, 2}},
			src:         "xy",
			wantN:       0,
			wantErr:     unix.EFAULT,
			wantMem:     "ABCDE",
			wantWindows: nil,
		},
		{
			name:        "empty ranges give no window, even past the end",
			mem:         "ABCDE",
			ranges:      []AddrRange{{2, 2}, {1, 3}, {9, 9}, {4, 5}},
			src:         "xyz",
			wantN:       3,
			wantMem:     "AxyDz",
			wantWindows: []int{2, 1},
		},
		{
			name:        "short source is not an error",
			mem:         "ABCDE",
			ranges:      []AddrRange{{0, 5}},
			src:         "xy",
			wantN:       2,
			wantMem:     "xyCDE",
			wantWindows: []int{5},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := []byte(tc.mem)
			data := []byte(tc.src)
			var calls int
			var windows []int
			r, _ := recordBlocks(&data, &calls, &windows)
			n, err := BytesIO{mem}.CopyOutFrom(context.Background(), AddrRangeSeqFromSlice(tc.ranges), r, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyOutFrom() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantMem, string(mem)); diff != "" {
				t.Errorf("memory mismatch (-want +got):\n%s", diff)
			}
			if calls != 1 {
				t.Errorf("ReadToBlocks called %d times, want once", calls)
			}
			if diff := cmp.Diff(tc.wantWindows, windows); diff != "" {
				t.Errorf("window lengths mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBytesIOCopyInTo(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mem         string
		ranges      []AddrRange
		wantN       int64
		wantErr     error
		wantData    string
		wantWindows []int
	}{
		{
			name:        "ranges out of order",
			mem:         "AfoobarH",
			ranges:      []AddrRange{{4, 7}, {1, 4}},
			wantN:       6,
			wantData:    "barfoo",
			wantWindows: []int{3, 3},
		},
		{
			name:        "second range runs past the end",
			mem:         "Afoob",
			ranges:      []AddrRange{{1, 4}, {4, 7}},
			wantN:       4,
			wantErr:     unix.EFAULT,
			wantData:    "foob",
			wantWindows: []int{3, 1},
		},
		{
			name:        "empty ranges give no window",
			mem:         "ABCDE",
			ranges:      []AddrRange{{0, 0}, {3, 5}, {7, 7}, {0, 1}},
			wantN:       3,
			wantData:    "DEA",
			wantWindows: []int{2, 1},
		},
		{
			name:        "first range bad",
			mem:         "ABCDE",
			ranges:      []AddrRange{{top - 1, top}},
			wantN:       0,
			wantErr:     unix.EFAULT,
			wantWindows: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			var calls int
			var windows []int
			_, w := recordBlocks(&data, &calls, &windows)
			n, err := BytesIO{[]byte(tc.mem)}.CopyInTo(context.Background(), AddrRangeSeqFromSlice(tc.ranges), w, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyInTo() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantData, string(data)); diff != "" {
				t.Errorf("data mismatch (-want +got):\n%s", diff)
			}
			if calls != 1 {
				t.Errorf("WriteFromBlocks called %d times, want once", calls)
			}
			if diff := cmp.Diff(tc.wantWindows, windows); diff != "" {
				t.Errorf("window lengths mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBytesIOBlockErrorsWin(t *testing.T) {
	// The reader or writer fails after one byte, and the second range is
	// bad too: the reader's or writer's error is the one reported.
	ranges := AddrRangeSeqFromSlice([]AddrRange{{0, 2}, {4, 8}})
	failing := func(bs BlockSeq) (uint64, error) {
		return 1, errTest
	}
	ctx := context.Background()
	mem := BytesIO{make([]byte, 5)}
	if n, err := mem.CopyOutFrom(ctx, ranges, BlockReaderFunc(failing), IOOpts{}); n != 1 || !errors.Is(err, errTest) {
		t.Errorf("CopyOutFrom() = (%d, %v), want (1, %v)", n, err, errTest)
	}
	if n, err := mem.CopyInTo(ctx, ranges, BlockWriterFunc(failing), IOOpts{}); n != 1 || !errors.Is(err, errTest) {
		t.Errorf("CopyInTo() = (%d, %v), want (1, %v)", n, err, errTest)
	}
}

func TestBytesIOAtomics(t *testing.T) {
	ctx := context.Background()
	mem := make([]byte, 8)
	b := BytesIO{mem}
	ByteOrder.PutUint32(mem[4:], 0x11223344)

	if got, err := b.LoadUint32(ctx, 4, IOOpts{}); got != 0x11223344 || err != nil {
		t.Errorf("LoadUint32(4) = (%#x, %v), want (0x11223344, nil)", got, err)
	}
	if got, err := b.SwapUint32(ctx, 4, 0xaabbccdd, IOOpts{}); got != 0x11223344 || err != nil {
		t.Errorf("SwapUint32(4) = (%#x, %v), want (0x11223344, nil)", got, err)
	}
	if got := ByteOrder.Uint32(mem[4:]); got != 0xaabbccdd {
		t.Errorf("after SwapUint32, memory holds %#x, want 0xaabbccdd", got)
	}
	// A failed compare-and-swap reports the value found and stores nothing.
	if got, err := b.CompareAndSwapUint32(ctx, 4, 1, 2, IOOpts{}); got != 0xaabbccdd || err != nil {
		t.Errorf("CompareAndSwapUint32(4, 1, 2) = (%#x, %v), want (0xaabbccdd, nil)", got, err)
	}
	if got := ByteOrder.Uint32(mem[4:]); got != 0xaabbccdd {
		t.Errorf("after a failed CompareAndSwapUint32, memory holds %#x, want 0xaabbccdd", got)
	}
	if got, err := b.CompareAndSwapUint32(ctx, 4, 0xaabbccdd, 7, IOOpts{}); got != 0xaabbccdd || err != nil {
		t.Errorf("CompareAndSwapUint32(4, 0xaabbccdd, 7) = (%#x, %v), want (0xaabbccdd, nil)", got, err)
	}
	if got := ByteOrder.Uint32(mem[4:]); got != 7 {
		t.Errorf("after CompareAndSwapUint32, memory holds %#x, want 7", got)
	}
	if diff := cmp.Diff([]byte{0, 0, 0, 0}, mem[:4]); diff != "" {
		t.Errorf("atomics at 4 touched [0, 4) (-want +got):\n%s", diff)
	}
}

func TestBytesIOAtomicsFault(t *testing.T) {
	ctx := context.Background()
	// The last word has only 2 of its 4 bytes.
	mem := make([]byte, 8)
	b := BytesIO{mem[:6]}
	for _, addr := range []Addr{4, 8, top &^ 3} {
		if _, err := b.LoadUint32(ctx, addr, IOOpts{}); !errors.Is(err, unix.EFAULT) {
			t.Errorf("LoadUint32(%#x) error = %v, want EFAULT", addr, err)
		}
		if _, err := b.SwapUint32(ctx, addr, 1, IOOpts{}); !errors.Is(err, unix.EFAULT) {
			t.Errorf("SwapUint32(%#x) error = %v, want EFAULT", addr, err)
		}
		if _, err := b.CompareAndSwapUint32(ctx, addr, 0, 1, IOOpts{}); !errors.Is(err, unix.EFAULT) {
			t.Errorf("CompareAndSwapUint32(%#x) error = %v, want EFAULT", addr, err)
		}
	}
	if diff := cmp.Diff(make([]byte, 8), mem); diff != "" {
		t.Errorf("faulting atomics wrote memory (-want +got):\n%s", diff)
	}
}

func TestBytesIOAtomicsUnaligned(t *testing.T) {
	// Of the four slices starting at buf[0] to buf[3], exactly one is 4-byte
	// aligned on the host, whatever buf's own alignment; the atomics must
	// refuse the other three.
	buf := make([]byte, 8)
	var panics int
	for off := range 4 {
		func() {
			defer func() {
				if recover() != nil {
					panics++
				}
			}()
			BytesIO{buf[off:]}.LoadUint32(context.Background(), 0, IOOpts{})
		}()
	}
	if panics != 3 {
		t.Errorf("LoadUint32 panicked for %d of 4 offsets, want 3", panics)
	}
}

func TestBytesIOSequence(t *testing.T) {
	buf := []byte("hello")
	s := BytesIOSequence(buf)
	if diff := cmp.Diff([]AddrRange{{0, 5}}, heads(s.Addrs)); diff != "" {
		t.Errorf("Addrs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(IOOpts{}, s.Opts); diff != "" {
		t.Errorf("Opts mismatch (-want +got):\n%s", diff)
	}
	// The sequence reaches buf itself, not a copy.
	if _, err := s.CopyOut(context.Background(), []byte("J")); err != nil {
		t.Fatalf("CopyOut: %v", err)
	}
	if string(buf) != "Jello" {
		t.Errorf("buf = %q, want %q", buf, "Jello")
	}
	// An empty buffer gives a sequence of one empty range, not an empty
	// sequence.
	if got := BytesIOSequence(nil).Addrs.NumRanges(); got != 1 {
		t.Errorf("BytesIOSequence(nil).Addrs.NumRanges() = %d, want 1", got)
	}
}
