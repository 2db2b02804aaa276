package platform

import (
	"errors"
	"math"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

func TestMemoryFileLimit(t *testing.T) {
	f, err := NewMemoryFile(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Available(); got != math.MaxUint64 {
		t.Errorf("Available without a limit: got %d, want MaxUint64", got)
	}
	const page = usermem.PageSize
	f.SetLimit(4 * page)
	a, err := f.Allocate(3 * page)
	if err != nil {
		t.Fatalf("Allocate(3 pages) under a 4-page limit: %v", err)
	}
	if got := f.Available(); got != page {
		t.Errorf("Available after 3 of 4 pages: got %d, want %d", got, page)
	}
	if _, err := f.Allocate(2 * page); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("Allocate(2 pages) with 1 left: got %v, want ENOMEM", err)
	}
	if f.Usage() != 3*page {
		t.Errorf("a refused allocation changed the usage: %d", f.Usage())
	}
	b, err := f.Allocate(page)
	if err != nil {
		t.Fatalf("Allocate(the last page): %v", err)
	}
	if got := f.Available(); got != 0 {
		t.Errorf("Available at the limit: got %d, want 0", got)
	}
	// Shared pages count once; freed pages make room again.
	f.IncRef(b)
	f.DecRef(b)
	if _, err := f.Allocate(page); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("Allocate at the limit: got %v, want ENOMEM", err)
	}
	f.DecRef(a)
	if _, err := f.Allocate(3 * page); err != nil {
		t.Errorf("Allocate after freeing 3 pages: %v", err)
	}
	// A limit below the usage refuses everything until enough is freed.
	f.SetLimit(page)
	if got := f.Available(); got != 0 {
		t.Errorf("Available over the limit: got %d, want 0", got)
	}
	f.SetLimit(0)
	if _, err := f.Allocate(8 * page); err != nil {
		t.Errorf("Allocate with the limit removed: %v", err)
	}
}
