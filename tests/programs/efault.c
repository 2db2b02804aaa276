/*
 * efault: system calls given pointers the application cannot use must fail
 * with EFAULT, not crash the program or the sentry, and must not consume
 * input. stdin carries "input data\n".
 */
#include "check.h"

#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>

int main(void)
{
	begin();
	char buf[64];

	EXPECT_ERR(write(1, ptr(1), 10), EFAULT);
	EXPECT_ERR(write(1, ptr(0), 10), EFAULT);
	EXPECT_ERR(read(0, ptr(1), 10), EFAULT);
	/* The failed read consumed nothing. */
	long n = read(0, buf, sizeof buf);
	printf("read after EFAULT: %ld bytes \"%.*s\"\n", n, n > 0 ? (int)n - 1 : 0, buf);
	CHECK(n == 11 && memcmp(buf, "input data\n", 11) == 0);

	/* A zero-length transfer does not look at the buffer. */
	EXPECT_RET(write(1, ptr(1), 0), 0);

	/* Kernel addresses, and ranges running past the end of user memory. */
	EXPECT_ERR(write(1, ptr(0xffff800000001000UL), 10), EFAULT);
	EXPECT_ERR(write(1, ptr(0x800000000000UL - 5), 10), EFAULT);
	EXPECT_ERR(write(1, ptr(-1UL), 2), EFAULT);

	/* A page that was mapped and then unmapped. */
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(munmap(p, 4096) == 0);
	EXPECT_ERR(write(1, p, 10), EFAULT);
	/* A page that is mapped but not readable. */
	p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	EXPECT_ERR(write(1, p, 10), EFAULT);
	/* A page that is mapped but not writable, as a read destination. */
	CHECK(mprotect(p, 4096, PROT_READ) == 0);
	EXPECT_ERR(syscall(SYS_getrandom, p, 16, 0), EFAULT);

	/* Structures the kernel writes out. */
	EXPECT_ERR(syscall(SYS_uname, ptr(1)), EFAULT);
	EXPECT_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ptr(1)), EFAULT);
	EXPECT_ERR(syscall(SYS_gettimeofday, ptr(1), NULL), EFAULT);
	EXPECT_ERR(syscall(SYS_getrandom, ptr(1), 16, 0), EFAULT);
	/* And ones it reads in. */
	EXPECT_ERR(syscall(SYS_nanosleep, ptr(1), NULL), EFAULT);
	return finish();
}
