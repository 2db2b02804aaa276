package usermem

import (
	"context"
	"strconv"

	"golang.org/x/sys/unix"
)

// CopyInt32StringsInVec parses whitespace-separated decimal int32 values from
// the memory of ars into dsts, the way a write to a procfs sysctl file (such
// as /proc/sys/kernel/...) is parsed. It returns the number of bytes used: the
// parsed values, the whitespace around them, and no more.
//
// Parsing stops after len(dsts) values; fewer values than that is fine, and
// the remaining elements of dsts keep their values. It fails with EINVAL if a
// value is not a decimal int32 or if there are no values at all. On any
// failure it returns 0 and leaves dsts alone, so that a bad write never sets
// half a sysctl.
//
// Only the first page of ars is read, so a value running past it is cut
// there. Linux also parses at most a page (less one byte) of a sysctl write;
// sysctl values are short, and a huge write must not make the sentry
// allocate its size.
func CopyInt32StringsInVec(ctx context.Context, uio IO, ars AddrRangeSeq, dsts []int32, opts IOOpts) (int64, error) {
	if len(dsts) == 0 {
		return 0, nil
	}
	buf := make([]byte, min(ars.NumBytes(), PageSize))
	if _, err := CopyInVec(ctx, uio, ars, buf, opts); err != nil {
		return 0, err
	}
	vals := make([]int32, 0, len(dsts))
	i := skipSpace(buf, 0)
	for i < len(buf) && len(vals) < len(dsts) {
		end := i
		for end < len(buf) && !isSpace(buf[end]) {
			end++
		}
		v, err := strconv.ParseInt(string(buf[i:end]), 10, 32)
		if err != nil {
			return 0, unix.EINVAL
		}
		vals = append(vals, int32(v))
		i = skipSpace(buf, end)
	}
	if len(vals) == 0 {
		return 0, unix.EINVAL
	}
	copy(dsts, vals)
	return int64(i), nil
}

// CopyInt32StringInVec is CopyInt32StringsInVec for a single value.
func CopyInt32StringInVec(ctx context.Context, uio IO, ars AddrRangeSeq, dst *int32, opts IOOpts) (int64, error) {
	// On failure the slot keeps its value, so *dst is left alone.
	vals := []int32{*dst}
	n, err := CopyInt32StringsInVec(ctx, uio, ars, vals, opts)
	*dst = vals[0]
	return n, err
}

// skipSpace returns the index of the first byte of buf at or after i that is
// not white space, or len(buf).
func skipSpace(buf []byte, i int) int {
	for i < len(buf) && isSpace(buf[i]) {
		i++
	}
	return i
}

// isSpace reports whether c is ASCII white space, as C's isspace says in the
// "C" locale the kernel uses.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}
