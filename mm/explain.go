package mm

import (
	"fmt"
	"strings"

	"github.com/minisentry/minisentry/usermem"
)

// nullPageLimit is where an address stops looking like a NULL pointer
// plus a field offset.
const nullPageLimit = 64 << 10

// ExplainFault says, for a person, why an access at addr cannot succeed:
// which rule fired (nothing mapped, a NULL pointer, the guard gap below the
// stack, PROT_NONE, a read-only or non-executable mapping) and the mappings
// around the address, as /proc/self/maps would show them.
func (mm *MemoryManager) ExplainFault(addr usermem.Addr, at usermem.AccessType) string {
	mm.mappingMu.RLock()
	defer mm.mappingMu.RUnlock()
	var b strings.Builder
	i, found := mm.vmas.find(addr)
	switch {
	case found:
		v := &mm.vmas.segs[i].val
		switch {
		case !v.realPerms.Any():
			fmt.Fprintf(&b, "%s at %#x: the mapping is PROT_NONE", accessName(at), addr)
		case at.Write && !v.realPerms.Write:
			fmt.Fprintf(&b, "write at %#x: the mapping is read-only", addr)
		case at.Execute && !v.realPerms.Execute:
			fmt.Fprintf(&b, "instruction fetch at %#x: the mapping is not executable", addr)
		default:
			fmt.Fprintf(&b, "%s at %#x: the mapping does not allow it (%s)", accessName(at), addr, v.realPerms)
		}
	case addr < nullPageLimit:
		fmt.Fprintf(&b, "%s at %#x: nothing is mapped there (a NULL pointer dereference?)", accessName(at), addr)
	case i < len(mm.vmas.segs) && mm.vmas.segs[i].val.growsDown && mm.vmas.segs[i].ar.Start-addr <= guardBytes:
		fmt.Fprintf(&b, "%s at %#x: the guard gap below the stack (a stack overflow?)", accessName(at), addr)
	default:
		fmt.Fprintf(&b, "%s at %#x: nothing is mapped there", accessName(at), addr)
	}
	b.WriteString("; nearby mappings:\n")
	// The mapping before, the one containing addr if any, and the one
	// after: find returned the containing one, or the first after addr.
	first, last := max(i-1, 0), min(i+1, len(mm.vmas.segs))
	if found {
		last = min(i+2, len(mm.vmas.segs))
	}
	if first == last {
		b.WriteString("  (none)\n")
	}
	for j := first; j < last; j++ {
		b.WriteString("  ")
		writeMapsLine(&b, mm.vmas.segs[j])
	}
	return b.String()
}

// accessName names the kind of access.
func accessName(at usermem.AccessType) string {
	switch {
	case at.Execute:
		return "instruction fetch"
	case at.Write:
		return "write"
	default:
		return "read"
	}
}
