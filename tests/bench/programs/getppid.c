/*
 * getppid N: N getppid calls, the cheapest syscall that no libc caches.
 * Under a sentry each is one full interception, so this is the figure to
 * hold against the floor tracer's loop (tests/floor/floor.c), which makes
 * the same calls the same way.
 */
#include "bench.h"

#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = count_arg(argc, argv, 1);
	/* The answer must not change under the loop; checking it keeps the
	 * calls from being anything but real syscalls that return. */
	long parent = syscall(SYS_getppid);
	double start = now_ns();

	for (long i = 0; i < n; i++)
		if (syscall(SYS_getppid) != parent)
			fail("getppid changed during the loop");
	report(now_ns() - start, n);
	return 0;
}
