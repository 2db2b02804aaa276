package fs

import "context"

// Dirent is one directory entry, as getdents64(2) reports it.
type Dirent struct {
	// Ino is the entry's inode number.
	Ino uint64
	// Next is the directory offset just past this entry: where a listing
	// resumes after it (d_off).
	Next int64
	// Type is the entry's DT_* type.
	Type uint8
	// Name is the entry's name.
	Name string
}

// Directory is a File that can be listed.
type Directory interface {
	File

	// ReadDir returns the entries from offset on (0 is the start; other
	// offsets are Dirent.Next values this directory returned). It may
	// return fewer than all; an empty result means the end. It need not
	// keep the file offset: getdents64(2) reads it with Seek(0, SEEK_CUR)
	// before, and sets it with Seek(next, SEEK_SET) after.
	ReadDir(ctx context.Context, offset int64) ([]Dirent, error)
}
