package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag holding a number of bytes, written as a number with an
// optional binary suffix: 4096, 64K, 512M, 2G.
type byteSize uint64

func (b *byteSize) String() string {
	return strconv.FormatUint(uint64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	shift := 0
	switch {
	case strings.HasSuffix(s, "K"):
		shift = 10
	case strings.HasSuffix(s, "M"):
		shift = 20
	case strings.HasSuffix(s, "G"):
		shift = 30
	}
	digits := s
	if shift != 0 {
		digits = s[:len(s)-1]
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n<<shift>>shift != n {
		return fmt.Errorf("want a number of bytes, optionally with K, M or G, not %q", s)
	}
	*b = byteSize(n << shift)
	return nil
}
