/*
 * dontunmap: mremap(2)'s MREMAP_DONTUNMAP, which moves a mapping's pages
 * to a new address and leaves the old range mapped, empty. Exercise 5 of
 * docs/coursework.md: minisentry refuses the flag with EINVAL until it is
 * done.
 *
 * Linux 5.7 added the flag for private anonymous mappings (userfaultfd
 * users move the pages away and catch the faults on the old range); 5.13
 * allowed it for shared and file mappings too.
 */
#include "check.h"

#include <sys/mman.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGES 4

static long page;

/* filled reports whether the n pages at p all hold byte c. */
static int filled(const char *p, int n, char c)
{
	for (long i = 0; i < n * page; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* perms returns the permissions /proc/self/maps shows for the mapping
 * that holds addr ("rw-p"), or "none". */
static const char *perms(const void *addr)
{
	static char out[8];
	char line[512];
	unsigned long start, end, a = (unsigned long)addr;
	FILE *f = fopen("/proc/self/maps", "r");
	strcpy(out, "none");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx %4s", &start, &end, out) == 3 && start <= a && a < end)
			break;
		else
			strcpy(out, "none");
	if (f)
		fclose(f);
	return out;
}

static char *map(int prot, int flags)
{
	return mmap(NULL, PAGES * page, prot, flags | MAP_ANONYMOUS, -1, 0);
}

/* dontunmap moves n pages at old with MREMAP_DONTUNMAP and extra flags. */
static long dontunmap(void *old, long oldPages, long newPages, long flags, void *new)
{
	return syscall(SYS_mremap, old, oldPages * page, newPages * page, MREMAP_DONTUNMAP | flags, new);
}

/* moved checks that a move succeeded: the checks of its results only run
 * after a success. */
static int moved(const char *what, void *p)
{
	char line[128];
	if (p != MAP_FAILED)
		return 1;
	snprintf(line, sizeof line, "%s: mremap = -1 %s", what, errname(errno));
	check(line, 0);
	return 0;
}

/* A private anonymous mapping: the pages move, the old range stays, with
 * the same permissions, and reads as zeros. */
static void private(void)
{
	char *old = map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(old, 'a', PAGES * page);
	char *new = (char *)dontunmap(old, PAGES, PAGES, MREMAP_MAYMOVE, NULL);
	if (!moved("private", new))
		return;
	CHECK(new != old);
	CHECK(filled(new, PAGES, 'a'));
	printf("old range: %s\n", perms(old));
	CHECK(filled(old, PAGES, 0));
	/* The two ranges are separate memory now. */
	memset(old, 'b', page);
	CHECK(filled(new, 1, 'a'));

	/* The flag needs MREMAP_MAYMOVE, and the same old and new size. */
	EXPECT_ERR(dontunmap(new, PAGES, PAGES, 0, NULL), EINVAL);
	EXPECT_ERR(dontunmap(new, PAGES, PAGES + 1, MREMAP_MAYMOVE, NULL), EINVAL);
	EXPECT_ERR(dontunmap(new, PAGES, PAGES - 1, MREMAP_MAYMOVE, NULL), EINVAL);
	CHECK(filled(new, PAGES, 'a'));

	/* Unmapped memory is EFAULT, as for any mremap. */
	CHECK(munmap(old, PAGES * page) == 0);
	EXPECT_ERR(dontunmap(old, PAGES, PAGES, MREMAP_MAYMOVE, NULL), EFAULT);
}

/* With MREMAP_FIXED, the pages go where the caller says, over whatever
 * was there. */
static void fixed(void)
{
	char *old = map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(old, 'f', PAGES * page);
	char *target = map(PROT_READ, MAP_PRIVATE);
	char *new = (char *)dontunmap(old, PAGES, PAGES, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (!moved("fixed", new))
		return;
	CHECK(new == target);
	CHECK(filled(target, PAGES, 'f'));
	printf("target: %s, old: %s\n", perms(target), perms(old));
	CHECK(filled(old, PAGES, 0));
}

/* A read-only mapping stays read-only in both places. */
static void readonly(void)
{
	char *old = map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(old, 'r', PAGES * page);
	CHECK(mprotect(old, PAGES * page, PROT_READ) == 0);
	char *new = (char *)dontunmap(old, PAGES, PAGES, MREMAP_MAYMOVE, NULL);
	if (!moved("read-only", new))
		return;
	CHECK(filled(new, PAGES, 'r'));
	printf("read-only: old %s, new %s\n", perms(old), perms(new));
}

/* Part of a mapping: the middle two pages move, and the old mapping keeps
 * its four pages. */
static void part(void)
{
	char *old = map(PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(old, 'm', PAGES * page);
	char *new = (char *)dontunmap(old + page, 2, 2, MREMAP_MAYMOVE, NULL);
	if (!moved("part", new))
		return;
	CHECK(filled(new, 2, 'm'));
	CHECK(filled(old, 1, 'm') && filled(old + page, 2, 0) && filled(old + 3 * page, 1, 'm'));
}

/* A shared mapping: both ranges still map the same memory, so the old one
 * still shows the data, and a write to one shows in the other. */
static void shared(void)
{
	char *old = map(PROT_READ | PROT_WRITE, MAP_SHARED);
	memset(old, 's', PAGES * page);
	char *new = (char *)dontunmap(old, PAGES, PAGES, MREMAP_MAYMOVE, NULL);
	if (!moved("shared", new))
		return;
	CHECK(filled(new, PAGES, 's'));
	CHECK(filled(old, PAGES, 's'));
	old[0] = 'x';
	CHECK(new[0] == 'x');
}

int main(void)
{
	begin();
	page = sysconf(_SC_PAGESIZE);
	private();
	fixed();
	readonly();
	part();
	shared();
	return finish();
}
