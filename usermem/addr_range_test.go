package usermem

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAddrRangePredicates(t *testing.T) {
	r := AddrRange{0x1000, 0x3000}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"WellFormed", r.WellFormed(), true},
		{"WellFormed empty", AddrRange{0x10, 0x10}.WellFormed(), true},
		{"WellFormed reversed", AddrRange{0x11, 0x10}.WellFormed(), false},

		{"Contains Start", r.Contains(0x1000), true},
		{"Contains End-1", r.Contains(0x2fff), true},
		{"Contains End", r.Contains(0x3000), false},
		{"Contains below", r.Contains(0xfff), false},
		{"Contains in empty", AddrRange{0x10, 0x10}.Contains(0x10), false},

		{"Overlaps inside", r.Overlaps(AddrRange{0x1800, 0x1900}), true},
		{"Overlaps straddling Start", r.Overlaps(AddrRange{0x800, 0x1001}), true},
		{"Overlaps straddling End", r.Overlaps(AddrRange{0x2fff, 0x4000}), true},
		{"Overlaps adjacent below", r.Overlaps(AddrRange{0x800, 0x1000}), false},
		{"Overlaps adjacent above", r.Overlaps(AddrRange{0x3000, 0x4000}), false},
		{"Overlaps empty inside", r.Overlaps(AddrRange{0x2000, 0x2000}), true},
		{"Overlaps empty at Start", r.Overlaps(AddrRange{0x1000, 0x1000}), false},

		{"IsSupersetOf itself", r.IsSupersetOf(r), true},
		{"IsSupersetOf inside", r.IsSupersetOf(AddrRange{0x1000, 0x2000}), true},
		{"IsSupersetOf past End", r.IsSupersetOf(AddrRange{0x2000, 0x3001}), false},
		{"IsSupersetOf before Start", r.IsSupersetOf(AddrRange{0xfff, 0x2000}), false},

		{"CanSplitAt Start", r.CanSplitAt(0x1000), false},
		{"CanSplitAt middle", r.CanSplitAt(0x2000), true},
		{"CanSplitAt End", r.CanSplitAt(0x3000), false},

		{"IsPageAligned", r.IsPageAligned(), true},
		{"IsPageAligned Start off", AddrRange{0x1001, 0x2000}.IsPageAligned(), false},
		{"IsPageAligned End off", AddrRange{0x1000, 0x2001}.IsPageAligned(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %t, want %t", tc.got, tc.want)
			}
		})
	}
}

func TestAddrRangeLengthAndString(t *testing.T) {
	for _, tc := range []struct {
		r          AddrRange
		wantLength Addr
		wantString string
	}{
		{AddrRange{0x10, 0x10}, 0, "[0x10, 0x10)"},
		{AddrRange{0x10, 0x11}, 1, "[0x10, 0x11)"},
		{AddrRange{0, top}, top, "[0x0, 0xffffffffffffffff)"},
	} {
		if got := tc.r.Length(); got != tc.wantLength {
			t.Errorf("%v.Length() = %#x, want %#x", tc.r, got, tc.wantLength)
		}
		if got := tc.r.String(); got != tc.wantString {
			t.Errorf("String() = %q, want %q", got, tc.wantString)
		}
	}
}

func TestAddrRangeIntersect(t *testing.T) {
	r := AddrRange{0x1000, 0x3000}
	for _, tc := range []struct {
		name  string
		other AddrRange
		// want is the intersection, or nil if only its length (0) is
		// specified.
		want *AddrRange
	}{
		{"inside", AddrRange{0x1800, 0x1900}, &AddrRange{0x1800, 0x1900}},
		{"superset", AddrRange{0, 0x4000}, &r},
		{"straddling Start", AddrRange{0x800, 0x1800}, &AddrRange{0x1000, 0x1800}},
		{"straddling End", AddrRange{0x2800, 0x3800}, &AddrRange{0x2800, 0x3000}},
		{"adjacent", AddrRange{0x3000, 0x4000}, nil},
		{"disjoint below", AddrRange{0x100, 0x200}, nil},
		{"disjoint above", AddrRange{0x4000, 0x5000}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.Intersect(tc.other)
			if tc.want == nil {
				if !got.WellFormed() || got.Length() != 0 {
					t.Errorf("Intersect(%v) = %v, want a well-formed empty range", tc.other, got)
				}
				return
			}
			if diff := cmp.Diff(*tc.want, got); diff != "" {
				t.Errorf("Intersect(%v) mismatch (-want +got):\n%s", tc.other, diff)
			}
			// Intersection is symmetric.
			if diff := cmp.Diff(*tc.want, tc.other.Intersect(r)); diff != "" {
				t.Errorf("%v.Intersect(r) mismatch (-want +got):\n%s", tc.other, diff)
			}
		})
	}
}
