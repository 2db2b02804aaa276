package usermem

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

func TestIOReadWriterAdvances(t *testing.T) {
	mem := []byte("hello world")
	rw := &IOReadWriter{Ctx: context.Background(), IO: BytesIO{mem}}
	for _, step := range []struct {
		len      int
		want     string
		wantErr  error
		wantAddr Addr
	}{
		{5, "hello", nil, 5},
		{6, " world", nil, 11},
		{1, "", unix.EFAULT, 11},
	} {
		buf := make([]byte, step.len)
		n, err := rw.Read(buf)
		if string(buf[:n]) != step.want || !errors.Is(err, step.wantErr) || rw.Addr != step.wantAddr {
			t.Errorf("Read(%d bytes) = (%q, %v), Addr %#x; want (%q, %v), Addr %#x", step.len, buf[:n], err, rw.Addr, step.want, errString(step.wantErr), step.wantAddr)
		}
	}

	rw.Addr = 6
	if n, err := rw.Write([]byte("WORLD!")); n != 5 || !errors.Is(err, unix.EFAULT) || rw.Addr != 11 {
		t.Errorf("Write() = (%d, %v), Addr %#x; want (5, EFAULT), Addr 0xb", n, err, rw.Addr)
	}
	if string(mem) != "hello WORLD" {
		t.Errorf("memory = %q, want %q", mem, "hello WORLD")
	}
}

func TestIOReadWriterWithEncodingBinary(t *testing.T) {
	mem := make([]byte, 16)
	rw := &IOReadWriter{Ctx: context.Background(), IO: BytesIO{mem}, Addr: 2}
	if err := binary.Write(rw, ByteOrder, uint32(0xdeadbeef)); err != nil {
		t.Fatalf("binary.Write: %v", err)
	}
	rw.Addr = 2
	var got uint32
	if err := binary.Read(rw, ByteOrder, &got); err != nil || got != 0xdeadbeef {
		t.Errorf("binary.Read = (%#x, %v), want (0xdeadbeef, nil)", got, err)
	}
}

func TestIOReadWriterTopOfAddressSpace(t *testing.T) {
	ctx := context.Background()
	const lastPage = top &^ (PageSize - 1)
	high := highIO{base: lastPage, mem: BytesIO{make([]byte, PageSize)}}
	for _, tc := range []struct {
		name    string
		uio     IO
		addr    Addr
		len     int
		wantN   int
		wantErr error
	}{
		// The read reaches the top: Addr stops there instead of
		// wrapping to 0.
		{"read up to the top", high, top - 3, 4, 4, nil},
		{"read past the top", high, top - 3, 8, 4, unix.EFAULT},
		// An error from a transfer that hit the top becomes EFAULT.
		{"other error at the top", scriptedIO{n: 4, err: unix.EIO}, top - 3, 8, 4, unix.EFAULT},
		{"other error below the top", scriptedIO{n: 4, err: unix.EIO}, top - 7, 8, 4, unix.EIO},
		// Address spaces have no end of file, but an IO's io.EOF is
		// passed on.
		{"io.EOF passed on", scriptedIO{n: 0, err: io.EOF}, 0x1000, 8, 0, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAddr := tc.addr + Addr(tc.wantN)
			if wantAddr < tc.addr || (wantAddr == 0 && tc.wantN != 0) {
				wantAddr = top
			}
			for _, op := range []struct {
				name string
				f    func(*IOReadWriter, []byte) (int, error)
			}{
				{"Read", (*IOReadWriter).Read},
				{"Write", (*IOReadWriter).Write},
			} {
				rw := &IOReadWriter{Ctx: ctx, IO: tc.uio, Addr: tc.addr}
				n, err := op.f(rw, make([]byte, tc.len))
				if n != tc.wantN || !errors.Is(err, tc.wantErr) || rw.Addr != wantAddr {
					t.Errorf("%s() = (%d, %v), Addr %#x; want (%d, %v), Addr %#x", op.name, n, err, rw.Addr, tc.wantN, errString(tc.wantErr), wantAddr)
				}
			}
		})
	}
}
