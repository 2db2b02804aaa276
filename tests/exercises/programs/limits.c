/*
 * limits: /proc/PID/limits, the table of a process's resource limits.
 * Exercise 2 of docs/coursework.md: the file does not exist under
 * minisentry until it is done.
 *
 * The program first sets the limits whose values would otherwise depend on
 * who started it, then prints the file whole: it must be byte for byte
 * what Linux prints.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* lower sets the soft limit of resource r to cur, or to the hard limit if
 * that is lower. */
static void lower(int r, rlim_t cur)
{
	struct rlimit rl;
	if (getrlimit(r, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max < cur ? rl.rlim_max : cur;
	setrlimit(r, &rl);
}

/* slurp reads path in reads of chunk bytes into buf, NUL-terminated, and
 * returns its length, or -1. */
static long slurp(const char *path, char *buf, long size, long chunk)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long n = 0, r;
	while (n < size - 1 && (r = read(fd, buf + n, chunk < size - 1 - n ? chunk : size - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = '\0';
	return n;
}

/* line returns the line of text that starts with prefix, or "". */
static const char *line(const char *text, const char *prefix, char *out, size_t size)
{
	const char *p = strstr(text, prefix);
	out[0] = '\0';
	if (p) {
		size_t n = strcspn(p, "\n");
		if (n >= size)
			n = size - 1;
		memcpy(out, p, n);
		out[n] = '\0';
	}
	return out;
}

int main(void)
{
	static char whole[8192], chunked[8192], other[8192];
	char buf[256];
	begin();

	/* The soft limits the program starts with come from its parent; the
	 * sentry, a Go program, even raises its own RLIMIT_NOFILE. Set them
	 * to known values (the hard limits stay the parent's). */
	lower(RLIMIT_NOFILE, 64);
	lower(RLIMIT_CORE, 0);
	lower(RLIMIT_FSIZE, 1 << 20);
	lower(RLIMIT_CPU, 3600);
	lower(RLIMIT_STACK, 8 << 20);
	lower(RLIMIT_DATA, RLIM_INFINITY);

	/* The file is read-only for everyone, and, like every file that
	 * Linux generates as it is read, it says its size is 0. */
	struct stat st;
	CHECK(stat("/proc/self/limits", &st) == 0);
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0444);
	CHECK(st.st_size == 0);

	/* The table itself, as it is. */
	long n = slurp("/proc/self/limits", whole, sizeof whole, sizeof whole);
	CHECK(n > 0);
	printf("--- /proc/self/limits:\n%s---\n", whole);

	/* Small reads see the same text as one large one. */
	CHECK(slurp("/proc/self/limits", chunked, sizeof chunked, 7) == n);
	CHECK(strcmp(whole, chunked) == 0);

	/* A thread has the file too, the same: limits belong to the
	 * process. */
	snprintf(buf, sizeof buf, "/proc/self/task/%ld/limits", (long)syscall(SYS_gettid));
	CHECK(slurp(buf, other, sizeof other, sizeof other) == n);
	CHECK(strcmp(whole, other) == 0);

	/* Another process's file shows that process's limits: a child that
	 * lowers its own. */
	int ready[2], done[2];
	CHECK(pipe(ready) == 0 && pipe(done) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char c = 0;
		lower(RLIMIT_NOFILE, 32);
		write(ready[1], &c, 1);
		read(done[0], &c, 1);
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	snprintf(buf, sizeof buf, "/proc/%d/limits", (int)pid);
	CHECK(slurp(buf, other, sizeof other, sizeof other) > 0);
	printf("child: %s\n", line(other, "Max open files", buf, sizeof buf));
	printf("self:  %s\n", line(whole, "Max open files", buf, sizeof buf));
	write(done[1], &c, 1);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));

	/* Writes are refused: the limits change through setrlimit(2). */
	int fd = open("/proc/self/limits", O_RDONLY);
	EXPECT_ERR(write(fd, "x", 1), EBADF);
	close(fd);
	return finish();
}
