/*
 * pipes: pipe and pipe2 between processes: EOF, EPIPE and SIGPIPE,
 * O_NONBLOCK, O_CLOEXEC across exec, dup2 onto stdout, blocking writers,
 * and the descriptor calls around them. argv[1] names the case.
 */
#include "procs.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>

static char *self;

/* EOF comes when the last writer closes, not before. */
static void t_eof(int argc, char **argv)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t a = xfork();
	if (a == 0) {
		close(p[0]);
		write(p[1], "hello ", 6);
		_exit(0);
	}
	pid_t b = xfork();
	if (b == 0) {
		close(p[0]);
		sleep_ms(50);
		write(p[1], "world", 5);
		_exit(0);
	}
	close(p[1]);
	char buf[64];
	size_t total = 0;
	ssize_t n;
	while ((n = read(p[0], buf + total, sizeof buf - total)) > 0)
		total += n;
	printf("read until EOF: %zu bytes, last read %zd\n", total, n);
	/* Both writers wrote before EOF, in either order. */
	CHECK(total == 11);
	EXPECT_RET(read(p[0], buf, sizeof buf), 0);
	reap("writer a", a);
	reap("writer b", b);
	close(p[0]);

	/* A reader that holds the write end itself never sees EOF: it
	 * would block, so check with O_NONBLOCK. */
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	EXPECT_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	close(p[1]);
	EXPECT_RET(read(p[0], buf, sizeof buf), 0);
	close(p[0]);

	/* Zero-length reads and writes. */
	CHECK(pipe(p) == 0);
	EXPECT_RET(write(p[1], buf, 0), 0);
	EXPECT_RET(read(p[0], buf, 0), 0);
	/* The wrong ends. */
	EXPECT_ERR(write(p[0], "x", 1), EBADF);
	EXPECT_ERR(read(p[1], buf, 1), EBADF);
	EXPECT_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE);
	EXPECT_ERR(syscall(SYS_pipe, ptr(1)), EFAULT);
	EXPECT_ERR(syscall(SYS_pipe2, p, O_RDWR), EINVAL);
	(void)argc, (void)argv;
}

static volatile sig_atomic_t got_sigpipe;

static void on_sigpipe(int sig)
{
	got_sigpipe++;
}

/* Writing to a pipe nobody reads: EPIPE, and SIGPIPE, whose default
 * action kills. */
static void t_epipe(int argc, char **argv)
{
	int p[2];

	/* The default action, in a child. */
	CHECK(pipe(p) == 0);
	close(p[0]);
	pid_t pid = xfork();
	if (pid == 0) {
		write(p[1], "x", 1);
		printf("FAIL: still alive after writing to a broken pipe\n");
		fflush(stdout);
		_exit(1);
	}
	int status = reap("writer with SIGPIPE's default action", pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);

	/* Ignored: EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	struct iovec iov = {"xy", 2};
	EXPECT_ERR(writev(p[1], &iov, 1), EPIPE);

	/* Caught: the handler runs, then the write fails with EPIPE. */
	signal(SIGPIPE, on_sigpipe);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	printf("SIGPIPE handler ran %d time(s)\n", (int)got_sigpipe);

	/* Blocked: EPIPE, and SIGPIPE pending. */
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	sigpending(&pending);
	printf("SIGPIPE pending while blocked: %s\n", sigismember(&pending, SIGPIPE) ? "yes" : "no");
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("SIGPIPE handler ran %d time(s)\n", (int)got_sigpipe);
	close(p[1]);

	/* A writer blocked on a full pipe gets EPIPE when the reader goes. */
	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe(p) == 0);
	pid = xfork();
	if (pid == 0) {
		close(p[0]);
		static char big[200000];
		ssize_t n = write(p[1], big, sizeof big);
		int e = errno;
		/* Some of it may have gone in before the reader left. */
		if (n > 0)
			n = write(p[1], big, sizeof big), e = errno;
		printf("blocked writer: %s\n", n == -1 ? errname(e) : "no error");
		fflush(stdout);
		_exit(0);
	}
	close(p[1]);
	sleep_ms(100);
	close(p[0]);
	reap("blocked writer", pid);
	(void)argc, (void)argv;
}

/* O_NONBLOCK: EAGAIN on an empty pipe and on a full one; 64 KiB fit. */
static void t_nonblock(int argc, char **argv)
{
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	CHECK((fcntl(p[0], F_GETFL) & (O_NONBLOCK | O_ACCMODE)) == (O_NONBLOCK | O_RDONLY));
	CHECK((fcntl(p[1], F_GETFL) & (O_NONBLOCK | O_ACCMODE)) == (O_NONBLOCK | O_WRONLY));
	char buf[4096];
	EXPECT_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	memset(buf, 'z', sizeof buf);
	long total = 0;
	for (;;) {
		ssize_t n = write(p[1], buf, sizeof buf);
		if (n < 0) {
			printf("filling stopped with %s\n", errname(errno));
			break;
		}
		total += n;
	}
	printf("a pipe holds %ld bytes\n", total);
	EXPECT_ERR(write(p[1], "x", 1), EAGAIN);
	EXPECT_RET(read(p[0], buf, 100), 100);
	/* 100 bytes free, and a write of up to PIPE_BUF is all or nothing. */
	EXPECT_ERR(write(p[1], buf, 200), EAGAIN);
	EXPECT_RET(read(p[0], buf, sizeof buf), sizeof buf);
	EXPECT_RET(write(p[1], buf, sizeof buf), sizeof buf);
	/* Drain it. */
	total = 0;
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0)
		total += n;
	printf("drained %ld bytes, then %s\n", total, errname(errno));

	/* A write bigger than the pipe goes in part. */
	static char big[100000];
	EXPECT_RET(write(p[1], big, sizeof big), 65536);

	/* O_NONBLOCK can be cleared and set with F_SETFL. */
	CHECK(fcntl(p[0], F_SETFL, 0) == 0);
	CHECK((fcntl(p[0], F_GETFL) & O_NONBLOCK) == 0);
	CHECK(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
	close(p[0]);
	close(p[1]);

	/* pipe2 rejects unknown flags. */
	EXPECT_ERR(syscall(SYS_pipe2, p, 0x4000000), EINVAL);
	(void)argc, (void)argv;
}

/* fdcheck is exec'd by cloexec: it reports which of the descriptors named
 * on its command line survived the exec. */
static void t_fdcheck(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		int fd = atoi(argv[i]);
		errno = 0;
		int r = fcntl(fd, F_GETFD);
		printf("after exec, descriptor %d: %s\n", i - 2, r == -1 ? errname(errno) : "open");
	}
	/* The surviving pipe's write end still works. */
	if (argc > 3)
		write(atoi(argv[3]), "through", 7);
	exit(0);
}

static void t_cloexec(int argc, char **argv)
{
	int a[2], b[2];
	CHECK(pipe2(a, O_CLOEXEC) == 0);
	CHECK(pipe(b) == 0);
	EXPECT_RET(fcntl(a[0], F_GETFD), FD_CLOEXEC);
	EXPECT_RET(fcntl(a[1], F_GETFD), FD_CLOEXEC);
	EXPECT_RET(fcntl(b[0], F_GETFD), 0);
	/* F_DUPFD_CLOEXEC, dup3 and F_SETFD. */
	int c = fcntl(b[1], F_DUPFD_CLOEXEC, 0);
	EXPECT_RET(fcntl(c, F_GETFD), FD_CLOEXEC);
	int d = dup(a[1]);
	EXPECT_RET(fcntl(d, F_GETFD), 0); /* dup clears it */
	CHECK(fcntl(d, F_SETFD, FD_CLOEXEC) == 0);
	EXPECT_RET(fcntl(d, F_GETFD), FD_CLOEXEC);
	int e = 50;
	EXPECT_RET(dup3(b[1], e, O_CLOEXEC), e);
	EXPECT_RET(fcntl(e, F_GETFD), FD_CLOEXEC);

	pid_t pid = xfork();
	if (pid == 0) {
		char fds[6][16];
		int list[6] = {a[0], b[1], a[1], c, d, e};
		char *args[10] = {self, "fdcheck"};
		for (int i = 0; i < 6; i++) {
			snprintf(fds[i], sizeof fds[i], "%d", list[i]);
			args[2 + i] = fds[i];
		}
		args[8] = NULL;
		execv(self, args);
		_exit(127);
	}
	close(b[1]);
	close(c);
	close(e);
	reap("exec'd child", pid);
	char buf[16] = {0};
	EXPECT_RET(read(b[0], buf, sizeof buf - 1), 7);
	printf("read from the child: %s\n", buf);
	(void)argc;
}

/* say writes its arguments to stdout with write(2). */
static void t_say(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		write(1, argv[i], strlen(argv[i]));
		write(1, "\n", 1);
	}
	_exit(0);
}

/* The child's stdout is the pipe: what it writes, we read. */
static void t_dup2(int argc, char **argv)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		CHECK(dup2(p[1], 1) == 1);
		close(p[0]);
		close(p[1]);
		char *args[] = {self, "say", "line one", "line two", NULL};
		execv(self, args);
		_exit(127);
	}
	close(p[1]);
	char buf[128];
	size_t total = 0;
	ssize_t n;
	while ((n = read(p[0], buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	buf[total] = 0;
	printf("the child wrote to its stdout:\n%s", buf);
	reap("child", pid);
	close(p[0]);

	/* The descriptor calls' corner cases. */
	CHECK(pipe(p) == 0);
	EXPECT_RET(dup2(p[0], p[0]), p[0]);
	EXPECT_ERR(dup2(p[0], -1), EBADF);
	EXPECT_ERR(dup2(1000, 40), EBADF);
	EXPECT_ERR(syscall(SYS_dup3, p[0], p[0], 0), EINVAL);
	EXPECT_ERR(syscall(SYS_dup3, p[0], 41, 1), EINVAL);
	EXPECT_RET(fcntl(p[0], F_DUPFD, 60), 60);
	EXPECT_RET(fcntl(p[0], F_DUPFD, 60), 61);
	EXPECT_ERR(fcntl(p[0], F_DUPFD, -1), EINVAL);
	/* dup2 onto an open descriptor closes it first. */
	EXPECT_RET(dup2(p[1], 60), 60);
	EXPECT_RET(write(60, "via 60", 6), 6);
	char got[8] = {0};
	EXPECT_RET(read(p[0], got, 6), 6);
	printf("read back: %s\n", got);
	/* close_range closes 60 and 61 only. */
	EXPECT_RET(syscall(SYS_close_range, 60, 61, 0), 0);
	EXPECT_ERR(fcntl(60, F_GETFD), EBADF);
	EXPECT_ERR(fcntl(61, F_GETFD), EBADF);
	EXPECT_RET(fcntl(p[0], F_GETFD), 0);
	EXPECT_ERR(syscall(SYS_close_range, 61, 60, 0), EINVAL);
	EXPECT_ERR(close(60), EBADF);
	(void)argc, (void)argv;
}

/* A blocking writer and a slow reader move 1 MiB through the pipe intact. */
static void t_stream(int argc, char **argv)
{
	int p[2];
	CHECK(pipe(p) == 0);
	const long size = 1 << 20;
	pid_t pid = xfork();
	if (pid == 0) {
		close(p[0]);
		static unsigned char out[1 << 20];
		for (long i = 0; i < size; i++)
			out[i] = (unsigned char)(i * 7 + (i >> 8));
		/* Writes of odd sizes, some bigger than the pipe. */
		long off = 0, chunk = 1;
		while (off < size) {
			long n = chunk;
			if (n > size - off)
				n = size - off;
			ssize_t w = write(p[1], out + off, n);
			if (w <= 0)
				_exit(2);
			off += w;
			chunk = chunk * 3 + 1;
			if (chunk > 300000)
				chunk = 1;
		}
		_exit(0);
	}
	close(p[1]);
	unsigned char buf[5000];
	long total = 0, bad = 0;
	ssize_t n;
	int reads = 0;
	while ((n = read(p[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++, total++)
			if (buf[i] != (unsigned char)(total * 7 + (total >> 8)))
				bad++;
		if (++reads % 50 == 0)
			sleep_ms(1);
	}
	printf("read %ld bytes, %ld wrong\n", total, bad);
	CHECK(total == size && bad == 0);
	reap("writer", pid);
	(void)argc, (void)argv;
}

/* Atomic writes: writes of up to PIPE_BUF from several writers are never
 * interleaved. */
static void t_atomic(int argc, char **argv)
{
	int p[2];
	CHECK(pipe(p) == 0);
	enum { writers = 4, records = 200, len = PIPE_BUF };
	pid_t pids[writers];
	for (int w = 0; w < writers; w++) {
		pids[w] = xfork();
		if (pids[w] == 0) {
			close(p[0]);
			char rec[len];
			memset(rec, 'a' + w, sizeof rec);
			for (int r = 0; r < records; r++)
				if (write(p[1], rec, sizeof rec) != sizeof rec)
					_exit(2);
			_exit(0);
		}
	}
	close(p[1]);
	static char rec[len];
	long good = 0, bad = 0;
	for (;;) {
		size_t got = 0;
		ssize_t n = 0;
		while (got < sizeof rec && (n = read(p[0], rec + got, sizeof rec - got)) > 0)
			got += n;
		if (got == 0)
			break;
		int same = got == sizeof rec;
		for (size_t i = 1; i < got; i++)
			if (rec[i] != rec[0])
				same = 0;
		if (same)
			good++;
		else
			bad++;
	}
	printf("%ld whole records, %ld torn\n", good, bad);
	for (int w = 0; w < writers; w++)
		CHECK(waitpid(pids[w], NULL, 0) == pids[w]);
	(void)argc, (void)argv;
}

/*
 * FIFOs of the file system: an open for reading waits for a writer and
 * one for writing for a reader, unless O_NONBLOCK (then a writer without
 * a reader gets ENXIO) or O_RDWR; a signal interrupts the wait (EINTR
 * without SA_RESTART; restarted with it); and a thread waiting in such an
 * open does not keep its process from exiting.
 */
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void *open_forever(void *path)
{
	open(path, O_RDONLY);
	return NULL;
}

static void t_fifo(int argc, char **argv)
{
	char dir[] = "/tmp/minisentry-fifo-XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/fifo", dir);
	EXPECT_RET(mkfifo(path, 0600), 0);

	/* Without O_NONBLOCK, each end waits for the other. */
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		/* The children print nothing, which would race with the
		 * parent: their status tells. */
		int w = open(path, O_WRONLY);
		_exit(w >= 0 && write(w, "hello", 5) == 5 ? 0 : 1);
	}
	int r = open(path, O_RDONLY);
	char buf[16] = {0};
	CHECK(r >= 0 && read(r, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
	reap("writer", pid);
	CHECK(read(r, buf, sizeof buf) == 0);
	close(r);
	pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		int rd = open(path, O_RDONLY);
		_exit(rd >= 0 && read(rd, buf, sizeof buf) == 3 ? 0 : 1);
	}
	int w = open(path, O_WRONLY);
	CHECK(w >= 0 && write(w, "abc", 3) == 3);
	close(w);
	reap("reader", pid);

	/* O_NONBLOCK and O_RDWR do not wait. */
	EXPECT_ERR(open(path, O_WRONLY | O_NONBLOCK), ENXIO);
	r = open(path, O_RDONLY | O_NONBLOCK);
	CHECK(r >= 0);
	w = open(path, O_WRONLY | O_NONBLOCK);
	CHECK(w >= 0);
	close(w);
	close(r);
	int rw = open(path, O_RDWR);
	CHECK(rw >= 0);
	close(rw);

	/* A signal interrupts the wait: EINTR without SA_RESTART. */
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	EXPECT_ERR(open(path, O_RDONLY), EINTR);
	setitimer(ITIMER_REAL, &it, NULL);
	EXPECT_ERR(open(path, O_WRONLY), EINTR);
	printf("alarms: %d\n", (int)alarms);
	/* With SA_RESTART the open goes on waiting, and succeeds once a
	 * writer comes. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	pid = xfork();
	if (pid == 0) {
		sleep_ms(150);
		_exit(open(path, O_WRONLY) >= 0 ? 0 : 1);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	r = open(path, O_RDONLY);
	CHECK(r >= 0);
	printf("alarms: %d\n", (int)alarms);
	reap("late writer", pid);
	close(r);

	/* A thread waiting in an open does not keep its process alive. */
	pid = xfork();
	if (pid == 0) {
		pthread_t t;
		pthread_create(&t, NULL, open_forever, path);
		sleep_ms(50);
		exit(3);
	}
	reap("process with a thread waiting in open", pid);
	EXPECT_RET(unlink(path), 0);
	EXPECT_RET(rmdir(dir), 0);
	(void)argc, (void)argv;
}

static const struct testcase cases[] = {
	{"fifo", t_fifo},
	{"eof", t_eof},
	{"epipe", t_epipe},
	{"nonblock", t_nonblock},
	{"cloexec", t_cloexec},
	{"dup2", t_dup2},
	{"stream", t_stream},
	{"atomic", t_atomic},
	{"fdcheck", t_fdcheck},
	{"say", t_say},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	self = argv[0];
	return run_case(cases, argc, argv);
}
