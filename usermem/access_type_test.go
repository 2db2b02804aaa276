package usermem

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestAccessType(t *testing.T) {
	for _, tc := range []struct {
		at            AccessType
		wantString    string
		wantProt      int
		wantEffective AccessType
	}{
		{NoAccess, "---", unix.PROT_NONE, NoAccess},
		{Read, "r--", unix.PROT_READ, Read},
		{Write, "-w-", unix.PROT_WRITE, ReadWrite},
		{Execute, "--x", unix.PROT_EXEC, AccessType{Read: true, Execute: true}},
		{ReadWrite, "rw-", unix.PROT_READ | unix.PROT_WRITE, ReadWrite},
		{AccessType{Read: true, Execute: true}, "r-x", unix.PROT_READ | unix.PROT_EXEC, AccessType{Read: true, Execute: true}},
		{AccessType{Write: true, Execute: true}, "-wx", unix.PROT_WRITE | unix.PROT_EXEC, AnyAccess},
		{AnyAccess, "rwx", unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC, AnyAccess},
	} {
		t.Run(tc.wantString, func(t *testing.T) {
			if got := tc.at.String(); got != tc.wantString {
				t.Errorf("String() = %q, want %q", got, tc.wantString)
			}
			if got := tc.at.Prot(); got != tc.wantProt {
				t.Errorf("Prot() = %#x, want %#x", got, tc.wantProt)
			}
			if diff := cmp.Diff(tc.wantEffective, tc.at.Effective()); diff != "" {
				t.Errorf("Effective() mismatch (-want +got):\n%s", diff)
			}
			if got, want := tc.at.Any(), tc.wantString != "---"; got != want {
				t.Errorf("Any() = %t, want %t", got, want)
			}
			// PROT_* bits and AccessType describe the same thing.
			if diff := cmp.Diff(tc.at, AccessTypeFromProt(tc.wantProt)); diff != "" {
				t.Errorf("AccessTypeFromProt(%#x) mismatch (-want +got):\n%s", tc.wantProt, diff)
			}
		})
	}
}

func TestAccessTypeFromProtIgnoresOtherBits(t *testing.T) {
	if diff := cmp.Diff(Read, AccessTypeFromProt(unix.PROT_READ|unix.PROT_GROWSDOWN)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestAccessTypeSetOperations(t *testing.T) {
	rx := AccessType{Read: true, Execute: true}
	for _, tc := range []struct {
		a, b          AccessType
		wantSuperset  bool
		wantIntersect AccessType
		wantUnion     AccessType
	}{
		{AnyAccess, NoAccess, true, NoAccess, AnyAccess},
		{NoAccess, NoAccess, true, NoAccess, NoAccess},
		{NoAccess, Read, false, NoAccess, Read},
		{ReadWrite, Read, true, Read, ReadWrite},
		{ReadWrite, Write, true, Write, ReadWrite},
		{ReadWrite, Execute, false, NoAccess, AnyAccess},
		{Read, ReadWrite, false, Read, ReadWrite},
		{rx, ReadWrite, false, Read, AnyAccess},
		{AnyAccess, rx, true, rx, AnyAccess},
		{Write, Read, false, NoAccess, ReadWrite},
	} {
		t.Run(tc.a.String()+"_"+tc.b.String(), func(t *testing.T) {
			if got := tc.a.SupersetOf(tc.b); got != tc.wantSuperset {
				t.Errorf("SupersetOf() = %t, want %t", got, tc.wantSuperset)
			}
			if diff := cmp.Diff(tc.wantIntersect, tc.a.Intersect(tc.b)); diff != "" {
				t.Errorf("Intersect() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUnion, tc.a.Union(tc.b)); diff != "" {
				t.Errorf("Union() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
