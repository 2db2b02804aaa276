package usermem

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// blocksOf returns a BlockSeq of fresh windows of the given lengths, each
// filled with '.'.
func blocksOf(lengths ...int) BlockSeq {
	bs := make(BlockSeq, len(lengths))
	for i, n := range lengths {
		bs[i] = bytes.Repeat([]byte{'.'}, n)
	}
	return bs
}

// contents returns the windows of bs as strings.
func contents(bs BlockSeq) []string {
	var s []string
	for _, b := range bs {
		s = append(s, string(b))
	}
	return s
}

func TestBlockSeqNumBytes(t *testing.T) {
	if got := blocksOf(3, 0, 4).NumBytes(); got != 7 {
		t.Errorf("NumBytes() = %d, want 7", got)
	}
	if got := BlockSeq(nil).NumBytes(); got != 0 {
		t.Errorf("nil NumBytes() = %d, want 0", got)
	}
}

func TestCopySeq(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dsts     BlockSeq
		srcs     BlockSeq
		wantN    uint64
		wantDsts []string
	}{
		{
			name:     "windows of different sizes",
			dsts:     blocksOf(3, 0, 2),
			srcs:     BlockSeq{[]byte("a"), nil, []byte("bcde")},
			wantN:    5,
			wantDsts: []string{"abc", "", "de"},
		},
		{
			name:     "sources run out",
			dsts:     blocksOf(2, 3),
			srcs:     BlockSeq{[]byte("abc")},
			wantN:    3,
			wantDsts: []string{"ab", "c.."},
		},
		{
			name:     "destinations run out",
			dsts:     blocksOf(1, 1),
			srcs:     BlockSeq{[]byte("abc")},
			wantN:    2,
			wantDsts: []string{"a", "b"},
		},
		{
			name:     "no sources",
			dsts:     blocksOf(2),
			wantN:    0,
			wantDsts: []string{".."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CopySeq(tc.dsts, tc.srcs); got != tc.wantN {
				t.Errorf("CopySeq() = %d, want %d", got, tc.wantN)
			}
			if diff := cmp.Diff(tc.wantDsts, contents(tc.dsts)); diff != "" {
				t.Errorf("destinations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestZeroSeq(t *testing.T) {
	bs := blocksOf(2, 0, 3)
	if got := ZeroSeq(bs); got != 5 {
		t.Errorf("ZeroSeq() = %d, want 5", got)
	}
	if diff := cmp.Diff([]string{"\x00\x00", "", "\x00\x00\x00"}, contents(bs)); diff != "" {
		t.Errorf("windows mismatch (-want +got):\n%s", diff)
	}
}

var errTest = errors.New("test error")

// dataErrReader returns data with its last bytes, then err alone.
type dataErrReader struct {
	data string
	err  error
}

func (r *dataErrReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if r.data == "" {
		return n, r.err
	}
	return n, nil
}

func TestFromIOReader(t *testing.T) {
	for _, tc := range []struct {
		name     string
		r        io.Reader
		dsts     BlockSeq
		wantN    uint64
		wantErr  error
		wantDsts []string
	}{
		{
			name:     "fills every window",
			r:        strings.NewReader("abcdefgh"),
			dsts:     blocksOf(2, 0, 3),
			wantN:    5,
			wantDsts: []string{"ab", "", "cde"},
		},
		{
			name:     "exactly the data: no io.EOF",
			r:        strings.NewReader("abcde"),
			dsts:     blocksOf(2, 3),
			wantN:    5,
			wantDsts: []string{"ab", "cde"},
		},
		{
			name:     "data and io.EOF together: no io.EOF",
			r:        iotest.DataErrReader(strings.NewReader("abcde")),
			dsts:     blocksOf(2, 3),
			wantN:    5,
			wantDsts: []string{"ab", "cde"},
		},
		{
			// A short Read ends the transfer: reading on could block.
			name:     "short Read",
			r:        iotest.OneByteReader(strings.NewReader("abcde")),
			dsts:     blocksOf(2, 3),
			wantN:    1,
			wantDsts: []string{"a.", "..."},
		},
		{
			name:     "data and io.EOF together, room left",
			r:        iotest.DataErrReader(strings.NewReader("abc")),
			dsts:     blocksOf(2, 3),
			wantN:    3,
			wantDsts: []string{"ab", "c.."},
		},
		{
			name:     "data and io.EOF together, at a window boundary",
			r:        iotest.DataErrReader(strings.NewReader("ab")),
			dsts:     blocksOf(2, 3),
			wantN:    2,
			wantDsts: []string{"ab", "..."},
		},
		{
			// The error is dropped once every window is full; r
			// returns it again on the next Read.
			name:     "data and an error together, every window full",
			r:        &dataErrReader{data: "abcde", err: errTest},
			dsts:     blocksOf(2, 3),
			wantN:    5,
			wantDsts: []string{"ab", "cde"},
		},
		{
			name:     "data and an error together, room left",
			r:        &dataErrReader{data: "ab", err: errTest},
			dsts:     blocksOf(2, 3),
			wantN:    2,
			wantErr:  errTest,
			wantDsts: []string{"ab", "..."},
		},
		{
			name:     "end of file inside a window is a short read",
			r:        strings.NewReader("abc"),
			dsts:     blocksOf(2, 3),
			wantN:    3,
			wantDsts: []string{"ab", "c.."},
		},
		{
			name:     "end of file between windows is a short read",
			r:        strings.NewReader("ab"),
			dsts:     blocksOf(2, 3),
			wantN:    2,
			wantDsts: []string{"ab", "..."},
		},
		{
			name:     "end of file before any byte",
			r:        strings.NewReader(""),
			dsts:     blocksOf(2),
			wantN:    0,
			wantErr:  io.EOF,
			wantDsts: []string{".."},
		},
		{
			name:     "no windows",
			r:        strings.NewReader(""),
			wantN:    0,
			wantDsts: nil,
		},
		{
			name:     "error after some bytes",
			r:        io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(errTest)),
			dsts:     blocksOf(2, 3),
			wantN:    2,
			wantErr:  errTest,
			wantDsts: []string{"ab", "..."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromIOReader(tc.r).ReadToBlocks(tc.dsts)
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("ReadToBlocks() = (%d, %v), want (%d, %v)", n, err, tc.wantN, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantDsts, contents(tc.dsts)); diff != "" {
				t.Errorf("windows mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// limitedWriter accepts up to n bytes and then fails with errTest.
type limitedWriter struct {
	buf bytes.Buffer
	n   int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		w.buf.Write(p[:w.n])
		n := w.n
		w.n = 0
		return n, errTest
	}
	w.n -= len(p)
	return w.buf.Write(p)
}

// shortWriter breaks io.Writer's contract: it writes one byte and returns no
// error.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) {
	return min(1, len(p)), nil
}

func TestFromIOWriter(t *testing.T) {
	srcs := BlockSeq{[]byte("ab"), nil, []byte("cde")}
	for _, tc := range []struct {
		name    string
		w       io.Writer
		wantN   uint64
		wantErr error
		// wantOut is what w holds, if it is a *bytes.Buffer or a
		// *limitedWriter.
		wantOut string
	}{
		{name: "everything", w: &bytes.Buffer{}, wantN: 5, wantOut: "abcde"},
		{name: "error in the second window", w: &limitedWriter{n: 3}, wantN: 3, wantErr: errTest, wantOut: "abc"},
		{name: "error at a window boundary", w: &limitedWriter{n: 2}, wantN: 2, wantErr: errTest, wantOut: "ab"},
		{name: "short write without error", w: shortWriter{}, wantN: 1, wantErr: io.ErrShortWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := FromIOWriter(tc.w).WriteFromBlocks(srcs)
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("WriteFromBlocks() = (%d, %v), want (%d, %v)", n, err, tc.wantN, tc.wantErr)
			}
			var out string
			switch w := tc.w.(type) {
			case *bytes.Buffer:
				out = w.String()
			case *limitedWriter:
				out = w.buf.String()
			}
			if out != tc.wantOut {
				t.Errorf("writer holds %q, want %q", out, tc.wantOut)
			}
		})
	}
}
