/*
 * escape: tries to reach the host kernel, or another host process, without
 * going through the sentry. It is a probe, not a self-check: it prints
 * what each attempt did, and the test (escape_test.go) decides, from that
 * and from side effects it looks for on the host, whether the attempt got
 * through. Natively most attempts do get through; that run shows the probe
 * works.
 *
 * usage:
 *	escape int80 DIR            int 0x80: mkdir DIR/int80 and a write
 *	escape sysenter DIR         sysenter: mkdir DIR/sysenter
 *	escape vsyscall             calls into the vsyscall page
 *	escape stubpage DIR         runs, reads and writes the stub's page
 *	escape stubmap              mmap/mprotect/munmap/mremap over the stub
 *	escape victim               a host process for the others to attack
 *	escape ptrace PID ADDR...   ptrace and process_vm_* at host pids
 *	escape procfs PID ADDR...   /proc/PID/mem and friends of host pids
 *	escape fdtricks CANARY...   directory descriptors against --root
 *	escape hostproc DIR         the host's procfs, by ways that do not
 *	                            name /proc: a symlink DIR/up to "/",
 *	                            openat2 beneath "/", a procfs at /hostproc
 *	escape ttyattr              changes the owner, mode and times of the
 *	                            host's /dev/tty through its descriptor
 *	escape devices              device nodes under --root: making one,
 *	                            and opening /hostnull, which the test
 *	                            made with /dev/null's numbers
 *
 * Each attempt that may kill the program runs in a child, whose end the
 * parent reports ("killed by SIGSEGV").
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Where minisentry puts its stub (platform/ptrace/stub.go). */
#define STUB_BASE 0x7ff000000000UL
#define STUB_SYSCALL (STUB_BASE + 0x90)

/* i386 system call numbers. */
#define I386_WRITE 4
#define I386_MKDIR 39

/* What the attacks write into the victim, and what it holds until then. */
#define PWNED "PWNED-BY-ESCAPE!"
#define UNTOUCHED "VICTIM-UNTOUCHED"

static const char *signame(int sig)
{
	switch (sig) {
	case SIGILL: return "SIGILL";
	case SIGTRAP: return "SIGTRAP";
	case SIGBUS: return "SIGBUS";
	case SIGSEGV: return "SIGSEGV";
	case SIGSYS: return "SIGSYS";
	case SIGKILL: return "SIGKILL";
	default: {
		static char buf[16];
		snprintf(buf, sizeof buf, "signal %d", sig);
		return buf;
	}
	}
}

/* result formats a raw system call's return: the errno name, or the value. */
static const char *result(long r)
{
	static char buf[32];
	if (r < 0 && r > -4096)
		return errname((int)-r);
	snprintf(buf, sizeof buf, "%ld", r);
	return buf;
}

/* libc_result is result for a libc call that returned -1 and set errno. */
static const char *libc_result(long r)
{
	return r == -1 ? errname(errno) : result(r);
}

/*
 * in_child runs f(arg) in a child process and prints how the child ended
 * after what: "vsyscall time: killed by SIGSEGV". A child that returns
 * from f exits 0.
 */
static void in_child(const char *what, void (*f)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("%s: fork: %s\n", what, errname(errno));
		return;
	}
	if (pid == 0) {
		f(arg);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		printf("%s: waitpid: %s\n", what, errname(errno));
		return;
	}
	if (WIFSIGNALED(status))
		printf("%s: killed by %s\n", what, signame(WTERMSIG(status)));
	else
		printf("%s: exited %d\n", what, WEXITSTATUS(status));
}

/* low_page returns a fresh page below 4 GiB, where 32-bit calls can
 * point. */
static char *low_page(void)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p == MAP_FAILED || (uintptr_t)p >= 1UL << 32) {
		printf("no memory below 4 GiB: %s\n", errname(errno));
		exit(2);
	}
	return p;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- int 0x80 ---- */

static long int80(long nr, long a1, long a2, long a3)
{
	long ret;
	/* The host clears r8-r11 on the way back from int 0x80. */
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a1), "c"(a2), "d"(a3)
			 : "memory", "r8", "r9", "r10", "r11");
	return (int)ret; /* a 32-bit result */
}

static void try_int80(const char *dir)
{
	char *low = low_page();
	snprintf(low, 1024, "%s/int80", dir);
	const char *msg = "INT80-WROTE-THIS\n";
	strcpy(low + 1024, msg);
	printf("int80 mkdir: %s\n", result(int80(I386_MKDIR, (long)low, 0755, 0)));
	fflush(stdout);
	printf("int80 write: %s\n", result(int80(I386_WRITE, 1, (long)(low + 1024), strlen(msg))));
	printf("int80 made the directory: %s\n", exists(low) ? "yes" : "no");
	/* A 64-bit call with the number of i386 write reads as writev(2):
	 * orig_rax alone must not decide. The program is still alive to say
	 * so. */
	printf("alive after int80\n");
}

/* ---- sysenter ---- */

/*
 * do_sysenter(nr, a1, a2, stack) runs sysenter with ebx = a1, ecx = a2 and
 * a stack below 4 GiB, where the host's 32-bit entry looks for the user's
 * ebp. The host returns to a 32-bit landing pad that a 64-bit process does
 * not have, so natively the caller dies after the call ran.
 */
long do_sysenter(long nr, long a1, long a2, long stack);
__asm__(".text\n"
	".globl do_sysenter\n"
	"do_sysenter:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	mov %rcx, %r13\n"
	"	mov %rdi, %rax\n"
	"	mov %rsi, %rbx\n"
	"	mov %rdx, %rcx\n"
	"	mov %rsp, %r12\n"
	"	mov %r13, %rsp\n"
	"	mov %rsp, %rbp\n"
	"	sysenter\n"
	"	mov %r12, %rsp\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n");

static void sysenter_child(void *arg)
{
	char *low = arg;
	long r = do_sysenter(I386_MKDIR, (long)low, 0755, (long)(low + 4096 - 64));
	printf("sysenter returned %s\n", result(r));
}

static void try_sysenter(const char *dir)
{
	char *low = low_page();
	snprintf(low, 1024, "%s/sysenter", dir);
	in_child("sysenter mkdir", sysenter_child, low);
	printf("sysenter made the directory: %s\n", exists(low) ? "yes" : "no");
}

/* ---- the vsyscall page ---- */

struct vcall {
	const char *name;
	unsigned long addr;
	unsigned char *buf; /* shared with the parent */
};

static void vsyscall_child(void *arg)
{
	struct vcall *v = arg;
	long (*fn)(void *, void *) = (long (*)(void *, void *))ptr(v->addr);
	/* time(buf), gettimeofday(buf, NULL), getcpu(buf, buf+8, NULL) */
	fn(v->buf, strcmp(v->name, "getcpu") == 0 ? v->buf + 8 : NULL);
	printf("vsyscall %s returned\n", v->name);
}

static void try_vsyscall(void)
{
	/* Shared, so that the parent sees what the host wrote in the
	 * child's memory. */
	unsigned char *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct vcall calls[] = {
		{"gettimeofday", 0xffffffffff600000UL, buf},
		{"time", 0xffffffffff600400UL, buf},
		{"getcpu", 0xffffffffff600800UL, buf},
	};
	for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		memset(buf, 0xa5, 64);
		char what[64];
		snprintf(what, sizeof what, "vsyscall %s", calls[i].name);
		in_child(what, vsyscall_child, &calls[i]);
		int untouched = 1;
		for (int j = 0; j < 64; j++)
			untouched &= buf[j] == 0xa5;
		printf("vsyscall %s left the buffer untouched: %s\n", calls[i].name, untouched ? "yes" : "no");
	}
}

/* ---- the stub's page ---- */

static void stub_syscall_child(void *arg)
{
	/* mkdir(arg, 0755) through the stub's own syscall instruction. */
	__asm__ volatile("jmp *%0" : : "r"(STUB_SYSCALL), "a"((long)SYS_mkdir), "D"(arg), "S"(0755L) : "memory");
}

static void stub_jump_child(void *arg)
{
	((void (*)(void))ptr((unsigned long)arg))();
}

static void stub_read_child(void *arg)
{
	(void)arg;
	volatile unsigned char *p = ptr(STUB_BASE);
	printf("stub read: %02x %02x %02x %02x\n", p[0], p[1], p[2], p[3]);
}

static void stub_write_child(void *arg)
{
	(void)arg;
	volatile unsigned char *p = ptr(STUB_SYSCALL);
	p[0] = 0xc3;
	printf("stub write: done\n");
}

static void try_stubpage(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/stubcall", dir);
	in_child("stub syscall gadget", stub_syscall_child, path);
	printf("stub syscall made the directory: %s\n", exists(path) ? "yes" : "no");
	in_child("stub jump to the page's start", stub_jump_child, ptr(STUB_BASE));
	in_child("stub jump to the entry", stub_jump_child, ptr(STUB_BASE + 0x80));
	in_child("stub read", stub_read_child, NULL);
	in_child("stub write", stub_write_child, NULL);
}

/* ---- mapping over the stub ---- */

/* still_works checks that the process can still do what needs the stub:
 * new memory (an injected mmap), a child process, output. */
static void still_works(const char *after)
{
	char what[128];
	volatile char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok = p != MAP_FAILED;
	if (ok) {
		for (int i = 0; i < 1 << 20; i += 4096)
			p[i] = (char)i;
		for (int i = 0; i < 1 << 20; i += 4096)
			ok &= p[i] == (char)i;
		munmap((void *)p, 1 << 20);
	}
	snprintf(what, sizeof what, "fresh memory works after %s", after);
	check(what, ok);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(42);
	int status = 0;
	snprintf(what, sizeof what, "fork and wait work after %s", after);
	check(what, pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 42);
}

/* stub_listed reports whether /proc/self/maps shows anything at the
 * stub. */
static int stub_listed(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long start, end;
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start < STUB_BASE + 4096 && end > STUB_BASE)
			found = 1;
	}
	fclose(f);
	return found;
}

static void try_stubmap(void)
{
	long r;
	printf("stub in /proc/self/maps: %s\n", stub_listed() ? "yes" : "no");

	r = syscall(SYS_mmap, STUB_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap MAP_FIXED over the stub: %s\n", libc_result(r));
	if (r != -1) {
		/* It claims to have worked: overwrite what is there. */
		memset(ptr(STUB_BASE), 0xcc, 4096);
	}
	still_works("mmap MAP_FIXED");
	r = syscall(SYS_mmap, STUB_BASE - 4096 * 16, 4096 * 32, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("mmap MAP_FIXED_NOREPLACE across the stub: %s\n", libc_result(r));
	r = syscall(SYS_mmap, STUB_BASE + 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	printf("mmap MAP_FIXED above the stub: %s\n", libc_result(r));
	r = syscall(SYS_mmap, STUB_BASE, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap hint at the stub lands in the stub: %s\n",
	       r != -1 && (unsigned long)r >= STUB_BASE && (unsigned long)r < STUB_BASE + 4096 ? "yes" : "no");
	if (r != -1 && ((unsigned long)r < STUB_BASE || (unsigned long)r >= STUB_BASE + 4096))
		munmap((void *)r, 4096);

	r = syscall(SYS_mprotect, STUB_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
	printf("mprotect the stub: %s\n", libc_result(r));
	r = syscall(SYS_mprotect, STUB_BASE, 4096, PROT_NONE);
	printf("mprotect the stub PROT_NONE: %s\n", libc_result(r));
	r = syscall(SYS_pkey_mprotect, STUB_BASE, 4096, PROT_NONE, 0);
	printf("pkey_mprotect the stub: %s\n", libc_result(r));
	r = syscall(SYS_madvise, STUB_BASE, 4096, MADV_DONTNEED);
	printf("madvise the stub: %s\n", libc_result(r));
	still_works("mprotect");

	r = syscall(SYS_munmap, STUB_BASE, 4096);
	printf("munmap the stub: %s\n", libc_result(r));
	r = syscall(SYS_munmap, STUB_BASE, 0x7ffffffff000UL - STUB_BASE);
	printf("munmap the stub and everything above: %s\n", libc_result(r));
	still_works("munmap");

	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page[0] = 1;
	r = syscall(SYS_mremap, page, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, STUB_BASE);
	printf("mremap onto the stub: %s\n", libc_result(r));
	r = syscall(SYS_mremap, STUB_BASE, 4096, 8192, MREMAP_MAYMOVE);
	printf("mremap the stub: %s\n", libc_result(r));
	r = syscall(SYS_brk, STUB_BASE + 4096);
	printf("brk up to the stub: %s\n", (unsigned long)r == STUB_BASE + 4096 ? "moved there" : "refused");
	still_works("mremap and brk");
	printf("stub in /proc/self/maps: %s\n", stub_listed() ? "yes" : "no");
}

/* ---- another host process ---- */

/*
 * The victim holds a buffer that the attacks try to overwrite, counts the
 * SIGUSR1s it gets, and tells, when its standard input has a line (or
 * ends), what happened to it.
 */
static char victim_buf[64] = UNTOUCHED;
static volatile sig_atomic_t usr1_count;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static void victim(void)
{
	signal(SIGUSR1, on_usr1);
	printf("victim %d %#lx\n", (int)getpid(), (unsigned long)victim_buf);
	fflush(stdout);
	char line[16];
	while (read(0, line, sizeof line) < 0 && errno == EINTR)
		;
	int tracer = -1;
	FILE *f = fopen("/proc/self/status", "r");
	char s[256];
	while (f && fgets(s, sizeof s, f))
		sscanf(s, "TracerPid: %d", &tracer);
	if (f)
		fclose(f);
	printf("buffer %.16s usr1 %d tracer %s\n", victim_buf, (int)usr1_count, tracer > 0 ? "yes" : "no");
}

/*
 * try_ptrace attacks pid: ptrace, process_vm_writev and readv, a pidfd.
 * addr is where the victim's buffer lies. It prints one line per call.
 */
static void try_ptrace(const char *who, int pid, unsigned long addr)
{
	char local[] = PWNED;
	struct iovec lv = {local, 16}, rv = {(void *)addr, 16};
	long word;
	memcpy(&word, PWNED, sizeof word);

	printf("%s process_vm_writev: %s\n", who, libc_result(syscall(SYS_process_vm_writev, pid, &lv, 1, &rv, 1, 0)));
	printf("%s process_vm_readv: %s\n", who, libc_result(syscall(SYS_process_vm_readv, pid, &lv, 1, &rv, 1, 0)));
	printf("%s ptrace PTRACE_POKEDATA: %s\n", who, libc_result(syscall(SYS_ptrace, 5 /* POKEDATA */, pid, addr, word)));
	long r = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, pid, 0, 0);
	printf("%s ptrace PTRACE_ATTACH: %s\n", who, libc_result(r));
	if (r == 0) {
		waitpid(pid, NULL, __WALL);
		syscall(SYS_ptrace, 5, pid, addr, word);
		syscall(SYS_ptrace, 17 /* PTRACE_DETACH */, pid, 0, 0);
	}
	printf("%s ptrace PTRACE_SEIZE: %s\n", who, libc_result(syscall(SYS_ptrace, 0x4206, pid, 0, 0)));
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	printf("%s pidfd_open: %s\n", who, pidfd >= 0 ? "a descriptor" : errname(errno));
	if (pidfd >= 0) {
		printf("%s pidfd_getfd: %s\n", who, libc_result(syscall(SYS_pidfd_getfd, pidfd, 0, 0)));
		close(pidfd);
	}
}

/* try_procfs reaches pid through /proc: mem, environ, its root, cwd and
 * descriptors. */
static void try_procfs(const char *who, int pid, unsigned long addr)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/mem", pid);
	int fd = open(path, O_RDWR);
	printf("%s open /proc/PID/mem: %s\n", who, fd >= 0 ? "a descriptor" : errname(errno));
	if (fd >= 0) {
		printf("%s pwrite /proc/PID/mem: %s\n", who, libc_result(pwrite(fd, PWNED, 16, (off_t)addr)));
		close(fd);
	}
	static const char *files[] = {"environ", "cmdline", "status", "fdinfo/0", "root/etc/hostname", "cwd", "exe", "maps"};
	for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", pid, files[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			printf("%s open /proc/PID/%s: %s\n", who, files[i], errname(errno));
			continue;
		}
		long n = read(fd, buf, sizeof buf - 1);
		close(fd);
		int leaked = 0;
		for (long j = 0; n > 0 && j + 6 <= n; j++)
			leaked |= memcmp(buf + j, "SECRET", 6) == 0;
		printf("%s open /proc/PID/%s: opened, %s\n", who, files[i], leaked ? "LEAKED a secret" : "no secret");
	}
	snprintf(path, sizeof path, "/proc/%d/exe", pid);
	long n = readlink(path, buf, sizeof buf - 1);
	printf("%s readlink /proc/PID/exe: %s\n", who, n >= 0 ? "a path" : errname(errno));
}

/* attack runs f on each pid named on the command line as "PID ADDR" (a
 * host process) or "sentry PID" (minisentry itself) and, under "range", on
 * getppid() and every small pid. */
static void attack(int argc, char **argv, void (*f)(const char *, int, unsigned long))
{
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "range") == 0) {
			f("parent", getppid(), 0x400000);
			char who[32];
			for (int pid = 1; pid <= atoi(argv[i + 1]); pid++) {
				snprintf(who, sizeof who, "pid %d", pid);
				f(who, pid, 0x400000);
			}
		} else if (strcmp(argv[i], "sentry") == 0) {
			f("sentry", atoi(argv[i + 1]), 0x400000);
		} else {
			f("victim", atoi(argv[i]), strtoul(argv[i + 1], NULL, 0));
		}
	}
}

/* kill_victims sends SIGUSR1 to the host processes named on the command
 * line. */
static void kill_victims(int argc, char **argv)
{
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "range") != 0 && strcmp(argv[i], "sentry") != 0) {
			printf("victim kill SIGUSR1: %s\n", libc_result(kill(atoi(argv[i]), SIGUSR1)));
			printf("victim tgkill SIGUSR1: %s\n", libc_result(syscall(SYS_tgkill, atoi(argv[i]), atoi(argv[i]), SIGUSR1)));
		}
	}
}

/* ---- directory descriptors against --root ---- */

/* try_read opens path relative to dirfd and reads it, reporting whether
 * it read a canary's secret or the host's /etc/passwd. */
static void try_read(const char *what, int dirfd, const char *path)
{
	char buf[256] = {0};
	int fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0) {
		printf("read %s: %s\n", what, errname(errno));
		return;
	}
	long n = read(fd, buf, sizeof buf - 1);
	close(fd);
	int leaked = n > 0 && (strstr(buf, "SECRET") != NULL || strstr(buf, "root:") != NULL);
	printf("read %s: opened, %s\n", what, leaked ? "LEAKED a secret" : "no secret");
	if (leaked)
		check_failures++;
}

/* try_change tries to change the file at path relative to dirfd. */
static void try_change(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_WRONLY | O_TRUNC);
	if (fd >= 0) {
		write(fd, "overwritten", 11);
		close(fd);
	}
	fchmodat(dirfd, path, 0777, 0);
	renameat(dirfd, path, AT_FDCWD, "/stolen");
	unlinkat(dirfd, path, 0);
	unlink("/stolen");
}

static void same_as_root(const char *what, int fd)
{
	struct stat a, b;
	check(what, fd >= 0 && fstat(fd, &a) == 0 && stat("/", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static void try_fdtricks(int argc, char **argv)
{
	char cwd[PATH_MAX], path[64];
	EXPECT_RET(mkdir("/a", 0755), 0);
	EXPECT_RET(mkdir("/a/b", 0755), 0);
	int dfd = open("/a/b", O_RDONLY | O_DIRECTORY);
	int pathfd = open("/a/b", O_PATH | O_DIRECTORY);
	int rootfd = open("/", O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0 && pathfd >= 0 && rootfd >= 0);

	/* ".." from descriptors opened before any chdir. */
	try_read("dfd ../../../canary", dfd, "../../../canary");
	try_read("dfd ../../../../canary", dfd, "../../../../canary");
	try_read("O_PATH fd ../../../canary", pathfd, "../../../canary");
	try_read("rootfd ../canary", rootfd, "../canary");
	try_read("rootfd ../../canary", rootfd, "../../canary");
	int up = openat(rootfd, "..", O_RDONLY | O_DIRECTORY);
	same_as_root("openat(rootfd, \"..\") is the root", up);
	int upup = up >= 0 ? openat(up, "..", O_PATH | O_DIRECTORY) : -1;
	same_as_root("openat(openat(rootfd, \"..\"), \"..\") is the root", upup);
	try_read("(rootfd/..)/../canary", upup, "../canary");
	close(up);
	close(upup);

	/* Climb one level at a time, each from the last descriptor. */
	int fd = dup(dfd);
	for (int i = 0; i < 6 && fd >= 0; i++) {
		int next = openat(fd, "..", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	same_as_root("six openat(fd, \"..\") from /a/b reach the root", fd);
	try_read("(six levels up)/canary", fd, "canary");
	if (fd >= 0)
		close(fd);

	/* chdir into the directory, then fchdir through the descriptors. */
	EXPECT_RET(chdir("/a/b"), 0);
	try_read("cwd ../../../canary", AT_FDCWD, "../../../canary");
	EXPECT_RET(fchdir(rootfd), 0);
	EXPECT_RET(chdir(".."), 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, "/") == 0);
	EXPECT_RET(fchdir(pathfd), 0);
	EXPECT_RET(chdir("../../../.."), 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, "/") == 0);
	try_read("after fchdir and chdir(..): canary", AT_FDCWD, "canary");

	/* Links planted next to the descriptor. */
	EXPECT_RET(symlinkat("/../../..", dfd, "up"), 0);
	EXPECT_RET(symlinkat("../../../../../..", dfd, "relup"), 0);
	try_read("dfd up/canary", dfd, "up/canary");
	try_read("dfd relup/canary", dfd, "relup/canary");
	snprintf(path, sizeof path, "/proc/self/fd/%d/../../../../canary", dfd);
	try_read("/proc/self/fd/N/../../../../canary", AT_FDCWD, path);
	snprintf(path, sizeof path, "/proc/self/fd/%d/relup/canary", dfd);
	try_read("/proc/self/fd/N/relup/canary", AT_FDCWD, path);
	EXPECT_RET(fchdir(dfd), 0);
	try_read("/proc/self/cwd/../../../../canary", AT_FDCWD, "/proc/self/cwd/../../../../canary");

	/* openat2 beneath a descriptor refuses to climb at all. */
	struct {
		uint64_t flags, mode, resolve;
	} how = {O_RDONLY, 0, 0x08}; /* RESOLVE_BENEATH */
	EXPECT_ERR(syscall(SYS_openat2, dfd, "../canary", &how, sizeof how), EXDEV);

	/*
	 * The directory moves while the descriptors and the working
	 * directory are in it: they stay inside the root. (Under minisentry
	 * they keep naming the old path, a documented departure, so what
	 * the lookups find is printed, not checked.)
	 */
	EXPECT_RET(chdir("/a/b"), 0);
	EXPECT_RET(mkdir("/deep", 0755), 0);
	EXPECT_RET(rename("/a", "/deep/a"), 0);
	try_read("moved dfd ../../../../canary", dfd, "../../../../canary");
	try_read("moved cwd ../../../../canary", AT_FDCWD, "../../../../canary");
	printf("moved cwd chdir(../../../../..): %s\n", libc_result(chdir("../../../../..")));
	try_read("moved cwd, climbed: canary", AT_FDCWD, "canary");
	EXPECT_RET(chdir("/"), 0);

	/* chroot into a directory below the working directory and climb
	 * from there: the classic way out of a chroot, which must not lead
	 * out of --root either. */
	EXPECT_RET(chdir("/deep"), 0);
	long r = syscall(SYS_chroot, "/deep/a/b");
	printf("chroot: %s\n", libc_result(r));
	try_read("after chroot: ../../../../../canary", AT_FDCWD, "../../../../../canary");
	try_read("after chroot: rootfd ../canary", rootfd, "../canary");

	/* Changes through descriptors. */
	try_change(dfd, "../../../../canary");
	try_change(rootfd, "../canary");
	try_change(rootfd, "../../canary");
	for (int i = 2; i < argc; i++) {
		try_read(argv[i], rootfd, argv[i]);
		try_change(rootfd, argv[i]);
	}
	close(dfd);
	close(pathfd);
	close(rootfd);
}

/* ---- the host's procfs by other names ---- */

/*
 * try_hostproc_file opens "self" files of the procfs at base (relative to
 * dirfd): only the sandbox's own /proc may answer, and natively base is
 * our own procfs, so "self" must be us. A status whose Pid is not ours is
 * another process's: the sentry's, if the host's procfs was reached. A
 * status that is ours ends the probe of that base.
 */
static void try_hostproc_file(const char *what, int dirfd, const char *base)
{
	char path[PATH_MAX], buf[4096];
	snprintf(path, sizeof path, "%s/self/status", base);
	int fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0) {
		printf("%s self/status: %s\n", what, errname(errno));
	} else {
		long n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		char *p = strstr(buf, "\nPid:");
		int pid = p ? atoi(p + 5) : -1;
		printf("%s self/status: opened, %s\n", what, pid == getpid() ? "ours" : "LEAKED another process's");
		if (pid != getpid())
			check_failures++;
		else
			return;
	}
	snprintf(path, sizeof path, "%s/self/mem", base);
	fd = openat(dirfd, path, O_RDWR);
	printf("%s self/mem: %s\n", what, fd >= 0 ? "a descriptor" : errname(errno));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof path, "%s/self/maps", base);
	fd = openat(dirfd, path, O_RDONLY);
	printf("%s self/maps: %s\n", what, fd >= 0 ? "a descriptor" : errname(errno));
	if (fd >= 0)
		close(fd);
}

static void try_hostproc(const char *dir)
{
	char up[PATH_MAX];
	snprintf(up, sizeof up, "%s/up", dir);
	unlink(up);
	EXPECT_RET(symlink("/", up), 0);
	char base[PATH_MAX + 8];
	snprintf(base, sizeof base, "%s/proc", up);
	try_hostproc_file("symlink to /", AT_FDCWD, base);
	snprintf(base, sizeof base, "%s/../proc", up);
	try_hostproc_file("symlink to /, ..", AT_FDCWD, base);

	int rootfd = open("/", O_PATH | O_DIRECTORY);
	CHECK(rootfd >= 0);
	struct {
		uint64_t flags, mode, resolve;
	} how = {O_RDONLY, 0, 0x08}; /* RESOLVE_BENEATH */
	long fd = syscall(SYS_openat2, rootfd, "proc/self/status", &how, sizeof how);
	printf("openat2 beneath / proc/self/status: %s\n", fd >= 0 ? "a descriptor" : errname(errno));
	if (fd >= 0)
		close(fd);
	how.flags = O_RDWR;
	fd = syscall(SYS_openat2, rootfd, "proc/self/mem", &how, sizeof how);
	printf("openat2 beneath / proc/self/mem: %s\n", fd >= 0 ? "a descriptor" : errname(errno));
	if (fd >= 0)
		close(fd);
	how.flags = O_RDONLY | O_DIRECTORY;
	how.resolve = 0x10; /* RESOLVE_IN_ROOT */
	fd = syscall(SYS_openat2, rootfd, "proc/self/fd", &how, sizeof how);
	printf("openat2 in root / proc/self/fd: %s\n", fd >= 0 ? "a descriptor" : errname(errno));
	if (fd >= 0)
		close(fd);
	close(rootfd);

	/* A procfs mounted in the tree under another name (the test mounts
	 * one, under --root). */
	try_hostproc_file("procfs at /hostproc", AT_FDCWD, "/hostproc");
	EXPECT_RET(unlink(up), 0);
}

/* ---- the host's /dev/tty ---- */

/*
 * The sandbox's /dev/tty is the host's terminal, opened by the sentry:
 * reads, writes and terminal ioctls, yes, but the inode is the host's
 * /dev/tty, which no file system given to the program holds, so its
 * owner, mode and times stay as they are.
 */
static void try_ttyattr(void)
{
	char link[64];
	struct timespec ts[2] = {{0, 0}, {0, 0}};
	int fd = open("/dev/tty", O_RDWR);
	CHECK(fd >= 0);
	EXPECT_ERR(fchmod(fd, 0600), EPERM);
	EXPECT_ERR(fchown(fd, 1234, -1), EPERM);
	EXPECT_ERR(futimens(fd, ts), EPERM);
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	int again = open(link, O_RDWR);
	CHECK(again >= 0);
	EXPECT_ERR(fchmod(again, 0600), EPERM);
	EXPECT_ERR(chmod("/dev/tty", 0600), EPERM);
	CHECK(write(fd, "", 0) == 0);
	close(again);
	close(fd);
}

/* ---- device nodes against --root ---- */

/*
 * The tree is nodev: a device the application makes would be the host's
 * (its disk, its memory), so making one is refused, and one already there
 * can be looked up but never opened for I/O. The whiteout device 0:0,
 * which no driver answers, may be made, as without CAP_MKNOD.
 */
static void try_devices(void)
{
	struct stat st;
	char path[64];

	EXPECT_ERR(mknod("/disk", S_IFBLK | 0666, makedev(8, 0)), EPERM);
	EXPECT_ERR(mknod("/mem", S_IFCHR | 0666, makedev(1, 1)), EPERM);
	EXPECT_ERR(mknodat(AT_FDCWD, "/kmsg", S_IFCHR | 0666, makedev(1, 11)), EPERM);
	EXPECT_ERR(syscall(SYS_mknod, "/disk", S_IFBLK | 0666, makedev(8, 0)), EPERM);
	/* The errors Linux gives before the capability check come first. */
	EXPECT_ERR(mknod("/hostnull", S_IFCHR | 0666, makedev(1, 1)), EEXIST);
	EXPECT_ERR(mknod("/nodir/mem", S_IFCHR | 0666, makedev(1, 1)), ENOENT);
	CHECK(stat("/disk", &st) < 0 && stat("/mem", &st) < 0 && stat("/kmsg", &st) < 0);
	EXPECT_RET(mknod("/whiteout", S_IFCHR | 0600, makedev(0, 0)), 0);
	EXPECT_ERR(open("/whiteout", O_RDONLY), EACCES);
	EXPECT_RET(mknod("/fifo", S_IFIFO | 0600, 0), 0);

	/* The device the test left in the root. */
	CHECK(stat("/hostnull", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
	EXPECT_ERR(open("/hostnull", O_RDONLY), EACCES);
	EXPECT_ERR(open("/hostnull", O_WRONLY), EACCES);
	EXPECT_ERR(open("/hostnull", O_RDWR | O_CREAT, 0666), EACCES);
	EXPECT_ERR(open("/hostnull", O_RDWR | O_NONBLOCK | O_TRUNC), EACCES);
	EXPECT_ERR(open("/hostnull", O_RDWR | O_CREAT | O_EXCL, 0666), EEXIST);
	EXPECT_ERR(open("/hostnull/", O_RDONLY), ENOTDIR);
	struct {
		uint64_t flags, mode, resolve;
	} how = {O_RDWR, 0, 0};
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, "/hostnull", &how, sizeof how), EACCES);
	EXPECT_RET(symlink("/hostnull", "/link"), 0);
	EXPECT_ERR(open("/link", O_RDWR), EACCES);
	EXPECT_RET(rename("/hostnull", "/renamed"), 0);
	EXPECT_ERR(open("/renamed", O_RDWR), EACCES);

	/* O_PATH opens without the driver; reopening through /proc does not
	 * get around the rule. */
	int pathfd = open("/renamed", O_PATH);
	CHECK(pathfd >= 0 && fstat(pathfd, &st) == 0 && S_ISCHR(st.st_mode));
	snprintf(path, sizeof path, "/proc/self/fd/%d", pathfd);
	EXPECT_ERR(open(path, O_RDWR), EACCES);
	EXPECT_ERR(open(path, O_RDONLY), EACCES);
	int again = open(path, O_PATH);
	CHECK(again >= 0);
	close(again);
	close(pathfd);
	EXPECT_RET(rename("/renamed", "/hostnull"), 0);
	EXPECT_RET(unlink("/link"), 0);
	EXPECT_RET(unlink("/whiteout"), 0);
	EXPECT_RET(unlink("/fifo"), 0);

	/* The sentry's own devices are not in the tree, and still work. */
	int fd = open("/dev/null", O_RDWR);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
}

int main(int argc, char **argv)
{
	begin();
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "int80") == 0 && argc == 3)
		try_int80(argv[2]);
	else if (strcmp(mode, "sysenter") == 0 && argc == 3)
		try_sysenter(argv[2]);
	else if (strcmp(mode, "vsyscall") == 0)
		try_vsyscall();
	else if (strcmp(mode, "stubpage") == 0 && argc == 3)
		try_stubpage(argv[2]);
	else if (strcmp(mode, "stubmap") == 0)
		try_stubmap();
	else if (strcmp(mode, "victim") == 0)
		victim();
	else if (strcmp(mode, "ptrace") == 0) {
		attack(argc, argv, try_ptrace);
		kill_victims(argc, argv);
	} else if (strcmp(mode, "procfs") == 0)
		attack(argc, argv, try_procfs);
	else if (strcmp(mode, "fdtricks") == 0)
		try_fdtricks(argc, argv);
	else if (strcmp(mode, "hostproc") == 0 && argc == 3)
		try_hostproc(argv[2]);
	else if (strcmp(mode, "ttyattr") == 0 && argc == 2)
		try_ttyattr();
	else if (strcmp(mode, "devices") == 0 && argc == 2)
		try_devices();
	else {
		fprintf(stderr, "usage: escape int80|sysenter|stubpage DIR, escape vsyscall|stubmap|victim,\n"
				"       escape ptrace|procfs PID ADDR|sentry PID|range N..., escape fdtricks CANARY...,\n"
				"       escape hostproc DIR, escape ttyattr, escape devices\n");
		return 2;
	}
	return finish();
}
