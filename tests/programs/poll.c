/*
 * poll: waiting on descriptors and locking them. poll, ppoll, select,
 * pselect6 and epoll on pipes, eventfds, epoll instances and standard
 * input (a host pipe carrying "hello\n"); the signal masks of ppoll,
 * pselect6 and epoll_pwait; eventfd counters; fcntl record locks and
 * flock between a parent and its child, on pipes and, in "files", on a
 * regular file in the directory argv[2]. argv[1] names the case.
 *
 * Timing never shows in the output: where a child wakes a waiter after a
 * delay, the waiter prints what it got, not when; where a check needs the
 * other process to be blocked, it checks something that holds whether or
 * not it already is.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static void msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* spawn forks, flushing stdout first so that nothing is printed twice.
 * The child's tally starts afresh: its status reports its own checks. */
static pid_t spawn(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == -1) {
		printf("FAIL: fork: %s\n", errname(errno));
		exit(2);
	}
	if (pid == 0)
		check_failures = 0;
	return pid;
}

/* child_exit ends a child with its checks' verdict. */
static void child_exit(void)
{
	fflush(stdout);
	_exit(check_failures ? 1 : 0);
}

/* await reaps pid and checks that it exited with status want. */
static void await(const char *label, pid_t pid, int want)
{
	int status;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	char line[128];
	snprintf(line, sizeof line, "%s exited %d", label, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	check(line, WIFEXITED(status) && WEXITSTATUS(status) == want);
}

/* tell writes c to fd, printing only on failure: a child that tells its
 * parent something must print nothing after, or its lines and the
 * parent's would interleave differently from run to run. */
static void tell(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		check("tell", 0);
}

/* writer_after forks a child that writes len bytes of buf to fd after ms
 * milliseconds and exits. */
static pid_t writer_after(int fd, const void *buf, size_t len, long ms)
{
	pid_t pid = spawn();
	if (pid == 0) {
		msleep(ms);
		if (write(fd, buf, len) != (ssize_t)len)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static void t_poll(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	struct pollfd fds[4] = {
		{.fd = p[0], .events = POLLIN},
		{.fd = p[1], .events = POLLOUT},
		{.fd = -1, .events = POLLIN, .revents = 0x7},
		{.fd = 100, .events = POLLIN},
	};
	/* The write end is writable, the negative descriptor ignored (its
	 * revents cleared), the closed one invalid. */
	EXPECT_RET(poll(fds, 4, 0), 2);
	printf("revents: %#x %#x %#x %#x\n", fds[0].revents, fds[1].revents, fds[2].revents, fds[3].revents);
	CHECK(fds[0].revents == 0 && fds[1].revents == POLLOUT && fds[2].revents == 0 && fds[3].revents == POLLNVAL);

	EXPECT_RET(write(p[1], "ab", 2), 2);
	EXPECT_RET(poll(fds, 2, 0), 2);
	CHECK(fds[0].revents == POLLIN);
	/* Only the events asked for come back; POLLRDNORM is one. */
	fds[0].events = POLLRDNORM;
	EXPECT_RET(poll(fds, 1, 0), 1);
	CHECK(fds[0].revents == POLLRDNORM);
	fds[0].events = 0;
	EXPECT_RET(poll(fds, 1, 0), 0);

	int n = -1;
	EXPECT_RET(ioctl(p[0], FIONREAD, &n), 0);
	printf("FIONREAD: %d\n", n);
	CHECK(n == 2);

	/* POLLHUP comes without being asked, once the writer is gone. */
	close(p[1]);
	fds[0].events = POLLIN;
	EXPECT_RET(poll(fds, 1, 0), 1);
	CHECK(fds[0].revents == (POLLIN | POLLHUP));
	char buf[8];
	EXPECT_RET(read(p[0], buf, sizeof buf), 2);
	EXPECT_RET(poll(fds, 1, 0), 1);
	CHECK(fds[0].revents == POLLHUP);
	close(p[0]);

	/* And POLLERR on a write end without reader. */
	CHECK(pipe(p) == 0);
	close(p[0]);
	struct pollfd w = {.fd = p[1], .events = POLLOUT};
	EXPECT_RET(poll(&w, 1, 0), 1);
	CHECK(w.revents == (POLLOUT | POLLERR));
	close(p[1]);

	/* A timeout on an empty pipe. */
	CHECK(pipe(p) == 0);
	fds[0].fd = p[0];
	EXPECT_RET(poll(fds, 1, 30), 0);

	/* More descriptors than RLIMIT_NOFILE allows. */
	EXPECT_ERR(syscall(SYS_poll, fds, 1 << 30, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_poll, ptr(1), 1, 0), EFAULT);

	/* ppoll: a zero timeout, a bad one, and the time left written back. */
	struct timespec ts = {0, 0};
	EXPECT_RET(ppoll(fds, 1, &ts, NULL), 0);
	ts.tv_nsec = 1000000000;
	EXPECT_ERR(syscall(SYS_ppoll, fds, 1, &ts, NULL, 8), EINVAL);
	ts.tv_sec = 0;
	ts.tv_nsec = 30000000;
	EXPECT_RET(syscall(SYS_ppoll, fds, 1, &ts, NULL, 8), 0);
	printf("ppoll time left: %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
	sigset_t set;
	sigemptyset(&set);
	EXPECT_ERR(syscall(SYS_ppoll, fds, 1, NULL, &set, 4), EINVAL);
	close(p[0]);
	close(p[1]);
}

static void t_select(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	fd_set rd, wr, ex;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	FD_SET(p[0], &ex);
	int nfds = p[1] + 1;
	struct timeval tv = {0, 0};
	EXPECT_RET(select(nfds, &rd, &wr, &ex, &tv), 1);
	CHECK(!FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr) && !FD_ISSET(p[0], &ex));

	EXPECT_RET(write(p[1], "x", 1), 1);
	FD_SET(p[0], &rd);
	FD_SET(p[0], &ex);
	/* A descriptor in two sets counts twice. */
	FD_SET(p[0], &wr);
	EXPECT_RET(select(nfds, &rd, &wr, &ex, &tv), 2);
	CHECK(FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr) && !FD_ISSET(p[0], &wr) && !FD_ISSET(p[0], &ex));

	/* A timeout: the sets come back empty and the time left is 0. */
	char c;
	EXPECT_RET(read(p[0], &c, 1), 1);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_sec = 0;
	tv.tv_usec = 30000;
	EXPECT_RET(syscall(SYS_select, nfds, &rd, NULL, NULL, &tv), 0);
	printf("select time left: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
	CHECK(tv.tv_sec == 0 && tv.tv_usec == 0 && !FD_ISSET(p[0], &rd));

	/* Microseconds past a second are carried, negative ones refused. */
	tv.tv_sec = 0;
	tv.tv_usec = 1000000;
	FD_SET(p[1], &wr);
	EXPECT_RET(syscall(SYS_select, nfds, NULL, &wr, NULL, &tv), 1);
	tv.tv_usec = -1;
	EXPECT_ERR(syscall(SYS_select, nfds, NULL, &wr, NULL, &tv), EINVAL);

	/* A closed descriptor in a set, and a negative count. (Linux
	 * ignores descriptors past the size of the descriptor table, at
	 * least 64: the closed one is below.) */
	FD_ZERO(&rd);
	FD_SET(50, &rd);
	EXPECT_ERR(select(51, &rd, NULL, NULL, NULL), EBADF);
	EXPECT_ERR(syscall(SYS_select, -1, NULL, NULL, NULL, NULL), EINVAL);
	/* No descriptors: a sleep. */
	tv.tv_sec = 0;
	tv.tv_usec = 10000;
	EXPECT_RET(select(0, NULL, NULL, NULL, &tv), 0);

	/* pselect with a zero timeout. */
	struct timespec ts = {0, 0};
	FD_ZERO(&wr);
	FD_SET(p[1], &wr);
	EXPECT_RET(pselect(nfds, NULL, &wr, NULL, &ts, NULL), 1);
	close(p[0]);
	close(p[1]);
}

static volatile sig_atomic_t handled;
static volatile sig_atomic_t usr2_blocked_in_handler;

static void on_usr1(int sig)
{
	(void)sig;
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	usr2_blocked_in_handler = sigismember(&cur, SIGUSR2);
	handled++;
}

/* The mask argument of ppoll, pselect6 and epoll_pwait: with SIGUSR1
 * blocked and pending, a wait whose mask lets it through is interrupted;
 * the handler runs with the wait's mask (which blocks SIGUSR2); the old
 * mask is back afterwards. A wait that finds a descriptor ready returns
 * it instead, and restores the old mask at once: the signal stays
 * pending. */
static void t_sigmask(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t usr1, usr2, cur;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr1, NULL);

	int p[2];
	CHECK(pipe(p) == 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	fd_set rd;

	for (int round = 0; round < 2; round++) {
		const char *names[] = {"ppoll", "pselect", "epoll_pwait"};
		for (int i = 0; i < 3; i++) {
			handled = 0;
			usr2_blocked_in_handler = 0;
			raise(SIGUSR1);
			FD_ZERO(&rd);
			FD_SET(p[0], &rd);
			errno = 0;
			int r;
			switch (i) {
			case 0:
				r = ppoll(&pfd, 1, NULL, &usr2);
				break;
			case 1:
				r = pselect(p[0] + 1, &rd, NULL, NULL, NULL, &usr2);
				break;
			default:
				r = epoll_pwait(ep, &ev, 1, -1, &usr2);
				break;
			}
			int e = errno;
			sigprocmask(SIG_SETMASK, NULL, &cur);
			char line[160];
			if (round == 0) {
				snprintf(line, sizeof line, "%s with SIGUSR1 pending: %d %s, handled %d, SIGUSR2 blocked in the handler %d",
					 names[i], r, errname(e), (int)handled, (int)usr2_blocked_in_handler);
				check(line, r == -1 && e == EINTR && handled == 1 && usr2_blocked_in_handler);
			} else {
				sigset_t pending;
				sigpending(&pending);
				snprintf(line, sizeof line, "%s with data and SIGUSR1 pending: %d, handled %d, still pending %d",
					 names[i], r, (int)handled, sigismember(&pending, SIGUSR1));
				check(line, r == 1 && handled == 0 && sigismember(&pending, SIGUSR1));
				/* Take it. */
				int sig;
				sigwait(&usr1, &sig);
			}
			check("the old mask is back", sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));
		}
		if (round == 0)
			EXPECT_RET(write(p[1], "x", 1), 1);
	}
	/* A bad mask size. */
	EXPECT_ERR(syscall(SYS_epoll_pwait, ep, &ev, 1, 0, &usr2, 4), EINVAL);
	close(ep);
	close(p[0]);
	close(p[1]);
}

static void t_epoll(void)
{
	EXPECT_ERR(syscall(SYS_epoll_create, 0), EINVAL);
	EXPECT_ERR(epoll_create1(1), EINVAL);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0);
	CHECK(fcntl(ep, F_GETFD) == FD_CLOEXEC);
	CHECK((fcntl(ep, F_GETFL) & O_ACCMODE) == O_RDWR);
	int old = epoll_create(1);
	CHECK(old >= 0 && fcntl(old, F_GETFD) == 0);
	close(old);

	int p[2];
	CHECK(pipe(p) == 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	EXPECT_ERR(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL);
	EXPECT_ERR(epoll_ctl(ep, 42, p[1], &ev), EINVAL);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 100, &ev), EBADF);
	EXPECT_ERR(epoll_ctl(100, EPOLL_CTL_ADD, p[0], &ev), EBADF);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], ptr(1)), EFAULT);
	struct epoll_event excl = {.events = EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT};
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &excl), EINVAL);

	struct epoll_event out[4];
	EXPECT_ERR(epoll_wait(ep, out, 0, 0), EINVAL);
	EXPECT_ERR(epoll_wait(100, out, 4, 0), EBADF);
	EXPECT_ERR(epoll_wait(p[0], out, 4, 0), EINVAL);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 30), 0);

	EXPECT_RET(write(p[1], "x", 1), 1);
	/* Level-triggered: reported as long as it is readable. */
	for (int i = 0; i < 2; i++) {
		memset(out, 0, sizeof out);
		EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);
		CHECK(out[0].events == EPOLLIN && out[0].data.u64 == 0x1122334455667788ULL);
	}
	/* The write end, added under another data, reports too. */
	ev.events = EPOLLOUT;
	ev.data.u64 = 7;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 2);
	/* maxevents 1 takes them in turn. */
	EXPECT_RET(epoll_wait(ep, out, 1, 0), 1);
	uint64_t first = out[0].data.u64;
	EXPECT_RET(epoll_wait(ep, out, 1, 0), 1);
	CHECK(out[0].data.u64 != first);
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), 0);

	/* A dup keeps the entry alive through the close of the descriptor it
	 * was added with; the last close removes it. */
	int dup0 = dup(p[0]);
	close(p[0]);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);
	CHECK(out[0].data.u64 == 0x1122334455667788ULL);
	close(dup0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	/* EPOLLHUP and EPOLLERR come unasked. */
	CHECK(pipe(p) == 0);
	ev.events = 0;
	ev.data.u64 = 1;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	close(p[1]);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);
	CHECK(out[0].events == EPOLLHUP);
	close(p[0]);
	close(ep);
}

static void t_epoll_modes(void)
{
	int ep = epoll_create1(0);
	int p[2];
	CHECK(pipe(p) == 0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 1};
	struct epoll_event out[4];
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	/* Edge-triggered: once per write. */
	EXPECT_RET(write(p[1], "a", 1), 1);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	EXPECT_RET(write(p[1], "b", 1), 1);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	/* EPOLL_CTL_MOD re-arms. */
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);

	/* One-shot: once, then nothing until EPOLL_CTL_MOD. */
	ev.events = EPOLLIN | EPOLLONESHOT;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	EXPECT_RET(write(p[1], "c", 1), 1);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 0);
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	EXPECT_RET(epoll_wait(ep, out, 4, 0), 1);

	/* Nesting: an epoll instance is readable when it has events, and
	 * cycles are refused. */
	int outer = epoll_create1(0);
	struct epoll_event nest = {.events = EPOLLIN, .data.u32 = 2};
	EXPECT_RET(epoll_ctl(outer, EPOLL_CTL_ADD, ep, &nest), 0);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, outer, &nest), ELOOP);
	ev.events = EPOLLIN;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0);
	EXPECT_RET(epoll_wait(outer, out, 4, 0), 1);
	CHECK(out[0].events == EPOLLIN && out[0].data.u32 == 2);
	struct pollfd pfd = {.fd = ep, .events = POLLIN};
	EXPECT_RET(poll(&pfd, 1, 0), 1);
	char buf[8];
	EXPECT_RET(read(p[0], buf, sizeof buf), 3);
	EXPECT_RET(epoll_wait(outer, out, 4, 0), 0);
	EXPECT_RET(poll(&pfd, 1, 0), 0);
	/* Reading or writing an epoll instance is EINVAL. */
	EXPECT_ERR(read(ep, buf, sizeof buf), EINVAL);
	close(outer);
	close(ep);
	close(p[0]);
	close(p[1]);
}

static void t_eventfd(void)
{
	int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(e >= 0);
	CHECK(fcntl(e, F_GETFD) == FD_CLOEXEC);
	CHECK((fcntl(e, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDWR | O_NONBLOCK));
	EXPECT_ERR(eventfd(0, 0x10), EINVAL);
	uint64_t v = 0;
	EXPECT_ERR(read(e, &v, 8), EAGAIN);
	v = 3;
	EXPECT_RET(write(e, &v, 8), 8);
	v = 4;
	EXPECT_RET(write(e, &v, 8), 8);
	EXPECT_ERR(read(e, &v, 4), EINVAL);
	EXPECT_ERR(write(e, &v, 4), EINVAL);
	uint64_t big[2] = {0, 0};
	EXPECT_RET(read(e, big, sizeof big), 8);
	printf("counter: %llu\n", (unsigned long long)big[0]);
	CHECK(big[0] == 7);

	v = UINT64_MAX;
	EXPECT_ERR(write(e, &v, 8), EINVAL);
	v = UINT64_MAX - 1;
	EXPECT_RET(write(e, &v, 8), 8);
	v = 1;
	EXPECT_ERR(write(e, &v, 8), EAGAIN);
	struct pollfd pfd = {.fd = e, .events = POLLIN | POLLOUT};
	EXPECT_RET(poll(&pfd, 1, 0), 1);
	CHECK(pfd.revents == POLLIN);
	EXPECT_RET(read(e, &v, 8), 8);
	CHECK(v == UINT64_MAX - 1);
	EXPECT_RET(poll(&pfd, 1, 0), 1);
	CHECK(pfd.revents == POLLOUT);

	int n;
	EXPECT_ERR(ioctl(e, FIONREAD, &n), ENOTTY);
	struct stat st;
	CHECK(fstat(e, &st) == 0);
	printf("eventfd st_mode: %#o\n", (unsigned)st.st_mode);
	CHECK((st.st_mode & S_IFMT) == 0);
	close(e);

	/* Semaphore mode: one at a time. */
	e = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	EXPECT_RET(read(e, &v, 8), 8);
	CHECK(v == 1);
	EXPECT_RET(read(e, &v, 8), 8);
	CHECK(v == 1);
	EXPECT_ERR(read(e, &v, 8), EAGAIN);
	/* In an epoll instance. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = e}, out;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev), 0);
	EXPECT_RET(epoll_wait(ep, &out, 1, 0), 0);
	v = 5;
	EXPECT_RET(write(e, &v, 8), 8);
	EXPECT_RET(epoll_wait(ep, &out, 1, 0), 1);
	CHECK(out.data.fd == e);
	close(ep);
	close(e);
}

/* Waiters woken by a child: blocking poll, select, epoll_wait and eventfd
 * read, each until a child writes. */
static void t_wakeup(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t c = writer_after(p[1], "1", 1, 50);
	struct pollfd pfd = {.fd = p[0], .events = POLLIN};
	EXPECT_RET(poll(&pfd, 1, -1), 1);
	CHECK(pfd.revents == POLLIN);
	await("poll writer", c, 0);
	char buf[8];
	EXPECT_RET(read(p[0], buf, sizeof buf), 1);

	c = writer_after(p[1], "2", 1, 50);
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	EXPECT_RET(select(p[0] + 1, &rd, NULL, NULL, NULL), 1);
	CHECK(FD_ISSET(p[0], &rd));
	await("select writer", c, 0);
	EXPECT_RET(read(p[0], buf, sizeof buf), 1);

	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 9}, out;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
	c = writer_after(p[1], "3", 1, 50);
	EXPECT_RET(epoll_wait(ep, &out, 1, 10000), 1);
	CHECK(out.data.u32 == 9);
	await("epoll writer", c, 0);
	close(ep);

	int e = eventfd(0, 0);
	uint64_t v = 42;
	c = writer_after(e, &v, 8, 50);
	v = 0;
	EXPECT_RET(read(e, &v, 8), 8);
	CHECK(v == 42);
	await("eventfd writer", c, 0);
	close(e);
	close(p[0]);
	close(p[1]);
}

/* Standard input is the host's pipe, carrying "hello\n". */
static void t_stdin(void)
{
	struct pollfd pfd = {.fd = 0, .events = POLLIN};
	EXPECT_RET(poll(&pfd, 1, -1), 1);
	CHECK(pfd.revents & POLLIN);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN}, out;
	EXPECT_RET(epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev), 0);
	EXPECT_RET(epoll_wait(ep, &out, 1, -1), 1);
	CHECK(out.events & EPOLLIN);
	char buf[16];
	EXPECT_RET(read(0, buf, sizeof buf), 6);
	/* Then only the hang-up, once the writer has closed its end. */
	EXPECT_RET(poll(&pfd, 1, -1), 1);
	CHECK(pfd.revents == POLLHUP);
	EXPECT_RET(epoll_wait(ep, &out, 1, -1), 1);
	CHECK(out.events == EPOLLHUP);
	close(ep);
}

/* setlk tries to take (or release) a lock of type on [start, start+len). */
static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

/* Record locks between a parent and its child, on a pipe, which Linux
 * lets processes lock like any file: the parent's lock and the child's
 * conflict; F_GETLK names the parent; F_SETLKW waits until the parent
 * closes a descriptor of the pipe, any one, which releases its locks. */
static void t_locks(void)
{
	int p[2], sync[2];
	CHECK(pipe(p) == 0 && pipe(sync) == 0);
	int w = p[1];
	EXPECT_RET(setlk(w, F_SETLK, F_WRLCK, 0, 10), 0);
	/* Locking the read end for writing: EBADF; bad types and ranges. */
	EXPECT_ERR(setlk(p[0], F_SETLK, F_WRLCK, 0, 10), EBADF);
	EXPECT_ERR(setlk(w, F_SETLK, 7, 0, 10), EINVAL);
	EXPECT_ERR(setlk(w, F_SETLK, F_WRLCK, -1, 10), EINVAL);
	EXPECT_ERR(setlk(w, F_GETLK, F_UNLCK, 0, 10), EINVAL);
	struct flock bad = {.l_type = F_WRLCK, .l_whence = 9};
	EXPECT_ERR(fcntl(w, F_SETLK, &bad), EINVAL);
	EXPECT_ERR(fcntl(w, F_SETLK, ptr(1)), EFAULT);
	/* The owner's own locks never conflict: this splits the first. */
	EXPECT_RET(setlk(w, F_SETLK, F_UNLCK, 4, 2), 0);
	pid_t parent = getpid();

	pid_t c = spawn();
	if (c == 0) {
		EXPECT_ERR(setlk(w, F_SETLK, F_WRLCK, 0, 1), EAGAIN);
		EXPECT_RET(setlk(w, F_SETLK, F_WRLCK, 4, 2), 0);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
		EXPECT_RET(fcntl(w, F_GETLK, &fl), 0);
		printf("child F_GETLK: type %s, start %ld, len %ld, the parent's pid %d\n",
		       fl.l_type == F_WRLCK ? "F_WRLCK" : "other", (long)fl.l_start, (long)fl.l_len, fl.l_pid == parent);
		CHECK(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 4 && fl.l_pid == parent);
		/* Past the parent's locks, nothing is in the way. */
		fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
		EXPECT_RET(fcntl(w, F_GETLK, &fl), 0);
		CHECK(fl.l_type == F_UNLCK && fl.l_start == 10 && fl.l_len == 5);
		/* Tell the parent, then wait for its lock, which the parent
		 * releases only after its own checks: what the child prints
		 * next comes after them. */
		tell(sync[1], 'w');
		EXPECT_RET(setlk(w, F_SETLKW, F_WRLCK, 0, 10), 0);
		tell(sync[1], 'g');
		child_exit();
	}
	char msg;
	EXPECT_RET(read(sync[0], &msg, 1), 1);
	/* The child's lock in the middle blocks the parent too. */
	EXPECT_ERR(setlk(w, F_SETLK, F_WRLCK, 0, 10), EAGAIN);
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	EXPECT_RET(fcntl(w, F_GETLK, &fl), 0);
	CHECK(fl.l_type == F_WRLCK && fl.l_start == 4 && fl.l_len == 2 && fl.l_pid == c);
	/* Whether or not it waits yet, the child cannot have the lock. */
	msleep(50);
	struct pollfd pfd = {.fd = sync[0], .events = POLLIN};
	EXPECT_RET(poll(&pfd, 1, 0), 0);
	/* Closing a duplicate releases the parent's locks on the pipe. */
	int d = dup(w);
	close(d);
	EXPECT_RET(read(sync[0], &msg, 1), 1);
	CHECK(msg == 'g');
	await("locking child", c, 0);
	/* Its locks went with it. */
	EXPECT_RET(setlk(w, F_SETLK, F_WRLCK, 0, 0), 0);

	/* OFD locks belong to the open file description, which the child
	 * shares, but conflict with the child's POSIX locks; F_GETLK shows
	 * them with pid -1. */
	EXPECT_RET(setlk(w, F_SETLK, F_UNLCK, 0, 0), 0);
	struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
	EXPECT_ERR(fcntl(w, F_OFD_SETLK, &ofd), EINVAL);
	ofd.l_pid = 0;
	EXPECT_RET(fcntl(w, F_OFD_SETLK, &ofd), 0);
	c = spawn();
	if (c == 0) {
		struct flock o = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
		EXPECT_RET(fcntl(w, F_OFD_SETLK, &o), 0);
		struct flock g = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
		EXPECT_RET(fcntl(w, F_GETLK, &g), 0);
		CHECK(g.l_type == F_WRLCK && g.l_pid == -1);
		EXPECT_ERR(setlk(w, F_SETLK, F_WRLCK, 0, 1), EAGAIN);
		child_exit();
	}
	await("OFD child", c, 0);

	/* A deadlock: each holds a byte and waits for the other's. Which of
	 * the two is told EDEADLK depends on timing; exactly one is, and
	 * releases its byte so that the other gets it. */
	EXPECT_RET(fcntl(w, F_OFD_SETLK, &(struct flock){.l_type = F_UNLCK, .l_whence = SEEK_SET}), 0);
	EXPECT_RET(setlk(w, F_SETLK, F_WRLCK, 0, 1), 0);
	c = spawn();
	if (c == 0) {
		int deadlocked = 0;
		EXPECT_RET(setlk(w, F_SETLK, F_WRLCK, 1, 1), 0);
		tell(sync[1], 'r');
		if (setlk(w, F_SETLKW, F_WRLCK, 0, 1) == -1 && errno == EDEADLK) {
			deadlocked = 1;
			setlk(w, F_SETLK, F_UNLCK, 1, 1);
		}
		fflush(stdout);
		_exit(deadlocked);
	}
	EXPECT_RET(read(sync[0], &msg, 1), 1);
	msleep(20);
	int deadlocked = 0;
	if (setlk(w, F_SETLKW, F_WRLCK, 1, 1) == -1 && errno == EDEADLK) {
		deadlocked = 1;
		setlk(w, F_SETLK, F_UNLCK, 0, 1);
	}
	int status;
	waitpid(c, &status, 0);
	check("exactly one of the two was told EDEADLK", WIFEXITED(status) && WEXITSTATUS(status) + deadlocked == 1);

	close(p[0]);
	close(p[1]);
	close(sync[0]);
	close(sync[1]);
}

/* Locks on a regular file in the directory argv[2], which each process
 * opens for itself: separate open file descriptions, so that flock and OFD
 * locks conflict too. And what poll, select and epoll make of the file. */
static void t_files(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/locked", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	char data[100];
	memset(data, 'x', sizeof data);
	EXPECT_RET(write(fd, data, sizeof data), 100);

	/* Ranges from the end and from the offset; then a lock past the end
	 * (locks may cover bytes the file does not have). */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_END, .l_start = -10, .l_len = 10};
	EXPECT_RET(fcntl(fd, F_SETLK, &fl), 0);
	EXPECT_RET(lseek(fd, 50, SEEK_SET), 50);
	fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_CUR, .l_start = 0, .l_len = -5};
	EXPECT_RET(fcntl(fd, F_SETLK, &fl), 0);
	EXPECT_RET(setlk(fd, F_SETLK, F_WRLCK, 1000, 0), 0);
	fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_END, .l_start = -101, .l_len = 1};
	EXPECT_ERR(fcntl(fd, F_SETLK, &fl), EINVAL);

	/* flock and OFD locks on this description. */
	EXPECT_RET(flock(fd, LOCK_EX), 0);
	struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
	EXPECT_RET(fcntl(fd, F_OFD_SETLK, &ofd), 0);

	int sync[2];
	CHECK(pipe(sync) == 0);
	pid_t c = spawn();
	if (c == 0) {
		/* The inherited descriptor would keep the parent's description,
		 * and its flock, alive: close it. The child has no record locks
		 * to lose. */
		close(fd);
		int mine = open(path, O_RDWR);
		CHECK(mine >= 0);
		/* The parent's locks, in order. */
		off_t at = 0;
		for (int i = 0; i < 4; i++) {
			struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 0};
			EXPECT_RET(fcntl(mine, F_GETLK, &g), 0);
			printf("F_GETLK from %ld: %s %ld+%ld, pid %s\n", (long)at,
			       g.l_type == F_RDLCK ? "F_RDLCK" : g.l_type == F_WRLCK ? "F_WRLCK" : "F_UNLCK",
			       (long)g.l_start, (long)g.l_len, g.l_pid == -1 ? "-1" : g.l_pid == getppid() ? "the parent's" : "other");
			at = g.l_start + g.l_len;
		}
		EXPECT_ERR(setlk(mine, F_SETLK, F_RDLCK, 12, 1), EAGAIN);
		EXPECT_RET(setlk(mine, F_SETLK, F_RDLCK, 45, 5), 0);
		EXPECT_ERR(setlk(mine, F_SETLK, F_WRLCK, 45, 6), EAGAIN);
		struct flock o = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 14, .l_len = 1};
		EXPECT_ERR(fcntl(mine, F_OFD_SETLK, &o), EAGAIN);
		EXPECT_ERR(flock(mine, LOCK_SH | LOCK_NB), EWOULDBLOCK);
		/* Tell the parent; then wait for the flock, which comes with the
		 * parent's last close of its description. */
		tell(sync[1], 'w');
		EXPECT_RET(flock(mine, LOCK_SH), 0);
		/* That close released the parent's record locks, and its OFD
		 * locks went with the description. */
		struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
		EXPECT_RET(fcntl(mine, F_GETLK, &g), 0);
		CHECK(g.l_type == F_UNLCK);
		child_exit();
	}
	char msg;
	EXPECT_RET(read(sync[0], &msg, 1), 1);
	/* The child's read lock at 45 is in the way now. */
	EXPECT_ERR(setlk(fd, F_SETLK, F_WRLCK, 40, 10), EAGAIN);
	/* POSIX's trap: closing another descriptor of the file, of another
	 * description, drops the process's record locks, but not the
	 * flock, which is the first description's. */
	int other = open(path, O_RDONLY);
	CHECK(other >= 0);
	close(other);
	msleep(50);
	struct pollfd pfd = {.fd = sync[0], .events = POLLIN};
	EXPECT_RET(poll(&pfd, 1, 0), 0);

	/* Regular files are always ready, and epoll refuses them. */
	struct pollfd pf = {.fd = fd, .events = POLLIN | POLLOUT | POLLPRI};
	EXPECT_RET(poll(&pf, 1, -1), 1);
	CHECK(pf.revents == (POLLIN | POLLOUT));
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	EXPECT_RET(select(fd + 1, &rd, &wr, NULL, NULL), 2);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), EPERM);
	close(ep);

	close(fd);
	await("file locking child", c, 0);
	close(sync[0]);
	close(sync[1]);
	unlink(path);
}

/* flock belongs to the open file description: the child, which shares
 * it, shares the lock too. */
static void t_flock(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_RET(flock(p[0], LOCK_EX | LOCK_NB), 0);
	EXPECT_RET(flock(p[0], LOCK_SH), 0);
	EXPECT_ERR(flock(p[0], 0), EINVAL);
	EXPECT_ERR(flock(p[0], LOCK_SH | LOCK_EX), EINVAL);
	EXPECT_ERR(flock(100, LOCK_SH), EBADF);
	pid_t c = spawn();
	if (c == 0) {
		EXPECT_RET(flock(p[0], LOCK_EX | LOCK_NB), 0);
		child_exit();
	}
	await("flock child", c, 0);
	EXPECT_RET(flock(p[0], LOCK_UN), 0);
	EXPECT_RET(flock(p[0], LOCK_UN), 0);
	close(p[0]);
	close(p[1]);
}

static void t_files_case(void);

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{"poll", t_poll},
	{"select", t_select},
	{"sigmask", t_sigmask},
	{"epoll", t_epoll},
	{"epoll_modes", t_epoll_modes},
	{"eventfd", t_eventfd},
	{"wakeup", t_wakeup},
	{"stdin", t_stdin},
	{"locks", t_locks},
	{"flock", t_flock},
	{"files", t_files_case},
	{NULL, NULL},
};

/* arg is argv[2], for the cases that take an argument. */
static const char *arg = ".";

static void t_files_case(void)
{
	t_files(arg);
}

int main(int argc, char **argv)
{
	begin();
	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		return 2;
	}
	if (argc > 2)
		arg = argv[2];
	for (int i = 0; cases[i].name; i++) {
		if (strcmp(cases[i].name, argv[1]) == 0) {
			cases[i].run();
			return finish();
		}
	}
	fprintf(stderr, "%s: no case %s\n", argv[0], argv[1]);
	return 2;
}
