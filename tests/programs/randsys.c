/*
 * randsys: a seeded storm of random system calls, for the sentry's
 * robustness. Random numbers (the whole x86-64 table, past its end,
 * negative, x32), random arguments (zero, small numbers, -1, flags, wild
 * pointers, kernel addresses, pointers into a scratch area full of random
 * bytes and short strings), COUNT calls in all. It must never run
 * natively: it calls anything with anything, as root.
 *
 * The calls run in worker processes, forked one after another, each in a
 * process group of its own with /dev/null as its standard streams. A
 * worker stops after WORKER_CALLS calls, or earlier when a call ends it
 * (exit, a signal, a frame that rt_sigreturn finds corrupt), and a
 * watchdog kills it with SIGKILL when it has made no call for WATCHDOG_MS
 * (a call that blocks for ever: pause, a futex wait, a read of a pipe
 * nobody writes). The calls are counted in a page shared with the parent.
 *
 * Only what would reach past the worker is tamed: no new processes
 * (fork, vfork, clone, clone3), and the calls that take a pid or tid
 * (kill, tgkill, prlimit64, setpgid...) aim at the worker itself. So the
 * parent survives, and at the end prints one line and exits 0: anything
 * else is the sentry's failure.
 *
 * usage: randsys SEED COUNT
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define WORKER_CALLS 1000
#define WATCHDOG_MS 30
#define WATCHDOG_TICKS 3
#define SCRATCH_SIZE (64 * 1024)

/* The last number of the x86-64 table that this program aims at. */
#define LAST_SYSCALL 470

static uint64_t rng;

/* next is xorshift64*: fast, and the same sequence for a seed on every
 * machine. */
static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static char *scratch;

/* An argument, of one of the kinds a hostile program passes. */
static long random_arg(void)
{
	uint64_t r = next();
	switch (r % 12) {
	case 0:
		return 0;
	case 1:
		return (long)(next() % 64);
	case 2:
		return -(long)(next() % 8) - 1;
	case 3:
		return (long)next();
	case 4:
	case 5:
		/* Into the scratch area, near its end too. */
		return (long)(scratch + next() % SCRATCH_SIZE);
	case 6:
		/* A wild pointer in the user range. */
		return (long)(next() & 0x7ffffffff000UL) + (long)(next() % 4096);
	case 7:
		/* A kernel address, the vsyscall page among them. */
		return next() % 2 ? (long)0xffffffffff600000UL : (long)(0xffff800000000000UL | next());
	case 8:
		/* Near the top of the user range, where the stub lives. */
		return (long)(0x7ffffffff000UL - (next() % 64) * 4096);
	case 9:
		return 1L << (next() % 63);
	case 10:
		return (long)(next() & 0xfff);
	default:
		return (long)(scratch + (next() % (SCRATCH_SIZE / 4096)) * 4096);
	}
}

/* A system call number: mostly the table, sometimes anything. */
static long random_nr(void)
{
	uint64_t r = next() % 64;
	if (r == 0)
		return (long)next();
	if (r == 1)
		return -(long)(next() % 4) - 1;
	if (r == 2)
		return 0x40000000L | (long)(next() % 548); /* x32 */
	if (r == 3)
		return LAST_SYSCALL + (long)(next() % 1024);
	return (long)(next() % (LAST_SYSCALL + 1));
}

/* fill_scratch fills the scratch area with random bytes, with NULs and
 * short strings of names a path call might find. */
static void fill_scratch(void)
{
	static const char *names[] = {"/", ".", "..", "/proc/self/fd/0", "/dev/null", "/proc/self/mem",
				      "x", "/randsys", "../../..", "/proc/1/root", "/tmp"};
	for (int i = 0; i < SCRATCH_SIZE; i += 8) {
		uint64_t v = next();
		memcpy(scratch + i, &v, 8);
	}
	for (int i = 0; i < 64; i++) {
		const char *s = names[next() % (sizeof names / sizeof names[0])];
		size_t at = next() % (SCRATCH_SIZE - 32);
		memcpy(scratch + at, s, strlen(s) + 1);
	}
}

/*
 * tame rewrites the arguments of calls that would reach past the worker;
 * it returns 0 for the calls not made at all.
 */
static int tame(long nr, long a[6], pid_t self)
{
	switch (nr) {
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
	case SYS_clone3:
		return 0;
	case SYS_kill:
	case SYS_rt_sigqueueinfo:
	case SYS_setpgid:
	case SYS_prlimit64:
	case SYS_sched_setaffinity:
	case SYS_sched_setparam:
	case SYS_sched_setscheduler:
	case SYS_process_vm_writev:
	case SYS_process_vm_readv:
	case SYS_pidfd_open:
		a[0] = self;
		break;
	case SYS_tkill:
		a[0] = self; /* the worker has one thread: its tid is its pid */
		break;
	case SYS_tgkill:
	case SYS_rt_tgsigqueueinfo:
		a[0] = self;
		a[1] = self;
		break;
	case SYS_ptrace:
		a[1] = self;
		break;
	case SYS_setpriority:
	case SYS_ioprio_set:
		a[1] = 0;
		break;
	}
	return 1;
}

/* worker makes random calls until it has made calls or the shared count
 * reaches total. */
static void worker(volatile long *count, long total)
{
	pid_t self = getpid();
	setpgid(0, 0);
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	fill_scratch();
	for (int i = 0; i < WORKER_CALLS && *count < total; i++) {
		long nr = random_nr(), a[6];
		for (int j = 0; j < 6; j++)
			a[j] = random_arg();
		if (!tame(nr, a, self))
			continue;
		__atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST);
		syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	_exit(0);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: randsys SEED COUNT\n");
		return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 0);
	long total = strtol(argv[2], NULL, 0);
	scratch = mmap(NULL, SCRATCH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile long *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED || count == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	long workers = 0, exited = 0, signaled = 0, watchdog = 0;
	double start = now();
	while (*count < total) {
		rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)workers * 0xD1B54A32D192ED03ULL + 1;
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			worker(count, total);
		workers++;
		/* The watchdog: a worker whose count stands still for
		 * WATCHDOG_MS is blocked, and killed. */
		struct timespec tick = {0, WATCHDOG_MS * 1000000L / WATCHDOG_TICKS};
		int status = 0, fired = 0, still = 0;
		long seen = *count;
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (sigtimedwait(&chld, NULL, &tick) >= 0 || errno != EAGAIN)
				continue;
			if (*count != seen) {
				seen = *count;
				still = 0;
			} else if (++still == WATCHDOG_TICKS) {
				kill(pid, SIGKILL);
				fired = 1;
				waitpid(pid, &status, 0);
				break;
			}
		}
		if (fired)
			watchdog++;
		else if (WIFSIGNALED(status))
			signaled++;
		else
			exited++;
	}
	printf("randsys: seed %llu: %ld calls in %ld workers (%ld exited, %ld killed by a signal, %ld by the watchdog) in %.1f s\n",
	       (unsigned long long)seed, *count, workers, exited, signaled, watchdog, now() - start);
	return 0;
}
