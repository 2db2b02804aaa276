/*
 * writev: vectored I/O on the standard descriptors. Many small iovecs,
 * zero-length ones, exactly IOV_MAX of them, and the argument errors Linux
 * reports for iovec arrays: EINVAL for a count out of range or a length
 * that overflows ssize_t, EFAULT for an unreadable array or buffer.
 * Reads (stdin carries "0123456789abcdef\n") go through readv.
 */
#include "check.h"

#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static struct iovec iov[IOV_MAX + 1];
static char bufs[100][8];
static char dots[IOV_MAX];

int main(void)
{
	begin();

	/* 100 small iovecs: "00 01 ... 99\n" */
	size_t total = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(bufs[i], sizeof bufs[i], i == 99 ? "%02d\n" : "%02d ", i);
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = 3;
		total += 3;
	}
	long r = writev(1, iov, 100);
	printf("writev of 100 iovecs returned %ld (want %zu)\n", r, total);
	CHECK(r == (long)total);

	/* Zero-length iovecs anywhere, even with a NULL base, are skipped. */
	struct iovec gaps[] = {
		{"ab", 2}, {NULL, 0}, {"cd", 2}, {ptr(1), 0}, {"ef\n", 3},
	};
	EXPECT_RET(writev(1, gaps, 5), 7);
	EXPECT_RET(syscall(SYS_writev, 1, gaps, 0), 0);

	/* Exactly IOV_MAX iovecs is allowed. */
	memset(dots, '.', sizeof dots);
	dots[IOV_MAX - 1] = '\n';
	for (int i = 0; i < IOV_MAX; i++) {
		iov[i].iov_base = &dots[i];
		iov[i].iov_len = 1;
	}
	EXPECT_RET(syscall(SYS_writev, 1, iov, IOV_MAX), IOV_MAX);

	/* Argument errors. */
	EXPECT_ERR(syscall(SYS_writev, 1, iov, IOV_MAX + 1), EINVAL);
	EXPECT_ERR(syscall(SYS_writev, 1, iov, -1), EINVAL);
	EXPECT_ERR(syscall(SYS_writev, 1, ptr(1), 2), EFAULT);
	struct iovec bad_base[] = {{ptr(1), 10}};
	EXPECT_ERR(syscall(SYS_writev, 1, bad_base, 1), EFAULT);
	struct iovec too_long[] = {{"x", 1}, {"y", (size_t)SSIZE_MAX + 1}};
	EXPECT_ERR(syscall(SYS_writev, 1, too_long, 2), EINVAL);
	/* Linux reads the whole array, refusing lengths, before it checks
	 * any buffer: a kernel address before a bad length is EINVAL... */
	struct iovec kernel_then_long[] = {{ptr(0xffff800000000000UL), 1}, {"y", (size_t)SSIZE_MAX + 1}};
	EXPECT_ERR(syscall(SYS_writev, 1, kernel_then_long, 2), EINVAL);
	/* ...and so is a bad length before the array becomes unreadable,
	 * while a good one there is EFAULT. */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(two != MAP_FAILED && munmap(two + 4096, 4096) == 0);
	struct iovec *edge = (struct iovec *)(two + 4096) - 1;
	*edge = (struct iovec){"z", (size_t)SSIZE_MAX + 1};
	EXPECT_ERR(syscall(SYS_writev, 1, edge, 2), EINVAL);
	*edge = (struct iovec){"z", 1};
	EXPECT_ERR(syscall(SYS_writev, 1, edge, 2), EFAULT);
	EXPECT_ERR(syscall(SYS_writev, 99, gaps, 1), EBADF);

	/* readv scatters stdin: 4 bytes, nothing, 6 bytes. */
	char a[4], b[1], c[6];
	struct iovec in[] = {{a, sizeof a}, {b, 0}, {c, sizeof c}};
	EXPECT_RET(readv(0, in, 3), 10);
	printf("readv got \"%.4s\" and \"%.6s\"\n", a, c);
	EXPECT_ERR(syscall(SYS_readv, 0, in, IOV_MAX + 1), EINVAL);

	/* A pipe has no offset to read or write at. */
	EXPECT_ERR(syscall(SYS_pwrite64, 1, "x", 1, 0), ESPIPE);
	EXPECT_ERR(syscall(SYS_pread64, 0, a, 1, 0), ESPIPE);
	return finish();
}
