package usermem

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestCopyInt32StringsInVec(t *testing.T) {
	for _, tc := range []struct {
		name     string
		str      string
		dsts     []int32
		wantN    int64
		wantErr  error
		wantDsts []int32
	}{
		{"two values", "100 200", []int32{1, 2}, 7, nil, []int32{100, 200}},
		{"fewer values than slots", "100", []int32{1, 2}, 3, nil, []int32{100, 2}},
		{"more values than slots", "100 200 300", []int32{1, 2}, 8, nil, []int32{100, 200}},
		{"white space counted", " 100\t200\n", []int32{1, 2}, 9, nil, []int32{100, 200}},
		{"signs", "-5 +6", []int32{1, 2}, 5, nil, []int32{-5, 6}},
		{"int32 limits", "-2147483648 2147483647", []int32{1, 2}, 22, nil, []int32{-2147483648, 2147483647}},
		{"empty", "", []int32{1, 2}, 0, unix.EINVAL, []int32{1, 2}},
		{"only white space", "\n", []int32{1, 2}, 0, unix.EINVAL, []int32{1, 2}},
		{"not a number", "a123", []int32{1, 2}, 0, unix.EINVAL, []int32{1, 2}},
		{"second value bad", "100 2x", []int32{1, 2}, 0, unix.EINVAL, []int32{1, 2}},
		{"too large", "2147483648", []int32{1, 2}, 0, unix.EINVAL, []int32{1, 2}},
		{"no slots", "100", nil, 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := BytesIOSequence([]byte(tc.str))
			n, err := CopyInt32StringsInVec(context.Background(), s.IO, s.Addrs, tc.dsts, IOOpts{})
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Errorf("CopyInt32StringsInVec() = (%d, %v), want (%d, %v)", n, err, tc.wantN, errString(tc.wantErr))
			}
			if diff := cmp.Diff(tc.wantDsts, tc.dsts); diff != "" {
				t.Errorf("dsts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyInt32StringsInVecIovecs(t *testing.T) {
	// The value is split across two ranges, and the second faults.
	mem := []byte("12 34")
	dsts := []int32{0, 0}
	ars := AddrRangeSeqFromSlice([]AddrRange{{3, 5}, {0, 3}})
	n, err := CopyInt32StringsInVec(context.Background(), BytesIO{mem}, ars, dsts, IOOpts{})
	if n != 5 || err != nil || !cmp.Equal(dsts, []int32{3412, 0}) {
		t.Errorf("CopyInt32StringsInVec() = (%d, %v), %v; want (5, nil), [3412 0]", n, err, dsts)
	}
	ars = AddrRangeSeqFromSlice([]AddrRange{{0, 3}, {4, 8}})
	n, err = CopyInt32StringsInVec(context.Background(), BytesIO{mem}, ars, dsts, IOOpts{})
	if n != 0 || !errors.Is(err, unix.EFAULT) || !cmp.Equal(dsts, []int32{3412, 0}) {
		t.Errorf("CopyInt32StringsInVec() with a fault = (%d, %v), %v; want (0, EFAULT), [3412 0]", n, err, dsts)
	}
}

func TestCopyInt32StringsInVecReadsOnePage(t *testing.T) {
	// A value that starts in the first page and runs into the second is cut
	// at the page boundary.
	str := strings.Repeat(" ", PageSize-2) + "1234"
	var v int32
	s := BytesIOSequence([]byte(str))
	n, err := CopyInt32StringInVec(context.Background(), s.IO, s.Addrs, &v, IOOpts{})
	if n != PageSize || err != nil || v != 12 {
		t.Errorf("CopyInt32StringInVec() = (%d, %v), %d; want (%d, nil), 12", n, err, v, PageSize)
	}
}

func TestCopyInt32StringInVec(t *testing.T) {
	v := int32(7)
	s := BytesIOSequence([]byte("42\n"))
	if n, err := CopyInt32StringInVec(context.Background(), s.IO, s.Addrs, &v, IOOpts{}); n != 3 || err != nil || v != 42 {
		t.Errorf("CopyInt32StringInVec() = (%d, %v), %d; want (3, nil), 42", n, err, v)
	}
	s = BytesIOSequence([]byte("x"))
	if n, err := CopyInt32StringInVec(context.Background(), s.IO, s.Addrs, &v, IOOpts{}); n != 0 || !errors.Is(err, unix.EINVAL) || v != 42 {
		t.Errorf("CopyInt32StringInVec(x) = (%d, %v), %d; want (0, EINVAL), 42", n, err, v)
	}
}
