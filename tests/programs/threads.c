/*
 * threads: pthreads on clone(CLONE_VM|CLONE_THREAD|...): create, join,
 * detach, many threads, mutexes and condition variables, TLS, thread ids,
 * a thread's exit against exit_group, signals to one thread. argv[1]
 * names the case.
 */
#include "procs.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void *double_it(void *arg)
{
	return (void *)((long)arg * 2);
}

static void t_join(int argc, char **argv)
{
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, double_it, (void *)i) == 0);
	long sum = 0;
	for (int i = 0; i < 8; i++) {
		void *ret;
		CHECK(pthread_join(th[i], &ret) == 0);
		sum += (long)ret;
	}
	printf("sum of the threads' results: %ld\n", sum);
	CHECK(sum == 56);
	(void)argc, (void)argv;
}

/* 200 threads, created and joined, a few at a time and all at once. */
static atomic_int running, peak;

static void *short_lived(void *arg)
{
	int now = atomic_fetch_add(&running, 1) + 1;
	int p = atomic_load(&peak);
	while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
		;
	sched_yield();
	atomic_fetch_sub(&running, 1);
	return arg;
}

static void *wait_at_barrier(void *arg)
{
	pthread_barrier_wait(arg);
	return NULL;
}

static void t_many(int argc, char **argv)
{
	enum { n = 200 };
	static pthread_t th[n];
	long sum = 0;
	/* In waves of 20. */
	for (int base = 0; base < n; base += 20) {
		int failed = 0;
		for (long i = base; i < base + 20; i++)
			if (pthread_create(&th[i], NULL, short_lived, (void *)i) != 0)
				failed++;
		CHECK(failed == 0);
		for (int i = base; i < base + 20; i++) {
			void *ret;
			pthread_join(th[i], &ret);
			sum += (long)ret;
		}
	}
	printf("waves: sum %ld\n", sum);
	/* All 200 alive at once, held by a barrier. */
	static pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, n + 1);
	int failed = 0;
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, wait_at_barrier, &barrier) != 0)
			failed++;
	printf("200 at once: %d creations failed\n", failed);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < n - failed; i++)
		pthread_join(th[i], NULL);
	printf("all joined\n");
	(void)argc, (void)argv;
}

/* Four threads take turns through a mutex and a condition variable. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, unprotected;
static char order[64];
static int order_len;

static void *take_turns(void *arg)
{
	long me = (long)arg;
	for (int round = 0; round < 4; round++) {
		pthread_mutex_lock(&mu);
		while (turn % 4 != me)
			pthread_cond_wait(&cv, &mu);
		order[order_len++] = 'A' + me;
		turn++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	/* A counter kept only by the mutex. */
	for (int i = 0; i < 100000; i++) {
		pthread_mutex_lock(&mu);
		unprotected++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void t_mutex(int argc, char **argv)
{
	pthread_t th[4];
	for (long i = 3; i >= 0; i--)
		CHECK(pthread_create(&th[i], NULL, take_turns, (void *)i) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("order: %s\n", order);
	printf("counter: %d\n", unprotected);

	/* A timed wait that times out. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += 20 * 1000000;
	if (deadline.tv_nsec >= 1000000000)
		deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
	pthread_mutex_lock(&mu);
	int r = pthread_cond_timedwait(&cv, &mu, &deadline);
	pthread_mutex_unlock(&mu);
	printf("pthread_cond_timedwait: %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : errname(r));
	(void)argc, (void)argv;
}

/* Detached threads cannot be joined; they tell us they ran. */
static atomic_int detached_done;

static void *detached(void *arg)
{
	atomic_fetch_add(&detached_done, 1);
	return NULL;
}

static void t_detach(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < 10; i++) {
		pthread_t th;
		CHECK(pthread_create(&th, &attr, detached, NULL) == 0);
	}
	pthread_t th;
	CHECK(pthread_create(&th, NULL, detached, NULL) == 0);
	CHECK(pthread_detach(th) == 0);
	for (int i = 0; i < 5000 && atomic_load(&detached_done) < 11; i++)
		sleep_ms(1);
	printf("detached threads that ran: %d\n", atomic_load(&detached_done));
	(void)argc, (void)argv;
}

/* Thread ids: each thread has its own tid; all share the pid. */
static pid_t main_pid;

/* ids records the thread's tid and returns whether its pid is the main
 * thread's: threads print nothing, their lines would interleave. */
static void *ids(void *arg)
{
	pid_t *tid = arg;
	*tid = gettid_();
	return (void *)(long)(getpid() == main_pid);
}

static void t_tid(int argc, char **argv)
{
	main_pid = getpid();
	EXPECT_RET(gettid_() == getpid(), 1);
	pthread_t th[3];
	pid_t tids[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, ids, &tids[i]);
	int same_pid = 0, own_tid = 0;
	for (int i = 0; i < 3; i++) {
		void *r;
		pthread_join(th[i], &r);
		same_pid += r != NULL;
		own_tid += tids[i] != main_pid;
	}
	printf("threads whose getpid is the process's: %d of 3; whose tid is not the pid: %d of 3\n", same_pid, own_tid);
	printf("distinct tids: %s\n", tids[0] != tids[1] && tids[1] != tids[2] && tids[0] != tids[2] ? "yes" : "no");
	/* A thread's tid is not a process: kill works on it (it names the
	 * thread group), wait does not. */
	EXPECT_ERR(waitpid(tids[0], NULL, WNOHANG), ECHILD);
	(void)argc, (void)argv;
}

/* __thread variables are per thread. */
static __thread int tls = 7;
static __thread char tls_buf[256];

static void *tls_thread(void *arg)
{
	long me = (long)arg;
	int was = tls;
	tls = 100 + me;
	snprintf(tls_buf, sizeof tls_buf, "thread %ld", me);
	sched_yield();
	int ok = tls == 100 + me;
	char want[32];
	snprintf(want, sizeof want, "thread %ld", me);
	ok = ok && strcmp(tls_buf, want) == 0 && was == 7;
	return (void *)(long)ok;
}

static void t_tls(int argc, char **argv)
{
	tls = 1;
	strcpy(tls_buf, "main");
	pthread_t th[6];
	for (long i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, tls_thread, (void *)i);
	int good = 0;
	for (int i = 0; i < 6; i++) {
		void *ok;
		pthread_join(th[i], &ok);
		good += (long)ok;
	}
	printf("threads that saw their own TLS: %d of 6\n", good);
	printf("main's TLS: %d %s\n", tls, tls_buf);
	/* The FS base is where the thread pointer says. */
	void *fs0;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
	CHECK(fs0 == (void *)pthread_self());
	(void)argc, (void)argv;
}

#ifdef __GLIBC__
/* exit(2) from a thread ends only that thread. */
static void *exit_only_me(void *arg)
{
	syscall(SYS_exit, 0);
	return NULL;
}
#endif

static void *pthread_exit_thread(void *arg)
{
	pthread_exit((void *)42L);
}

static void t_thread_exit(int argc, char **argv)
{
	pthread_t th;
	void *ret;
	CHECK(pthread_create(&th, NULL, pthread_exit_thread, NULL) == 0);
	CHECK(pthread_join(th, &ret) == 0);
	printf("pthread_exit value: %ld\n", (long)ret);

#ifdef __GLIBC__
	/* A raw exit: the thread's clear_child_tid futex wakes the joiner.
	 * (musl's pthread_exit must run: it unlinks the thread and hands
	 * its thread-list lock to the kernel to release.) */
	CHECK(pthread_create(&th, NULL, exit_only_me, NULL) == 0);
	CHECK(pthread_join(th, NULL) == 0);
#endif
	/* A thread that ends with exit(2) does not end the process. */
	printf("the process survived its threads' exits\n");
	(void)argc, (void)argv;
}

/* exit_group from a thread ends the process, main thread included, with
 * that thread's status. */
static void *exit_all(void *arg)
{
	printf("thread calls exit(5)\n");
	exit(5);
}

static void t_exit_group(int argc, char **argv)
{
	pthread_t th;
	pthread_create(&th, NULL, exit_all, NULL);
	/* Block for good: only the other thread's exit ends this. */
	for (;;)
		pause();
}

/* The main thread leaves with pthread_exit; the process lives on until
 * its last thread, whose exit status it takes. */
static void *last_one(void *arg)
{
	sleep_ms(50);
	printf("the last thread exits with 4\n");
	exit(4);
}

static void t_main_exits(int argc, char **argv)
{
	pthread_t th;
	pthread_create(&th, NULL, last_one, NULL);
	printf("main thread calls pthread_exit\n");
	fflush(stdout);
	pthread_exit(NULL);
}

/* A thread blocked in a system call dies with the process. */
static void *block_forever(void *arg)
{
	int *p = arg;
	char c;
	read(p[0], &c, 1);
	return NULL;
}

static void t_exit_blocked(int argc, char **argv)
{
	static int p[2];
	CHECK(pipe(p) == 0);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, block_forever, p);
	sleep_ms(20);
	printf("exit_group while three threads block in read\n");
	fflush(stdout);
	syscall(SYS_exit_group, 6);
}

/* A signal sent to one thread runs the handler on that thread. */
static volatile pid_t handled_on;

static void on_usr1(int sig)
{
	handled_on = gettid_();
}

static pthread_barrier_t sig_barrier;
static volatile pid_t target_tid;

static void *wait_for_signal(void *arg)
{
	target_tid = gettid_();
	pthread_barrier_wait(&sig_barrier);
	/* Wait until the handler has run here. */
	while (handled_on == 0)
		sleep_ms(1);
	return NULL;
}

static void *mask_of_thread(void *arg)
{
	sigset_t mask;
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	return (void *)(long)sigismember(&mask, SIGUSR1);
}

static void t_signal_thread(int argc, char **argv)
{
	signal(SIGUSR1, on_usr1);
	pthread_barrier_init(&sig_barrier, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, wait_for_signal, NULL);
	pthread_barrier_wait(&sig_barrier);
	CHECK(pthread_kill(th, SIGUSR1) == 0);
	pthread_join(th, NULL);
	printf("the handler ran on the target thread: %s\n", handled_on == target_tid ? "yes" : "no");
	/* The joined thread is gone (give its exit a moment to finish). */
	sleep_ms(20);
	EXPECT_ERR(syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1), ESRCH);
	EXPECT_ERR(syscall(SYS_tgkill, getpid(), gettid_(), 99), EINVAL);

	/* A process-directed signal goes to a thread that does not block
	 * it: here only the second thread. */
	handled_on = 0;
	pthread_barrier_init(&sig_barrier, NULL, 2);
	pthread_create(&th, NULL, wait_for_signal, NULL);
	pthread_barrier_wait(&sig_barrier);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGUSR1);
	pthread_join(th, NULL);
	printf("kill() ran the handler on the thread that did not block it: %s\n",
	       handled_on == target_tid ? "yes" : "no");

	/* New threads inherit the creator's mask. */
	void *blocked;
	pthread_create(&th, NULL, mask_of_thread, NULL);
	pthread_join(th, &blocked);
	printf("a new thread inherits its creator's mask: %s\n", blocked ? "yes" : "no");
	(void)argc, (void)argv;
}

/* Threads racing on atomics and on plain increments under a spinlock. */
static atomic_long counter;
static pthread_spinlock_t spin;
static long spun;

static void *race(void *arg)
{
	for (int i = 0; i < 200000; i++) {
		atomic_fetch_add(&counter, 1);
		if (i % 16 == 0) {
			pthread_spin_lock(&spin);
			spun++;
			pthread_spin_unlock(&spin);
		}
	}
	return NULL;
}

static void t_atomics(int argc, char **argv)
{
	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, race, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("atomic counter: %ld, spinlocked counter: %ld\n", atomic_load(&counter), spun);
	(void)argc, (void)argv;
}

/* fork in a threaded process: the child has only the forking thread. */
static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

static void t_fork_threads(int argc, char **argv)
{
	pthread_t th;
	pthread_create(&th, NULL, sleeper, NULL);
	pid_t pid = xfork();
	if (pid == 0) {
		/* A mutex usable in the child; the sleeper does not exist. */
		pthread_mutex_lock(&mu);
		pthread_mutex_unlock(&mu);
		pthread_t t2;
		CHECK(pthread_create(&t2, NULL, double_it, (void *)21L) == 0);
		void *r;
		pthread_join(t2, &r);
		CHECK((long)r == 42);
		child_done();
	}
	reap("forked child of a threaded process", pid);
	(void)argc, (void)argv;
}

/* A new thread starts without an alternate signal stack, whatever its
 * creator has; a forked child keeps its parent's. */
static void *altstack_of_thread(void *arg)
{
	stack_t st;
	sigaltstack(NULL, &st);
	return (void *)(long)(st.ss_flags & SS_DISABLE);
}

static void t_altstack(int argc, char **argv)
{
	static char stack[64 * 1024];
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
	CHECK(sigaltstack(&ss, NULL) == 0);
	pthread_t th;
	void *disabled;
	pthread_create(&th, NULL, altstack_of_thread, NULL);
	pthread_join(th, &disabled);
	printf("a new thread's alternate stack is disabled: %s\n", disabled ? "yes" : "no");
	pid_t pid = xfork();
	if (pid == 0) {
		stack_t st;
		sigaltstack(NULL, &st);
		CHECK(st.ss_sp == stack && st.ss_size == sizeof stack && st.ss_flags == 0);
		child_done();
	}
	reap("forked child", pid);
	(void)argc, (void)argv;
}

/*
 * A thread made with CLONE_VFORK: its creator waits until it exits, as for
 * a vfork child, so it sees what the thread wrote just before.
 */
static volatile int vfork_shared;

static int vfork_thread(void *arg)
{
	(void)arg;
	sleep_ms(50);
	vfork_shared = 42;
	syscall(SYS_exit, 0);
	return 0;
}

static void t_vfork_thread(int argc, char **argv)
{
	(void)argc, (void)argv;
	static char stack[65536] __attribute__((aligned(16)));
	int tid = clone(vfork_thread, stack + sizeof stack,
			CLONE_VM | CLONE_VFORK | CLONE_THREAD | CLONE_SIGHAND | CLONE_FS | CLONE_FILES, NULL);
	CHECK(tid > 0);
	printf("after the vfork thread: %d\n", vfork_shared);
}

/*
 * Two threads call execve at the same moment: the first to get there
 * ends the other, and the new program runs. (Each exec's own image is
 * this program, told to print and exit.)
 */
static const char *self;
static atomic_int exec_go;

static void *exec_racer(void *arg)
{
	(void)arg;
	while (!atomic_load(&exec_go))
		;
	char *av[] = {(char *)self, "exec-racer-image", NULL};
	execv(self, av);
	printf("FAIL: execv: %s\n", errname(errno));
	_exit(1);
}

static void t_exec_race(int argc, char **argv)
{
	(void)argc;
	self = argv[0];
	for (int i = 0; i < 20; i++) {
		pid_t pid = xfork();
		if (pid == 0) {
			pthread_t a, b;
			pthread_create(&a, NULL, exec_racer, NULL);
			pthread_create(&b, NULL, exec_racer, NULL);
			sleep_ms(5);
			atomic_store(&exec_go, 1);
			for (;;)
				pause();
		}
		int status;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 9)
			printf("FAIL: round %d: %s\n", i, describe(status));
	}
	printf("20 rounds of two execs at once: done\n");
}

static void t_exec_racer_image(int argc, char **argv)
{
	(void)argc, (void)argv;
	_exit(9);
}

static const struct testcase cases[] = {
	{"join", t_join},
	{"exec-race", t_exec_race},
	{"vfork-thread", t_vfork_thread},
	{"exec-racer-image", t_exec_racer_image},
	{"many", t_many},
	{"mutex", t_mutex},
	{"detach", t_detach},
	{"tid", t_tid},
	{"tls", t_tls},
	{"thread-exit", t_thread_exit},
	{"exit-group", t_exit_group},
	{"main-exits", t_main_exits},
	{"exit-blocked", t_exit_blocked},
	{"signal-thread", t_signal_thread},
	{"atomics", t_atomics},
	{"fork", t_fork_threads},
	{"altstack", t_altstack},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return run_case(cases, argc, argv);
}
