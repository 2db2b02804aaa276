/*
 * timers: alarm(2), setitimer(2) and the POSIX timers of timer_create(2),
 * checked for deterministic facts only: which signal arrives, with which
 * siginfo and to which thread; that periodic timers reload and count their
 * overruns while the signal is pending; what the timers read; that they
 * are not inherited by fork, that exec keeps ITIMER_REAL and deletes the
 * POSIX timers, and that a process may end with timers armed; and the
 * errors.
 *
 * "timers exec ID FAILURES" is the program after it has exec'd itself: ID
 * is a POSIX timer armed before the exec, FAILURES the checks failed so
 * far.
 *
 * The POSIX timer calls go through syscall(2) with the kernel's struct
 * sigevent: the C libraries wrap timer ids each their own way, and start
 * threads for SIGEV_THREAD.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

#define MS (1000 * 1000L)

/* ksigevent is the kernel's struct sigevent: 64 bytes, the thread id
 * first in the union. */
struct ksigevent {
	union sigval value;
	int signo;
	int notify;
	int tid;
	int pad[11];
};

static struct ksigevent sigev(int notify, int signo, int value, int tid)
{
	struct ksigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.notify = notify;
	ev.signo = signo;
	ev.value.sival_int = value;
	ev.tid = tid;
	return ev;
}

static long ktimer_create(long clock, void *ev, void *id)
{
	return syscall(SYS_timer_create, clock, ev, id);
}

static long ktimer_settime(long id, long flags, void *new, void *old)
{
	return syscall(SYS_timer_settime, id, flags, new, old);
}

static long ktimer_gettime(long id, void *cur)
{
	return syscall(SYS_timer_gettime, id, cur);
}

static long ktimer_getoverrun(long id)
{
	return syscall(SYS_timer_getoverrun, id);
}

static long ktimer_delete(long id)
{
	return syscall(SYS_timer_delete, id);
}

static long long ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct itimerspec oneshot(long nsec)
{
	struct itimerspec its = {{0, 0}, {nsec / 1000000000L, nsec % 1000000000L}};
	return its;
}

static struct itimerspec periodic(long nsec)
{
	struct itimerspec its = {{nsec / 1000000000L, nsec % 1000000000L}, {nsec / 1000000000L, nsec % 1000000000L}};
	return its;
}

static void nap(long nsec)
{
	struct timespec ts = {nsec / 1000000000L, nsec % 1000000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int disarmed(struct itimerspec its)
{
	return ns(its.it_value) == 0 && ns(its.it_interval) == 0;
}

static volatile sig_atomic_t alarms, alarm_signo, alarm_code;

static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	alarms++;
	alarm_signo = sig;
	alarm_code = si->si_code;
}

/* sigset1 returns the set holding sig alone. */
static sigset_t sigset1(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	return s;
}

/* drain takes sig if it is pending. */
static void drain(int sig)
{
	sigset_t s = sigset1(sig);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&s, NULL, &zero) == sig)
		;
}

static void alarm_and_itimers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_alarm;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);

	/* alarm: the seconds left of the previous alarm, rounded up. */
	EXPECT_RET(syscall(SYS_alarm, 0), 0);
	EXPECT_RET(syscall(SYS_alarm, 5), 0);
	EXPECT_RET(syscall(SYS_alarm, 1), 5);
	EXPECT_ERR(pause(), EINTR);
	CHECK(alarms == 1);
	CHECK(alarm_signo == SIGALRM);
	CHECK(alarm_code == SI_KERNEL);
	EXPECT_RET(syscall(SYS_alarm, 0), 0);

	/* alarm is ITIMER_REAL, one-shot. */
	struct itimerval got;
	EXPECT_RET(syscall(SYS_alarm, 10), 0);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
	CHECK(got.it_value.tv_sec == 9 || (got.it_value.tv_sec == 10 && got.it_value.tv_usec == 0));
	CHECK(got.it_interval.tv_sec == 0 && got.it_interval.tv_usec == 0);
	EXPECT_RET(syscall(SYS_alarm, 0), 10);

	/* A periodic ITIMER_REAL ticks until disarmed. */
	sigset_t alrm = sigset1(SIGALRM), old;
	sigprocmask(SIG_BLOCK, &alrm, &old);
	alarms = 0;
	struct itimerval itv = {{0, 20000}, {0, 20000}};
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &itv, NULL), 0);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
	CHECK(got.it_interval.tv_sec == 0 && got.it_interval.tv_usec == 20000);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec > 0 && got.it_value.tv_usec <= 20000);
	while (alarms < 3)
		sigsuspend(&old);
	struct itimerval zero, prev;
	memset(&zero, 0, sizeof zero);
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &zero, &prev), 0);
	CHECK(alarms == 3);
	CHECK(alarm_code == SI_KERNEL);
	CHECK(prev.it_interval.tv_sec == 0 && prev.it_interval.tv_usec == 20000);
	CHECK(prev.it_value.tv_sec == 0 && prev.it_value.tv_usec <= 20000);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0);
	CHECK(got.it_interval.tv_sec == 0 && got.it_interval.tv_usec == 0);
	drain(SIGALRM);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* ITIMER_PROF: what it reads, and that it keeps its period when
	 * disarmed (ITIMER_REAL does not). */
	struct itimerval prof = {{1, 0}, {10, 0}};
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_PROF, &prof, NULL), 0);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_PROF, &got), 0);
	CHECK(got.it_interval.tv_sec == 1 && got.it_interval.tv_usec == 0);
	CHECK(got.it_value.tv_sec >= 9 && got.it_value.tv_sec <= 10);
	struct itimerval period_only = {{1, 0}, {0, 0}};
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_PROF, &period_only, &prev), 0);
	CHECK(prev.it_interval.tv_sec == 1);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_PROF, &got), 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0 && got.it_interval.tv_sec == 1);
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_PROF, &zero, NULL), 0);
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &period_only, NULL), 0);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
	CHECK(got.it_interval.tv_sec == 0 && got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_VIRTUAL, &got), 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_interval.tv_sec == 0);

	/* Errors. */
	struct itimerval bad_usec = {{0, 0}, {0, 1000000}}, bad_sec = {{-1, 0}, {1, 0}};
	EXPECT_ERR(syscall(SYS_setitimer, 3, &itv, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_setitimer, ITIMER_REAL, &bad_usec, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_setitimer, ITIMER_REAL, &bad_sec, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_setitimer, ITIMER_REAL, ptr(16), NULL), EFAULT);
	EXPECT_ERR(syscall(SYS_setitimer, ITIMER_REAL, &zero, ptr(16)), EFAULT);
	EXPECT_ERR(syscall(SYS_getitimer, 3, &got), EINVAL);
	EXPECT_ERR(syscall(SYS_getitimer, ITIMER_REAL, ptr(16)), EFAULT);
}

/* The signals of the POSIX timer tests, blocked in every thread. */
static int sig_one, sig_periodic, sig_thread, sig_child;

static void posix_signal(void)
{
	sigset_t one = sigset1(sig_one), alrm = sigset1(SIGALRM);
	siginfo_t si;

	/* SIGEV_SIGNAL: the signal, its si_code, the timer and the value. */
	struct ksigevent ev = sigev(SIGEV_SIGNAL, sig_one, 42, 0);
	int id = -1;
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	CHECK(id == 0);
	struct itimerspec its = oneshot(10 * MS), cur;
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 0 && ns(cur.it_value) <= 10 * MS && ns(cur.it_interval) == 0);
	memset(&si, 0, sizeof si);
	EXPECT_RET(sigwaitinfo(&one, &si), sig_one);
	CHECK(si.si_code == SI_TIMER);
	CHECK(si.si_value.sival_int == 42);
	CHECK(si.si_timerid == id);
	CHECK(si.si_overrun == 0);
	EXPECT_RET(ktimer_getoverrun(id), 0);
	/* Expired and signalled, a one-shot timer reads as disarmed. */
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(disarmed(cur));

	/* No sigevent: SIGALRM, with the timer's id as the value. */
	int id2 = -1;
	EXPECT_RET(ktimer_create(CLOCK_REALTIME, NULL, &id2), 0);
	CHECK(id2 == 1);
	its = oneshot(5 * MS);
	EXPECT_RET(ktimer_settime(id2, 0, &its, NULL), 0);
	memset(&si, 0, sizeof si);
	EXPECT_RET(sigwaitinfo(&alrm, &si), SIGALRM);
	CHECK(si.si_code == SI_TIMER);
	CHECK(si.si_value.sival_int == id2);
	CHECK(si.si_timerid == id2);
	EXPECT_RET(ktimer_delete(id2), 0);

	/* TIMER_ABSTIME: a time on the timer's clock; one already past
	 * fires at once. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long at = ns(now) + 10 * MS;
	struct itimerspec abs = {{0, 0}, {at / 1000000000LL, at % 1000000000LL}};
	EXPECT_RET(ktimer_settime(id, TIMER_ABSTIME, &abs, NULL), 0);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 0 && ns(cur.it_value) <= 10 * MS);
	EXPECT_RET(sigwaitinfo(&one, &si), sig_one);
	clock_gettime(CLOCK_MONOTONIC, &now);
	CHECK(ns(now) >= at);
	struct itimerspec past = {{0, 0}, {1, 0}};
	EXPECT_RET(ktimer_settime(id, TIMER_ABSTIME, &past, NULL), 0);
	EXPECT_RET(sigwaitinfo(&one, &si), sig_one);
	CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == 42);

	/* The old setting comes back from timer_settime. */
	its = oneshot(1000 * MS);
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	struct itimerspec longer = oneshot(2000 * MS), prev;
	EXPECT_RET(ktimer_settime(id, 0, &longer, &prev), 0);
	CHECK(ns(prev.it_value) > 0 && ns(prev.it_value) <= 1000 * MS && ns(prev.it_interval) == 0);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 1000 * MS && ns(cur.it_value) <= 2000 * MS);
	memset(&its, 0, sizeof its);
	EXPECT_RET(ktimer_settime(id, 0, &its, &prev), 0);
	CHECK(ns(prev.it_value) > 1000 * MS);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(disarmed(cur));

	/* Deleted, the id is unknown. */
	EXPECT_RET(ktimer_delete(id), 0);
	EXPECT_ERR(ktimer_delete(id), EINVAL);
	its = oneshot(10 * MS);
	EXPECT_ERR(ktimer_settime(id, 0, &its, NULL), EINVAL);
	EXPECT_ERR(ktimer_gettime(id, &cur), EINVAL);
	EXPECT_ERR(ktimer_getoverrun(id), EINVAL);
	EXPECT_ERR(ktimer_delete(12345), EINVAL);
	EXPECT_ERR(ktimer_delete(-1), EINVAL);
}

static void posix_periodic(void)
{
	sigset_t set = sigset1(sig_periodic);
	siginfo_t si;

	/* A periodic timer whose signal stays blocked counts overruns: the
	 * expiries while its one signal was pending. */
	struct ksigevent ev = sigev(SIGEV_SIGNAL, sig_periodic, 5, 0);
	int id = -1;
	EXPECT_RET(ktimer_create(CLOCK_BOOTTIME, &ev, &id), 0);
	struct itimerspec its = periodic(5 * MS), cur, prev;
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	nap(60 * MS);
	memset(&si, 0, sizeof si);
	EXPECT_RET(sigwaitinfo(&set, &si), sig_periodic);
	CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == 5);
	CHECK(si.si_overrun >= 3);
	long overrun = ktimer_getoverrun(id);
	CHECK(overrun == si.si_overrun);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_interval) == 5 * MS);
	CHECK(ns(cur.it_value) > 0 && ns(cur.it_value) <= 5 * MS);
	/* And it reloads. */
	EXPECT_RET(sigwaitinfo(&set, &si), sig_periodic);
	CHECK(si.si_code == SI_TIMER && si.si_timerid == id);
	memset(&its, 0, sizeof its);
	EXPECT_RET(ktimer_settime(id, 0, &its, &prev), 0);
	CHECK(ns(prev.it_interval) == 5 * MS);
	/* Setting the timer starts the overrun count again. */
	EXPECT_RET(ktimer_getoverrun(id), 0);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(disarmed(cur));
	EXPECT_RET(ktimer_delete(id), 0);

	/* SIGEV_NONE: nothing is sent, but the timer runs. */
	ev = sigev(SIGEV_NONE, 0, 0, 0);
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	its = oneshot(20 * MS);
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 0 && ns(cur.it_value) <= 20 * MS);
	nap(30 * MS);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(disarmed(cur));
	its = periodic(10 * MS);
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	nap(25 * MS);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 0 && ns(cur.it_value) <= 10 * MS);
	CHECK(ns(cur.it_interval) == 10 * MS);
	EXPECT_RET(ktimer_getoverrun(id), 0);
	EXPECT_RET(ktimer_delete(id), 0);
}

/* waiter is the thread a SIGEV_THREAD_ID timer signals. */
struct waiter {
	volatile int tid;
	int signo, code, value;
};

static void *wait_for_timer(void *arg)
{
	struct waiter *w = arg;
	sigset_t set = sigset1(sig_thread);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	__atomic_store_n(&w->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	w->signo = sigwaitinfo(&set, &si);
	w->code = si.si_code;
	w->value = si.si_value.sival_int;
	return NULL;
}

static void posix_thread(void)
{
	struct ksigevent ev;
	int id = -1;

	/* SIGEV_THREAD_ID: the signal goes to that thread alone. */
	struct waiter w;
	memset(&w, 0, sizeof w);
	pthread_t th;
	int err = pthread_create(&th, NULL, wait_for_timer, &w);
	CHECK(err == 0);
	if (err == 0) {
		while (__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE) == 0)
			sched_yield();
		ev = sigev(SIGEV_THREAD_ID, sig_thread, 7, w.tid);
		EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
		struct itimerspec its = oneshot(10 * MS);
		EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
		CHECK(pthread_join(th, NULL) == 0);
		CHECK(w.signo == sig_thread);
		CHECK(w.code == SI_TIMER);
		CHECK(w.value == 7);
		sigset_t pending;
		sigpending(&pending);
		CHECK(!sigismember(&pending, sig_thread));
		EXPECT_RET(ktimer_delete(id), 0);
	}

	/* The calling thread itself is a thread of the process. */
	ev = sigev(SIGEV_THREAD_ID, sig_thread, 0, getpid());
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	EXPECT_RET(ktimer_delete(id), 0);

	/* A thread of another process, or none, is refused. */
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	ev = sigev(SIGEV_THREAD_ID, sig_thread, 0, child);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ev = sigev(SIGEV_THREAD_ID, sig_thread, 0, 0x7ffffff0);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev = sigev(SIGEV_THREAD_ID, 0, 0, getpid());
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
}

static void posix_errors(void)
{
	struct ksigevent ev;
	int id = -1;

	/* Bad sigevents. */
	ev = sigev(SIGEV_SIGNAL, 0, 0, 0);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev = sigev(SIGEV_SIGNAL, 65, 0, 0);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev = sigev(SIGEV_THREAD_ID | SIGEV_NONE, sig_one, 0, getpid());
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev = sigev(8, sig_one, 0, 0);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	/* SIGEV_NONE needs no signal. */
	ev = sigev(SIGEV_NONE, 0, 0, 0);
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	EXPECT_RET(ktimer_delete(id), 0);

	/* Bad clocks. */
	EXPECT_ERR(ktimer_create(12345, NULL, &id), EINVAL);
	EXPECT_ERR(ktimer_create(10, NULL, &id), EINVAL);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC_RAW, NULL, &id), EOPNOTSUPP);
	EXPECT_ERR(ktimer_create(CLOCK_REALTIME_COARSE, NULL, &id), EOPNOTSUPP);

	/* Bad pointers. */
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, ptr(16), &id), EFAULT);
	EXPECT_ERR(ktimer_create(CLOCK_MONOTONIC, NULL, ptr(16)), EFAULT);
	ev = sigev(SIGEV_SIGNAL, sig_one, 0, 0);
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	struct itimerspec its = oneshot(1000 * MS), cur;
	EXPECT_ERR(ktimer_settime(id, 0, ptr(16), NULL), EFAULT);
	EXPECT_ERR(ktimer_settime(id, 0, NULL, NULL), EINVAL);
	EXPECT_ERR(ktimer_gettime(id, ptr(16)), EFAULT);
	/* A bad place for the old value fails the call after the timer
	 * is set. */
	EXPECT_ERR(ktimer_settime(id, 0, &its, ptr(16)), EFAULT);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 0);

	/* Bad times. */
	struct itimerspec bad = oneshot(10 * MS);
	bad.it_value.tv_nsec = 1000000000;
	EXPECT_ERR(ktimer_settime(id, 0, &bad, NULL), EINVAL);
	bad = oneshot(10 * MS);
	bad.it_interval.tv_nsec = -1;
	EXPECT_ERR(ktimer_settime(id, 0, &bad, NULL), EINVAL);
	bad = oneshot(10 * MS);
	bad.it_value.tv_sec = -1;
	EXPECT_ERR(ktimer_settime(id, TIMER_ABSTIME, &bad, NULL), EINVAL);
	EXPECT_RET(ktimer_delete(id), 0);
}

/* inherit checks that a child of fork has none of its parent's timers,
 * and ends with timers of its own armed. */
static void inherit(void)
{
	struct ksigevent ev = sigev(SIGEV_SIGNAL, sig_one, 0, 0);
	int id = -1;
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	struct itimerspec its = oneshot(10000 * MS), cur;
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	struct itimerval itv = {{0, 0}, {10, 0}}, got;
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &itv, NULL), 0);

	pid_t child = fork();
	if (child == 0) {
		EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
		CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0);
		EXPECT_ERR(ktimer_gettime(id, &cur), EINVAL);
		/* Timers that tick fast, still armed at exit. */
		int own = -1;
		ev = sigev(SIGEV_SIGNAL, sig_child, 0, 0);
		EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &own), 0);
		CHECK(own == 0);
		its = periodic(1 * MS);
		EXPECT_RET(ktimer_settime(own, 0, &its, NULL), 0);
		struct itimerval fast = {{0, 1000}, {0, 1000}};
		EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &fast, NULL), 0);
		nap(5 * MS);
		_exit(check_failures);
	}
	int status = -1;
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	nap(10 * MS);
	EXPECT_RET(ktimer_gettime(id, &cur), 0);
	CHECK(ns(cur.it_value) > 0);
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
	CHECK(got.it_value.tv_sec > 0);
	EXPECT_RET(ktimer_delete(id), 0);
}

/* after_exec is the program after it exec'd itself with ITIMER_REAL and
 * POSIX timer id armed. */
static int after_exec(int id, int failures)
{
	check_failures += failures;
	printf("after exec\n");
	struct itimerval got;
	EXPECT_RET(syscall(SYS_getitimer, ITIMER_REAL, &got), 0);
	CHECK(got.it_value.tv_sec > 0 && got.it_value.tv_sec <= 10);
	CHECK(got.it_interval.tv_sec == 5);
	struct itimerspec cur;
	EXPECT_ERR(ktimer_gettime(id, &cur), EINVAL);

	/* End with timers armed, their signals blocked. */
	struct itimerval fast = {{0, 1000}, {0, 1000}};
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &fast, NULL), 0);
	struct ksigevent ev = sigev(SIGEV_SIGNAL, SIGRTMIN + 1, 0, 0);
	int own = -1;
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &own), 0);
	struct itimerspec its = periodic(1 * MS);
	EXPECT_RET(ktimer_settime(own, 0, &its, NULL), 0);
	nap(5 * MS);
	return finish();
}

int main(int argc, char **argv)
{
	begin();
	if (argc == 4 && strcmp(argv[1], "exec") == 0)
		return after_exec(atoi(argv[2]), atoi(argv[3]));

	alarm_and_itimers();

	sig_one = SIGRTMIN + 1;
	sig_periodic = SIGRTMIN + 2;
	sig_thread = SIGRTMIN + 3;
	sig_child = SIGRTMIN + 4;
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigaddset(&block, sig_one);
	sigaddset(&block, sig_periodic);
	sigaddset(&block, sig_thread);
	sigaddset(&block, sig_child);
	sigprocmask(SIG_BLOCK, &block, NULL);

	posix_signal();
	posix_periodic();
	posix_thread();
	posix_errors();
	inherit();

	/* exec keeps ITIMER_REAL and deletes the POSIX timers. */
	struct ksigevent ev = sigev(SIGEV_SIGNAL, sig_one, 0, 0);
	int id = -1;
	EXPECT_RET(ktimer_create(CLOCK_MONOTONIC, &ev, &id), 0);
	struct itimerspec its = oneshot(10000 * MS);
	EXPECT_RET(ktimer_settime(id, 0, &its, NULL), 0);
	struct itimerval itv = {{5, 0}, {10, 0}};
	EXPECT_RET(syscall(SYS_setitimer, ITIMER_REAL, &itv, NULL), 0);
	drain(SIGALRM);
	char idbuf[16], failbuf[16];
	snprintf(idbuf, sizeof idbuf, "%d", id);
	snprintf(failbuf, sizeof failbuf, "%d", check_failures);
	char *args[] = {argv[0], "exec", idbuf, failbuf, NULL};
	execv(argv[0], args);
	check("execv", 0);
	return finish();
}
