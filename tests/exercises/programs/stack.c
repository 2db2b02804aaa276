/*
 * stack: the main thread's stack starts small and grows as the program
 * uses it, as Linux's grows-down [stack] mapping does. Exercise 4 of
 * docs/coursework.md: minisentry maps the whole stack at exec until it is
 * done.
 *
 * What the program checks, and Linux does:
 *   - exec maps 128 KiB of stack, plus the pages the arguments fill;
 *   - a fault just below the stack grows it, down to RLIMIT_STACK, read
 *     at the time of the fault;
 *   - the stack may not grow within the guard gap (256 pages) of the
 *     mapping below it, unless that mapping is PROT_NONE;
 *   - the kernel's own writes to the program's stack (here read(2)'s)
 *     grow it too;
 *   - a stack that cannot grow any more is SIGSEGV.
 * Tests that end in SIGSEGV, or that change the stack's limit, run in a
 * child, each from the small stack the program started with.
 *
 * Build it with -fno-stack-clash-protection: with it, gcc probes every
 * page of a large frame, and the kernel's writes would never be the first
 * to touch the stack.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define KiB 1024UL
#define MiB (1024 * KiB)

/* stack_range finds the [stack] line of /proc/self/maps. */
static int stack_range(unsigned long *start, unsigned long *end)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f))
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", start, end) == 2)
			found = 1;
	fclose(f);
	return found;
}

/* recurse uses about n KiB of stack, touching every KiB on its way down.
 * The frame is volatile and used after the call, so the compiler can
 * neither drop it nor turn the recursion into a loop. */
static int __attribute__((noinline)) recurse(long n)
{
	volatile char frame[1000];
	frame[0] = (char)n;
	if (n <= 0)
		return 0;
	return recurse(n - 1) + frame[0];
}

/* set_stack_limit sets RLIMIT_STACK's soft limit, if the hard one allows. */
static void set_stack_limit(rlim_t cur)
{
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	rl.rlim_cur = rl.rlim_max < cur ? rl.rlim_max : cur;
	setrlimit(RLIMIT_STACK, &rl);
}

/* in_child runs f(arg) in a child and says how the child ended. */
static const char *in_child(void (*f)(long), long arg)
{
	static char how[64];
	int status;
	pid_t pid = fork();
	if (pid == 0) {
		f(arg);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return "waitpid failed";
	if (WIFEXITED(status))
		snprintf(how, sizeof how, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "killed by %s", WTERMSIG(status) == SIGSEGV ? "SIGSEGV" : "another signal");
	return how;
}

/* deep recurses n KiB deep. */
static void deep(long n)
{
	recurse(n);
}

/* limited lowers RLIMIT_STACK to 1 MiB and then recurses n KiB deep: the
 * limit counts when the stack grows, not only at exec. */
static void limited(long n)
{
	set_stack_limit(1 * MiB);
	recurse(n);
}

/* below maps a page with protection prot 2 MiB below the stack, then
 * recurses 1.5 MiB deep: the stack would come within the guard gap. */
static void below(long prot)
{
	unsigned long start, end;
	if (!stack_range(&start, &end))
		_exit(2);
	void *want = (void *)(start - 2 * MiB);
	void *p = mmap(want, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != want)
		_exit(3);
	recurse(1536);
}

/* read_into reads 512 KiB of /dev/zero into a stack buffer that nothing
 * has touched yet: the kernel's write is the first, and grows the stack. */
static void __attribute__((noinline)) read_into(long unused)
{
	char buf[512 * KiB];
	int fd = open("/dev/zero", O_RDONLY);
	long n = read(fd, buf, sizeof buf);
	if (n != (long)sizeof buf)
		_exit(n < 0 && errno == EFAULT ? 4 : 5);
	/* The buffer is now part of [stack]. */
	unsigned long start, end;
	if (!stack_range(&start, &end) || start > (unsigned long)buf)
		_exit(6);
}

int main(void)
{
	begin();
	/* The stack may grow to 8 MiB, whatever the parent's limit. */
	set_stack_limit(8 * MiB);

	unsigned long start, end;
	CHECK(stack_range(&start, &end));
	unsigned long initial = end - start;
	CHECK(initial >= 128 * KiB);
	CHECK(initial <= 1 * MiB);

	/* Children, each from the small stack. */
	printf("recurse 2 MiB: %s\n", in_child(deep, 2048));
	printf("recurse 2 MiB with RLIMIT_STACK at 1 MiB: %s\n", in_child(limited, 2048));
	printf("recurse 1.5 MiB toward a readable page 2 MiB below: %s\n", in_child(below, PROT_READ));
	printf("recurse 1.5 MiB toward a PROT_NONE page 2 MiB below: %s\n", in_child(below, PROT_NONE));
	printf("read(2) into an untouched 512 KiB stack buffer: %s\n", in_child(read_into, 0));
	printf("recurse without end: %s\n", in_child(deep, 1L << 30));

	/* The parent itself: 4 MiB deep, then the stack holds 4 MiB, and it
	 * has grown down, not moved. */
	recurse(4096);
	unsigned long start2, end2;
	CHECK(stack_range(&start2, &end2));
	CHECK(end2 == end && start2 < start);
	CHECK(end2 - start2 >= 4 * MiB && end2 - start2 <= 8 * MiB);
	return finish();
}
