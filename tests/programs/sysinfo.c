/*
 * sysinfo: the small system calls every libc program makes, checked for
 * deterministic facts only: uname names Linux on x86_64, the monotonic clock
 * never goes back, the real-time clock agrees with gettimeofday and time,
 * sleeps last, getrandom fills its buffer, the ids are consistent, and the
 * standard descriptors are what the test harness made them (pipes).
 */
#include "check.h"

#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>

static long long ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	begin();
	(void)argc;

	struct utsname u;
	EXPECT_RET(uname(&u), 0);
	printf("sysname=%s machine=%s\n", u.sysname, u.machine);
	CHECK(strcmp(u.sysname, "Linux") == 0);
	CHECK(strcmp(u.machine, "x86_64") == 0);
	CHECK(u.release[0] >= '1' && u.release[0] <= '9');

	/* The monotonic clock never goes back. */
	struct timespec prev, now;
	CHECK(clock_gettime(CLOCK_MONOTONIC, &prev) == 0);
	int monotonic = 1;
	for (int i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		monotonic &= ns(now) >= ns(prev);
		prev = now;
	}
	CHECK(monotonic);
	EXPECT_ERR(syscall(SYS_clock_gettime, 12345, &now), EINVAL);

	/* The real-time clock is after 2024 and agrees with the others. */
	struct timespec rt;
	struct timeval tv;
	CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0);
	CHECK(rt.tv_sec > 1704067200);
	CHECK(gettimeofday(&tv, NULL) == 0);
	CHECK(tv.tv_sec - rt.tv_sec >= 0 && tv.tv_sec - rt.tv_sec < 5);
	time_t t = time(NULL);
	CHECK(t - rt.tv_sec >= 0 && t - rt.tv_sec < 5);

	/* Sleeps last at least as long as asked. */
	struct timespec before, after, nap = {0, 20 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &before);
	EXPECT_RET(nanosleep(&nap, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &after);
	CHECK(ns(after) - ns(before) >= 20 * 1000 * 1000);
	EXPECT_RET(clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, NULL), 0);
	nap.tv_nsec = 1000000000;
	EXPECT_ERR(syscall(SYS_nanosleep, &nap, NULL), EINVAL);

	/* getrandom fills the buffer, and two draws differ. */
	unsigned char r1[32], r2[32];
	EXPECT_RET(syscall(SYS_getrandom, r1, sizeof r1, 0), 32);
	EXPECT_RET(syscall(SYS_getrandom, r2, sizeof r2, 1 /* GRND_NONBLOCK */), 32);
	CHECK(memcmp(r1, r2, sizeof r1) != 0);
	EXPECT_ERR(syscall(SYS_getrandom, r1, sizeof r1, 0x100), EINVAL);

	/* Ids. */
	CHECK(getpid() > 0);
	CHECK(syscall(SYS_gettid) == getpid());
	CHECK(getppid() >= 0);
	CHECK(getuid() == geteuid());
	CHECK(getgid() == getegid());

	/* The standard descriptors are pipes, not terminals. */
	struct stat st;
	CHECK(fstat(1, &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK(fstat(0, &st) == 0 && S_ISFIFO(st.st_mode));
	struct termios tio;
	EXPECT_ERR(ioctl(1, TCGETS, &tio), ENOTTY);
	struct winsize ws;
	EXPECT_ERR(ioctl(1, TIOCGWINSZ, &ws), ENOTTY);
	CHECK(!isatty(1));
	EXPECT_ERR(fstat(99, &st), EBADF);

	/* /proc/self/exe names the program, as argv[0] does: the test
	 * harness runs it by its absolute path, with no symlink in it. */
	char exe[4096];
	long n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	CHECK(n > 0);
	exe[n > 0 ? n : 0] = '\0';
	CHECK(strcmp(exe, argv[0]) == 0);

	/* Scheduling and limits. */
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
	EXPECT_RET(sched_yield(), 0);
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0);
	return finish();
}
