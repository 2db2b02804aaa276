package usermem

import "golang.org/x/sys/unix"

// AccessType is a set of memory access permissions. It describes both what a
// mapping allows and what a faulting access wanted.
type AccessType struct {
	// Read is permission to read, or a read access.
	Read bool
	// Write is permission to write, or a write access.
	Write bool
	// Execute is permission to fetch instructions, or an instruction fetch.
	Execute bool
}

// The common permission sets.
var (
	NoAccess  = AccessType{}
	Read      = AccessType{Read: true}
	Write     = AccessType{Write: true}
	Execute   = AccessType{Execute: true}
	ReadWrite = AccessType{Read: true, Write: true}
	AnyAccess = AccessType{Read: true, Write: true, Execute: true}
)

// String returns the permissions as /proc/pid/maps prints them: "rwx" with
// '-' for each missing bit.
func (a AccessType) String() string {
	b := []byte("---")
	if a.Read {
		b[0] = 'r'
	}
	if a.Write {
		b[1] = 'w'
	}
	if a.Execute {
		b[2] = 'x'
	}
	return string(b)
}

// Any reports whether any permission is set.
func (a AccessType) Any() bool {
	return a.Read || a.Write || a.Execute
}

// Prot returns the host PROT_* bits for a.
func (a AccessType) Prot() int {
	var prot int
	if a.Read {
		prot |= unix.PROT_READ
	}
	if a.Write {
		prot |= unix.PROT_WRITE
	}
	if a.Execute {
		prot |= unix.PROT_EXEC
	}
	return prot
}

// SupersetOf reports whether a allows everything that other allows.
func (a AccessType) SupersetOf(other AccessType) bool {
	return (a.Read || !other.Read) && (a.Write || !other.Write) && (a.Execute || !other.Execute)
}

// Intersect returns the permissions in both a and other.
func (a AccessType) Intersect(other AccessType) AccessType {
	return AccessType{Read: a.Read && other.Read, Write: a.Write && other.Write, Execute: a.Execute && other.Execute}
}

// Union returns the permissions in either a or other.
func (a AccessType) Union(other AccessType) AccessType {
	return AccessType{Read: a.Read || other.Read, Write: a.Write || other.Write, Execute: a.Execute || other.Execute}
}

// Effective returns the permissions an x86-64 page really grants when a is
// requested: the MMU cannot make a page writable or executable without also
// making it readable, so Write or Execute implies Read (Linux's
// protection_map says the same).
func (a AccessType) Effective() AccessType {
	if a.Write || a.Execute {
		a.Read = true
	}
	return a
}

// AccessTypeFromProt converts host PROT_* bits to an AccessType. Bits other
// than PROT_READ, PROT_WRITE and PROT_EXEC are ignored; callers validate them.
func AccessTypeFromProt(prot int) AccessType {
	return AccessType{
		Read:    prot&unix.PROT_READ != 0,
		Write:   prot&unix.PROT_WRITE != 0,
		Execute: prot&unix.PROT_EXEC != 0,
	}
}
