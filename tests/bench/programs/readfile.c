/*
 * readfile PATH: read the file PATH twice, 64 KiB per read(2), and time the
 * second pass. The first pass brings the file into the host's page cache
 * (tests/bench has just written it, so it mostly is already) and warms
 * whatever the sentry caches, so the timed pass measures reads from the
 * page cache: the sentry's cost per read and per byte copied, not the disk.
 */
#include "bench.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64 << 10)

static char buf[CHUNK];

/* pass reads fd from offset 0 to the end and returns the reads it took,
 * failing unless it read exactly size bytes. */
static long pass(int fd, off_t size)
{
	off_t total = 0;
	long reads = 0;
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) != 0)
		die("lseek");
	while ((n = read(fd, buf, CHUNK)) != 0) {
		if (n < 0)
			die("read");
		total += n;
		reads++;
	}
	if (total != size)
		fail("read a different number of bytes than the file holds");
	return reads;
}

int main(int argc, char **argv)
{
	struct stat st;
	double start;
	long reads;
	int fd;

	if (argc != 2)
		fail("usage: readfile PATH");
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		die("open");
	if (fstat(fd, &st) < 0)
		die("fstat");
	pass(fd, st.st_size);
	start = now_ns();
	reads = pass(fd, st.st_size);
	report(now_ns() - start, reads);
	return 0;
}
