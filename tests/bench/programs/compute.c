/*
 * compute N: N rounds of a dependent chain of integer operations and no
 * syscall between the two clock reads. A sentry that intercepts only
 * syscalls and faults must run this at native speed: any gap is time the
 * stub thread lost to the sentry (signals, preemption, a CPU it shares).
 */
#include "bench.h"

#include <stdint.h>

int main(int argc, char **argv)
{
	long n = count_arg(argc, argv, 1);
	/* Each round depends on the last, so the compiler can neither
	 * vectorise the loop nor reduce it to a formula, and the CPU runs it
	 * at the latency of the chain: a few cycles per round. */
	uint64_t x = 88172645463325252ull;
	double start = now_ns(), ns;

	for (long i = 0; i < n; i++)
		x = (x ^ (x >> 7)) + (uint64_t)i;
	ns = now_ns() - start;
	/* Printing x keeps the loop live; it goes to stderr so that stdout
	 * stays the one line the bench parses. */
	fprintf(stderr, "%llu\n", (unsigned long long)x);
	report(ns, n);
	return 0;
}
