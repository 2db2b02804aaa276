package procfs

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What /proc shows of the host, read once when the file system is made:
// facts that a program run natively would see, and that do not change
// while it runs.

// hostCaps returns the sentry's own capability sets, which a program run
// natively by the same user would have.
func hostCaps() capSets {
	var c capSets
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		c.inheritable = uint64(data[1].Inheritable)<<32 | uint64(data[0].Inheritable)
		c.permitted = uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
		c.effective = uint64(data[1].Effective)<<32 | uint64(data[0].Effective)
	}
	// The bounding and ambient sets are read a capability at a time; the
	// first one the host does not know (EINVAL) ends them.
	for cp := range 64 {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(cp), 0, 0, 0)
		if err != nil {
			break
		}
		if in == 1 {
			c.bounding |= 1 << cp
		}
		amb, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(cp), 0, 0)
		if err == nil && amb == 1 {
			c.ambient |= 1 << cp
		}
	}
	return c
}

// hostCPUs returns the CPUs the sentry may run on, in order, and the
// number of CPU ids the host's kernel knows (nr_cpu_ids), which sets the
// width of a CPU mask.
func hostCPUs() (cpus []int, nrCPUIDs int) {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		for c := range len(set) * 64 {
			if set.IsSet(c) {
				cpus = append(cpus, c)
			}
		}
	}
	if len(cpus) > 0 {
		nrCPUIDs = cpus[len(cpus)-1] + 1
	}
	// "0-7": the possible CPUs, which nr_cpu_ids counts.
	if b, err := os.ReadFile("/sys/devices/system/cpu/possible"); err == nil {
		s := strings.TrimSpace(string(b))
		if i := strings.LastIndexAny(s, "-,"); i >= 0 {
			s = s[i+1:]
		}
		if last, err := strconv.Atoi(s); err == nil {
			nrCPUIDs = max(nrCPUIDs, last+1)
		}
	}
	return cpus, nrCPUIDs
}
