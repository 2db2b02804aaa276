package kernel

import "github.com/minisentry/minisentry/fs"

// LockOwner returns the owner of the POSIX record locks the task takes
// (fcntl F_SETLK): its descriptor table, which is what Linux's fl_owner,
// the files_struct, stands for. Every close of a descriptor in the table
// releases the table's locks on the file (FDTable.drop); F_GETLK reports
// the process's id.
func (t *Task) LockOwner() fs.LockOwner {
	return fs.LockOwner{ID: t.fdTable, PID: int32(t.tg.ID())}
}
