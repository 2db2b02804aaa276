//go:build exercise_dontunmap

package exercises

import "testing"

// TestMremapDontunmap: exercise 5, MREMAP_DONTUNMAP. mremap moves the
// pages and leaves the old range mapped with the same permissions: empty
// for private memory, the same memory for shared; it needs MREMAP_MAYMOVE
// and equal sizes, and goes with MREMAP_FIXED.
func TestMremapDontunmap(t *testing.T) {
	compare(t, compile(t, "dontunmap"))
}
