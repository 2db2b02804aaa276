package usermem

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// allInts has one field of every fixed-size integer type.
type allInts struct {
	I8  int8
	U8  uint8
	I16 int16
	U16 uint16
	I32 int32
	U32 uint32
	I64 int64
	U64 uint64
}

func TestCopyObjectRoundTrip(t *testing.T) {
	ctx := context.Background()
	uio := BytesIO{make([]byte, 64)}
	src := allInts{-1, 2, -3, 4, -5, 6, -7, 8}
	size := binary.Size(src)
	if size != 30 {
		t.Fatalf("binary.Size(allInts) = %d, want 30 (packed)", size)
	}
	if n, err := CopyObjectOut(ctx, uio, 3, &src, IOOpts{}); n != size || err != nil {
		t.Fatalf("CopyObjectOut() = (%d, %v), want (%d, nil)", n, err, size)
	}
	var dst allInts
	if n, err := CopyObjectIn(ctx, uio, 3, &dst, IOOpts{}); n != size || err != nil {
		t.Fatalf("CopyObjectIn() = (%d, %v), want (%d, nil)", n, err, size)
	}
	if diff := cmp.Diff(src, dst); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestCopyObjectOutLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  any
		want string
	}{
		{
			name: "packed little-endian struct",
			src: struct {
				A uint16
				B uint32
			}{0x0102, 0x03040506},
			want: "\x02\x01\x06\x05\x04\x03",
		},
		{"slice", []uint32{1, 0x0a0b0c0d}, "\x01\x00\x00\x00\x0d\x0c\x0b\x0a"},
		{"pointer", new(int64(-2)), "\xfe\xff\xff\xff\xff\xff\xff\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := make([]byte, len(tc.want))
			n, err := CopyObjectOut(context.Background(), BytesIO{mem}, 0, tc.src, IOOpts{})
			if n != len(tc.want) || err != nil {
				t.Errorf("CopyObjectOut() = (%d, %v), want (%d, nil)", n, err, len(tc.want))
			}
			if diff := cmp.Diff(tc.want, string(mem)); diff != "" {
				t.Errorf("memory mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyObjectFaults(t *testing.T) {
	ctx := context.Background()
	mem := []byte("ABCDEF")
	uio := BytesIO{mem}

	// Writing stops where memory does and reports the partial count.
	n, err := CopyObjectOut(ctx, uio, 4, uint32(0x64636261), IOOpts{})
	if n != 2 || !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyObjectOut() = (%d, %v), want (2, EFAULT)", n, err)
	}
	if string(mem) != "ABCDab" {
		t.Errorf("memory = %q, want %q", mem, "ABCDab")
	}

	// Reading reports nothing but the error, and leaves dst alone.
	dst := uint32(7)
	n, err = CopyObjectIn(ctx, uio, 4, &dst, IOOpts{})
	if n != 0 || !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyObjectIn() = (%d, %v), want (0, EFAULT)", n, err)
	}
	if dst != 7 {
		t.Errorf("CopyObjectIn() wrote %#x to dst on failure", dst)
	}
}

func TestCopyObjectPanics(t *testing.T) {
	ctx := context.Background()
	uio := BytesIO{make([]byte, 64)}
	mustPanic(t, func() { CopyObjectOut(ctx, uio, 0, map[int]int{}, IOOpts{}) })
	mustPanic(t, func() { CopyObjectIn(ctx, uio, 0, new(string), IOOpts{}) })
	// A struct value has a size but cannot be decoded into.
	mustPanic(t, func() { CopyObjectIn(ctx, uio, 0, allInts{}, IOOpts{}) })
}

func TestCopyStringIn(t *testing.T) {
	a := func(n int) string { return strings.Repeat("A", n) }
	b := func(n int) string { return strings.Repeat("B", n) }
	for _, tc := range []struct {
		name    string
		mem     string
		addr    Addr
		maxlen  int
		want    string
		wantErr error
	}{
		{"62 bytes", a(62) + "\x00", 0, 128, a(62), nil},
		{"several reads", a(48) + b(48) + "\x00", 0, 128, a(48) + b(48), nil},
		{"buffer growth", a(192) + b(192) + "\x00", 0, 512, a(192) + b(192), nil},
		{"memory ends before a NUL", a(63), 0, 128, a(63), unix.EFAULT},
		{"too long", a(10) + "\x00", 0, 5, a(5), unix.ENAMETOOLONG},
		{"maxlen-1 bytes fit", a(4) + "\x00", 0, 5, a(4), nil},
		{"maxlen bytes do not", a(5) + "\x00", 0, 5, a(5), unix.ENAMETOOLONG},
		{"maxlen 0", "\x00", 0, 0, "", unix.ENAMETOOLONG},
		{"empty string", "\x00AAA", 0, 128, "", nil},
		{"not at 0", "xxab\x00", 2, 128, "ab", nil},
		{"NUL found by a read that also faulted", "ab\x00", 0, 128, "ab", nil},
		{"fault at the first byte", "ab\x00", 3, 128, "", unix.EFAULT},
		{"growth capped at maxlen", a(299) + "\x00", 0, 300, a(299), nil},
		{"growth capped at maxlen, too long", a(301), 0, 300, a(300), unix.ENAMETOOLONG},
		{"PATH_MAX", a(4095) + "\x00", 0, 4096, a(4095), nil},
		{"PATH_MAX, too long", a(4096) + "\x00", 0, 4096, a(4096), unix.ENAMETOOLONG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CopyStringIn(context.Background(), BytesIO{[]byte(tc.mem)}, tc.addr, tc.maxlen, IOOpts{})
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyStringIn() = (%q, %v), want (%q, %v)", got, err, tc.want, errString(tc.wantErr))
			}
		})
	}
}

func TestCopyStringInReadsStopAtPages(t *testing.T) {
	for _, tc := range []struct {
		name      string
		str       string
		addr      Addr
		memLen    int
		want      string
		wantErr   error
		wantReads []ioCall
	}{
		{
			// Only the string's pages are read: the first read stops
			// at the page boundary instead of reading 64 bytes.
			name:   "string across a page boundary",
			str:    strings.Repeat("A", 150) + "\x00",
			addr:   0xfd0,
			memLen: 0x2000,
			want:   strings.Repeat("A", 150),
			wantReads: []ioCall{
				{"CopyIn", 0xfd0, 0x30, IOOpts{}},
				{"CopyIn", 0x1000, 64, IOOpts{}},
				{"CopyIn", 0x1040, 64, IOOpts{}},
			},
		},
		{
			// A string that ends just before unmapped memory does
			// not fault.
			name:   "string at the end of memory",
			str:    "abc\x00",
			addr:   0xffc,
			memLen: 0x1000,
			want:   "abc",
			wantReads: []ioCall{
				{"CopyIn", 0xffc, 4, IOOpts{}},
			},
		},
		{
			name:    "memory ends at a page boundary without a NUL",
			str:     strings.Repeat("A", 64),
			addr:    0xfc0,
			memLen:  0x1000,
			want:    strings.Repeat("A", 64),
			wantErr: unix.EFAULT,
			wantReads: []ioCall{
				{"CopyIn", 0xfc0, 64, IOOpts{}},
				{"CopyIn", 0x1000, 64, IOOpts{}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := make([]byte, tc.memLen)
			copy(mem[tc.addr:], tc.str)
			var calls []ioCall
			uio := recordingIO{IO: BytesIO{mem}, calls: &calls}
			got, err := CopyStringIn(context.Background(), uio, tc.addr, 4096, IOOpts{})
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyStringIn() = (%q, %v), want (%q, %v)", got, err, tc.want, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantReads, calls); diff != "" {
				t.Errorf("reads mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyStringInTopOfAddressSpace(t *testing.T) {
	// The last page of the address space, filled with 'A's.
	const lastPage = top &^ (PageSize - 1)
	mem := []byte(strings.Repeat("A", PageSize))
	uio := highIO{base: lastPage, mem: BytesIO{mem}}
	copy(mem[0x100:], "abc\x00")
	for _, tc := range []struct {
		name    string
		addr    Addr
		want    string
		wantErr error
	}{
		{"string well below the top", lastPage + 0x100, "abc", nil},
		// A 64-byte read from here would wrap, so CopyStringIn fails
		// before reading anything.
		{"too close to the top to read", top - 9, "", unix.EFAULT},
		// The first 64 bytes can be read, the next 64 cannot.
		{"read up to the top", top - 127, strings.Repeat("A", 64), unix.EFAULT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CopyStringIn(context.Background(), uio, tc.addr, 256, IOOpts{})
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyStringIn() = (%q, %v), want (%q, %v)", got, err, tc.want, errString(tc.wantErr))
			}
		})
	}
}

func TestCopyStringInNegativeMaxlen(t *testing.T) {
	mustPanic(t, func() { CopyStringIn(context.Background(), BytesIO{[]byte("a\x00")}, 0, -1, IOOpts{}) })
}

func TestCopyStringInPassesErrors(t *testing.T) {
	got, err := CopyStringIn(context.Background(), scriptedIO{n: 3, err: unix.EIO}, 0x1000, 128, IOOpts{})
	// scriptedIO reads zeroes, so the NUL wins over the error.
	if got != "" || err != nil {
		t.Errorf("CopyStringIn() = (%q, %v), want (\"\", nil)", got, err)
	}
	got, err = CopyStringIn(context.Background(), scriptedIO{n: 0, err: unix.EIO}, 0x1000, 128, IOOpts{})
	if got != "" || !errors.Is(err, unix.EIO) {
		t.Errorf("CopyStringIn() = (%q, %v), want (\"\", EIO)", got, err)
	}
}

func TestCopyOutVec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ranges  []AddrRange
		src     string
		wantN   int
		wantErr error
		wantMem string
	}{
		{"sequence shorter than src", []AddrRange{{1, 3}, {3, 3}, {6, 8}}, "abcdef", 4, nil, "AabDEFcd"},
		{"src shorter than sequence", []AddrRange{{0, 8}}, "ab", 2, nil, "abCDEFGH"},
		{"exact", []AddrRange{{6, 8}, {0, 2}}, "abcd", 4, nil, "cdCDEFab"},
		{"fault partway", []AddrRange{{1, 3}, {6, 10}}, "abcdef", 4, unix.EFAULT, "AabDEFcd"},
		{"stops at the first fault", []AddrRange{{9, 10}, {0, 2}}, "abc", 0, unix.EFAULT, "ABCDEFGH"},
		{"empty range past the end is harmless", []AddrRange{{9, 9}, {0, 2}}, "abc", 2, nil, "abCDEFGH"},
		{"nothing to copy", []AddrRange{{0, 8}}, "", 0, nil, "ABCDEFGH"},
		{"empty sequence", nil, "abc", 0, nil, "ABCDEFGH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := []byte("ABCDEFGH")
			n, err := CopyOutVec(context.Background(), BytesIO{mem}, AddrRangeSeqFromSlice(tc.ranges), []byte(tc.src), IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyOutVec() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantMem, string(mem)); diff != "" {
				t.Errorf("memory mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyInVec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ranges  []AddrRange
		dstLen  int
		wantN   int
		wantErr error
		wantDst string
	}{
		{"sequence shorter than dst", []AddrRange{{1, 3}, {3, 3}, {6, 8}}, 6, 4, nil, "BCGH\x00\x00"},
		{"dst shorter than sequence", []AddrRange{{0, 8}}, 2, 2, nil, "AB"},
		{"out of order", []AddrRange{{6, 8}, {0, 2}}, 4, 4, nil, "GHAB"},
		{"fault partway", []AddrRange{{1, 3}, {6, 10}}, 6, 4, unix.EFAULT, "BCGH\x00\x00"},
		{"stops at the first fault", []AddrRange{{9, 10}, {0, 2}}, 3, 0, unix.EFAULT, "\x00\x00\x00"},
		{"nothing to copy", []AddrRange{{0, 8}}, 0, 0, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, tc.dstLen)
			n, err := CopyInVec(context.Background(), BytesIO{[]byte("ABCDEFGH")}, AddrRangeSeqFromSlice(tc.ranges), dst, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyInVec() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantDst, string(dst)); diff != "" {
				t.Errorf("dst mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestZeroOutVec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ranges  []AddrRange
		toZero  int64
		wantN   int64
		wantErr error
		wantMem string
	}{
		{"sequence shorter than count", []AddrRange{{1, 3}, {3, 3}, {6, 8}}, 6, 4, nil, "A\x00\x00DEF\x00\x00"},
		{"count shorter than sequence", []AddrRange{{0, 8}}, 2, 2, nil, "\x00\x00CDEFGH"},
		{"fault partway", []AddrRange{{1, 3}, {6, 10}}, 6, 4, unix.EFAULT, "A\x00\x00DEF\x00\x00"},
		{"stops at the first fault", []AddrRange{{9, 10}, {0, 2}}, 3, 0, unix.EFAULT, "ABCDEFGH"},
		{"nothing to zero", []AddrRange{{0, 8}}, 0, 0, nil, "ABCDEFGH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := []byte("ABCDEFGH")
			n, err := ZeroOutVec(context.Background(), BytesIO{mem}, AddrRangeSeqFromSlice(tc.ranges), tc.toZero, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("ZeroOutVec() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantMem, string(mem)); diff != "" {
				t.Errorf("memory mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVecHelpersPassOpts(t *testing.T) {
	ctx := context.Background()
	opts := IOOpts{IgnorePermissions: true, AddressSpaceActive: true}
	var calls []ioCall
	uio := recordingIO{IO: BytesIO{make([]byte, 8)}, calls: &calls}
	ars := AddrRangeSeqFromSlice([]AddrRange{{0, 2}, {4, 5}})
	CopyOutVec(ctx, uio, ars, make([]byte, 3), opts)
	CopyInVec(ctx, uio, ars, make([]byte, 3), opts)
	ZeroOutVec(ctx, uio, ars, 3, opts)
	want := []ioCall{
		{"CopyOut", 0, 2, opts}, {"CopyOut", 4, 1, opts},
		{"CopyIn", 0, 2, opts}, {"CopyIn", 4, 1, opts},
		{"ZeroOut", 0, 2, opts}, {"ZeroOut", 4, 1, opts},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}
