package usermem

import (
	"math"
	"testing"
)

// top is the highest address.
const top = ^Addr(0)

func TestAddrAddLength(t *testing.T) {
	for _, tc := range []struct {
		name   string
		addr   Addr
		length uint64
		want   Addr
		wantOK bool
	}{
		{"zero", 0, 0, 0, true},
		{"ordinary", 0x1000, 0x10, 0x1010, true},
		{"zero length at the top", top, 0, top, true},
		{"up to the last address", top - 1, 1, top, true},
		{"whole address space but the last byte", 0, math.MaxUint64, top, true},
		{"end exactly at 2^64", top - 0xf, 0x10, 0, false},
		{"one past the top", top, 1, 0, false},
		{"wraps well past 0", 0x10, math.MaxUint64, 0xf, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.addr.AddLength(tc.length)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("Addr(%#x).AddLength(%#x) = (%#x, %t), want (%#x, %t)", tc.addr, tc.length, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestAddrToRange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		addr   Addr
		length uint64
		want   AddrRange
		wantOK bool
	}{
		{"ordinary", 0x1000, 0x10, AddrRange{0x1000, 0x1010}, true},
		{"empty", 0x1000, 0, AddrRange{0x1000, 0x1000}, true},
		{"to the last address", top - 1, 1, AddrRange{top - 1, top}, true},
		{"wraps", top, 1, AddrRange{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.addr.ToRange(tc.length)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("Addr(%#x).ToRange(%#x) = (%v, %t), want (%v, %t)", tc.addr, tc.length, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestAddrRounding(t *testing.T) {
	// roundUp is the signature of RoundUp and HugeRoundUp.
	type roundUp func(Addr) (Addr, bool)
	for _, tc := range []struct {
		name   string
		f      roundUp
		addr   Addr
		want   Addr
		wantOK bool
	}{
		{"RoundUp zero", Addr.RoundUp, 0, 0, true},
		{"RoundUp one", Addr.RoundUp, 1, 0x1000, true},
		{"RoundUp aligned", Addr.RoundUp, 0x1000, 0x1000, true},
		{"RoundUp last byte of a page", Addr.RoundUp, 0x1fff, 0x2000, true},
		{"RoundUp last page", Addr.RoundUp, top &^ 0xfff, top &^ 0xfff, true},
		{"RoundUp into the last page wraps", Addr.RoundUp, top&^0xfff + 1, 0, false},
		{"RoundUp top wraps", Addr.RoundUp, top, 0, false},
		{"HugeRoundUp zero", Addr.HugeRoundUp, 0, 0, true},
		{"HugeRoundUp one", Addr.HugeRoundUp, 1, 0x200000, true},
		{"HugeRoundUp aligned", Addr.HugeRoundUp, 0x400000, 0x400000, true},
		{"HugeRoundUp last huge page", Addr.HugeRoundUp, top &^ 0x1fffff, top &^ 0x1fffff, true},
		{"HugeRoundUp into the last huge page wraps", Addr.HugeRoundUp, top&^0x1fffff + 0x1000, 0, false},
		{"HugeRoundUp top wraps", Addr.HugeRoundUp, top, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.f(tc.addr)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("(%#x) = (%#x, %t), want (%#x, %t)", tc.addr, got, ok, tc.want, tc.wantOK)
			}
		})
	}

	for _, tc := range []struct {
		addr, wantDown, wantHugeDown Addr
		wantOffset                   uint64
	}{
		{0, 0, 0, 0},
		{0x1234, 0x1000, 0, 0x234},
		{0x3fffff, 0x3ff000, 0x200000, 0xfff},
		{top, top &^ 0xfff, top &^ 0x1fffff, 0xfff},
	} {
		if got := tc.addr.RoundDown(); got != tc.wantDown {
			t.Errorf("Addr(%#x).RoundDown() = %#x, want %#x", tc.addr, got, tc.wantDown)
		}
		if got := tc.addr.HugeRoundDown(); got != tc.wantHugeDown {
			t.Errorf("Addr(%#x).HugeRoundDown() = %#x, want %#x", tc.addr, got, tc.wantHugeDown)
		}
		if got := tc.addr.PageOffset(); got != tc.wantOffset {
			t.Errorf("Addr(%#x).PageOffset() = %#x, want %#x", tc.addr, got, tc.wantOffset)
		}
		if got, want := tc.addr.IsPageAligned(), tc.wantOffset == 0; got != want {
			t.Errorf("Addr(%#x).IsPageAligned() = %t, want %t", tc.addr, got, want)
		}
	}
}

func TestAddrMustRoundUp(t *testing.T) {
	if got := Addr(0x1001).MustRoundUp(); got != 0x2000 {
		t.Errorf("Addr(0x1001).MustRoundUp() = %#x, want 0x2000", got)
	}
	mustPanic(t, func() { top.MustRoundUp() })
}

func TestPageRound(t *testing.T) {
	for _, tc := range []struct {
		x, wantDown, wantUp uint64
		wantUpOK            bool
	}{
		{0, 0, 0, true},
		{1, 0, 0x1000, true},
		{0x1000, 0x1000, 0x1000, true},
		// Wider than 32 bits: the uint64 versions must not truncate.
		{1<<40 + 1, 1 << 40, 1<<40 + 0x1000, true},
		{math.MaxUint64 &^ 0xfff, math.MaxUint64 &^ 0xfff, math.MaxUint64 &^ 0xfff, true},
		{math.MaxUint64, math.MaxUint64 &^ 0xfff, 0, false},
	} {
		if got := PageRoundDown(tc.x); got != tc.wantDown {
			t.Errorf("PageRoundDown(%#x) = %#x, want %#x", tc.x, got, tc.wantDown)
		}
		got, ok := PageRoundUp(tc.x)
		if ok != tc.wantUpOK || (ok && got != tc.wantUp) {
			t.Errorf("PageRoundUp(%#x) = (%#x, %t), want (%#x, %t)", tc.x, got, ok, tc.wantUp, tc.wantUpOK)
		}
	}
}
