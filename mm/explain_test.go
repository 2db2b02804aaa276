package mm

import (
	"strings"
	"testing"

	"github.com/minisentry/minisentry/usermem"
)

func TestExplainFault(t *testing.T) {
	m, _ := newTestMM(t)
	ro, err := m.MMap(ctx, MMapOpts{Length: usermem.PageSize, Private: true, Perms: usermem.Read})
	if err != nil {
		t.Fatal(err)
	}
	none, err := m.MMap(ctx, MMapOpts{Length: usermem.PageSize, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		addr usermem.Addr
		at   usermem.AccessType
		want string
	}{
		{"null", 8, usermem.Read, "NULL pointer"},
		{"read-only", ro, usermem.Write, "read-only"},
		{"not executable", ro, usermem.AccessType{Read: true, Execute: true}, "not executable"},
		{"prot none", none, usermem.Read, "PROT_NONE"},
		{"unmapped", 0x10000000, usermem.Read, "nothing is mapped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := m.ExplainFault(tc.addr, tc.at)
			if !strings.Contains(got, tc.want) {
				t.Errorf("ExplainFault(%#x, %v) = %q, want it to mention %q", tc.addr, tc.at, got, tc.want)
			}
		})
	}
}
