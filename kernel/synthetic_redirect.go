package kernel

import "golang.org/x/sys/unix"

// SyntheticRedirect is the error a SyntheticFS returns when a lookup
// follows a symbolic link out of the synthetic tree: /proc/self/cwd/notes,
// /proc/1/root/etc/passwd, /dev/fd/3/x for a directory at descriptor 3.
// The link's target is a path the synthetic tree does not serve, so the
// caller must start the lookup again with Path, the target with the rest
// of the original path appended, as if the application had named it.
//
// A caller that does not know about redirects sees ENOENT: Unwrap makes
// errors.As find that errno.
type SyntheticRedirect struct {
	// Path is the absolute, cleaned path to look up instead.
	Path string
}

// Error implements error.Error.
func (r *SyntheticRedirect) Error() string {
	return "synthetic file system: look up " + r.Path + " instead"
}

// Unwrap returns ENOENT, what a caller unaware of redirects reports.
func (r *SyntheticRedirect) Unwrap() error {
	return unix.ENOENT
}
