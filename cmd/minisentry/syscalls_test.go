package main

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minisentry/minisentry/syscalls/linux"
)

// TestSyscallsDocIsCurrent fails when docs/syscalls.md no longer matches
// the system call table; regenerate it with
// `go run ./cmd/minisentry syscalls --markdown > docs/syscalls.md`.
func TestSyscallsDocIsCurrent(t *testing.T) {
	want := syscallsMarkdown(linux.Table())
	got, err := os.ReadFile("../../docs/syscalls.md")
	if err != nil {
		t.Fatalf("reading docs/syscalls.md: %v", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("docs/syscalls.md is stale; regenerate it with `go run ./cmd/minisentry syscalls --markdown > docs/syscalls.md` (-want +got):\n%s", diff)
	}
}
