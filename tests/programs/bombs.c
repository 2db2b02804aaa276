/*
 * bombs: programs that take all they can, for minisentry's limits
 * (--max-tasks, --memory-limit, RLIMIT_NOFILE). Only "files" may run
 * natively; the others are real bombs.
 *
 * usage:
 *	bombs fork            while (1) fork(); pid 1 stops it after the first
 *	                      EAGAIN by exiting 7, which ends the sandbox
 *	bombs threads         pthread_create until it fails; prints how many
 *	bombs memory          malloc and touch 1 MiB at a time until malloc
 *	                      fails, then exits 3
 *	bombs fault BYTES     maps two regions of 3/5 of BYTES each (which
 *	                      fit, one at a time), then touches them all
 *	bombs mmap BYTES      mmap and brk of more than BYTES
 *	bombs files           descriptors up to a lowered RLIMIT_NOFILE
 */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fork_bomb(void)
{
	pid_t init = getpid();
	double refused = 0;
	for (;;) {
		pid_t pid = fork();
		if (getpid() != init)
			continue;
		if (pid < 0 && refused == 0) {
			printf("fork refused: %s\n", errname(errno));
			fflush(stdout);
			refused = now();
		}
		/* Keep the pressure on a little longer, then end it all, even
		 * if a fork of ours got through meanwhile. */
		if (refused != 0 && now() - refused > 0.5)
			_exit(7);
	}
}

static void *park(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void thread_bomb(void)
{
	int n = 0, err;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (;;) {
		pthread_t th;
		if ((err = pthread_create(&th, &attr, park, NULL)) != 0)
			break;
		n++;
	}
	printf("pthread_create refused after %d threads: %s\n", n, errname(err));
	fflush(stdout);
	exit(0); /* exit_group takes the parked threads along */
}

static void memory_bomb(void)
{
	unsigned long mib = 0;
	for (;;) {
		char *p = malloc(1 << 20);
		if (p == NULL) {
			printf("malloc refused after %s MiB: %s\n", mib > 0 ? "some" : "no", errname(errno));
			exit(3);
		}
		memset(p, 1, 1 << 20);
		mib++;
	}
}

static void fault_bomb(unsigned long limit)
{
	unsigned long each = (limit / 5 * 3) & ~4095UL;
	char *a = mmap(NULL, each, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *b = mmap(NULL, each, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED && b != MAP_FAILED);
	printf("both mapped; touching them\n");
	fflush(stdout);
	for (unsigned long i = 0; i < each; i += 4096)
		a[i] = 1;
	printf("the first fits\n");
	fflush(stdout);
	for (unsigned long i = 0; i < each; i += 4096)
		b[i] = 1;
	printf("the second fits too\n");
	exit(4);
}

static void mmap_bomb(unsigned long limit)
{
	unsigned long big = limit + (1 << 20);
	EXPECT_ERR(syscall(SYS_mmap, 0, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
	EXPECT_ERR(syscall(SYS_mmap, 0, big, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), ENOMEM);
	EXPECT_ERR(syscall(SYS_mmap, 0, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0), ENOMEM);
	/* Reservations and MAP_NORESERVE take no memory until touched. */
	long r = syscall(SYS_mmap, 0, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(r != -1);
	/* Nor does mprotect check: the faults would. */
	EXPECT_RET(syscall(SYS_mprotect, r, big, PROT_READ | PROT_WRITE), 0);
	munmap((void *)r, big);
	r = syscall(SYS_mmap, 0, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(r != -1);
	munmap((void *)r, big);
	/* brk answers with the old break when it cannot move. */
	unsigned long cur = syscall(SYS_brk, 0);
	CHECK((unsigned long)syscall(SYS_brk, cur + big) == cur);
	CHECK((unsigned long)syscall(SYS_brk, cur + 4096) == cur + 4096);
	/* Small requests still work. */
	char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED)
		memset(p, 1, 1 << 20);
}

static void file_bomb(void)
{
	/* Natively the program inherits whatever descriptors its runner
	 * leaked; under minisentry only 0, 1 and 2. Start from those. */
	EXPECT_RET(syscall(SYS_close_range, 3, ~0U, 0), 0);
	struct rlimit rl = {32, 64};
	EXPECT_RET(setrlimit(RLIMIT_NOFILE, &rl), 0);
	int n = 0, last = -1;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			printf("open refused after %d: %s\n", n, errname(errno));
			break;
		}
		last = fd;
		n++;
	}
	CHECK(last == 31);
	EXPECT_ERR(dup(0), EMFILE);
	EXPECT_ERR(fcntl(0, F_DUPFD, 0), EMFILE);
	EXPECT_ERR(fcntl(0, F_DUPFD, 40), EINVAL);
	EXPECT_ERR(dup2(0, 32), EBADF);
	EXPECT_ERR(dup3(0, 40, 0), EBADF);
	int p[2];
	EXPECT_ERR(pipe(p), EMFILE);
	EXPECT_ERR(eventfd(0, 0), EMFILE);
	EXPECT_ERR(epoll_create1(0), EMFILE);
	/* One free slot: a pipe needs two, and must not keep the one. */
	close(10);
	EXPECT_ERR(pipe(p), EMFILE);
	EXPECT_RET(open("/dev/null", O_RDONLY), 10);
	/* dup2 below the limit replaces. */
	EXPECT_RET(dup2(0, 31), 31);
	/* Raising the limit again makes room. */
	rl.rlim_cur = 34;
	EXPECT_RET(setrlimit(RLIMIT_NOFILE, &rl), 0);
	EXPECT_RET(pipe(p), 0);
	CHECK(p[0] == 32 && p[1] == 33);
}

int main(int argc, char **argv)
{
	begin();
	const char *mode = argc > 1 ? argv[1] : "";
	unsigned long bytes = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	if (strcmp(mode, "fork") == 0)
		fork_bomb();
	else if (strcmp(mode, "threads") == 0)
		thread_bomb();
	else if (strcmp(mode, "memory") == 0)
		memory_bomb();
	else if (strcmp(mode, "fault") == 0 && bytes > 0)
		fault_bomb(bytes);
	else if (strcmp(mode, "mmap") == 0 && bytes > 0)
		mmap_bomb(bytes);
	else if (strcmp(mode, "files") == 0)
		file_bomb();
	else {
		fprintf(stderr, "usage: bombs fork|threads|memory|files, bombs fault|mmap BYTES\n");
		return 2;
	}
	return finish();
}
