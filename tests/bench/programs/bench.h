/*
 * bench.h: what the benchmark's timed C programs share.
 *
 * Each program times its own measured part with CLOCK_MONOTONIC and prints
 * exactly one line, "elapsed_ns N ops M", that tests/bench parses. Timing
 * inside the program leaves out what is not the case being measured (the
 * sentry's start-up, the program's own set-up), and costs two clock reads,
 * which are two intercepted syscalls under a sentry: nothing next to the
 * work.
 *
 * Any failure is one line on stderr and exit status 1, so that a program the
 * sentry runs wrongly fails the bench instead of timing something else.
 */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static inline void fail(const char *what)
{
	fprintf(stderr, "%s\n", what);
	exit(1);
}

static inline double now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime");
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* count_arg parses argv[i] as a positive count. */
static inline long count_arg(int argc, char **argv, int i)
{
	char *end;
	long n;

	if (i >= argc)
		fail("missing count argument");
	n = strtol(argv[i], &end, 10);
	if (*end != '\0' || n <= 0)
		fail("the count must be a positive integer");
	return n;
}

static inline void report(double ns, long ops)
{
	printf("elapsed_ns %.0f ops %ld\n", ns, ops);
}

#endif
