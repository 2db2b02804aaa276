package fs

// CloseFile closes the open file description f once its last descriptor
// is gone: the kernel calls it instead of f.Close. Before closing f, it
// does what Linux does when a file's last reference goes: f's flock(2) and
// OFD locks are released, and every epoll instance forgets its entries
// for f.
func CloseFile(f File) error {
	releaseDescriptionLocks(f)
	for _, e := range epollRegistry.take(f) {
		e.forget(f)
	}
	return f.Close()
}
