/*
 * procdev: /dev and /proc, checked for what is the same natively and under
 * minisentry: the memory devices and their numbers, the standard stream
 * links, and the process's own /proc directory (exe, cmdline, environ,
 * maps, status, stat, comm, fd/, task/, cwd, root) with the system's files
 * beside it. Nothing printed depends on the run: pids, addresses and
 * contents are compared in the program, never printed.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

extern char **environ;

/* slurp reads all of path into buf (NUL-terminated) and returns its
 * length, or -1 with errno set. Reads are small, to exercise the offset. */
static long slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		size_t want = size - 1 - len < 100 ? size - 1 - len : 100;
		if (want == 0)
			break;
		ssize_t n = read(fd, buf + len, want);
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/* linkas checks that the link at path reads want, which the line printed
 * calls label. */
static void linkas(const char *path, const char *want, const char *label)
{
	char buf[PATH_MAX], what[PATH_MAX + 64];
	long n = readlink(path, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	snprintf(what, sizeof what, "readlink(%s) is %s", path, label);
	check(what, n > 0 && strcmp(buf, want) == 0);
}

/* linkis checks that the link at path reads want, a fixed string. */
static void linkis(const char *path, const char *want)
{
	linkas(path, want, want);
}

static void devices(void)
{
	static const struct {
		const char *path;
		unsigned major, minor;
	} devs[] = {
		{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
		{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
	};
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		struct stat st;
		char what[128];
		int ok = stat(devs[i].path, &st) == 0;
		snprintf(what, sizeof what, "%s is character device %u:%u, rw-rw-rw-", devs[i].path, devs[i].major, devs[i].minor);
		check(what, ok && S_ISCHR(st.st_mode) && (st.st_mode & 0777) == 0666 &&
			major(st.st_rdev) == devs[i].major && minor(st.st_rdev) == devs[i].minor);
	}

	char buf[4096];
	int fd = open("/dev/null", O_RDWR);
	CHECK(fd >= 0);
	EXPECT_RET(read(fd, buf, sizeof buf), 0);
	EXPECT_RET(write(fd, "hello", 5), 5);
	EXPECT_RET(lseek(fd, 100, SEEK_SET), 0);
	close(fd);

	fd = open("/dev/zero", O_RDONLY);
	memset(buf, 0xaa, sizeof buf);
	EXPECT_RET(read(fd, buf, sizeof buf), sizeof buf);
	int zeros = 1;
	for (size_t i = 0; i < sizeof buf; i++)
		zeros &= buf[i] == 0;
	CHECK(zeros);
	EXPECT_ERR(write(fd, "x", 1), EBADF);
	close(fd);

	fd = open("/dev/full", O_RDWR);
	EXPECT_ERR(write(fd, "x", 1), ENOSPC);
	memset(buf, 0xaa, 16);
	EXPECT_RET(read(fd, buf, 16), 16);
	CHECK(buf[0] == 0 && buf[15] == 0);
	close(fd);

	unsigned char r1[16], r2[16];
	fd = open("/dev/urandom", O_RDONLY);
	EXPECT_RET(read(fd, r1, sizeof r1), 16);
	EXPECT_RET(read(fd, r2, sizeof r2), 16);
	CHECK(memcmp(r1, r2, sizeof r1) != 0);
	close(fd);
	fd = open("/dev/random", O_RDONLY);
	EXPECT_RET(read(fd, r1, sizeof r1), 16);
	close(fd);

	/* /dev/tty is the controlling terminal, which a test run may or may
	 * not have: the sentry's is the program's. */
	errno = 0;
	fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	printf("open(/dev/tty): %s\n", fd >= 0 ? "ok" : errname(errno));
	if (fd >= 0)
		close(fd);

	linkis("/dev/stdin", "/proc/self/fd/0");
	linkis("/dev/stdout", "/proc/self/fd/1");
	linkis("/dev/stderr", "/proc/self/fd/2");
	linkis("/dev/fd", "/proc/self/fd");

	/* /dev/stdout leads to the very pipe standard output is. */
	fflush(stdout);
	fd = open("/dev/stdout", O_WRONLY);
	CHECK(fd >= 0);
	const char line[] = "written through /dev/stdout\n";
	EXPECT_RET(write(fd, line, sizeof line - 1), sizeof line - 1);
	close(fd);
}

static void self(int argc, char **argv)
{
	char buf[65536], want[65536], path[64];
	pid_t pid = getpid();

	snprintf(want, sizeof want, "%d", pid);
	linkas("/proc/self", want, "the pid");
	snprintf(want, sizeof want, "%d/task/%ld", pid, (long)syscall(SYS_gettid));
	linkas("/proc/thread-self", want, "PID/task/TID");
	struct stat st;
	CHECK(stat("/proc/self", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0555);
	CHECK(lstat("/proc/self", &st) == 0 && S_ISLNK(st.st_mode));
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0444 && st.st_size == 0);

	/* exe, cwd and root. */
	linkas("/proc/self/exe", argv[0], "argv[0]");
	char cwd[PATH_MAX];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	linkas("/proc/self/cwd", cwd, "getcwd()");
	linkis("/proc/self/root", "/");

	/* cmdline: the arguments, each with its NUL. */
	size_t len = 0;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;
		memcpy(want + len, argv[i], n);
		len += n;
	}
	long n = slurp("/proc/self/cmdline", buf, sizeof buf);
	CHECK(n == (long)len && memcmp(buf, want, len) == 0);
	int fd = open("/proc/self/cmdline", O_RDONLY);
	EXPECT_RET(pread(fd, buf, 3, 1), len - 1 < 3 ? len - 1 : 3);
	CHECK(memcmp(buf, want + 1, len - 1 < 3 ? len - 1 : 3) == 0);
	EXPECT_RET(lseek(fd, 2, SEEK_SET), 2);
	/* cmdline seeks as a file whose size is 0; seq_files like stat
	 * refuse SEEK_END. */
	EXPECT_RET(lseek(fd, 0, SEEK_END), 0);
	EXPECT_ERR(lseek(fd, -1, SEEK_END), EINVAL);
	close(fd);
	fd = open("/proc/self/stat", O_RDONLY);
	EXPECT_RET(lseek(fd, 5, SEEK_SET), 5);
	EXPECT_RET(lseek(fd, 5, SEEK_CUR), 10);
	EXPECT_ERR(lseek(fd, 0, SEEK_END), EINVAL);
	close(fd);

	/* environ: the environment strings, each with its NUL. */
	len = 0;
	for (char **e = environ; *e; e++) {
		size_t n = strlen(*e) + 1;
		memcpy(want + len, *e, n);
		len += n;
	}
	n = slurp("/proc/self/environ", buf, sizeof buf);
	CHECK(n == (long)len && memcmp(buf, want, len) == 0);

	/* maps: the program, the heap and the stack. musl's malloc may
	 * leave the heap empty, so it is grown here. */
	long brk0 = syscall(SYS_brk, 0);
	CHECK(syscall(SYS_brk, brk0 + 8192) == brk0 + 8192);
	n = slurp("/proc/self/maps", buf, sizeof buf);
	CHECK(n > 0);
	CHECK(strstr(buf, argv[0]) != NULL);
	CHECK(strstr(buf, "[heap]\n") != NULL);
	CHECK(strstr(buf, "[stack]\n") != NULL);
	CHECK(strstr(buf, " r-xp ") != NULL);

	/* status. */
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char comm[16];
	snprintf(comm, sizeof comm, "%s", base);
	n = slurp("/proc/self/status", buf, sizeof buf);
	snprintf(want, sizeof want, "Name:\t%s\n", comm);
	CHECK(strncmp(buf, want, strlen(want)) == 0);
	CHECK(strstr(buf, "\nState:\tR (running)\n") != NULL);
	snprintf(want, sizeof want, "\nTgid:\t%d\n", pid);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof want, "\nPid:\t%d\n", pid);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof want, "\nPPid:\t%d\n", getppid());
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof want, "\nUid:\t%d\t%d\t", getuid(), geteuid());
	CHECK(strstr(buf, want) != NULL);
	CHECK(strstr(buf, "\nThreads:\t1\n") != NULL);
	CHECK(strstr(buf, "\nVmSize:\t") != NULL);

	/* comm. */
	n = slurp("/proc/self/comm", buf, sizeof buf);
	snprintf(want, sizeof want, "%s\n", comm);
	CHECK(strcmp(buf, want) == 0);

	/* stat: pid, (comm), state, ppid, and 49 more fields. */
	n = slurp("/proc/self/stat", buf, sizeof buf);
	int spid = 0;
	CHECK(sscanf(buf, "%d", &spid) == 1 && spid == pid);
	snprintf(want, sizeof want, "%d (%s) R %d ", pid, comm, getppid());
	CHECK(strncmp(buf, want, strlen(want)) == 0);
	int fields = 0;
	char *rest = strrchr(buf, ')') + 2;
	for (char *tok = strtok(rest, " \n"); tok; tok = strtok(NULL, " \n"))
		fields++;
	EXPECT_RET(fields, 50);

	/* Writing: the files are read-only, root or not. */
	errno = 0;
	fd = open("/proc/self/status", O_WRONLY);
	if (fd < 0) {
		printf("open(/proc/self/status, O_WRONLY): %s\n", errname(errno));
	} else {
		EXPECT_ERR(write(fd, "x", 1), EINVAL);
		close(fd);
	}
}

static int cmpint(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void fds(void)
{
	int null = open("/dev/null", O_RDONLY);
	CHECK(null == 3);
	linkis("/proc/self/fd/3", "/dev/null");
	struct stat st;
	CHECK(lstat("/proc/self/fd/3", &st) == 0 && S_ISLNK(st.st_mode) && (st.st_mode & 0777) == 0500);
	CHECK(stat("/proc/self/fd/3", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));

	/* Opening the link opens the file. */
	int again = open("/proc/self/fd/3", O_WRONLY);
	CHECK(again == 4);
	EXPECT_RET(write(again, "x", 1), 1);
	close(again);
	close(null);

	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	if (!d)
		return;
	int nums[64], count = 0, dots = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			dots++;
			continue;
		}
		CHECK(e->d_type == DT_LNK);
		if (count < 64)
			nums[count++] = atoi(e->d_name);
	}
	qsort(nums, count, sizeof nums[0], cmpint);
	printf("/proc/self/fd:");
	for (int i = 0; i < count; i++)
		printf(" %d", nums[i]);
	printf("\n");
	CHECK(dots == 2);
	CHECK(count == 4 && nums[3] == dirfd(d));
	closedir(d);

	/* task/ lists the one thread. */
	d = opendir("/proc/self/task");
	CHECK(d != NULL);
	int tasks = 0, found = 0;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		tasks++;
		found |= atoi(e->d_name) == getpid();
	}
	CHECK(tasks == 1 && found);
	if (d)
		closedir(d);

	/* /proc lists this process and self. */
	d = opendir("/proc");
	CHECK(d != NULL);
	int me = 0, selfent = 0;
	while (d && (e = readdir(d)) != NULL) {
		me |= atoi(e->d_name) == getpid() && e->d_type == DT_DIR;
		selfent |= strcmp(e->d_name, "self") == 0 && e->d_type == DT_LNK;
	}
	CHECK(me);
	CHECK(selfent);
	if (d)
		closedir(d);
}

static void system_files(void)
{
	static char buf[1 << 20];
	CHECK(slurp("/proc/cpuinfo", buf, sizeof buf) > 0 && strstr(buf, "processor") != NULL);
	CHECK(slurp("/proc/meminfo", buf, sizeof buf) > 0 && strncmp(buf, "MemTotal:", 9) == 0);
	double up = 0, idle = 0;
	CHECK(slurp("/proc/uptime", buf, sizeof buf) > 0 && sscanf(buf, "%lf %lf", &up, &idle) == 2 && up > 0);
	double l1, l5, l15;
	int running, total, last;
	CHECK(slurp("/proc/loadavg", buf, sizeof buf) > 0 &&
	      sscanf(buf, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &running, &total, &last) == 6 &&
	      running >= 1 && total >= running && last >= getpid());
	CHECK(slurp("/proc/filesystems", buf, sizeof buf) > 0 && strstr(buf, "nodev\tproc\n") != NULL);
	CHECK(slurp("/proc/self/mounts", buf, sizeof buf) > 0 && strstr(buf, " /proc proc ") != NULL);
	CHECK(slurp("/proc/mounts", buf, sizeof buf) > 0 && strstr(buf, " /proc proc ") != NULL);

	struct utsname u;
	CHECK(uname(&u) == 0);
	char want[128];
	snprintf(want, sizeof want, "%s\n", u.sysname);
	CHECK(slurp("/proc/sys/kernel/ostype", buf, sizeof buf) > 0 && strcmp(buf, want) == 0);
	snprintf(want, sizeof want, "%s\n", u.release);
	CHECK(slurp("/proc/sys/kernel/osrelease", buf, sizeof buf) > 0 && strcmp(buf, want) == 0);
	snprintf(want, sizeof want, "%s\n", u.nodename);
	CHECK(slurp("/proc/sys/kernel/hostname", buf, sizeof buf) > 0 && strcmp(buf, want) == 0);

	errno = 0;
	long n = slurp("/proc/nonexistent", buf, sizeof buf);
	CHECK(n == -1 && errno == ENOENT);
	EXPECT_ERR(open("/proc/self/exe/x", O_RDONLY), ENOTDIR);
	EXPECT_ERR(open("/proc/self/fd/99", O_RDONLY), ENOENT);
	EXPECT_ERR(open("/proc/self", O_RDONLY | O_NOFOLLOW), ELOOP);
	EXPECT_ERR(open("/proc/cpuinfo", O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR(open("/proc/self", O_WRONLY), EISDIR);
}

/* statefield returns the state letter of /proc/PID/stat, or '?'. */
static char statefield(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (slurp(path, buf, sizeof buf) <= 0 || !strrchr(buf, ')'))
		return '?';
	return strrchr(buf, ')')[2];
}

static void child(void)
{
	int down[2], up[2];
	CHECK(pipe(down) == 0 && pipe(up) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(down[1]);
		close(up[0]);
		write(up[1], "r", 1);
		read(down[0], &c, 1);
		_exit(7);
	}
	close(down[0]);
	close(up[1]);
	char c, path[64], buf[65536], want[64];
	CHECK(read(up[0], &c, 1) == 1);

	/* A live child, waiting in read(2), once it gets there. */
	for (int i = 0; i < 1000 && statefield(pid) != 'S'; i++)
		usleep(1000);
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	CHECK(slurp(path, buf, sizeof buf) > 0);
	CHECK(strstr(buf, "\nState:\tS (sleeping)\n") != NULL);
	snprintf(want, sizeof want, "\nPPid:\t%d\n", getpid());
	CHECK(strstr(buf, want) != NULL);
	CHECK(statefield(pid) == 'S');
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	CHECK(slurp(path, buf, sizeof buf) > 0 && strstr(buf, "[stack]") != NULL);
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	CHECK(slurp(path, buf, sizeof buf) > 0);
	snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, down[0]);
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode));

	/* A zombie, until it is reaped. */
	close(down[1]);
	CHECK(read(up[0], &c, 1) == 0);
	for (int i = 0; i < 1000 && statefield(pid) != 'Z'; i++)
		usleep(1000);
	CHECK(statefield(pid) == 'Z');
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	CHECK(slurp(path, buf, sizeof buf) > 0 && strstr(buf, "\nState:\tZ (zombie)\n") != NULL);
	snprintf(path, sizeof path, "/proc/%d/exe", pid);
	EXPECT_ERR(readlink(path, buf, sizeof buf), ENOENT);
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	EXPECT_RET(slurp(path, buf, sizeof buf), 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7);
	snprintf(path, sizeof path, "/proc/%d", pid);
	EXPECT_ERR(stat(path, &st), ENOENT);
	close(up[0]);
}

static int thread_go[2];

static void *thread_main(void *arg)
{
	char c;
	*(long *)arg = syscall(SYS_gettid);
	read(thread_go[0], &c, 1);
	return NULL;
}

static void thread(void)
{
	CHECK(pipe(thread_go) == 0);
	volatile long tid = 0;
	pthread_t th;
	CHECK(pthread_create(&th, NULL, thread_main, (void *)&tid) == 0);
	while (tid == 0)
		sched_yield();

	char buf[65536], path[64];
	CHECK(slurp("/proc/self/status", buf, sizeof buf) > 0 && strstr(buf, "\nThreads:\t2\n") != NULL);
	DIR *d = opendir("/proc/self/task");
	int tasks = 0, found = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		tasks++;
		found |= atol(e->d_name) == tid;
	}
	if (d)
		closedir(d);
	CHECK(tasks == 2 && found);

	/* The thread's own directory, in task/ and, unlisted, in /proc. */
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", (long)tid);
	long pid = 0;
	CHECK(slurp(path, buf, sizeof buf) > 0 && sscanf(buf, "%ld", &pid) == 1 && pid == tid);
	snprintf(path, sizeof path, "/proc/%ld/status", (long)tid);
	CHECK(slurp(path, buf, sizeof buf) > 0);
	char want[64];
	snprintf(want, sizeof want, "\nTgid:\t%d\n", getpid());
	CHECK(strstr(buf, want) != NULL);
	int listed = 0;
	d = opendir("/proc");
	while (d && (e = readdir(d)) != NULL)
		listed |= atol(e->d_name) == tid;
	if (d)
		closedir(d);
	CHECK(!listed);

	close(thread_go[1]);
	CHECK(pthread_join(th, NULL) == 0);
	close(thread_go[0]);
}

int main(int argc, char **argv)
{
	/* Whatever descriptors beyond the standard three the program
	 * inherited natively, it must list the same ones as under minisentry,
	 * which passes on only those three. */
	if (syscall(SYS_close_range, 3, ~0U, 0) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	begin();
	devices();
	self(argc, argv);
	fds();
	system_files();
	child();
	thread();
	return finish();
}
