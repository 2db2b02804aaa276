package fs

import "golang.org/x/sys/unix"

// The host's procfs is never part of the application's tree. The
// application's /proc is the sentry's own (kernel/procfs), found by
// path before the tree is asked; but a path can reach a procfs mount of
// the host's without naming /proc: through a symlink to "/" ("/tmp/r"
// then "/tmp/r/proc/self/mem"), through openat2(2) relative to a
// descriptor of "/" ("proc/self/mem"), or through a procfs mounted
// inside --root's directory. There "self" is the sentry: its memory, its
// descriptors, its maps. So every lookup that lands on a procfs is
// refused with EACCES, whatever mode: one fstatfs(2) per lookup, which
// costs about 0.5 µs on this project's machines.

// onHostProc reports whether the sentry's descriptor fd lies on a procfs
// (or cannot be told: it is then treated as one).
func onHostProc(fd int) bool {
	var st unix.Statfs_t
	for {
		err := unix.Fstatfs(fd, &st)
		if err == unix.EINTR {
			continue
		}
		return err != nil || st.Type == unix.PROC_SUPER_MAGIC
	}
}
