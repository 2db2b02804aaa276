package tests

import (
	"os"
	"strings"
	"testing"
)

// busybox is Debian's busybox-static: a real, stripped, statically linked
// glibc program that nobody wrote for minisentry.
const busybox = "/bin/busybox"

// TestBusybox runs applets that need nothing but the standard descriptors.
func TestBusybox(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%v: the busybox tests need Debian's busybox-static; %s", err, installHint)
	}
	cases := []struct {
		args   []string
		stdin  string
		status int
	}{
		{args: []string{"echo", "hello", "world"}},
		{args: []string{"true"}},
		{args: []string{"false"}, status: 1},
		{args: []string{"echo", "-n", "no newline"}},
		{args: []string{"printf", `%s=%d\n`, "answer", "42"}},
		{args: []string{"seq", "3"}},
		{args: []string{"basename", "/a/b/c.txt", ".txt"}},
		{args: []string{"expr", "6", "*", "7"}},
		{args: []string{"test", "1", "-eq", "2"}, status: 1},
		{args: []string{"cat"}, stdin: "from stdin\nand a second line\n"},
		{args: []string{"wc", "-c"}, stdin: "twelve bytes"},
		{args: []string{"no-such-applet"}, status: 127},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			compare(t, busybox, invocation{args: c.args, stdin: c.stdin}, c.status)
		})
	}
}
