package procfs

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/loader"
	"github.com/minisentry/minisentry/usermem"
)

// sampleMaps is /proc/PID/maps of a static program, as mm's MapsText
// prints it.
const sampleMaps = "" +
	"00400000-00401000 r--p 00000000 fd:01 1234                               /bin/prog\n" +
	"00401000-00495000 r-xp 00001000 fd:01 1234                               /bin/prog\n" +
	"00495000-004bd000 r--p 00095000 fd:01 1234                               /bin/prog\n" +
	"004be000-004c4000 rw-p 000bd000 fd:01 1234                               /bin/prog\n" +
	"004c4000-004c9000 rw-p 00000000 00:00 0 \n" +
	"01d4a000-01d6c000 rw-p 00000000 00:00 0                                  [heap]\n" +
	"7f0000000000-7f0000002000 r-xp 00000000 00:01 7                          /dev/zero (deleted)\n" +
	"7ffd5e8c3000-7ffd5e8e4000 rw-p 00000000 00:00 0                          [stack]\n"

func TestParseMaps(t *testing.T) {
	got := parseMaps(sampleMaps)
	want := []mapsLine{
		{0x400000, 0x401000, "r--p", "/bin/prog"},
		{0x401000, 0x495000, "r-xp", "/bin/prog"},
		{0x495000, 0x4bd000, "r--p", "/bin/prog"},
		{0x4be000, 0x4c4000, "rw-p", "/bin/prog"},
		{0x4c4000, 0x4c9000, "rw-p", ""},
		{0x1d4a000, 0x1d6c000, "rw-p", "[heap]"},
		{0x7f0000000000, 0x7f0000002000, "r-xp", "/dev/zero (deleted)"},
		{0x7ffd5e8c3000, 0x7ffd5e8e4000, "rw-p", "[stack]"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(mapsLine{})); diff != "" {
		t.Errorf("parseMaps (-want +got):\n%s", diff)
	}
}

func TestVMStats(t *testing.T) {
	got := vmStatsOf(sampleMaps, "/bin/prog")
	want := vmStats{
		size:      0x1000 + 0x94000 + 0x28000 + 0x6000 + 0x5000 + 0x22000 + 0x2000 + 0x21000,
		data:      0x6000 + 0x5000 + 0x22000,
		stack:     0x21000,
		exe:       0x94000,
		lib:       0x2000,
		codeStart: 0x401000,
		codeEnd:   0x495000,
		dataStart: 0x4be000,
		dataEnd:   0x4c4000,
		heapStart: 0x1d4a000,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(vmStats{})); diff != "" {
		t.Errorf("vmStatsOf (-want +got):\n%s", diff)
	}
}

func TestStatusText(t *testing.T) {
	vm := vmStatsOf(sampleMaps, "/bin/prog")
	d := statusData{
		name:      "prog\nx",
		umask:     0o22,
		hasUmask:  true,
		state:     'R',
		tgid:      1,
		pid:       1,
		ppid:      0,
		pgid:      1,
		sid:       1,
		creds:     loader.Credentials{UID: 1000, EUID: 1001, GID: 100, EGID: 101},
		fdSize:    64,
		vm:        &vm,
		threads:   2,
		sigLimit:  63704,
		blocked:   1 << (unix.SIGINT - 1),
		ignored:   1 << (unix.SIGPIPE - 1),
		caught:    1 << (unix.SIGCHLD - 1),
		caps:      capSets{bounding: 0x1ffffffffff},
		cpus:      []int{0, 1, 2, 3},
		nrCPUIDs:  4,
		sigQueued: 0,
	}
	want := "Name:\tprog\\nx\n" +
		"Umask:\t0022\n" +
		"State:\tR (running)\n" +
		"Tgid:\t1\nNgid:\t0\nPid:\t1\nPPid:\t0\nTracerPid:\t0\n" +
		"Uid:\t1000\t1001\t1001\t1001\n" +
		"Gid:\t100\t101\t101\t101\n" +
		"FDSize:\t64\n" +
		"Groups:\t \n" +
		"NStgid:\t1\nNSpid:\t1\nNSpgid:\t1\nNSsid:\t1\nKthread:\t0\n" +
		"VmPeak:\t    1076 kB\n" +
		"VmSize:\t    1076 kB\n" +
		"VmLck:\t       0 kB\n" +
		"VmPin:\t       0 kB\n" +
		"VmHWM:\t       0 kB\n" +
		"VmRSS:\t       0 kB\n" +
		"RssAnon:\t       0 kB\n" +
		"RssFile:\t       0 kB\n" +
		"RssShmem:\t       0 kB\n" +
		"VmData:\t     180 kB\n" +
		"VmStk:\t     132 kB\n" +
		"VmExe:\t     592 kB\n" +
		"VmLib:\t       8 kB\n" +
		"VmPTE:\t       0 kB\n" +
		"VmSwap:\t       0 kB\n" +
		"HugetlbPages:\t       0 kB\n" +
		"CoreDumping:\t0\nTHP_enabled:\t1\n" +
		"Threads:\t2\n" +
		"SigQ:\t0/63704\n" +
		"SigPnd:\t0000000000000000\n" +
		"ShdPnd:\t0000000000000000\n" +
		"SigBlk:\t0000000000000002\n" +
		"SigIgn:\t0000000000001000\n" +
		"SigCgt:\t0000000000010000\n" +
		"CapInh:\t0000000000000000\n" +
		"CapPrm:\t0000000000000000\n" +
		"CapEff:\t0000000000000000\n" +
		"CapBnd:\t000001ffffffffff\n" +
		"CapAmb:\t0000000000000000\n" +
		"NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n" +
		"Cpus_allowed:\tf\n" +
		"Cpus_allowed_list:\t0-3\n" +
		"voluntary_ctxt_switches:\t0\n" +
		"nonvoluntary_ctxt_switches:\t0\n"
	if diff := cmp.Diff(want, statusText(d)); diff != "" {
		t.Errorf("statusText (-want +got):\n%s", diff)
	}

	// A zombie has no address space and no file system context: no Vm
	// lines, no Umask.
	d.vm, d.hasUmask, d.state = nil, false, 'Z'
	got := statusText(d)
	for _, absent := range []string{"Umask:", "VmSize:", "CoreDumping:"} {
		if strings.Contains(got, absent) {
			t.Errorf("zombie's status has %q:\n%s", absent, got)
		}
	}
	if !strings.Contains(got, "State:\tZ (zombie)\n") {
		t.Errorf("zombie's status has no zombie state:\n%s", got)
	}
}

func TestStatText(t *testing.T) {
	d := statData{
		pid:        7,
		comm:       "a b) c",
		state:      'S',
		ppid:       1,
		pgid:       7,
		sid:        1,
		threads:    3,
		startTicks: 12345,
		vm:         vmStatsOf(sampleMaps, "/bin/prog"),
		rssLimit:   ^uint64(0),
		blocked:    1<<40 | 1<<1,
		ignored:    1 << 12,
		exitSignal: 17,
		argv:       usermem.AddrRange{Start: 0x7ffd5e8e3000, End: 0x7ffd5e8e3010},
		envv:       usermem.AddrRange{Start: 0x7ffd5e8e3010, End: 0x7ffd5e8e3100},
	}
	got := statText(d)
	want := "7 (a b) c) S 1 7 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 12345 1101824 0 18446744073709551615 " +
		"4198400 4804608 0 0 0 0 2 4096 0 0 0 0 17 0 0 0 0 0 0 4972544 4997120 30711808 " +
		"140726189830144 140726189830160 140726189830160 140726189830400 0\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statText (-want +got):\n%s", diff)
	}
	// Parsed as programs parse it: after the last ')', 50 more fields.
	rest := got[strings.LastIndexByte(got, ')')+2:]
	if n := len(strings.Fields(rest)); n != 50 {
		t.Errorf("stat has %d fields after the name, want 50", n)
	}
}

func TestStatmText(t *testing.T) {
	got := statmText(vmStatsOf(sampleMaps, "/bin/prog"))
	if want := "269 0 0 148 0 78 0\n"; got != want {
		t.Errorf("statmText = %q, want %q", got, want)
	}
}

func TestCPUMask(t *testing.T) {
	for _, c := range []struct {
		cpus     []int
		nrCPUIDs int
		mask     string
		list     string
	}{
		{[]int{0, 1}, 2, "3", "0-1"},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7}, 8, "ff", "0-7"},
		{[]int{1, 3}, 8, "0a", "1,3"},
		{[]int{0}, 64, "00000000,00000001", "0"},
		{[]int{0, 1, 35}, 36, "8,00000003", "0-1,35"},
		{[]int{0, 2, 3, 4, 7, 8}, 12, "19d", "0,2-4,7-8"},
	} {
		if got := cpuMask(c.cpus, c.nrCPUIDs); got != c.mask {
			t.Errorf("cpuMask(%v, %d) = %q, want %q", c.cpus, c.nrCPUIDs, got, c.mask)
		}
		if got := cpuList(c.cpus); got != c.list {
			t.Errorf("cpuList(%v) = %q, want %q", c.cpus, got, c.list)
		}
	}
}

func TestFDTableSize(t *testing.T) {
	for _, c := range []struct {
		maxFD int32
		want  int
	}{{-1, 64}, {2, 64}, {63, 64}, {64, 128}, {127, 128}, {128, 256}, {255, 256}, {256, 512}, {511, 512}, {512, 1024}} {
		if got := fdTableSize(c.maxFD); got != c.want {
			t.Errorf("fdTableSize(%d) = %d, want %d", c.maxFD, got, c.want)
		}
	}
}

func TestEscapeComm(t *testing.T) {
	for in, want := range map[string]string{
		"cat":     "cat",
		"a\nb":    `a\nb`,
		`back\sl`: `back\\sl`,
		"tab\t":   "tab\t",
	} {
		if got := escapeComm(in); got != want {
			t.Errorf("escapeComm(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadCmdline(t *testing.T) {
	// Memory: 16 bytes of something else, then the argument strings and
	// the environment strings, as the loader lays them out.
	const base = 16
	layout := func(args, env string) (usermem.BytesIO, usermem.AddrRange, usermem.AddrRange) {
		mem := append(make([]byte, base), args+env...)
		argv := usermem.AddrRange{Start: base, End: usermem.Addr(base + len(args))}
		envv := usermem.AddrRange{Start: argv.End, End: argv.End + usermem.Addr(len(env))}
		return usermem.BytesIO{Bytes: mem}, argv, envv
	}
	ctx := context.Background()
	for _, c := range []struct {
		name, args, env string
		// overwrite, if not empty, replaces the argument strings in
		// memory after the layout, as setproctitle(3) does.
		overwrite string
		want      string
	}{
		{name: "plain", args: "./prog\x00-x\x00\x00", env: "A=1\x00", want: "./prog\x00-x\x00\x00"},
		{name: "one", args: "prog\x00", env: "", want: "prog\x00"},
		{name: "retitled shorter", args: "prog\x00arg\x00", env: "A=1\x00", overwrite: "new\x00title", want: "new\x00"},
		{name: "retitled longer", args: "prog\x00arg\x00", env: "A=1\x00BBBBBBBBBB\x00", overwrite: "a long new title", want: "a long new titleBBBBBBB\x00"},
		{name: "retitled into env", args: "p\x00", env: "A=1\x00B", overwrite: "xy", want: "xyA=1\x00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			io, argv, envv := layout(c.args, c.env)
			copy(io.Bytes[base:], c.overwrite)
			got, err := readCmdline(ctx, io, argv, envv, usermem.IOOpts{})
			if err != nil {
				t.Fatalf("readCmdline: %v", err)
			}
			if diff := cmp.Diff(c.want, string(got)); diff != "" {
				t.Errorf("readCmdline (-want +got):\n%s", diff)
			}
			env, err := readEnviron(ctx, io, envv, usermem.IOOpts{})
			if err != nil || string(env) != string(io.Bytes[envv.Start:envv.End]) {
				t.Errorf("readEnviron = %q, %v, want %q", env, err, io.Bytes[envv.Start:envv.End])
			}
		})
	}

	// Memory that cannot be read fails.
	io, argv, envv := layout("prog\x00", "A=1\x00")
	io.Bytes = io.Bytes[:base+2]
	if _, err := readCmdline(ctx, io, argv, envv, usermem.IOOpts{}); err != unix.EFAULT {
		t.Errorf("readCmdline of unmapped memory: %v, want EFAULT", err)
	}
}

func TestRewriteLoadavg(t *testing.T) {
	got := rewriteLoadavg("0.54 0.79 1.77 3/115 4874\n", 1, 4, 9)
	if want := "0.54 0.79 1.77 1/4 9\n"; got != want {
		t.Errorf("rewriteLoadavg = %q, want %q", got, want)
	}
}
