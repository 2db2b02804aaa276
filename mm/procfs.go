package mm

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mapsNameColumn is the width of the part of a /proc/self/maps line before
// the name: Linux pads every named line to it (25 + 6 * sizeof(void *) - 1
// characters) and then writes one more space, so names line up at column
// 74 whatever the numbers' widths.
const mapsNameColumn = 72

// shmDevice is the device /proc/self/maps shows for shared anonymous
// memory: Linux's shmem mount is 00:01.
const shmDevice = 1

// MapsText returns the contents of /proc/self/maps: one line per vma, in
// Linux's exact format.
//
// There is no "[vsyscall]" line. Linux always prints one, but minisentry's
// applications have no vsyscall page they can use (the platform makes a
// call into it fail), and libc does not look for the line. There is no
// "[vdso]" or "[vvar]" either: minisentry gives applications no vDSO.
func (mm *MemoryManager) MapsText() string {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	var b strings.Builder
	for _, seg := range mm.vmas.segs {
		writeMapsLine(&b, seg)
	}
	return b.String()
}

// writeMapsLine writes seg's line of /proc/self/maps.
func writeMapsLine(b *strings.Builder, seg segment[vma]) {
	v := &seg.val
	var (
		off, dev, ino uint64
		name          string
	)
	switch {
	case v.mappable != nil:
		off, dev, ino, name = v.off, v.mappable.DeviceID(), v.mappable.InodeID(), v.mappable.MappedName()
	case v.shm != nil:
		off, dev, ino, name = v.off, unix.Mkdev(0, shmDevice), v.shm.id, "/dev/zero (deleted)"
	}
	if v.hint != "" {
		name = v.hint
	}
	shared := byte('p')
	if !v.private {
		shared = 's'
	}
	n, _ := fmt.Fprintf(b, "%08x-%08x %s%c %08x %02x:%02x %d ",
		seg.ar.Start, seg.ar.End, v.realPerms, shared, off, unix.Major(dev), unix.Minor(dev), ino)
	if name != "" {
		b.WriteString(strings.Repeat(" ", max(mapsNameColumn-n, 0)+1))
		b.WriteString(name)
	}
	b.WriteByte('\n')
}
