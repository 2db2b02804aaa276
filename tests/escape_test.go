package tests

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// The escape suite: escape.c tries every way it knows to reach the host
// kernel, or another host process, without the sentry: int 0x80, sysenter,
// the vsyscall page, the stub's own page, mappings over the stub,
// ptrace(2), process_vm_writev(2) and /proc aimed at host processes
// (minisentry itself included), and directory descriptors against --root.
// Each attempt must fail with an errno or a signal, and each test looks on
// the host for the attempt's side effect (a directory, a victim's memory,
// a time written into a buffer, a canary) to prove that the host did not
// run the call. Where it can, a test first runs the probe natively, where
// the attempt does get through, to show that the side effect check would
// see it.
//
// The platform's own tests check the same holes below the kernel, with
// hand-assembled code: TestInt80IsRefusedNotRun, TestVsyscallIsTrappedNotRun,
// TestStubPageIsNotTheApplications, and TestSeccompKillsForeignSyscalls,
// which runs a syscall instruction outside the stub's gadgets without
// PTRACE_SYSEMU and checks that the stub's seccomp filter kills the stub
// (platform/ptrace/machine_code_test.go). An application cannot get there:
// every one of its syscall instructions stops under SYSEMU first.

func init() {
	programs["escape"] = staticLibcs
}

// probeResults parses the probe's "what: result" lines. A what printed
// twice keeps its last result.
func probeResults(stdout string) map[string]string {
	res := make(map[string]string)
	for _, line := range strings.Split(stdout, "\n") {
		if i := strings.LastIndex(line, ": "); i > 0 {
			res[line[:i]] = line[i+2:]
		}
	}
	return res
}

// wantResults checks that each what in want was printed with a result
// matching its pattern.
func wantResults(t *testing.T, o outcome, want map[string]string) {
	t.Helper()
	got := probeResults(o.Stdout)
	for what, pattern := range want {
		r, ok := got[what]
		if !ok {
			t.Errorf("%q: not printed", what)
			continue
		}
		if !regexp.MustCompile("^(" + pattern + ")$").MatchString(r) {
			t.Errorf("%q: got %q, want %s", what, r, pattern)
		}
	}
	if t.Failed() {
		t.Logf("the probe's output:\n%s", showOutcome(o))
	}
}

// mustNotExist fails the test if path exists on the host.
func mustNotExist(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was carried out: %s exists (%v)", what, path, err)
	}
}

// TestEscapeInt80: a 32-bit system call through int 0x80 is refused with
// ENOSYS and the program goes on; natively, it makes the directory and
// writes its line.
func TestEscapeInt80(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		dir := t.TempDir()
		target := filepath.Join(dir, "int80")
		inv := invocation{args: []string{"int80", dir}}
		native, how := runNative(t, bin, inv)
		if native.Status != 0 || !strings.Contains(native.Stdout, "INT80-WROTE-THIS") || os.Remove(target) != nil {
			t.Fatalf("natively (%s), int 0x80 did not make %s and write its line: the probe is broken\n%s", how, target, showOutcome(native))
		}
		requireSentry(t)
		got, how := runSentry(t, bin, inv)
		if got.Status != 0 {
			t.Errorf("under minisentry: %s, want exit status 0", how)
		}
		if strings.Contains(got.Stdout, "INT80-WROTE-THIS") {
			t.Errorf("the host ran the 32-bit write: its line is in the output")
		}
		wantResults(t, got, map[string]string{
			"int80 mkdir":              "ENOSYS",
			"int80 write":              "ENOSYS",
			"int80 made the directory": "no",
		})
		if !strings.Contains(got.Stdout, "alive after int80\n") {
			t.Errorf("the program did not go on after int 0x80:\n%s", showOutcome(got))
		}
		mustNotExist(t, target, "int 0x80 mkdir")
	})
}

// TestEscapeSysenter: sysenter from 64-bit code is a 32-bit system call
// too. On Intel CPUs the host runs it natively (the directory appears) and
// the program dies on the way back; under minisentry it is refused, and
// the program dies of the same bad return. AMD CPUs have no sysenter in
// 64-bit mode: it is an invalid opcode (SIGILL) natively and under
// minisentry alike, and the test can only check that nothing ran.
func TestEscapeSysenter(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		dir := t.TempDir()
		target := filepath.Join(dir, "sysenter")
		inv := invocation{args: []string{"sysenter", dir}}
		native, how := runNative(t, bin, inv)
		made := os.Remove(target) == nil
		invalid := strings.Contains(native.Stdout, "sysenter mkdir: killed by SIGILL\n")
		switch {
		case native.Status == 0 && !made && invalid:
			t.Logf("natively, sysenter is an invalid instruction on this CPU (an AMD one): it cannot reach the host")
		case native.Status != 0 || !made:
			t.Fatalf("natively (%s), sysenter did not make %s: the probe is broken\n%s", how, target, showOutcome(native))
		}
		requireSentry(t)
		got, how := runSentry(t, bin, inv)
		if got.Status != 0 {
			t.Errorf("under minisentry: %s, want exit status 0", how)
		}
		wantResults(t, got, map[string]string{
			"sysenter mkdir":              "killed by (SIGSEGV|SIGILL|SIGBUS)",
			"sysenter made the directory": "no",
		})
		mustNotExist(t, target, "sysenter mkdir")
	})
}

// TestEscapeVsyscall: a call into the vsyscall page, which the host would
// serve without any ptrace stop, kills the program with SIGSEGV, and the
// buffer the call would have filled stays as it was.
func TestEscapeVsyscall(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		inv := invocation{args: []string{"vsyscall"}}
		native, how := runNative(t, bin, inv)
		if native.Status != 0 || !strings.Contains(native.Stdout, "vsyscall time left the buffer untouched: no") {
			// A host booted with vsyscall=none faults too; there is
			// nothing to prove against.
			t.Logf("natively (%s), vsyscall time did not write the buffer:\n%s", how, showOutcome(native))
		}
		requireSentry(t)
		got, how := runSentry(t, bin, inv)
		if got.Status != 0 {
			t.Errorf("under minisentry: %s, want exit status 0", how)
		}
		want := map[string]string{}
		for _, call := range []string{"gettimeofday", "time", "getcpu"} {
			want["vsyscall "+call] = "killed by SIGSEGV"
			want["vsyscall "+call+" left the buffer untouched"] = "yes"
		}
		wantResults(t, got, want)
		if strings.Contains(got.Stdout, "returned") {
			t.Errorf("a vsyscall call returned to the program:\n%s", showOutcome(got))
		}
	})
}

// TestEscapeStubPage: the stub's page is in every stub process, at the
// same place, but the application must find nothing there: running its
// syscall instruction (which mkdirs if the sentry serves it), its int3 or
// its header's bytes dies of SIGSEGV, as natively, where nothing is
// mapped there, and writing to it faults.
//
// Reading it is the exception: without execute-only pages (x86 needs
// protection keys for them), the host lets a process read any page it can
// execute, so the application reads the stub's ELF header where a native
// program faults. The page holds only the stub's code and seccomp filter,
// which are public; the test accepts either.
func TestEscapeStubPage(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		dir := t.TempDir()
		target := filepath.Join(dir, "stubcall")
		inv := invocation{args: []string{"stubpage", dir}}
		requireSentry(t)
		got, how := runSentry(t, bin, inv)
		if got.Status != 0 {
			t.Errorf("under minisentry: %s, want exit status 0", how)
		}
		wantResults(t, got, map[string]string{
			"stub syscall gadget":             "killed by SIGSEGV",
			"stub syscall made the directory": "no",
			"stub jump to the page's start":   "killed by SIGSEGV",
			"stub jump to the entry":          "killed by SIGSEGV",
			"stub write":                      "killed by SIGSEGV",
			"stub read":                       "killed by SIGSEGV|exited 0",
		})
		if r := probeResults(got.Stdout)["stub read"]; r == "exited 0" && !strings.Contains(got.Stdout, "stub read: 7f 45 4c 46\n") {
			t.Errorf("reading the stub's page showed something other than its ELF header:\n%s", showOutcome(got))
		}
		mustNotExist(t, target, "mkdir through the stub's syscall gadget")
	})
}

// TestEscapeStubMap: mmap with MAP_FIXED, mprotect, madvise, munmap,
// mremap and brk aimed at the stub's page each fail or do nothing to the
// stub: afterwards the program still gets new memory (an injected mmap),
// forks (a new stub) and writes. /proc/self/maps never shows the stub.
// There is no native run: natively there is no stub, and the address is
// free for the taking.
func TestEscapeStubMap(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		requireSentry(t)
		got, how := runSentry(t, bin, invocation{args: []string{"stubmap"}})
		if got.Status != 0 || !strings.HasSuffix(got.Stdout, "\n0 checks failed\n") {
			t.Errorf("under minisentry: %s, want exit status 0 and no failed check\n%s", how, showOutcome(got))
		}
		const refused = "ENOMEM|EINVAL|EFAULT|EEXIST|EPERM|ENOSYS"
		wantResults(t, got, map[string]string{
			"stub in /proc/self/maps":                  "no",
			"mmap MAP_FIXED over the stub":             refused,
			"mmap MAP_FIXED_NOREPLACE across the stub": refused,
			"mmap MAP_FIXED above the stub":            refused,
			"mmap hint at the stub lands in the stub":  "no",
			"mprotect the stub":                        refused,
			"mprotect the stub PROT_NONE":              refused,
			"pkey_mprotect the stub":                   refused,
			"madvise the stub":                         refused,
			"munmap the stub":                          refused + "|0",
			"munmap the stub and everything above":     refused + "|0",
			"mremap onto the stub":                     refused,
			"mremap the stub":                          refused,
			"brk up to the stub":                       "refused",
		})
	})
}

// escapeSecret marks the environment of the host processes the probe
// attacks: a probe that prints it has read their memory.
const escapeSecret = "MINISENTRY_ESCAPE_SECRET=SECRET of a host process"

// victim is a host process for the probe to attack: `escape victim`,
// which holds a buffer the attacks try to overwrite and counts the
// SIGUSR1s it gets.
type victim struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	// pid and addr are its pid and the address of its buffer.
	pid, addr string
}

func startVictim(t *testing.T, bin string) *victim {
	t.Helper()
	cmd := exec.Command(bin, "victim")
	cmd.Env = append(append([]string{}, testEnv...), escapeSecret)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &victim{cmd: cmd, stdin: stdin, lines: make(chan string, 8)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			v.lines <- sc.Text()
		}
		close(v.lines)
	}()
	line := v.next(t)
	if _, err := fmt.Sscanf(line, "victim %s %s", &v.pid, &v.addr); err != nil {
		t.Fatalf("the victim said %q: %v", line, err)
	}
	return v
}

// next returns the victim's next line of output.
func (v *victim) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-v.lines:
		if !ok {
			t.Fatalf("the victim ended early")
		}
		return line
	case <-time.After(runTimeout):
		t.Fatalf("the victim said nothing for %v", runTimeout)
	}
	return ""
}

// report ends the victim and returns what it says happened to it: its
// buffer, the SIGUSR1s it got, and whether it is being traced.
func (v *victim) report(t *testing.T) string {
	t.Helper()
	// A native PTRACE_ATTACH may have left it stopped.
	v.cmd.Process.Signal(syscall.SIGCONT)
	v.stdin.Close()
	return v.next(t)
}

// untouchedVictim is what a victim reports when nothing reached it.
const untouchedVictim = "buffer VICTIM-UNTOUCHED usr1 0 tracer no"

// runAgainstSentry runs the probe under minisentry with args, followed by
// "sentry PID" where PID is minisentry's own: a shell learns its pid and
// execs minisentry in its place. minisentry's environment holds a secret;
// the program's is empty (--clear-env).
func runAgainstSentry(t *testing.T, bin string, args ...string) (outcome, string) {
	t.Helper()
	script := `exec "$@" sentry "$$"`
	argv := append([]string{"/bin/sh", "-c", script, "sh", sentryPath, "run", "--clear-env", "--", bin}, args...)
	env := append(append([]string{}, testEnv...), escapeSecret)
	return run(t, argv, env, "", "", func(s syscall.Signal) int { return -int(s) })
}

// attackLine matches the probe's lines about one call aimed at a process.
var attackLine = regexp.MustCompile(`^(victim|sentry|parent|pid \d+) ([a-z_]+( PTRACE_[A-Z]+| SIGUSR1)?): (.*)$`)

// TestEscapeOtherProcesses: ptrace(2), process_vm_writev(2) and readv,
// pidfds and signals aimed at host processes (a victim the test starts,
// and minisentry itself) fail with ENOSYS, EPERM or ESRCH, and so do they
// aimed at the parent and at every small pid. The victim's memory stays
// as it was, it gets no signal and no tracer, and minisentry finishes
// with the program's status. Natively the same probe overwrites the
// victim's buffer and signals it.
func TestEscapeOtherProcesses(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		v := startVictim(t, bin)
		native, how := runNative(t, bin, invocation{args: []string{"ptrace", v.pid, v.addr}})
		if r := v.report(t); native.Status != 0 || !strings.Contains(r, "PWNED") || !strings.Contains(r, "usr1 2") {
			t.Fatalf("natively (%s) the probe did not reach its victim, which says %q: the probe is broken\n%s", how, r, showOutcome(native))
		}

		requireSentry(t)
		v = startVictim(t, bin)
		got, how := runAgainstSentry(t, bin, "ptrace", v.pid, v.addr, "range", "16")
		if r := v.report(t); r != untouchedVictim {
			t.Errorf("the victim says %q, want %q", r, untouchedVictim)
		}
		if got.Status != 0 {
			t.Errorf("under minisentry: %s, want exit status 0\n%s", how, showOutcome(got))
		}
		n := 0
		for _, line := range strings.Split(got.Stdout, "\n") {
			m := attackLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			if !regexp.MustCompile(`^(ENOSYS|EPERM|ESRCH)$`).MatchString(m[4]) {
				t.Errorf("%s %s: got %s, want ENOSYS, EPERM or ESRCH", m[1], m[2], m[4])
			}
		}
		// victim and sentry: 6 calls each; parent and 16 pids: 6 each;
		// the two kills of the victim.
		if want := 6*19 + 2; n != want {
			t.Errorf("the probe reported %d attacks, want %d:\n%s", n, want, showOutcome(got))
		}
	})
}

// TestEscapeProc: /proc/PID/mem, environ, root, cwd, exe and the like of a
// host process (a victim, minisentry itself) are not in the sandbox's
// /proc, whose pids are the sandbox's: opening them fails, and nothing
// the probe reads holds a host process's secret. Natively the probe
// writes into the victim through /proc/PID/mem.
func TestEscapeProc(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		v := startVictim(t, bin)
		native, how := runNative(t, bin, invocation{args: []string{"procfs", v.pid, v.addr}})
		if r := v.report(t); native.Status != 0 || !strings.Contains(r, "PWNED") || !strings.Contains(native.Stdout, "victim open /proc/PID/environ: opened, LEAKED a secret") {
			t.Fatalf("natively (%s) the probe did not reach its victim, which says %q: the probe is broken\n%s", how, r, showOutcome(native))
		}

		requireSentry(t)
		v = startVictim(t, bin)
		got, how := runAgainstSentry(t, bin, "procfs", v.pid, v.addr, "range", "16")
		if r := v.report(t); r != untouchedVictim {
			t.Errorf("the victim says %q, want %q", r, untouchedVictim)
		}
		if got.Status != 0 {
			t.Errorf("under minisentry: %s, want exit status 0\n%s", how, showOutcome(got))
		}
		if strings.Contains(got.Stdout, "LEAKED") {
			t.Errorf("the probe read a host process's secret:\n%s", showOutcome(got))
		}
		hostLine := regexp.MustCompile(`^(victim|sentry) (open|pwrite|readlink) (/proc/PID/\S+): (.*)$`)
		n := 0
		for _, line := range strings.Split(got.Stdout, "\n") {
			m := hostLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			if !regexp.MustCompile(`^E[A-Z]+$`).MatchString(m[4]) {
				t.Errorf("%s %s %s: got %q, want an errno", m[1], m[2], m[3], m[4])
			}
		}
		// mem, eight files and exe, for each of the two.
		if n != 2*10 {
			t.Errorf("the probe reported %d attempts on host processes, want 20:\n%s", n, showOutcome(got))
		}
	})
}

// hostProcLine matches the probe's lines about one file of a procfs
// reached without naming /proc.
var hostProcLine = regexp.MustCompile(`^(symlink to /|symlink to /, \.\.|openat2 beneath /|openat2 in root /|procfs at /hostproc) \S+: .*$`)

// TestEscapeHostProc: the host's procfs, where "self" is minisentry
// itself (its memory, its descriptors), cannot be reached by a path that
// does not name /proc: a symlink to "/" then proc/self/mem, openat2
// beneath a descriptor of "/", or (under --root, as root) a procfs
// mounted inside the root. Every such lookup fails with EACCES. Natively
// each of these reaches the probe's own procfs, which shows the probe
// works.
func TestEscapeHostProc(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, got outcome, how string, want []string) {
		t.Helper()
		if got.Status != 0 || !strings.HasSuffix(got.Stdout, "\n0 checks failed\n") {
			t.Errorf("hostproc under minisentry: %s\n%s", how, showOutcome(got))
		}
		var lines []string
		for _, line := range strings.Split(got.Stdout, "\n") {
			if hostProcLine.MatchString(line) {
				lines = append(lines, line)
			}
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("what the probe reached under minisentry (-want +got):\n%s", diff)
		}
	}
	// attempts are the probe's lines for one base, each with result.
	attempts := func(base, result string) []string {
		return []string{base + " self/status: " + result, base + " self/mem: " + result, base + " self/maps: " + result}
	}
	openat2 := func(result string) []string {
		return []string{
			"openat2 beneath / proc/self/status: " + result,
			"openat2 beneath / proc/self/mem: " + result,
			"openat2 in root / proc/self/fd: " + result,
		}
	}
	forEach(t, "escape", func(t *testing.T, bin string) {
		noteInputs()
		dir := t.TempDir()
		native, how := runNative(t, bin, invocation{args: []string{"hostproc", dir}})
		if native.Status != 0 || strings.Count(native.Stdout, "self/status: opened, ours") != 2 ||
			!strings.Contains(native.Stdout, "openat2 beneath / proc/self/mem: a descriptor") {
			t.Fatalf("natively (%s) the probe did not reach its own procfs: the probe is broken\n%s", how, showOutcome(native))
		}
		requireSentry(t)
		got, how := runSentry(t, bin, invocation{args: []string{"hostproc", dir}})
		var want []string
		want = append(want, attempts("symlink to /", "EACCES")...)
		want = append(want, attempts("symlink to /, ..", "EACCES")...)
		want = append(want, openat2("EACCES")...)
		want = append(want, attempts("procfs at /hostproc", "ENOENT")...)
		check(t, got, how, want)

		t.Run("procfs in the root", func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("mounting a procfs needs root")
			}
			root, _, checkCanaries := confinedRoot(t, bin)
			mnt := filepath.Join(root, "hostproc")
			if err := os.Mkdir(mnt, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mount("proc", mnt, "proc", 0, ""); err != nil {
				t.Fatalf("mount -t proc proc %s: %v", mnt, err)
			}
			// Before the temporary directory is removed.
			t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
			got, how := runSentry(t, "/confine", invocation{args: []string{"hostproc", "/"}}, "--root", root)
			// The root has no /proc of the host's: "/up/proc" is
			// missing, and "/up/../proc" cleans to the sandbox's own.
			var want []string
			want = append(want, attempts("symlink to /", "ENOENT")...)
			want = append(want, "symlink to /, .. self/status: opened, ours")
			want = append(want, openat2("ENOENT")...)
			want = append(want, attempts("procfs at /hostproc", "EACCES")...)
			check(t, got, how, want)
			checkCanaries()
		})
	})
}

// TestEscapeFDTricks: under --root, descriptors of directories opened
// before a chdir, "..", fchdir, renames under open descriptors, planted
// links, /proc/self/fd links, openat2 and chroot lead nowhere outside the
// root: the canaries outside are neither read nor changed, and nothing
// appears beside them. (confine.c tries paths; this tries descriptors.)
func TestEscapeFDTricks(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		requireSentry(t)
		noteInputs()
		// confinedRoot installs the program as /confine in the root.
		root, canaryPaths, check := confinedRoot(t, bin)
		outside := []string{filepath.Dir(filepath.Dir(root)), filepath.Dir(root)}
		before := map[string]string{}
		for _, dir := range outside {
			before[dir] = listDir(t, dir)
		}
		got, how := runSentry(t, "/confine", invocation{args: append([]string{"fdtricks"}, canaryPaths...)}, "--root", root)
		if got.Status != 0 || strings.Contains(got.Stdout, "LEAKED") || !strings.HasSuffix(got.Stdout, "\n0 checks failed\n") {
			t.Errorf("fdtricks under --root %s: %s\n%s", root, how, showOutcome(got))
		}
		check()
		for _, dir := range outside {
			if after := listDir(t, dir); after != before[dir] {
				t.Errorf("%s changed: was %q, now %q", dir, before[dir], after)
			}
		}
	})
}

// TestEscapeDevices: the tree under --root is nodev. Making a device node
// fails with EPERM, so the application cannot make its own way to the
// host's disk or memory, and a device node already there (the test
// leaves one with /dev/null's numbers) can be stat'ed and opened O_PATH
// but never opened for I/O, not even through /proc/self/fd. Afterwards
// the root holds no device but the test's own.
func TestEscapeDevices(t *testing.T) {
	t.Parallel()
	forEach(t, "escape", func(t *testing.T, bin string) {
		requireSentry(t)
		noteInputs()
		if os.Geteuid() != 0 {
			// The attack is root's: only root may make device nodes,
			// natively or through the sentry. CI runs as root.
			t.Skip("making device nodes needs root")
		}
		root, _, check := confinedRoot(t, bin)
		if err := unix.Mknod(filepath.Join(root, "hostnull"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatalf("making %s/hostnull: %v", root, err)
		}
		got, how := runSentry(t, "/confine", invocation{args: []string{"devices"}}, "--root", root)
		if got.Status != 0 || !strings.HasSuffix(got.Stdout, "\n0 checks failed\n") {
			t.Errorf("devices under --root %s: %s\n%s", root, how, showOutcome(got))
		}
		check()
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeDevice != 0 && path != filepath.Join(root, "hostnull") {
				t.Errorf("a device node was left in the root: %s", path)
			}
			return nil
		})
	})
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}
