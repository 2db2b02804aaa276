/*
 * check.h: the little self-checking kit shared by the integration test
 * programs.
 *
 * Every program prints what it checks, one line per check, so that the
 * output under minisentry can be compared line by line with the output of
 * the same binary run natively. Nothing printed may depend on the run:
 * print booleans and errno names, never addresses, pids or times.
 *
 * Error checks call the kernel through syscall(2), not the libc wrapper:
 * glibc and musl validate some arguments themselves (mmap's offset, sbrk)
 * and would answer without ever asking the sentry.
 */
#ifndef MINISENTRY_CHECK_H
#define MINISENTRY_CHECK_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int check_failures;

/* begin makes stdout line-buffered: each printed line is one write(2), in
 * program order with the program's own direct writes to fd 1. */
static inline void begin(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* finish prints the tally; main returns its result (0 when all passed). */
static inline int finish(void)
{
	printf("%d checks failed\n", check_failures);
	return check_failures ? 1 : 0;
}

static inline void check(const char *what, int ok)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		check_failures++;
}

#define CHECK(cond) check(#cond, (cond))

static inline const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case EMFILE: return "EMFILE";
	case ESPIPE: return "ESPIPE";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case EXDEV: return "EXDEV";
	case EROFS: return "EROFS";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "errno %d", e);
		return buf;
	}
	}
}

/*
 * EXPECT_ERR(call, want) runs call (which returns -1 and sets errno on
 * failure, like syscall(2)), prints its result and checks that it failed
 * with errno want.
 */
#define EXPECT_ERR(call, want)                          \
	do {                                            \
		errno = 0;                              \
		long r_ = (long)(call);                 \
		int e_ = errno;                         \
		expect_err(#call, r_, e_, (want));      \
	} while (0)

static inline void expect_err(const char *what, long r, int e, int want)
{
	char line[512];
	if (r == -1)
		snprintf(line, sizeof line, "%s = -1 %s", what, errname(e));
	else
		snprintf(line, sizeof line, "%s = %ld, not -1", what, r);
	check(line, r == -1 && e == want);
}

/*
 * ptr turns a number into a pointer the compiler knows nothing about, so
 * that it does not warn about (or optimise around) the deliberately bad
 * pointers the programs hand to the kernel.
 */
static inline void *ptr(unsigned long a)
{
	void *volatile p = (void *)a;
	return p;
}

/* EXPECT_RET(call, want) checks that call returned want. */
#define EXPECT_RET(call, want)                          \
	do {                                            \
		errno = 0;                              \
		long r_ = (long)(call);                 \
		int e_ = errno;                         \
		expect_ret(#call, r_, e_, (long)(want)); \
	} while (0)

static inline void expect_ret(const char *what, long r, int e, long want)
{
	char line[512];
	if (r == -1 && want != -1)
		snprintf(line, sizeof line, "%s = -1 %s, want %ld", what, errname(e), want);
	else
		snprintf(line, sizeof line, "%s = %ld", what, r);
	check(line, r == want);
}

#endif
