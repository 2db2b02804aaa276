package procfs

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/usermem"
)

// The formats of /proc's process files, as fs/proc/array.c and
// fs/proc/task_mmu.c print them. The functions here take plain values and
// return text, so that tests check them without a kernel.

// clockTicks is USER_HZ, the unit of /proc's times: 100 per second on
// x86-64, whatever the kernel's own tick.
const clockTicks = 100

// pageSize is the unit of /proc/PID/statm and of stat's rss.
const pageSize = usermem.PageSize

// vmStats are the address space sizes /proc/PID/status and statm show,
// in bytes.
type vmStats struct {
	// size is every mapping: VmSize.
	size uint64
	// data is the private writable mappings but the stack: VmData.
	data uint64
	// stack is the stack: VmStk.
	stack uint64
	// exe is the executable's code: VmExe.
	exe uint64
	// lib is the other executable mappings: VmLib.
	lib uint64
	// codeStart and codeEnd span the executable's code; dataStart and
	// dataEnd its writable data; heapStart is where the heap starts (0
	// if it is empty). /proc/PID/stat shows them.
	codeStart, codeEnd, dataStart, dataEnd, heapStart uint64
}

// mapsLine is one line of /proc/PID/maps.
type mapsLine struct {
	start, end uint64
	perms      string
	name       string
}

// parseMaps parses the text of /proc/PID/maps, as mm.MemoryManager.MapsText
// prints it. Lines it cannot parse are skipped.
func parseMaps(text string) []mapsLine {
	var lines []mapsLine
	for _, l := range strings.Split(text, "\n") {
		// start-end perms offset dev inode [name], the name after
		// padding.
		fields := strings.SplitN(l, " ", 6)
		if len(fields) < 5 {
			continue
		}
		startS, endS, ok := strings.Cut(fields[0], "-")
		if !ok || len(fields[1]) != 4 {
			continue
		}
		start, err1 := strconv.ParseUint(startS, 16, 64)
		end, err2 := strconv.ParseUint(endS, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		ml := mapsLine{start: start, end: end, perms: fields[1]}
		if len(fields) == 6 {
			ml.name = strings.TrimLeft(fields[5], " ")
		}
		lines = append(lines, ml)
	}
	return lines
}

// vmStatsOf sums the mappings of maps, the text of /proc/PID/maps, the way
// Linux counts them: data_vm (private, writable, not the stack),
// stack_vm, and exec_vm (executable, not writable) split between the
// program's code (mappings of exe, its path) and the rest.
func vmStatsOf(maps, exe string) vmStats {
	var s vmStats
	for _, l := range parseMaps(maps) {
		length := l.end - l.start
		s.size += length
		r, w, x, private := l.perms[0] == 'r', l.perms[1] == 'w', l.perms[2] == 'x', l.perms[3] == 'p'
		switch {
		case l.name == "[stack]":
			s.stack += length
		case w && private:
			s.data += length
		}
		if x && !w && l.name != "[stack]" {
			if l.name == exe {
				s.exe += length
			} else {
				s.lib += length
			}
		}
		switch {
		case l.name == exe && x && s.codeStart == 0:
			s.codeStart, s.codeEnd = l.start, l.end
		case l.name == exe && r && w && s.dataStart == 0:
			s.dataStart, s.dataEnd = l.start, l.end
		case l.name == "[heap]":
			s.heapStart = l.start
		}
	}
	return s
}

// escapeComm returns a task name as /proc/PID/status shows it, with a
// newline and a backslash escaped so that the line stays one line.
func escapeComm(comm string) string {
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(comm)
}

// stateName returns the long form of a task state letter, as the State
// line of /proc/PID/status shows it.
func stateName(state byte) string {
	switch state {
	case 'R':
		return "R (running)"
	case 'T':
		return "T (stopped)"
	case 'Z':
		return "Z (zombie)"
	case 'X':
		return "X (dead)"
	default:
		return "S (sleeping)"
	}
}

// capSets are the capability sets /proc/PID/status shows.
type capSets struct {
	inheritable, permitted, effective, bounding, ambient uint64
}

// statusData is what /proc/PID/status shows.
type statusData struct {
	name       string
	umask      uint32
	hasUmask   bool
	state      byte
	tgid, pid  int32
	ppid       int32
	pgid, sid  int32
	creds      loader.Credentials
	fdSize     int
	vm         *vmStats
	threads    int
	sigQueued  int
	sigLimit   uint64
	pending    uint64
	shared     uint64
	blocked    uint64
	ignored    uint64
	caught     uint64
	caps       capSets
	noNewPrivs bool
	cpus       []int
	nrCPUIDs   int
}

// statusText formats /proc/PID/status, field for field as Linux 6's,
// without the lines of hardware and features minisentry does not model
// (speculation, memory tagging, NUMA).
func statusText(d statusData) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name:\t%s\n", escapeComm(d.name))
	if d.hasUmask {
		fmt.Fprintf(&b, "Umask:\t%04o\n", d.umask)
	}
	fmt.Fprintf(&b, "State:\t%s\n", stateName(d.state))
	fmt.Fprintf(&b, "Tgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\n", d.tgid, d.pid, d.ppid)
	c := d.creds
	// Linux shows real, effective, saved and file-system ids; the saved
	// and file-system ids are the effective ones here.
	fmt.Fprintf(&b, "Uid:\t%d\t%d\t%d\t%d\n", c.UID, c.EUID, c.EUID, c.EUID)
	fmt.Fprintf(&b, "Gid:\t%d\t%d\t%d\t%d\n", c.GID, c.EGID, c.EGID, c.EGID)
	fmt.Fprintf(&b, "FDSize:\t%d\n", d.fdSize)
	// Linux ends the list of supplementary groups, empty here, with a
	// space.
	b.WriteString("Groups:\t \n")
	fmt.Fprintf(&b, "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\nKthread:\t0\n", d.tgid, d.pid, d.pgid, d.sid)
	if vm := d.vm; vm != nil {
		kb := func(name string, v uint64) {
			fmt.Fprintf(&b, "%s:\t%8d kB\n", name, v>>10)
		}
		kb("VmPeak", vm.size)
		kb("VmSize", vm.size)
		kb("VmLck", 0)
		kb("VmPin", 0)
		kb("VmHWM", 0)
		kb("VmRSS", 0)
		kb("RssAnon", 0)
		kb("RssFile", 0)
		kb("RssShmem", 0)
		kb("VmData", vm.data)
		kb("VmStk", vm.stack)
		kb("VmExe", vm.exe)
		kb("VmLib", vm.lib)
		kb("VmPTE", 0)
		kb("VmSwap", 0)
		kb("HugetlbPages", 0)
		b.WriteString("CoreDumping:\t0\nTHP_enabled:\t1\n")
	}
	fmt.Fprintf(&b, "Threads:\t%d\n", d.threads)
	fmt.Fprintf(&b, "SigQ:\t%d/%d\n", d.sigQueued, d.sigLimit)
	for _, s := range []struct {
		name string
		set  uint64
	}{{"SigPnd", d.pending}, {"ShdPnd", d.shared}, {"SigBlk", d.blocked}, {"SigIgn", d.ignored}, {"SigCgt", d.caught},
		{"CapInh", d.caps.inheritable}, {"CapPrm", d.caps.permitted}, {"CapEff", d.caps.effective},
		{"CapBnd", d.caps.bounding}, {"CapAmb", d.caps.ambient}} {
		fmt.Fprintf(&b, "%s:\t%016x\n", s.name, s.set)
	}
	fmt.Fprintf(&b, "NoNewPrivs:\t%d\nSeccomp:\t0\nSeccomp_filters:\t0\n", boolInt(d.noNewPrivs))
	fmt.Fprintf(&b, "Cpus_allowed:\t%s\nCpus_allowed_list:\t%s\n", cpuMask(d.cpus, d.nrCPUIDs), cpuList(d.cpus))
	b.WriteString("voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n")
	return b.String()
}

// boolInt returns 1 for true and 0 for false.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cpuMask formats a set of CPUs as Linux's "%*pb" does: hexadecimal, in
// comma-separated groups of 32 CPUs, the highest first, as wide as
// nrCPUIDs CPUs need.
func cpuMask(cpus []int, nrCPUIDs int) string {
	nrCPUIDs = max(nrCPUIDs, 1)
	words := make([]uint32, (nrCPUIDs+31)/32)
	for _, c := range cpus {
		if c >= 0 && c < nrCPUIDs {
			words[c/32] |= 1 << (c % 32)
		}
	}
	var groups []string
	for i := len(words) - 1; i >= 0; i-- {
		width := 8
		if i == len(words)-1 {
			if rem := nrCPUIDs % 32; rem != 0 {
				width = (rem + 3) / 4
			}
		}
		groups = append(groups, fmt.Sprintf("%0*x", width, words[i]))
	}
	return strings.Join(groups, ",")
}

// cpuList formats a sorted set of CPUs as Linux's "%*pbl" does: ranges,
// "0-3,6".
func cpuList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// statData is what /proc/PID/stat shows.
type statData struct {
	pid        int32
	comm       string
	state      byte
	ppid       int32
	pgid, sid  int32
	threads    int
	startTicks uint64
	vm         vmStats
	rssLimit   uint64
	pending    uint64
	blocked    uint64
	ignored    uint64
	caught     uint64
	exitSignal int
	argv, envv usermem.AddrRange
	exitCode   uint32
}

// statText formats /proc/PID/stat: 52 fields on one line, as Linux's
// do_task_stat. Fields minisentry does not keep (times, faults, the
// registers, the scheduler's) are 0; the terminal ones say there is no
// controlling terminal.
func statText(d statData) string {
	// The signal sets are "obsolete": Linux shows their low 31 bits.
	const sigMask = 0x7fffffff
	fields := []any{
		d.pid, "(" + d.comm + ")", string(d.state), d.ppid, d.pgid, d.sid,
		0,          // tty_nr
		-1,         // tpgid
		0,          // flags
		0, 0, 0, 0, // minflt, cminflt, majflt, cmajflt
		0, 0, 0, 0, // utime, stime, cutime, cstime
		20, 0, // priority, nice
		d.threads,
		0, // itrealvalue
		d.startTicks,
		d.vm.size,
		0, // rss
		d.rssLimit,
		d.vm.codeStart, d.vm.codeEnd,
		0,    // startstack
		0, 0, // kstkesp, kstkeip
		d.pending & sigMask, d.blocked & sigMask, d.ignored & sigMask, d.caught & sigMask,
		0, 0, 0, // wchan, nswap, cnswap
		d.exitSignal,
		0,       // processor
		0, 0, 0, // rt_priority, policy, delayacct_blkio_ticks
		0, 0, // guest_time, cguest_time
		d.vm.dataStart, d.vm.dataEnd, d.vm.heapStart,
		uint64(d.argv.Start), uint64(d.argv.End), uint64(d.envv.Start), uint64(d.envv.End),
		d.exitCode,
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, f)
	}
	b.WriteByte('\n')
	return b.String()
}

// statmText formats /proc/PID/statm: sizes in pages.
func statmText(vm vmStats) string {
	return fmt.Sprintf("%d 0 0 %d 0 %d 0\n", vm.size/pageSize, vm.exe/pageSize, (vm.data+vm.stack)/pageSize)
}

// fdTableSize returns what the FDSize line of /proc/PID/status shows for
// a table whose highest descriptor is maxFD (-1 for none): the capacity
// Linux's table would have grown to, 64 descriptors at first, then
// multiples of 128 in powers of two.
func fdTableSize(maxFD int32) int {
	if maxFD < 64 {
		return 64
	}
	nr := int(maxFD) / 128
	return (1 << bits.Len(uint(nr))) * 128
}

// readCmdline reads a process's command line from its memory, uio, as
// Linux's get_mm_cmdline: the argument strings, each with its NUL. A
// program that wrote over the NUL that ends them (setproctitle(3)) gets
// instead the one string from the start of argv to the first NUL,
// running on into the environment strings if it must.
func readCmdline(ctx context.Context, uio usermem.IO, argv, envv usermem.AddrRange, opts usermem.IOOpts) ([]byte, error) {
	if argv.Start >= argv.End {
		return nil, nil
	}
	end := envv.End
	if envv.Start != argv.End || envv.End < envv.Start {
		end = argv.End
	}
	buf := make([]byte, end-argv.Start)
	n, err := uio.CopyIn(ctx, argv.Start, buf, opts)
	buf = buf[:n]
	if err != nil && n < int(argv.Length()) {
		return nil, err
	}
	args := buf[:argv.Length()]
	if args[len(args)-1] == 0 {
		return args, nil
	}
	if i := strings.IndexByte(string(buf), 0); i >= 0 {
		return buf[:i+1], nil
	}
	return buf, nil
}

// readEnviron reads a process's environment strings, each with its NUL.
func readEnviron(ctx context.Context, uio usermem.IO, envv usermem.AddrRange, opts usermem.IOOpts) ([]byte, error) {
	if envv.Start >= envv.End {
		return nil, nil
	}
	buf := make([]byte, envv.Length())
	n, err := uio.CopyIn(ctx, envv.Start, buf, opts)
	return buf[:n], err
}

// rewriteLoadavg replaces the last two fields of the host's /proc/loadavg
// ("0.54 0.79 1.77 3/115 4874"), the host's scheduling entities and last
// pid, with the sandbox's: what is running over how many tasks, and the
// last thread id given out. The load averages stay the host's: the
// sandbox's tasks run on its CPUs.
func rewriteLoadavg(host string, running, total int, lastPID int32) string {
	fields := strings.Fields(host)
	if len(fields) < 3 {
		return host
	}
	return fmt.Sprintf("%s %s %s %d/%d %d\n", fields[0], fields[1], fields[2], running, total, lastPID)
}
