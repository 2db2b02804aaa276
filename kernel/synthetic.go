package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/fs"
)

// SyntheticFS serves the parts of the file system that the sentry makes up
// rather than takes from the host: /proc and /dev. Path system calls ask
// it first, with the absolute, cleaned path (in the sandbox's view), and
// fall through to the host when it does not handle the path.
type SyntheticFS interface {
	// Open opens path with open(2) flags.
	Open(t *Task, path string, flags uint32) (f fs.File, handled bool, err error)

	// Stat describes path; follow says whether a final symbolic link is
	// followed.
	Stat(t *Task, path string, follow bool) (st unix.Stat_t, handled bool, err error)

	// Readlink returns the target of the symbolic link at path.
	Readlink(t *Task, path string) (target string, handled bool, err error)
}
