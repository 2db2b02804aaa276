package tests

import "testing"

// Shared and private mappings of files: mmapfile.c compared with a native
// run in a fresh directory. It checks that a MAP_SHARED mapping, read(2),
// write(2), msync and munmap agree on the file's bytes, across fork too,
// that MAP_PRIVATE writes stay out of the file, and that pages past the end
// of the file, as mapped or after ftruncate and O_TRUNC, are SIGBUS.

func init() {
	programs["mmapfile"] = staticLibcs
}

func TestMmapFile(t *testing.T) {
	t.Parallel()
	forEach(t, "mmapfile", func(t *testing.T, bin string) {
		dir, prepare := freshDir(t)
		compare(t, bin, invocation{args: []string{dir}, prepare: prepare}, 0)
	})
}
