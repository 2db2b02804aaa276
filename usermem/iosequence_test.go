package usermem

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestIOSequenceCopyOutTruncates(t *testing.T) {
	ctx := context.Background()
	buf := []byte("ABCD")
	s := BytesIOSequence(buf)

	// Limited by the source.
	if n, err := s.CopyOut(ctx, []byte("fo")); n != 2 || err != nil {
		t.Fatalf("CopyOut(fo) = (%d, %v), want (2, nil)", n, err)
	}
	if string(buf) != "foCD" {
		t.Errorf("buf = %q, want %q", buf, "foCD")
	}
	s = s.DropFirst(2)
	if got := s.NumBytes(); got != 2 {
		t.Errorf("NumBytes() after DropFirst(2) = %d, want 2", got)
	}
	// Limited by the sequence, without error.
	if n, err := s.CopyOut(ctx, []byte("obar")); n != 2 || err != nil {
		t.Fatalf("CopyOut(obar) = (%d, %v), want (2, nil)", n, err)
	}
	if string(buf) != "foob" {
		t.Errorf("buf = %q, want %q", buf, "foob")
	}
	if got := s.DropFirst(2).NumBytes(); got != 0 {
		t.Errorf("NumBytes() at the end = %d, want 0", got)
	}
}

func TestIOSequenceCopyInTruncates(t *testing.T) {
	ctx := context.Background()
	s := BytesIOSequence([]byte("foob"))

	dst := make([]byte, 2)
	if n, err := s.CopyIn(ctx, dst); n != 2 || err != nil || string(dst) != "fo" {
		t.Fatalf("CopyIn(2 bytes) = (%d, %v), %q; want (2, nil), %q", n, err, dst, "fo")
	}
	s = s.DropFirst(2)
	if got := s.NumBytes(); got != 2 {
		t.Errorf("NumBytes() after DropFirst(2) = %d, want 2", got)
	}
	dst = make([]byte, 4)
	if n, err := s.CopyIn(ctx, dst); n != 2 || err != nil || string(dst) != "ob\x00\x00" {
		t.Fatalf("CopyIn(4 bytes) = (%d, %v), %q; want (2, nil), %q", n, err, dst, "ob\x00\x00")
	}
	if got := s.DropFirst(2).NumBytes(); got != 0 {
		t.Errorf("NumBytes() at the end = %d, want 0", got)
	}
}

func TestIOSequenceZeroOutTruncates(t *testing.T) {
	ctx := context.Background()
	buf := []byte("ABCD")
	s := BytesIOSequence(buf)

	if n, err := s.ZeroOut(ctx, 2); n != 2 || err != nil {
		t.Fatalf("ZeroOut(2) = (%d, %v), want (2, nil)", n, err)
	}
	if string(buf) != "\x00\x00CD" {
		t.Errorf("buf = %q, want %q", buf, "\x00\x00CD")
	}
	s = s.DropFirst64(2)
	if got := s.NumBytes(); got != 2 {
		t.Errorf("NumBytes() after DropFirst64(2) = %d, want 2", got)
	}
	if n, err := s.ZeroOut(ctx, 4); n != 2 || err != nil {
		t.Fatalf("ZeroOut(4) = (%d, %v), want (2, nil)", n, err)
	}
	if string(buf) != "\x00\x00\x00\x00" {
		t.Errorf("buf = %q, want all zeroes", buf)
	}
	if got := s.DropFirst(2).NumBytes(); got != 0 {
		t.Errorf("NumBytes() at the end = %d, want 0", got)
	}
}

func TestIOSequenceTakeFirst(t *testing.T) {
	s := BytesIOSequence([]byte("foobar")).TakeFirst(3)
	if got := s.NumBytes(); got != 3 {
		t.Errorf("NumBytes() after TakeFirst(3) = %d, want 3", got)
	}
	s = s.TakeFirst64(9)
	if got := s.NumBytes(); got != 3 {
		t.Errorf("NumBytes() after TakeFirst64(9) = %d, want 3", got)
	}
	dst := make([]byte, 6)
	if n, err := s.CopyIn(context.Background(), dst); n != 3 || err != nil || string(dst[:n]) != "foo" {
		t.Errorf("CopyIn() = (%d, %v), %q; want (3, nil), %q", n, err, dst[:n], "foo")
	}
	if got := s.DropFirst(3).NumBytes(); got != 0 {
		t.Errorf("NumBytes() after DropFirst(3) = %d, want 0", got)
	}
}

func TestIOSequenceIovecs(t *testing.T) {
	ctx := context.Background()
	buf := []byte("ABCDEFGH")
	s := IOSequence{
		IO:    BytesIO{buf},
		Addrs: AddrRangeSeqFromSlice([]AddrRange{{4, 6}, {0, 0}, {1, 3}}),
	}
	if n, err := s.CopyOut(ctx, []byte("abcdef")); n != 4 || err != nil {
		t.Fatalf("CopyOut() = (%d, %v), want (4, nil)", n, err)
	}
	if string(buf) != "AcdDabGH" {
		t.Errorf("buf = %q, want %q", buf, "AcdDabGH")
	}
	// A fault is reported with what was done before it.
	s.Addrs = AddrRangeSeqFromSlice([]AddrRange{{6, 8}, {7, 10}})
	dst := make([]byte, 5)
	if n, err := s.CopyIn(ctx, dst); n != 3 || !errors.Is(err, unix.EFAULT) || string(dst[:n]) != "GHH" {
		t.Errorf("CopyIn() = (%d, %v), %q; want (3, EFAULT), %q", n, err, dst[:n], "GHH")
	}
}

func TestIOSequenceBlocks(t *testing.T) {
	ctx := context.Background()
	buf := []byte("ABCDEFGH")
	s := BytesIOSequence(buf).DropFirst(2).TakeFirst(3)

	var data []byte
	var calls int
	var windows []int
	data = []byte("xyz123")
	r, w := recordBlocks(&data, &calls, &windows)
	if n, err := s.CopyOutFrom(ctx, r); n != 3 || err != nil {
		t.Errorf("CopyOutFrom() = (%d, %v), want (3, nil)", n, err)
	}
	if string(buf) != "ABxyzFGH" {
		t.Errorf("buf = %q, want %q", buf, "ABxyzFGH")
	}
	data = nil
	if n, err := s.CopyInTo(ctx, w); n != 3 || err != nil || string(data) != "xyz" {
		t.Errorf("CopyInTo() = (%d, %v), %q; want (3, nil), %q", n, err, data, "xyz")
	}
	if calls != 2 {
		t.Errorf("the reader and writer were called %d times, want once each", calls)
	}
}

func TestIOSequencePassesOpts(t *testing.T) {
	ctx := context.Background()
	opts := IOOpts{IgnorePermissions: true}
	var calls []ioCall
	s := IOSequence{
		IO:    recordingIO{IO: BytesIO{make([]byte, 8)}, calls: &calls},
		Addrs: AddrRangeSeqOf(AddrRange{2, 4}),
		Opts:  opts,
	}
	s.CopyOut(ctx, make([]byte, 2))
	s.CopyIn(ctx, make([]byte, 2))
	s.ZeroOut(ctx, 2)
	s.CopyOutFrom(ctx, FromIOReader(strings.NewReader("")))
	s.CopyInTo(ctx, FromIOWriter(io.Discard))
	want := []ioCall{
		{"CopyOut", 2, 2, opts},
		{"CopyIn", 2, 2, opts},
		{"ZeroOut", 2, 2, opts},
		{"CopyOutFrom", 0, 2, opts},
		{"CopyInTo", 0, 2, opts},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

func TestIOSequenceReader(t *testing.T) {
	ctx := context.Background()
	r := BytesIOSequence([]byte("hello world")).Reader(ctx)
	for _, step := range []struct {
		want    string
		wantErr error
	}{
		{"hello", nil},
		{" worl", nil},
		// The last bytes come with io.EOF.
		{"d", io.EOF},
		{"", io.EOF},
	} {
		buf := make([]byte, 5)
		n, err := r.Read(buf)
		if string(buf[:n]) != step.want || !errors.Is(err, step.wantErr) {
			t.Errorf("Read() = (%q, %v), want (%q, %v)", buf[:n], err, step.want, errString(step.wantErr))
		}
	}

	got, err := io.ReadAll(BytesIOSequence([]byte("hello world")).Reader(ctx))
	if string(got) != "hello world" || err != nil {
		t.Errorf("io.ReadAll() = (%q, %v), want (%q, nil)", got, err, "hello world")
	}

	// A fault is an error, not the end of the sequence.
	faulty := IOSequence{IO: BytesIO{[]byte("abc")}, Addrs: AddrRangeSeqOf(AddrRange{0, 8})}
	buf := make([]byte, 8)
	if n, err := faulty.Reader(ctx).Read(buf); n != 3 || !errors.Is(err, unix.EFAULT) {
		t.Errorf("Read() from faulting memory = (%d, %v), want (3, EFAULT)", n, err)
	}
}

func TestIOSequenceWriter(t *testing.T) {
	ctx := context.Background()
	buf := make([]byte, 8)
	w := BytesIOSequence(buf).Writer(ctx)
	for _, step := range []struct {
		src     string
		wantN   int
		wantErr error
	}{
		{"", 0, nil},
		{"hello", 5, nil},
		{" world", 3, ErrEndOfIOSequence},
		{"!", 0, ErrEndOfIOSequence},
	} {
		n, err := w.Write([]byte(step.src))
		if n != step.wantN || !errors.Is(err, step.wantErr) {
			t.Errorf("Write(%q) = (%d, %v), want (%d, %v)", step.src, n, err, step.wantN, errString(step.wantErr))
		}
	}
	if string(buf) != "hello wo" {
		t.Errorf("buf = %q, want %q", buf, "hello wo")
	}

	faulty := IOSequence{IO: BytesIO{make([]byte, 3)}, Addrs: AddrRangeSeqOf(AddrRange{0, 8})}
	if n, err := faulty.Writer(ctx).Write([]byte("abcdef")); n != 3 || !errors.Is(err, unix.EFAULT) {
		t.Errorf("Write() to faulting memory = (%d, %v), want (3, EFAULT)", n, err)
	}
}
