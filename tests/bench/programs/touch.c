/*
 * touch MIB: map MIB MiB of anonymous memory and write one byte to each
 * page, each write the page's first touch. Natively that is a host page
 * fault per page; under a sentry, a fault the sentry handles by mapping
 * memory into the stub (as much per fault as it chooses). The timing
 * covers the writes only: the mmap itself costs the same either way.
 */
#include "bench.h"

#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long mib = count_arg(argc, argv, 1);
	size_t len = (size_t)mib << 20;
	long page = sysconf(_SC_PAGESIZE);
	volatile char *p;
	double start, ns;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	start = now_ns();
	for (size_t off = 0; off < len; off += page)
		p[off] = 1;
	ns = now_ns() - start;
	/* Read the bytes back: a sentry that mapped the wrong memory would
	 * show here, not as a suspiciously fast run. */
	for (size_t off = 0; off < len; off += page)
		if (p[off] != 1)
			fail("a written page does not read back");
	report(ns, (long)(len / page));
	return 0;
}
