package loader

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/mm"
)

// HostFile is a File over a file of the host, for the kernel to load
// programs with before the file layer exists.
//
// It counts references (it is a mm.RefCountedMappable): each vma that maps
// it holds one, so that the program's pages can still be read in after the
// kernel is done with the file, as Linux's vma->vm_file keeps an executable
// open. It reads through its own duplicate of the host descriptor, which it
// closes when the last reference goes.
type HostFile struct {
	// f is the duplicate descriptor. Immutable.
	f *os.File

	// dev and ino identify the file in /proc/self/maps. Immutable.
	dev, ino uint64

	// refs is the number of references. Accessed atomically.
	refs atomic.Int64
}

var _ mm.RefCountedMappable = (*HostFile)(nil)

// FileFromOS returns a File that reads f, with one reference, which belongs
// to the caller: it calls DecRef once it no longer needs the file (after
// Load, typically). The File has a descriptor of its own, so the caller may
// close f whenever it likes.
func FileFromOS(f *os.File) (*HostFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("loader: no stat information for %s", f.Name())
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("loader: %s: %w", f.Name(), err)
	}
	dupfd := -1
	if cerr := rc.Control(func(fd uintptr) {
		dupfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("loader: duplicating the descriptor of %s: %w", f.Name(), err)
	}
	hf := &HostFile{f: os.NewFile(uintptr(dupfd), f.Name()), dev: st.Dev, ino: st.Ino}
	hf.refs.Store(1)
	return hf, nil
}

// ReadAt implements mm.Mappable.ReadAt.
func (hf *HostFile) ReadAt(dst []byte, off int64) (int, error) {
	return hf.f.ReadAt(dst, off)
}

// Size implements mm.Mappable.Size. It asks the host every time: the file
// may change size under the program, as on Linux.
func (hf *HostFile) Size() (int64, error) {
	fi, err := hf.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// MappedName implements mm.Mappable.MappedName: the path the file was
// opened with.
func (hf *HostFile) MappedName() string {
	return hf.f.Name()
}

// DeviceID implements mm.Mappable.DeviceID.
func (hf *HostFile) DeviceID() uint64 {
	return hf.dev
}

// InodeID implements mm.Mappable.InodeID.
func (hf *HostFile) InodeID() uint64 {
	return hf.ino
}

// IncRef implements mm.RefCountedMappable.IncRef.
func (hf *HostFile) IncRef() {
	if hf.refs.Add(1) <= 1 {
		panic("loader: HostFile.IncRef after the last reference was dropped")
	}
}

// DecRef implements mm.RefCountedMappable.DecRef. The last reference closes
// the descriptor.
func (hf *HostFile) DecRef() {
	switch n := hf.refs.Add(-1); {
	case n == 0:
		hf.f.Close()
	case n < 0:
		panic("loader: HostFile.DecRef without a matching reference")
	}
}
