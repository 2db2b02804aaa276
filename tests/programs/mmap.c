/*
 * mmap: anonymous mappings made, written, unmapped, reprotected, remapped
 * and replaced, and the argument errors of mmap, munmap, mprotect and
 * mremap. Error cases call the kernel directly: libc wrappers check some
 * arguments (mmap's offset) themselves.
 */
#include "check.h"

#include <stdint.h>
#include <sys/mman.h>

#define PG 4096UL

static int all(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static long sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/*
 * The number of mappings is bounded (vm.max_map_count, 65530 by
 * default): mprotect of every other page of a large reservation splits
 * it into more and more vmas, until mprotect fails with ENOMEM; unmapping
 * it all brings everything back. (Where exactly the calls after the first
 * failure fail differs by one: Linux may keep half of a failed split,
 * which the sentry, whose like neighbours always merge, cannot.)
 */
static void map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long max = 65530;
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 65530;
		fclose(f);
	}
	long pages = max + 4096;
	char *p = mmap(NULL, pages * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(p != MAP_FAILED);
	long first = -1;
	int err = 0;
	for (long i = 1; i < pages - 1 && first < 0; i += 2) {
		if (mprotect(p + i * PG, PG, PROT_READ) != 0) {
			first = i / 2;
			err = errno;
		}
	}
	/* Each call adds two vmas; the program's own few come first. */
	printf("mprotect fails with %s after about max_map_count / 2 calls: %s\n", errname(err),
	       first > max / 2 - 64 && first <= max / 2 ? "yes" : "no");
	EXPECT_RET(munmap(p, pages * PG), 0);
	char *q = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q != MAP_FAILED);
	munmap(q, PG);
}

int main(void)
{
	begin();
	const int rw = PROT_READ | PROT_WRITE;
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;

	/* A fresh mapping reads as zeros and keeps what is written. */
	char *p = mmap(NULL, 3 * PG, rw, anon, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK(((uintptr_t)p & (PG - 1)) == 0);
	CHECK(all(p, 3 * PG, 0));
	memset(p, 'a', 3 * PG);
	CHECK(all(p, 3 * PG, 'a'));

	/* Unmap the middle page: the hole is free again (MAP_FIXED_NOREPLACE
	 * succeeds there) and the new page is zero; the neighbours keep
	 * their data. */
	EXPECT_RET(munmap(p + PG, PG), 0);
	char *q = mmap(p + PG, PG, rw, anon | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(q == p + PG);
	CHECK(all(p + PG, PG, 0));
	CHECK(all(p, PG, 'a') && all(p + 2 * PG, PG, 'a'));
	EXPECT_ERR(sys_mmap(p, PG, rw, anon | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);

	/* MAP_FIXED replaces what was there. */
	memset(p, 'b', PG);
	CHECK(mmap(p, PG, rw, anon | MAP_FIXED, -1, 0) == p);
	CHECK(all(p, PG, 0));
	CHECK(all(p + 2 * PG, PG, 'a'));

	/* mprotect: read-only still reads; writable again writes. */
	EXPECT_RET(mprotect(p + 2 * PG, PG, PROT_READ), 0);
	CHECK(all(p + 2 * PG, PG, 'a'));
	EXPECT_RET(mprotect(p + 2 * PG, PG, rw), 0);
	p[2 * PG] = 'c';
	CHECK(p[2 * PG] == 'c');

	/* mremap: growing with MREMAP_MAYMOVE keeps the data, and the new
	 * part is zero; shrinking in place keeps the start. */
	memset(p, 'd', 3 * PG);
	char *r = mremap(p, 3 * PG, 64 * PG, MREMAP_MAYMOVE);
	CHECK(r != MAP_FAILED);
	CHECK(all(r, 3 * PG, 'd'));
	CHECK(all(r + 3 * PG, 61 * PG, 0));
	r[63 * PG] = 'e';
	CHECK(mremap(r, 64 * PG, 2 * PG, 0) == r);
	CHECK(all(r, 2 * PG, 'd'));

	/* MADV_DONTNEED on private anonymous memory drops the data. */
	EXPECT_RET(madvise(r, PG, MADV_DONTNEED), 0);
	CHECK(all(r, PG, 0));
	CHECK(all(r + PG, PG, 'd'));

	/* A shared anonymous mapping works like a private one here. */
	char *s = mmap(NULL, 2 * PG, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(s != MAP_FAILED);
	memset(s, 's', 2 * PG);
	CHECK(all(s, 2 * PG, 's'));

	/* A large reservation costs nothing until touched. */
	char *big = mmap(NULL, 1UL << 30, rw, anon | MAP_NORESERVE, -1, 0);
	CHECK(big != MAP_FAILED);
	big[0] = 1;
	big[(1UL << 30) - 1] = 2;
	CHECK(big[0] == 1 && big[(1UL << 30) - 1] == 2 && big[1UL << 29] == 0);
	EXPECT_RET(munmap(big, 1UL << 30), 0);

	/* mmap errors. */
	EXPECT_ERR(sys_mmap(NULL, PG, rw, MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR(sys_mmap(NULL, 0, rw, anon, -1, 0), EINVAL);
	EXPECT_ERR(sys_mmap(NULL, PG, rw, anon, -1, 1), EINVAL);
	EXPECT_ERR(sys_mmap(r + 1, PG, rw, anon | MAP_FIXED, -1, 0), EINVAL);
	EXPECT_ERR(sys_mmap(NULL, 1UL << 60, rw, anon, -1, 0), ENOMEM);
	EXPECT_ERR(sys_mmap(NULL, PG, rw, MAP_PRIVATE, 99, 0), EBADF);

	/* munmap errors, and unmapping nothing. (musl's mprotect wrapper
	 * rounds the address down, hence the direct calls.) */
	EXPECT_ERR(syscall(SYS_munmap, r + 1, PG), EINVAL);
	EXPECT_ERR(syscall(SYS_munmap, r, 0), EINVAL);
	EXPECT_RET(munmap(r, 2 * PG), 0);
	EXPECT_RET(munmap(r, 2 * PG), 0);

	/* mprotect errors. */
	EXPECT_ERR(syscall(SYS_mprotect, s + 1, PG, PROT_READ), EINVAL);
	EXPECT_ERR(syscall(SYS_mprotect, r, PG, PROT_READ), ENOMEM);
	EXPECT_ERR(syscall(SYS_mprotect, s, PG, 0x100000), EINVAL);

	/* mremap errors. */
	EXPECT_ERR(syscall(SYS_mremap, s + 1, PG, 2 * PG, MREMAP_MAYMOVE), EINVAL);
	EXPECT_ERR(syscall(SYS_mremap, s, PG, 2 * PG, 0x100), EINVAL);
	EXPECT_ERR(syscall(SYS_mremap, s, PG, 0, MREMAP_MAYMOVE), EINVAL);
	EXPECT_ERR(syscall(SYS_mremap, r, PG, 2 * PG, MREMAP_MAYMOVE), EFAULT);
	map_count();
	return finish();
}
