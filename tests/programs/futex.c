/*
 * futex: futex(2) called directly: WAIT's EAGAIN and timeouts, WAKE's
 * counts, REQUEUE and CMP_REQUEUE, WAKE_OP, the BITSET variants, shared
 * futexes across fork through MAP_SHARED memory, EINTR, and the errors.
 * argv[1] names the case.
 *
 * Cases that count woken waiters first wait until every waiter has said
 * it is about to call FUTEX_WAIT, then give them a generous moment to get
 * there: a waiter that came late would find the word changed and return
 * EAGAIN, which the checks would show.
 */
#include "procs.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

static long futex(void *uaddr, int op, int val, const struct timespec *ts, void *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* linux/futex.h's values: musl-gcc has no kernel headers. */
enum {
	FUTEX_WAIT = 0,
	FUTEX_WAKE = 1,
	FUTEX_REQUEUE = 3,
	FUTEX_CMP_REQUEUE = 4,
	FUTEX_WAKE_OP = 5,
	FUTEX_WAIT_BITSET = 9,
	FUTEX_WAKE_BITSET = 10,
	FUTEX_PRIVATE_FLAG = 128,
	FUTEX_CLOCK_REALTIME = 256,
	FUTEX_WAIT_PRIVATE = FUTEX_WAIT | FUTEX_PRIVATE_FLAG,
	FUTEX_WAKE_PRIVATE = FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
	FUTEX_REQUEUE_PRIVATE = FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG,
	FUTEX_CMP_REQUEUE_PRIVATE = FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG,
	FUTEX_WAKE_OP_PRIVATE = FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG,
	FUTEX_WAIT_BITSET_PRIVATE = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
	FUTEX_WAKE_BITSET_PRIVATE = FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG,

	FUTEX_OP_SET = 0,
	FUTEX_OP_ADD = 1,
	FUTEX_OP_OR = 2,
	FUTEX_OP_ANDN = 3,
	FUTEX_OP_XOR = 4,
	FUTEX_OP_OPARG_SHIFT = 8,
	FUTEX_OP_CMP_EQ = 0,
	FUTEX_OP_CMP_NE = 1,
	FUTEX_OP_CMP_LT = 2,
	FUTEX_OP_CMP_LE = 3,
	FUTEX_OP_CMP_GT = 4,
	FUTEX_OP_CMP_GE = 5,
};
#define FUTEX_BITSET_MATCH_ANY (-1)

static int futex_op(int op, int oparg, int cmp, int cmparg)
{
	return ((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff);
}

static void t_errors(int argc, char **argv)
{
	static int word = 1;
	/* The word is not the expected value. */
	EXPECT_ERR(futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), EAGAIN);
	EXPECT_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET, 0, NULL, NULL, -1), EAGAIN);
	/* Nobody waits. */
	EXPECT_RET(futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 0);
	EXPECT_RET(futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
	/* Bad addresses and arguments. */
	EXPECT_ERR(futex(ptr(1), FUTEX_WAIT, 0, NULL, NULL, 0), EINVAL);
	EXPECT_ERR(futex((char *)&word + 1, FUTEX_WAKE, 1, NULL, NULL, 0), EINVAL);
	EXPECT_ERR(futex(ptr(0), FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT);
	EXPECT_ERR(futex(ptr(4096), FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	EXPECT_ERR(futex(&word, FUTEX_WAIT, 1, ptr(8), NULL, 0), EFAULT);
	struct timespec bad = {0, 1000000000};
	EXPECT_ERR(futex(&word, FUTEX_WAIT, 1, &bad, NULL, 0), EINVAL);
	bad.tv_sec = -1, bad.tv_nsec = 0;
	EXPECT_ERR(futex(&word, FUTEX_WAIT, 1, &bad, NULL, 0), EINVAL);
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET, 1, NULL, NULL, 0), EINVAL);
	EXPECT_ERR(futex(&word, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0), EINVAL);
	EXPECT_ERR(futex(&word, 99, 0, NULL, NULL, 0), ENOSYS);
	EXPECT_ERR(futex(&word, FUTEX_CMP_REQUEUE, 1, NULL, &word, 0), EAGAIN);
	EXPECT_ERR(futex(&word, FUTEX_CMP_REQUEUE, 1, ptr(-1), &word, 1), EINVAL);
	(void)argc, (void)argv;
}

static double since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static void t_timeout(int argc, char **argv)
{
	static int word;
	struct timespec start, ts = {0, 50 * 1000000};
	clock_gettime(CLOCK_MONOTONIC, &start);
	EXPECT_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	double took = since(&start);
	printf("a 50ms relative timeout took at least 50ms: %s\n", took >= 0.05 ? "yes" : "no");
	CHECK(took < 5);

	/* FUTEX_WAIT_BITSET's timeout is absolute, on CLOCK_MONOTONIC or,
	 * with FUTEX_CLOCK_REALTIME, on CLOCK_REALTIME. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	struct timespec abs = start;
	abs.tv_nsec += 30 * 1000000;
	if (abs.tv_nsec >= 1000000000)
		abs.tv_sec++, abs.tv_nsec -= 1000000000;
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	printf("an absolute monotonic deadline was honoured: %s\n", since(&start) >= 0.03 ? "yes" : "no");

	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &start);
	rt.tv_nsec += 30 * 1000000;
	if (rt.tv_nsec >= 1000000000)
		rt.tv_sec++, rt.tv_nsec -= 1000000000;
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rt, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	double t = since(&start);
	printf("an absolute realtime deadline was honoured: %s\n", t >= 0.025 && t < 5 ? "yes" : "no");

	/* A deadline in the past times out at once. */
	struct timespec past = {1, 0};
	EXPECT_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	/* A zero relative timeout too. */
	struct timespec zero = {0, 0};
	EXPECT_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, &zero, NULL, 0), ETIMEDOUT);
	/* But a mismatch is EAGAIN before any timeout. */
	EXPECT_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 1, &zero, NULL, 0), EAGAIN);
	(void)argc, (void)argv;
}

/* Waiter threads: each waits on *word until it is non-zero, and counts
 * the wakeups and EAGAINs it saw. */
struct waiter {
	int *word;
	int op;
	unsigned bitset;
	atomic_int *ready;
	long result;
	int err;
};

static void *waiter(void *arg)
{
	struct waiter *w = arg;
	atomic_fetch_add(w->ready, 1);
	w->result = futex(w->word, w->op, 0, NULL, NULL, w->bitset);
	w->err = w->result == -1 ? errno : 0;
	return NULL;
}

static void start_waiters(pthread_t *th, struct waiter *ws, int n, int *word, int op, atomic_int *ready)
{
	atomic_store(ready, 0);
	for (int i = 0; i < n; i++) {
		ws[i] = (struct waiter){.word = word, .op = op, .bitset = FUTEX_BITSET_MATCH_ANY, .ready = ready};
		pthread_create(&th[i], NULL, waiter, &ws[i]);
	}
	while (atomic_load(ready) < n)
		sleep_ms(1);
	sleep_ms(300);
}

static void join_waiters(pthread_t *th, struct waiter *ws, int n)
{
	int woken = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (ws[i].result == 0)
			woken++;
		else
			printf("a waiter got %s\n", errname(ws[i].err));
	}
	printf("%d of %d waiters returned 0\n", woken, n);
}

static void t_wake(int argc, char **argv)
{
	static int word;
	atomic_int ready;
	pthread_t th[5];
	struct waiter ws[5];
	start_waiters(th, ws, 5, &word, FUTEX_WAIT_PRIVATE, &ready);
	/* Wake two, then one, then the rest; the word never changes, so a
	 * waiter not woken stays asleep. */
	EXPECT_RET(futex(&word, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0), 2);
	EXPECT_RET(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	/* A wake on another word wakes nobody. */
	static int other;
	EXPECT_RET(futex(&other, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
	EXPECT_RET(futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 2);
	join_waiters(th, ws, 5);

	/* Bitsets: a wake wakes only the waiters whose bits it shares. */
	atomic_store(&ready, 0);
	unsigned bits[4] = {1, 2, 4, 3};
	for (int i = 0; i < 4; i++) {
		ws[i] = (struct waiter){.word = &word, .op = FUTEX_WAIT_BITSET_PRIVATE, .bitset = bits[i], .ready = &ready};
		pthread_create(&th[i], NULL, waiter, &ws[i]);
	}
	while (atomic_load(&ready) < 4)
		sleep_ms(1);
	sleep_ms(300);
	EXPECT_RET(futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 8), 0);
	EXPECT_RET(futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 2), 2);
	EXPECT_RET(futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 4), 1);
	EXPECT_RET(futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 1);
	join_waiters(th, ws, 4);
	(void)argc, (void)argv;
}

static void t_requeue(int argc, char **argv)
{
	static int a, b;
	atomic_int ready;
	pthread_t th[5];
	struct waiter ws[5];
	start_waiters(th, ws, 5, &a, FUTEX_WAIT_PRIVATE, &ready);
	/* CMP_REQUEUE checks *a first. */
	EXPECT_ERR(futex(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, ptr(2), &b, 1), EAGAIN);
	/* Wake one, move two to b: returns woken + moved. */
	EXPECT_RET(futex(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, ptr(2), &b, 0), 3);
	/* Plain REQUEUE moves the other two without comparing; it too
	 * returns woken + moved. */
	EXPECT_RET(futex(&a, FUTEX_REQUEUE_PRIVATE, 0, ptr(INT_MAX), &b, 0), 2);
	EXPECT_RET(futex(&a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
	EXPECT_RET(futex(&b, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	EXPECT_RET(futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 3);
	join_waiters(th, ws, 5);
	(void)argc, (void)argv;
}

static void t_wake_op(int argc, char **argv)
{
	static int a, b;
	atomic_int ready;
	pthread_t th[4];
	struct waiter wa[2], wb[2];
	start_waiters(th, wa, 2, &a, FUTEX_WAIT_PRIVATE, &ready);
	start_waiters(th + 2, wb, 2, &b, FUTEX_WAIT_PRIVATE, &ready);
	/* *b = 5 (it was 0); wake one on a; then wake one on b if the old
	 * value of *b was 0. */
	int op = futex_op(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0);
	EXPECT_RET(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, ptr(1), &b, op), 2);
	printf("b after FUTEX_OP_SET: %d\n", b);
	/* *b += 1 (old 5): the comparison old < 5 fails, so only a's wake. */
	op = futex_op(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_LT, 5);
	EXPECT_RET(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, ptr(1), &b, op), 1);
	printf("b after FUTEX_OP_ADD: %d\n", b);
	/* OR, ANDN, XOR, and the shifted operand. */
	op = futex_op(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_NE, 0);
	EXPECT_RET(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, ptr(1), &b, op), 1);
	printf("b after FUTEX_OP_OR 1<<4: %d\n", b);
	op = futex_op(FUTEX_OP_ANDN, 1, FUTEX_OP_CMP_GT, 100);
	EXPECT_RET(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, ptr(1), &b, op), 0);
	printf("b after FUTEX_OP_ANDN 1: %d\n", b);
	op = futex_op(FUTEX_OP_XOR, 0xff, FUTEX_OP_CMP_GE, 22);
	EXPECT_RET(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, ptr(INT_MAX), &b, op), 0);
	printf("b after FUTEX_OP_XOR 0xff: %d\n", b);
	join_waiters(th, wa, 2);
	join_waiters(th + 2, wb, 2);
	EXPECT_ERR(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, ptr(1), ptr(0), op), EFAULT);
	(void)argc, (void)argv;
}

/* A futex in MAP_SHARED memory links processes; a private one does not. */
static void t_shared(int argc, char **argv)
{
	int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shm != MAP_FAILED);
	atomic_int *ready = (atomic_int *)&shm[1];
	int *word = &shm[0];

	pid_t pid = xfork();
	if (pid == 0) {
		atomic_store(ready, 1);
		long r = futex(word, FUTEX_WAIT, 0, NULL, NULL, 0);
		/* Report after the parent's lines: through the exit status. */
		_exit(r == 0 && *word == 1 ? 0 : 1);
	}
	while (atomic_load(ready) == 0)
		sleep_ms(1);
	sleep_ms(300);
	/* A private wake looks in this process only. */
	EXPECT_RET(futex(word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	*word = 1;
	EXPECT_RET(futex(word, FUTEX_WAKE, 1, NULL, NULL, 0), 1);
	reap("child", pid);

	/* The other way round, with a second mapping of the same page at
	 * another address in the child: the key is the page, not the
	 * address. */
	*word = 0;
	atomic_store(ready, 0);
	pid = xfork();
	if (pid == 0) {
		/* The children print nothing: their lines would race with
		 * the parent's. Their exit statuses tell. */
		int *alias = mremap(shm, 0, 4096, MREMAP_MAYMOVE);
		if (alias == MAP_FAILED || alias == shm)
			_exit(2);
		while (atomic_load(ready) == 0)
			sleep_ms(1);
		sleep_ms(300);
		_exit(futex(alias, FUTEX_WAKE, INT_MAX, NULL, NULL, 0) == 1 ? 0 : 1);
	}
	atomic_store(ready, 1);
	struct timespec limit = {10, 0};
	EXPECT_RET(futex(word, FUTEX_WAIT, 0, &limit, NULL, 0), 0);
	reap("child", pid);

	/* Private anonymous memory after fork is copied: the child's word is
	 * its own, so the parent's wake cannot reach it. */
	static int priv;
	atomic_store(ready, 0);
	pid = xfork();
	if (pid == 0) {
		atomic_store(ready, 1);
		struct timespec ts = {0, 300 * 1000000};
		long r = futex(&priv, FUTEX_WAIT, 0, &ts, NULL, 0);
		_exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
	}
	while (atomic_load(ready) == 0)
		sleep_ms(1);
	sleep_ms(50);
	EXPECT_RET(futex(&priv, FUTEX_WAKE, INT_MAX, NULL, NULL, 0), 0);
	reap("child", pid);
	(void)argc, (void)argv;
}

/* A signal with a handler interrupts FUTEX_WAIT: EINTR. */
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	handled = 1;
}

static void t_eintr(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	static int word;
	pid_t parent = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(100);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	struct timespec ts = {10, 0};
	EXPECT_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EINTR);
	printf("the handler ran: %s\n", handled ? "yes" : "no");
	reap("child", pid);

	/* An ignored signal does not interrupt: the wait times out. */
	signal(SIGUSR1, SIG_IGN);
	pid = xfork();
	if (pid == 0) {
		sleep_ms(20);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	struct timespec short_ts = {0, 200 * 1000000};
	EXPECT_ERR(futex(&word, FUTEX_WAIT_PRIVATE, 0, &short_ts, NULL, 0), ETIMEDOUT);
	reap("child", pid);
	(void)argc, (void)argv;
}

/* pthread_join rests on the kernel's clear_child_tid wake; a robust
 * mutex's owner dying leaves EOWNERDEAD. */
static void *lock_and_die(void *arg)
{
	pthread_mutex_lock(arg);
	return NULL;
}

static void t_robust(int argc, char **argv)
{
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	static pthread_mutex_t m;
	pthread_mutex_init(&m, &attr);
	pthread_t th;
	pthread_create(&th, NULL, lock_and_die, &m);
	pthread_join(th, NULL);
	/* With a deadline, so that an owner's death nobody notices is a
	 * quick ETIMEDOUT rather than a hang. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	int r = pthread_mutex_timedlock(&m, &deadline);
	printf("locking a dead owner's robust mutex: %s\n",
	       r == EOWNERDEAD ? "EOWNERDEAD" : r == ETIMEDOUT ? "ETIMEDOUT" : errname(r));
	(void)argc, (void)argv;
}

static const struct testcase cases[] = {
	{"errors", t_errors},
	{"timeout", t_timeout},
	{"wake", t_wake},
	{"requeue", t_requeue},
	{"wake-op", t_wake_op},
	{"shared", t_shared},
	{"eintr", t_eintr},
	{"robust", t_robust},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return run_case(cases, argc, argv);
}
