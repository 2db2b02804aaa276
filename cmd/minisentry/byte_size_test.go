package main

import "testing"

func TestByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"4096", 4096, true},
		{"64K", 64 << 10, true},
		{"512M", 512 << 20, true},
		{"2G", 2 << 30, true},
		{"", 0, false},
		{"M", 0, false},
		{"-1", 0, false},
		{"1.5G", 0, false},
		{"12T", 0, false},
		{"17179869184G", 0, false}, // 2^64 bytes
	} {
		var b byteSize
		err := b.Set(c.in)
		if (err == nil) != c.ok || c.ok && uint64(b) != c.want {
			t.Errorf("Set(%q): got %d, %v; want %d, ok %v", c.in, b, err, c.want, c.ok)
		}
	}
}
