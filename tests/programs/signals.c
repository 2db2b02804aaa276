/*
 * signals: handlers and their siginfo, restart against EINTR, the
 * SA_ flags, the alternate stack, masks and pending sets, queued signals,
 * sigsuspend and sigtimedwait, process groups, stop and continue, the
 * registers and FP state a handler must leave alone, synchronous faults
 * (SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGBUS) and deaths by signal. argv[1]
 * names the case.
 */
#include "procs.h"

#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>

static char *self;

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0) {
		printf("FAIL: sigaction(%s): %s\n", signame(sig), errname(errno));
		check_failures++;
	}
}

static sigset_t only(int sig)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	return set;
}

static void block(int sig)
{
	sigset_t set = only(sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* No libm: the harness links only libc. sqrtsd, and the SSE rounding
 * mode in MXCSR, by hand. */
static double sqrt_(double x)
{
	double r;
	__asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x));
	return r;
}

enum { ROUND_NEAREST = 0, ROUND_DOWN = 1, ROUND_UP = 2, ROUND_ZERO = 3 };

static void set_rounding(int mode)
{
	unsigned csr;
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	csr = (csr & ~0x6000u) | (unsigned)mode << 13;
	__asm__ volatile("ldmxcsr %0" ::"m"(csr));
}

static int rounding(void)
{
	unsigned csr;
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	return (csr >> 13) & 3;
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

static const char *code_name(int sig, int code)
{
	static char buf[32];
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	case SI_TIMER: return "SI_TIMER";
	}
	if (sig == SIGSEGV && code == SEGV_MAPERR) return "SEGV_MAPERR";
	if (sig == SIGSEGV && code == SEGV_ACCERR) return "SEGV_ACCERR";
	if (sig == SIGFPE && code == FPE_INTDIV) return "FPE_INTDIV";
	if (sig == SIGFPE && code == FPE_FLTDIV) return "FPE_FLTDIV";
	if (sig == SIGILL && code == ILL_ILLOPN) return "ILL_ILLOPN";
	if (sig == SIGBUS && code == BUS_ADRALN) return "BUS_ADRALN";
	if (sig == SIGBUS && code == BUS_ADRERR) return "BUS_ADRERR";
	if (sig == SIGTRAP && code == TRAP_BRKPT) return "TRAP_BRKPT";
	if (sig == SIGCHLD && code == CLD_EXITED) return "CLD_EXITED";
	if (sig == SIGCHLD && code == CLD_KILLED) return "CLD_KILLED";
	if (sig == SIGCHLD && code == CLD_DUMPED) return "CLD_DUMPED";
	if (sig == SIGCHLD && code == CLD_STOPPED) return "CLD_STOPPED";
	if (sig == SIGCHLD && code == CLD_CONTINUED) return "CLD_CONTINUED";
	snprintf(buf, sizeof buf, "code %d", code);
	return buf;
}

/* The last siginfo a handler saw. */
static volatile sig_atomic_t hits;
static siginfo_t last;

static void record(int sig, siginfo_t *si, void *uc)
{
	last = *si;
	hits++;
}

/* Wait, with the signal blocked outside sigsuspend, for a handler to run. */
static void wait_for_hits(int n)
{
	sigset_t none;
	sigemptyset(&none);
	while (hits < n)
		sigsuspend(&none);
}

static void t_siginfo(int argc, char **argv)
{
	pid_t me = getpid();
	set_handler(SIGUSR1, record, 0);
	block(SIGUSR1);

	/* kill(2) to ourselves: SI_USER with our pid and uid. */
	kill(me, SIGUSR1);
	wait_for_hits(1);
	printf("kill: %s %s, pid ours %s, uid ours %s\n", signame(last.si_signo), code_name(last.si_signo, last.si_code),
	       yes(last.si_pid == me), yes(last.si_uid == getuid()));

	/* tgkill: SI_TKILL. */
	syscall(SYS_tgkill, me, syscall(SYS_gettid), SIGUSR1);
	wait_for_hits(2);
	printf("tgkill: %s %s, pid ours %s\n", signame(last.si_signo), code_name(last.si_signo, last.si_code), yes(last.si_pid == me));
	syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR1);
	wait_for_hits(3);
	printf("tkill: %s\n", code_name(last.si_signo, last.si_code));

	/* sigqueue: SI_QUEUE and the value. */
	union sigval v = {.sival_int = 1234};
	sigqueue(me, SIGUSR1, v);
	wait_for_hits(4);
	printf("sigqueue: %s value %d\n", code_name(last.si_signo, last.si_code), last.si_value.sival_int);

	/* rt_sigqueueinfo with our own siginfo. */
	siginfo_t si = {0};
	si.si_signo = SIGUSR1;
	si.si_code = -42;
	si.si_pid = me;
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)0x1234567890;
	EXPECT_RET(syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, &si), 0);
	wait_for_hits(5);
	printf("rt_sigqueueinfo: code %d value %s\n", last.si_code, yes(last.si_value.sival_ptr == (void *)0x1234567890));
	EXPECT_RET(syscall(SYS_rt_tgsigqueueinfo, me, syscall(SYS_gettid), SIGUSR1, &si), 0);
	wait_for_hits(6);

	/* From a child: its pid. */
	pid_t pid = xfork();
	if (pid == 0) {
		kill(me, SIGUSR1);
		_exit(0);
	}
	wait_for_hits(7);
	printf("from a child: %s, pid the child's %s\n", code_name(last.si_signo, last.si_code), yes(last.si_pid == pid));
	waitpid(pid, NULL, 0);

	/* A positive si_code may not be sent to another process. */
	pid = xfork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	si.si_code = SI_USER;
	EXPECT_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &si), EPERM);
	si.si_code = SI_TKILL;
	EXPECT_ERR(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR1, &si), EPERM);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* SIGCHLD's siginfo. */
	set_handler(SIGCHLD, record, 0);
	block(SIGCHLD);
	int before = hits;
	pid = xfork();
	if (pid == 0)
		_exit(3);
	wait_for_hits(before + 1);
	printf("SIGCHLD: %s status %d pid the child's %s\n", code_name(last.si_signo, last.si_code), last.si_status,
	       yes(last.si_pid == pid));
	waitpid(pid, NULL, 0);
	before = hits;
	pid = xfork();
	if (pid == 0) {
		kill(getpid(), SIGTERM);
		_exit(0);
	}
	wait_for_hits(before + 1);
	printf("SIGCHLD: %s status %s\n", code_name(last.si_signo, last.si_code), signame(last.si_status));
	waitpid(pid, NULL, 0);

	/* Errors. */
	EXPECT_ERR(kill(me, 65), EINVAL);
	EXPECT_ERR(kill(me, -1), EINVAL);
	EXPECT_ERR(kill(pid, 0), ESRCH);
	EXPECT_ERR(syscall(SYS_tgkill, me, pid, SIGUSR1), ESRCH);
	EXPECT_ERR(syscall(SYS_tgkill, 0, me, SIGUSR1), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, ptr(1)), EFAULT);
	struct sigaction sa = {0};
	sa.sa_handler = SIG_IGN;
	EXPECT_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL);
	EXPECT_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigaction, 0, NULL, NULL, 8), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4), EINVAL);
	sigset_t some = only(SIGUSR2);
	EXPECT_ERR(syscall(SYS_rt_sigprocmask, 7, &some, NULL, 8), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &some, NULL, 16), EINVAL);
	/* With no new set, how is not looked at. */
	EXPECT_RET(syscall(SYS_rt_sigprocmask, 7, NULL, NULL, 8), 0);
	/* SIGKILL and SIGSTOP cannot be blocked. */
	sigset_t all, now;
	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 8);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, 8);
	printf("after blocking everything: SIGKILL blocked %s, SIGSTOP blocked %s, SIGUSR2 blocked %s\n",
	       yes(sigismember(&now, SIGKILL)), yes(sigismember(&now, SIGSTOP)), yes(sigismember(&now, SIGUSR2)));
	(void)argc, (void)argv;
}

/* SA_RESTART decides whether a read interrupted by a handled signal
 * restarts or fails with EINTR. The signal comes from a child, while the
 * read blocks; the data comes later. */
static volatile sig_atomic_t usr1_count;

static void count_usr1(int sig)
{
	usr1_count++;
}

static void interrupted_read(int flags)
{
	struct sigaction sa = {0};
	sa.sa_handler = count_usr1;
	sa.sa_flags = flags;
	sigaction(SIGUSR1, &sa, NULL);
	usr1_count = 0;
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t me = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		close(p[0]);
		sleep_ms(100);
		kill(me, SIGUSR1);
		sleep_ms(100);
		write(p[1], "data", 4);
		_exit(0);
	}
	close(p[1]);
	char buf[8];
	errno = 0;
	ssize_t n = read(p[0], buf, sizeof buf);
	printf("%s: read returned %zd %s, handler ran %d time(s)\n", flags & SA_RESTART ? "SA_RESTART" : "no SA_RESTART", n,
	       n < 0 ? errname(errno) : "", (int)usr1_count);
	waitpid(pid, NULL, 0);
	close(p[0]);
}

static void t_restart(int argc, char **argv)
{
	interrupted_read(SA_RESTART);
	interrupted_read(0);

	/* nanosleep is never restarted after a handler: EINTR, and the
	 * remaining time. */
	struct sigaction sa = {0};
	sa.sa_handler = count_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pid_t me = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	struct timespec ts = {10, 0}, rem = {0, 0};
	EXPECT_ERR(nanosleep(&ts, &rem), EINTR);
	printf("remaining time reported: %s\n", yes(rem.tv_sec > 5 && rem.tv_sec <= 10));
	waitpid(pid, NULL, 0);

	/* pause() returns only by EINTR. */
	pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	EXPECT_ERR(pause(), EINTR);
	waitpid(pid, NULL, 0);

	/* wait4 restarts under SA_RESTART: the child's exit ends it. */
	usr1_count = 0;
	pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		sleep_ms(50);
		_exit(4);
	}
	int status;
	EXPECT_RET(waitpid(pid, &status, 0) == pid, 1);
	printf("waitpid after a handled signal: %s, handler ran %d time(s)\n", describe(status), (int)usr1_count);

	/* A signal whose action is to ignore does not interrupt. */
	signal(SIGUSR1, SIG_IGN);
	int p[2];
	CHECK(pipe(p) == 0);
	pid = xfork();
	if (pid == 0) {
		close(p[0]);
		sleep_ms(50);
		kill(me, SIGUSR1);
		sleep_ms(50);
		write(p[1], "late", 4);
		_exit(0);
	}
	close(p[1]);
	char buf[8];
	EXPECT_RET(read(p[0], buf, sizeof buf), 4);
	waitpid(pid, NULL, 0);
	(void)argc, (void)argv;
}

/* SA_RESETHAND: the handler runs once; the default action comes back. */
static volatile sig_atomic_t reset_seen_default;

static void oneshot(int sig)
{
	struct sigaction cur;
	sigaction(sig, NULL, &cur);
	reset_seen_default = cur.sa_handler == SIG_DFL;
}

static void t_resethand(int argc, char **argv)
{
	pid_t pid = xfork();
	if (pid == 0) {
		struct sigaction sa = {0};
		sa.sa_handler = oneshot;
		sa.sa_flags = SA_RESETHAND;
		sigaction(SIGUSR1, &sa, NULL);
		raise(SIGUSR1);
		printf("in the handler the action was already SIG_DFL: %s\n", yes(reset_seen_default));
		fflush(stdout);
		raise(SIGUSR1); /* the default: death */
		printf("FAIL: survived the second SIGUSR1\n");
		fflush(stdout);
		_exit(1);
	}
	reap("child", pid);
	(void)argc, (void)argv;
}

/* SA_NODEFER lets a signal interrupt its own handler; without it the
 * signal is blocked in the handler and comes after. sa_mask is blocked
 * in the handler too. */
static volatile int depth, max_depth, calls;
static volatile int blocked_in_handler_self, blocked_in_handler_usr2;

static void nested(int sig)
{
	calls++;
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (calls == 1) {
		blocked_in_handler_self = sigismember(&cur, sig);
		blocked_in_handler_usr2 = sigismember(&cur, SIGUSR2);
		raise(sig);
	}
	depth--;
}

static void t_nodefer(int argc, char **argv)
{
	for (int nodefer = 0; nodefer <= 1; nodefer++) {
		struct sigaction sa = {0};
		sa.sa_handler = nested;
		sa.sa_flags = nodefer ? SA_NODEFER : 0;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGUSR2);
		sigaction(SIGUSR1, &sa, NULL);
		depth = max_depth = calls = 0;
		raise(SIGUSR1);
		printf("%s: calls %d, deepest nesting %d, SIGUSR1 blocked in handler %s, sa_mask's SIGUSR2 blocked %s\n",
		       nodefer ? "SA_NODEFER" : "default", calls, max_depth, yes(blocked_in_handler_self),
		       yes(blocked_in_handler_usr2));
		/* The mask is back as it was. */
		sigset_t cur;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		CHECK(!sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));
	}
	/* A handler that changes the mask: sigreturn restores the old one. */
	(void)argc, (void)argv;
}

/* The alternate signal stack. */
static char *alt_base;
static size_t alt_size;
static volatile int on_alt, ss_onstack_flag;

static void where_am_i(int sig)
{
	char here;
	on_alt = &here >= alt_base && &here < alt_base + alt_size;
	stack_t cur;
	sigaltstack(NULL, &cur);
	ss_onstack_flag = (cur.ss_flags & SS_ONSTACK) != 0;
	/* Changing the stack while on it is refused. */
	stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size};
	if (sigaltstack(&ss, NULL) == -1 && errno == EPERM)
		ss_onstack_flag |= 2;
}

static sigjmp_buf overflow_jmp;

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
	char here;
	on_alt = &here >= alt_base && &here < alt_base + alt_size;
	siglongjmp(overflow_jmp, 1);
}

static volatile int deeper = 1;

static int recurse(int n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	if (!deeper)
		return 0;
	return recurse(n + 1) + pad[0];
}

static void t_altstack(int argc, char **argv)
{
	stack_t cur;
	EXPECT_RET(sigaltstack(NULL, &cur), 0);
	printf("initially: SS_DISABLE %s\n", yes(cur.ss_flags & SS_DISABLE));

	alt_size = 256 * 1024;
	alt_base = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
	EXPECT_RET(sigaltstack(&ss, NULL), 0);
	EXPECT_RET(sigaltstack(NULL, &cur), 0);
	CHECK(cur.ss_sp == alt_base && cur.ss_size == alt_size && cur.ss_flags == 0);

	/* Without SA_ONSTACK the handler stays on the normal stack. */
	signal(SIGUSR1, where_am_i);
	raise(SIGUSR1);
	printf("without SA_ONSTACK: on the alternate stack %s\n", yes(on_alt));
	struct sigaction sa = {0};
	sa.sa_handler = where_am_i;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("with SA_ONSTACK: on the alternate stack %s, SS_ONSTACK %s, EPERM on change %s\n", yes(on_alt),
	       yes(ss_onstack_flag & 1), yes(ss_onstack_flag & 2));
	EXPECT_RET(sigaltstack(NULL, &cur), 0);
	CHECK(cur.ss_flags == 0);

	/* Errors. */
	/* Errors, from the kernel (musl checks the first two itself, and
	 * reads *ss before the call). */
	ss.ss_size = 1024;
	EXPECT_ERR(syscall(SYS_sigaltstack, &ss, NULL), ENOMEM);
	ss.ss_size = alt_size;
	ss.ss_flags = 0x1234;
	EXPECT_ERR(syscall(SYS_sigaltstack, &ss, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_sigaltstack, ptr(1), NULL), EFAULT);

	/* A stack overflow is caught on the alternate stack. */
	set_handler(SIGSEGV, overflow_handler, SA_ONSTACK);
	/* However the test was started, the stack may grow to 8 MiB. */
	struct rlimit rl = {8 << 20, 8 << 20};
	struct rlimit cur_rl;
	getrlimit(RLIMIT_STACK, &cur_rl);
	if (cur_rl.rlim_max != RLIM_INFINITY && cur_rl.rlim_max < rl.rlim_max)
		rl.rlim_max = cur_rl.rlim_max;
	setrlimit(RLIMIT_STACK, &rl);
	on_alt = 0;
	if (sigsetjmp(overflow_jmp, 1) == 0) {
		recurse(0);
		printf("FAIL: the recursion ended\n");
	}
	printf("stack overflow caught on the alternate stack: %s\n", yes(on_alt));

	/* SS_DISABLE turns it off. */
	ss.ss_flags = SS_DISABLE;
	EXPECT_RET(sigaltstack(&ss, NULL), 0);
	EXPECT_RET(sigaltstack(NULL, &cur), 0);
	printf("after SS_DISABLE: SS_DISABLE %s\n", yes(cur.ss_flags & SS_DISABLE));
	signal(SIGUSR1, where_am_i);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("disabled, with SA_ONSTACK: on the alternate stack %s\n", yes(on_alt));

	/* A forked child keeps the alternate stack setting. */
	ss = (stack_t){.ss_sp = alt_base, .ss_size = alt_size};
	sigaltstack(&ss, NULL);
	pid_t pid = xfork();
	if (pid == 0) {
		raise(SIGUSR1);
		CHECK(on_alt);
		child_done();
	}
	reap("child", pid);
	(void)argc, (void)argv;
}

/* Blocked signals wait in the pending set; unblocking delivers them,
 * lowest number first for standard signals; a standard signal is pending
 * once however often it is sent, real-time signals queue. */
static int order[32], norder;
static int rt_values[8], nrt;

static void log_order(int sig, siginfo_t *si, void *uc)
{
	if (norder < 32)
		order[norder++] = sig;
	if (sig >= SIGRTMIN && nrt < 8)
		rt_values[nrt++] = si->si_value.sival_int;
}

/* send_all sends, with all of them blocked, SIGTERM, SIGUSR2 twice,
 * SIGUSR1, three rt+1 with values 100-102 and one rt with value 7. */
static void send_all(int rt)
{
	pid_t me = getpid();
	kill(me, SIGTERM);
	kill(me, SIGUSR2);
	kill(me, SIGUSR2);
	kill(me, SIGUSR1);
	for (int i = 0; i < 3; i++) {
		union sigval v = {.sival_int = 100 + i};
		sigqueue(me, rt + 1, v);
	}
	union sigval v = {.sival_int = 7};
	sigqueue(me, rt, v);
}

static void print_order(const char *how, int rt)
{
	printf("%s, delivery order:", how);
	for (int i = 0; i < norder; i++)
		printf(" %s", order[i] >= SIGRTMIN ? (order[i] == rt ? "rt" : "rt+1") : signame(order[i]));
	printf("; rt values:");
	for (int i = 0; i < nrt; i++)
		printf(" %d", rt_values[i]);
	printf("\n");
	norder = nrt = 0;
}

static void t_mask(int argc, char **argv)
{
	int rt = SIGRTMIN + 2;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, rt);
	sigaddset(&set, rt + 1);
	/* First, each handler blocks all of them: one handler at a time,
	 * in the order the kernel takes them from the pending sets. */
	int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM, rt, rt + 1};
	for (int i = 0; i < 5; i++) {
		struct sigaction sa = {0};
		sa.sa_sigaction = log_order;
		sa.sa_flags = SA_SIGINFO;
		sa.sa_mask = set;
		sigaction(sigs[i], &sa, NULL);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	send_all(rt);

	sigset_t pending;
	sigpending(&pending);
	printf("pending: SIGUSR1 %s SIGUSR2 %s SIGTERM %s rt %s rt+1 %s SIGINT %s\n", yes(sigismember(&pending, SIGUSR1)),
	       yes(sigismember(&pending, SIGUSR2)), yes(sigismember(&pending, SIGTERM)), yes(sigismember(&pending, rt)),
	       yes(sigismember(&pending, rt + 1)), yes(sigismember(&pending, SIGINT)));
	printf("handlers run while blocked: %d\n", norder);

	/* A fork's child inherits the mask but not the pending signals. */
	pid_t pid = xfork();
	if (pid == 0) {
		sigset_t cmask, cpend;
		sigprocmask(SIG_BLOCK, NULL, &cmask);
		sigpending(&cpend);
		printf("child: SIGUSR1 blocked %s, pending %s\n", yes(sigismember(&cmask, SIGUSR1)), yes(sigismember(&cpend, SIGUSR1)));
		child_done();
	}
	reap("child", pid);

	/* An exec'd program keeps the mask and the pending signals; handled
	 * signals go back to SIG_DFL, ignored ones stay ignored. */
	pid = xfork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		raise(SIGUSR1);
		char *args[] = {self, "showmask", NULL};
		execv(self, args);
		_exit(127);
	}
	reap("exec'd child", pid);

	sigprocmask(SIG_UNBLOCK, &set, NULL);
	print_order("one handler at a time", rt);

	/* Then with nothing blocked in the handlers: unblocking delivers
	 * them all at once, each frame on top of the last, so the handlers
	 * run in the reverse order. */
	for (int i = 0; i < 5; i++)
		set_handler(sigs[i], log_order, 0);
	sigprocmask(SIG_BLOCK, &set, NULL);
	send_all(rt);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	print_order("nested", rt);

	/* sigprocmask's how: SIG_SETMASK replaces, and returns the old. */
	sigset_t old;
	sigset_t usr2 = only(SIGUSR2);
	sigprocmask(SIG_SETMASK, &usr2, NULL);
	sigset_t usr1 = only(SIGUSR1);
	sigprocmask(SIG_SETMASK, &usr1, &old);
	CHECK(sigismember(&old, SIGUSR2) && !sigismember(&old, SIGUSR1));
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	(void)argc;
}

static void t_showmask(int argc, char **argv)
{
	sigset_t mask, pending;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	sigpending(&pending);
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	printf("after exec: SIGUSR1 blocked %s, pending %s, handler reset to SIG_DFL %s\n", yes(sigismember(&mask, SIGUSR1)),
	       yes(sigismember(&pending, SIGUSR1)), yes(sa.sa_handler == SIG_DFL));
	sigaction(SIGPIPE, NULL, &sa);
	printf("after exec: SIGPIPE still ignored %s\n", yes(sa.sa_handler == SIG_IGN));
	exit(0);
}

/* sigsuspend swaps the mask, waits for a handler, and puts it back. */
static void t_sigsuspend(int argc, char **argv)
{
	set_handler(SIGUSR1, record, 0);
	block(SIGUSR1);
	hits = 0;
	pid_t me = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	sigset_t none;
	sigemptyset(&none);
	EXPECT_ERR(sigsuspend(&none), EINTR);
	printf("handler ran: %d\n", (int)hits);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("SIGUSR1 blocked again after sigsuspend: %s\n", yes(sigismember(&cur, SIGUSR1)));
	waitpid(pid, NULL, 0);

	/* A signal already pending ends sigsuspend at once. */
	kill(me, SIGUSR1);
	EXPECT_ERR(sigsuspend(&none), EINTR);
	printf("handler ran: %d\n", (int)hits);
	(void)argc, (void)argv;
}

/* sigtimedwait takes a blocked signal without running its handler. */
static void t_sigtimedwait(int argc, char **argv)
{
	set_handler(SIGUSR1, record, 0);
	block(SIGUSR1);
	block(SIGUSR2);
	hits = 0;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	siginfo_t si;
	struct timespec ts = {0, 50 * 1000000};
	EXPECT_ERR(sigtimedwait(&set, &si, &ts), EAGAIN);
	struct timespec zero = {0, 0};
	EXPECT_ERR(sigtimedwait(&set, &si, &zero), EAGAIN);

	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	EXPECT_RET(sigtimedwait(&set, &si, &ts), SIGUSR1);
	printf("took %s %s, pid ours %s\n", signame(si.si_signo), code_name(si.si_signo, si.si_code), yes(si.si_pid == getpid()));
	EXPECT_RET(sigwaitinfo(&set, &si), SIGUSR2);
	printf("the handler did not run: %s\n", yes(hits == 0));

	/* From a child, while we wait. */
	pid_t me = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		union sigval v = {.sival_int = 99};
		sigqueue(me, SIGUSR2, v);
		_exit(0);
	}
	struct timespec ten = {10, 0};
	EXPECT_RET(sigtimedwait(&set, &si, &ten), SIGUSR2);
	printf("took %s %s value %d, from the child %s\n", signame(si.si_signo), code_name(si.si_signo, si.si_code),
	       si.si_value.sival_int, yes(si.si_pid == pid));
	waitpid(pid, NULL, 0);

	/*
	 * SIGCHLD, whose default action ignores it, blocked to wait for:
	 * the wait unblocks it, but it was blocked when it came, so it is
	 * queued, not discarded.
	 */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	pid = xfork();
	if (pid == 0)
		_exit(7);
	EXPECT_RET(sigtimedwait(&chld, &si, &ten), SIGCHLD);
	printf("took %s %s status %d, from the child %s\n", signame(si.si_signo), code_name(si.si_signo, si.si_code),
	       si.si_status, yes(si.si_pid == pid));
	waitpid(pid, NULL, 0);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);

	/* Errors. */
	struct timespec bad = {0, 2000000000};
	EXPECT_ERR(sigtimedwait(&set, &si, &bad), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigtimedwait, &set, &si, &ts, 4), EINVAL);
	(void)argc, (void)argv;
}

/* kill(-pgid) reaches every process of the group; kill(0) our own. */
static void t_pgkill(int argc, char **argv)
{
	pid_t kids[3];
	int ready[2];
	CHECK(pipe(ready) == 0);
	for (int i = 0; i < 3; i++) {
		kids[i] = xfork();
		if (kids[i] == 0) {
			setpgid(0, i == 0 ? 0 : kids[0]);
			close(ready[0]);
			write(ready[1], "r", 1);
			for (;;)
				pause();
		}
		setpgid(kids[i], kids[0]);
	}
	close(ready[1]);
	char c;
	for (int i = 0; i < 3; i++)
		CHECK(read(ready[0], &c, 1) == 1);
	EXPECT_RET(kill(-kids[0], SIGTERM), 0);
	for (int i = 0; i < 3; i++)
		reap("group member", kids[i]);
	EXPECT_ERR(kill(-kids[0], SIGTERM), ESRCH);
	EXPECT_ERR(kill(-kids[0], 0), ESRCH);

	/* kill(0, sig) in a child that leads its own group: it and its
	 * children get the signal; we do not. */
	pid_t leader = xfork();
	if (leader == 0) {
		setpgid(0, 0);
		signal(SIGUSR1, SIG_IGN);
		pid_t gc = xfork();
		if (gc == 0) {
			signal(SIGUSR1, SIG_DFL);
			for (;;)
				pause();
		}
		sleep_ms(20);
		kill(0, SIGUSR1);
		reap("grandchild", gc);
		child_done();
	}
	reap("group leader", leader);
	(void)argc, (void)argv;
}

/* SIGSTOP and SIGCONT, seen through wait4's WUNTRACED and WCONTINUED and
 * through SIGCHLD. */
static void t_stopcont(int argc, char **argv)
{
	set_handler(SIGCHLD, record, 0);
	block(SIGCHLD);
	pid_t pid = xfork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	int status;
	kill(pid, SIGSTOP);
	EXPECT_RET(waitpid(pid, &status, WUNTRACED) == pid, 1);
	printf("WUNTRACED: %s\n", describe(status));
	hits = 0;
	wait_for_hits(1);
	printf("SIGCHLD: %s status %s\n", code_name(last.si_signo, last.si_code), signame(last.si_status));
	/* Reported once. */
	EXPECT_RET(waitpid(pid, &status, WUNTRACED | WNOHANG), 0);

	kill(pid, SIGCONT);
	EXPECT_RET(waitpid(pid, &status, WCONTINUED) == pid, 1);
	printf("WCONTINUED: %s\n", describe(status));
	wait_for_hits(2);
	printf("SIGCHLD: %s status %s\n", code_name(last.si_signo, last.si_code), signame(last.si_status));

	/* waitid sees them too. */
	siginfo_t si;
	kill(pid, SIGSTOP);
	memset(&si, 0, sizeof si);
	EXPECT_RET(waitid(P_PID, pid, &si, WSTOPPED), 0);
	printf("waitid WSTOPPED: %s %s\n", code_name(SIGCHLD, si.si_code), signame(si.si_status));
	/* A stopped process takes SIGKILL. */
	kill(pid, SIGKILL);
	reap("child", pid);

	/* A stopped process keeps other signals pending until SIGCONT. */
	int p[2];
	CHECK(pipe(p) == 0);
	pid = xfork();
	if (pid == 0) {
		close(p[0]);
		struct sigaction sa = {0};
		sa.sa_handler = count_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		write(p[1], "r", 1);
		for (;;) {
			if (usr1_count) {
				write(p[1], "u", 1);
				_exit(0);
			}
			pause();
		}
	}
	close(p[1]);
	char c;
	EXPECT_RET(read(p[0], &c, 1), 1);
	kill(pid, SIGSTOP);
	EXPECT_RET(waitpid(pid, &status, WUNTRACED) == pid, 1);
	kill(pid, SIGUSR1);
	sleep_ms(50);
	kill(pid, SIGCONT);
	EXPECT_RET(read(p[0], &c, 1), 1);
	reap("child", pid);

	/* SIGTSTP's default also stops; SA_NOCLDSTOP silences SIGCHLD for
	 * stops and continues. First take the SIGCHLDs still pending. */
	struct timespec zero_ts = {0, 0};
	sigset_t chld = only(SIGCHLD);
	while (sigtimedwait(&chld, NULL, &zero_ts) > 0)
		;
	struct sigaction sa = {0};
	sa.sa_sigaction = record;
	sa.sa_flags = SA_SIGINFO | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	/* Linux discards SIGTSTP sent to an orphaned process group, and
	 * whether ours is one depends on how the test runner was started
	 * (a shell job whose shell has gone is). A group of the child's
	 * own, whose parent is in another group of the session, is not. */
	pid = xfork();
	if (pid == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(pid, pid);
	hits = 0;
	kill(pid, SIGTSTP);
	EXPECT_RET(waitpid(pid, &status, WUNTRACED) == pid, 1);
	printf("SIGTSTP: %s\n", describe(status));
	kill(pid, SIGTERM);
	kill(pid, SIGCONT);
	reap("child", pid);
	sigset_t none;
	sigemptyset(&none);
	sigsuspend(&none); /* the SIGCHLD of the death */
	printf("SIGCHLDs with SA_NOCLDSTOP: %d, the last %s\n", (int)hits, code_name(SIGCHLD, last.si_code));
	(void)argc, (void)argv;
}

/* Registers and FP state survive an asynchronous handler. The main
 * program spins with known values in every general-purpose register it
 * can spare and in xmm8-xmm15, until the handler (which clobbers them
 * all) has run. */
static volatile int spin_flag;

static void clobber(int sig)
{
	__asm__ volatile(
		"mov $-1, %%rbx\n\t"
		"mov $-1, %%r12\n\t"
		"mov $-1, %%r13\n\t"
		"mov $-1, %%r14\n\t"
		"mov $-1, %%r15\n\t"
		"mov $-1, %%r8\n\t"
		"mov $-1, %%r9\n\t"
		"mov $-1, %%r10\n\t"
		"mov $-1, %%r11\n\t"
		"pcmpeqd %%xmm0, %%xmm0\n\t"
		"pcmpeqd %%xmm1, %%xmm1\n\t"
		"pcmpeqd %%xmm8, %%xmm8\n\t"
		"pcmpeqd %%xmm9, %%xmm9\n\t"
		"pcmpeqd %%xmm10, %%xmm10\n\t"
		"pcmpeqd %%xmm11, %%xmm11\n\t"
		"pcmpeqd %%xmm12, %%xmm12\n\t"
		"pcmpeqd %%xmm13, %%xmm13\n\t"
		"pcmpeqd %%xmm14, %%xmm14\n\t"
		"pcmpeqd %%xmm15, %%xmm15\n\t"
		::: "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		"xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	/* And some arithmetic on doubles, with another rounding mode. */
	set_rounding(ROUND_DOWN);
	volatile double x = 1.0;
	for (int i = 0; i < 100; i++)
		x = x / 3.0 + 0.1;
	spin_flag = 1;
}

/* spin returns the number of registers that did not hold their value. */
static long spin(void)
{
	long bad;
	__asm__ volatile(
		"movabs $0x1111111111111111, %%rbx\n\t"
		"movabs $0x2222222222222222, %%r12\n\t"
		"movabs $0x3333333333333333, %%r13\n\t"
		"movabs $0x4444444444444444, %%r14\n\t"
		"movabs $0x5555555555555555, %%r15\n\t"
		"movabs $0x6666666666666666, %%r8\n\t"
		"movabs $0x7777777777777777, %%r9\n\t"
		"movabs $0x8888888888888888, %%r10\n\t"
		"movq %%rbx, %%xmm8\n\t"
		"movq %%r12, %%xmm9\n\t"
		"movq %%r13, %%xmm10\n\t"
		"movq %%r14, %%xmm11\n\t"
		"movq %%r15, %%xmm12\n\t"
		"movq %%r8, %%xmm13\n\t"
		"movq %%r9, %%xmm14\n\t"
		"movq %%r10, %%xmm15\n\t"
		"1:\n\t"
		"pause\n\t"
		"cmpl $0, %[flag]\n\t"
		"je 1b\n\t"
		"xor %[bad], %[bad]\n\t"
		"movabs $0x1111111111111111, %%r11\n\t"
		"cmp %%r11, %%rbx\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm8, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x2222222222222222, %%r11\n\t"
		"cmp %%r11, %%r12\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm9, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x3333333333333333, %%r11\n\t"
		"cmp %%r11, %%r13\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm10, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x4444444444444444, %%r11\n\t"
		"cmp %%r11, %%r14\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm11, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x5555555555555555, %%r11\n\t"
		"cmp %%r11, %%r15\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm12, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x6666666666666666, %%r11\n\t"
		"cmp %%r11, %%r8\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm13, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x7777777777777777, %%r11\n\t"
		"cmp %%r11, %%r9\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm14, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movabs $0x8888888888888888, %%r11\n\t"
		"cmp %%r11, %%r10\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		"movq %%xmm15, %%rax\n\t"
		"cmp %%r11, %%rax\n\t"
		"setne %%al\n\t"
		"movzbq %%al, %%rax\n\t"
		"add %%rax, %[bad]\n\t"
		: [bad] "=&c"(bad)
		: [flag] "m"(spin_flag)
		: "rax", "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
	return bad;
}

/* A long computation on doubles, interrupted by signals whose handler
 * computes on doubles too, must give the answer it gives alone. */
static double compute(long n)
{
	double a = 1.0, b = 0.5, c = 0.25;
	for (long i = 0; i < n; i++) {
		a = a * 1.0000001 + b;
		b = b * 0.9999999 + c / (a + 1.0);
		c = sqrt_(c + a * 1e-9);
	}
	return a + b + c;
}

static volatile int *shared_hits;

static void fp_handler(int sig)
{
	volatile double x = 3.0;
	for (int i = 0; i < 50; i++)
		x = sqrt_(x * 7.0 + 1.0) / 1.5;
	set_rounding(ROUND_ZERO);
	(*shared_hits)++;
}

static void t_regs(int argc, char **argv)
{
	/* The general-purpose and vector registers. */
	signal(SIGUSR1, clobber);
	pid_t me = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		sleep_ms(50);
		kill(me, SIGUSR1);
		_exit(0);
	}
	set_rounding(ROUND_UP);
	long bad = spin();
	printf("registers changed across the handler: %ld\n", bad);
	printf("rounding mode kept: %s\n", yes(rounding() == ROUND_UP));
	set_rounding(ROUND_NEAREST);
	waitpid(pid, NULL, 0);

	/* Doubles, with 20 signals arriving during the computation, each
	 * sent after the last was handled. */
	shared_hits = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*shared_hits = 0;
	double alone = compute(3000000);
	signal(SIGUSR2, fp_handler);
	pid = xfork();
	if (pid == 0) {
		for (int i = 0; i < 20; i++) {
			kill(me, SIGUSR2);
			while (*shared_hits <= i)
				sleep_ms(1);
		}
		_exit(0);
	}
	double with = 0;
	long rounds = 0;
	while (*shared_hits < 20) {
		with = compute(3000000);
		rounds++;
		if (with != alone)
			break;
	}
	printf("the computation's result survived the handlers: %s\n", yes(with == alone));
	printf("rounding mode kept: %s\n", yes(rounding() == ROUND_NEAREST));
	waitpid(pid, NULL, 0);
	(void)argc, (void)argv;
}

/* Synchronous faults: the handler sees si_code and si_addr, and can
 * return past the fault by moving the saved instruction pointer, or jump
 * out with siglongjmp. */
static sigjmp_buf fault_jmp;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;
static volatile greg_t fault_rip;

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	fault_sig = si->si_signo;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	fault_rip = uc->uc_mcontext.gregs[REG_RIP];
	siglongjmp(fault_jmp, 1);
}

#define EXPECT_FAULT(what, stmt)                                                                             \
	do {                                                                                                 \
		fault_sig = 0;                                                                               \
		if (sigsetjmp(fault_jmp, 1) == 0) {                                                          \
			stmt;                                                                                \
			printf("%s: no fault\n", what);                                                      \
		} else {                                                                                     \
			printf("%s: %s %s\n", what, signame(fault_sig), code_name(fault_sig, fault_code)); \
		}                                                                                            \
	} while (0)

static volatile int zero = 0, sink;

static void t_segv(int argc, char **argv)
{
	set_handler(SIGSEGV, on_fault, 0);
	set_handler(SIGBUS, on_fault, 0);

	EXPECT_FAULT("write to NULL+16", *(volatile int *)ptr(16) = 1);
	printf("si_addr is the address: %s\n", yes(fault_addr == ptr(16)));

	char *p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_FAULT("write to a read-only page", ((volatile char *)p)[100] = 1);
	printf("si_addr is the address: %s\n", yes(fault_addr == p + 100));

	EXPECT_FAULT("read a PROT_NONE page", (mprotect(p, 8192, PROT_NONE), (void)((volatile char *)p)[4097]));
	printf("si_addr is the address: %s\n", yes(fault_addr == p + 4097));

	munmap(p + 4096, 4096);
	EXPECT_FAULT("read an unmapped page", (void)((volatile char *)p)[4096 + 5]);
	printf("si_addr is the address: %s\n", yes(fault_addr == p + 4096 + 5));

	unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	code[0] = 0xc3;
	EXPECT_FAULT("call a page without PROT_EXEC", ((void (*)(void))code)());
	printf("si_addr is the page, and so is the saved rip: %s %s\n", yes(fault_addr == code),
	       yes(fault_rip == (greg_t)code));

	/* A non-canonical address: a general protection fault, SI_KERNEL,
	 * si_addr 0. */
	EXPECT_FAULT("read a non-canonical address", (void)*(volatile char *)ptr(0x8000000000000000UL));
	printf("si_addr is 0: %s\n", yes(fault_addr == NULL));
	/* A kernel address: SEGV_MAPERR (the page is not the user's). */
	EXPECT_FAULT("read a kernel address", (void)*(volatile char *)ptr(0xffff888000000040UL));
	printf("si_addr is the address: %s\n", yes(fault_addr == ptr(0xffff888000000040UL)));

	/* After all that, the handler still works and the process too. */
	EXPECT_FAULT("write to NULL again", *(volatile int *)ptr(0) = 1);
	(void)argc, (void)argv;
}

static void skip_insn(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	fault_sig = si->si_signo;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	fault_rip = uc->uc_mcontext.gregs[REG_RIP];
	if (sig == SIGILL)
		uc->uc_mcontext.gregs[REG_RIP] += 2; /* past ud2 */
}

extern char ud2_here[], int3_after[];

static void t_traps(int argc, char **argv)
{
	/* Integer division by zero: FPE_INTDIV; and INT_MIN / -1. */
	set_handler(SIGFPE, on_fault, 0);
	volatile int seven = 7, minus1 = -1;
	volatile int min = (int)0x80000000;
	EXPECT_FAULT("7 / 0", sink = seven / zero);
	EXPECT_FAULT("INT_MIN / -1", sink = min / minus1);
	/* Floating-point division by zero does not trap by default. */
	volatile double dz = 0.0;
	EXPECT_FAULT("1.0 / 0.0", printf("1.0 / 0.0 = %f\n", 1.0 / dz));

	/* ud2: SIGILL at the instruction; the handler moves rip past it and
	 * returns normally. */
	set_handler(SIGILL, skip_insn, 0);
	fault_sig = 0;
	__asm__ volatile(".globl ud2_here\nud2_here: ud2");
	printf("ud2: %s %s, si_addr and rip are the instruction %s %s\n", signame(fault_sig),
	       code_name(fault_sig, fault_code), yes(fault_addr == ud2_here), yes(fault_rip == (greg_t)ud2_here));

	/* int3: SIGTRAP, SI_KERNEL, rip after the instruction. */
	set_handler(SIGTRAP, skip_insn, 0);
	fault_sig = 0;
	__asm__ volatile("int3\n.globl int3_after\nint3_after:");
	printf("int3: %s %s, rip after it %s\n", signame(fault_sig), code_name(fault_sig, fault_code),
	       yes(fault_rip == (greg_t)int3_after));

	/* A misaligned access with EFLAGS.AC set: SIGBUS BUS_ADRALN. */
	set_handler(SIGBUS, on_fault, 0);
	static long words[4];
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		__asm__ volatile(
			"pushf\n\t"
			"orl $0x40000, (%%rsp)\n\t"
			"popf\n\t"
			"movl (%0), %%eax\n\t"
			"pushf\n\t"
			"andl $~0x40000, (%%rsp)\n\t"
			"popf\n\t"
			:
			: "r"((char *)words + 1)
			: "rax", "cc", "memory");
		printf("misaligned load with AC: no fault\n");
	} else {
		/* Clear AC, which the handler's frame restored... or not:
		 * siglongjmp does not touch EFLAGS. */
		__asm__ volatile("pushf\n\tandl $~0x40000, (%%rsp)\n\tpopf" ::: "cc");
		/* Linux reports no address for an alignment check. */
		printf("misaligned load with AC: %s %s, si_addr NULL %s\n", signame(fault_sig),
		       code_name(fault_sig, fault_code), yes(fault_addr == NULL));
	}
	(void)argc, (void)argv;
}

/* Deaths: the default action of each signal, seen by a parent. */
static void t_deaths(int argc, char **argv)
{
	static const char *hows[] = {"segv", "bus", "ill", "fpe", "abort", "trap", "kill-term", "kill-usr1", "kill-bus",
				     "kill-quit", "kill-alrm", "kill-chld", "kill-urg", "kill-winch", "badframe", NULL};
	for (int i = 0; hows[i]; i++) {
		pid_t pid = xfork();
		if (pid == 0) {
			char *args[] = {self, "die", (char *)hows[i], NULL};
			execv(self, args);
			_exit(127);
		}
		int status = reap(hows[i], pid);
		(void)status;
	}

	/* A handled signal that faults again inside its handler while
	 * blocked is forced: death by the default action. */
	pid_t pid = xfork();
	if (pid == 0) {
		char *args[] = {self, "die", "segv-in-handler", NULL};
		execv(self, args);
		_exit(127);
	}
	reap("segv-in-handler", pid);
	(void)argc, (void)argv;
}

static void segv_again(int sig)
{
	*(volatile int *)ptr(8) = 1;
}

static void bad_rip(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	/* A frame whose FP state pointer is garbage: rt_sigreturn refuses
	 * it, and the process dies of SIGSEGV. */
	uc->uc_mcontext.fpregs = ptr(8);
}

static long die_words[2];

/* die dies the way argv[2] says; what it prints first must come out. */
static void t_die(int argc, char **argv)
{
	const char *how = argc > 2 ? argv[2] : "";
	printf("dying: %s\n", how);
	fflush(stdout);
	if (strcmp(how, "segv") == 0)
		*(volatile int *)ptr(0) = 1;
	else if (strcmp(how, "bus") == 0)
		__asm__ volatile("pushf\n\torl $0x40000, (%%rsp)\n\tpopf\n\tmovl (%0), %%eax" ::"r"((char *)die_words + 1)
				 : "rax", "cc");
	else if (strcmp(how, "ill") == 0)
		__asm__ volatile("ud2");
	else if (strcmp(how, "fpe") == 0)
		printf("%d\n", 7 / zero); /* 1/x would compile to a compare */
	else if (strcmp(how, "abort") == 0)
		abort();
	else if (strcmp(how, "trap") == 0)
		__asm__ volatile("int3");
	else if (strcmp(how, "kill-term") == 0)
		kill(getpid(), SIGTERM);
	else if (strcmp(how, "kill-usr1") == 0)
		kill(getpid(), SIGUSR1);
	else if (strcmp(how, "kill-bus") == 0)
		kill(getpid(), SIGBUS);
	else if (strcmp(how, "kill-quit") == 0)
		kill(getpid(), SIGQUIT);
	else if (strcmp(how, "kill-alrm") == 0)
		kill(getpid(), SIGALRM);
	else if (strcmp(how, "kill-chld") == 0 || strcmp(how, "kill-urg") == 0 || strcmp(how, "kill-winch") == 0) {
		/* Ignored by default: still alive. */
		kill(getpid(), how[5] == 'c' ? SIGCHLD : how[5] == 'u' ? SIGURG : SIGWINCH);
		printf("alive after %s\n", how);
		exit(0);
	} else if (strcmp(how, "segv-in-handler") == 0) {
		signal(SIGSEGV, segv_again);
		*(volatile int *)ptr(0) = 1;
	} else if (strcmp(how, "badframe") == 0) {
		set_handler(SIGUSR1, bad_rip, 0);
		raise(SIGUSR1);
	}
	printf("still alive after %s\n", how);
	exit(1);
}

/* SIGCHLD set to SIG_IGN: children are reaped by the kernel, and wait
 * finds none once they have gone. */
static void t_nocldwait(int argc, char **argv)
{
	signal(SIGCHLD, SIG_IGN);
	pid_t pid = xfork();
	if (pid == 0)
		_exit(5);
	int status;
	/* wait blocks until the child is gone, then fails. */
	EXPECT_ERR(waitpid(pid, &status, 0), ECHILD);
	EXPECT_ERR(kill(pid, 0), ESRCH);

	/* SA_NOCLDWAIT does the same with a handler, which still runs. */
	struct sigaction sa = {0};
	sa.sa_sigaction = record;
	sa.sa_flags = SA_SIGINFO | SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	block(SIGCHLD);
	hits = 0;
	pid = xfork();
	if (pid == 0)
		_exit(6);
	wait_for_hits(1);
	printf("SA_NOCLDWAIT: SIGCHLD %s status %d\n", code_name(SIGCHLD, last.si_code), last.si_status);
	EXPECT_ERR(waitpid(pid, &status, 0), ECHILD);

	/* Back to the default: zombies wait for us. */
	signal(SIGCHLD, SIG_DFL);
	pid = xfork();
	if (pid == 0)
		_exit(7);
	sleep_ms(20);
	EXPECT_RET(kill(pid, 0), 0);
	reap("child", pid);
	(void)argc, (void)argv;
}

/*
 * A child's SIGCHLD is queued by the time a wait can reap it: a parent
 * that reaps the child and only then sets a handler never sees that
 * child's SIGCHLD arrive late. The window is narrow, so many children.
 */
static volatile sig_atomic_t late_chld;

static void count_chld(int sig)
{
	(void)sig;
	late_chld++;
}

static void t_latechld(int argc, char **argv)
{
	const int children = 200;
	for (int i = 0; i < children; i++) {
		signal(SIGCHLD, SIG_DFL);
		pid_t pid = xfork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		signal(SIGCHLD, count_chld);
	}
	signal(SIGCHLD, SIG_DFL);
	printf("%d children reaped, then a handler set: %d late SIGCHLDs\n", children, (int)late_chld);
	(void)argc, (void)argv;
}

/*
 * RLIMIT_SIGPENDING bounds the queued instances of real-time signals:
 * past it, sigqueue fails with EAGAIN and kill's instance is lost; a
 * standard signal still gets through. sigqueue of signal 0 probes.
 */
static void t_sigpending_limit(int argc, char **argv)
{
	struct rlimit rl = {16, 16};
	EXPECT_RET(setrlimit(RLIMIT_SIGPENDING, &rl), 0);
	block(SIGRTMAX);
	block(SIGUSR1);
	union sigval v = {.sival_int = 7};
	int queued = 0, again = 0;
	for (int i = 0; i < 40; i++) {
		if (sigqueue(getpid(), SIGRTMAX, v) == 0)
			queued++;
		else if (errno == EAGAIN)
			again++;
	}
	/* Linux counts per user, so a native run may see a few of the
	 * user's other queued signals take places: booleans only. */
	printf("sigqueue: some queued %s, no more than 16 %s, then EAGAIN %s\n", yes(queued > 8), yes(queued <= 16),
	       yes(queued + again == 40 && again >= 24));
	EXPECT_RET(kill(getpid(), SIGRTMAX), 0);
	EXPECT_RET(kill(getpid(), SIGUSR1), 0);
	EXPECT_RET(sigqueue(getpid(), 0, v), 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMAX);
	sigaddset(&set, SIGUSR1);
	struct timespec zero = {0, 0};
	siginfo_t si;
	int rt = 0, usr1 = 0, values = 0;
	while (sigtimedwait(&set, &si, &zero) > 0) {
		if (si.si_signo == SIGUSR1)
			usr1++;
		else
			rt++, values += si.si_code == SI_QUEUE && si.si_value.sival_int == 7;
	}
	printf("taken: every one queued %s, each with its value %s, SIGUSR1 %d\n", yes(rt == queued), yes(values == queued), usr1);
	(void)argc, (void)argv;
}

/*
 * Frames that cannot be used: a signal whose frame cannot be written (the
 * stack pointer in unmapped memory), and rt_sigreturn of frames whose FP
 * state the CPU would refuse, each become a SIGSEGV (SI_KERNEL) that a
 * handler on the alternate stack catches; a frame whose FP state is a
 * bare 512-byte FXSAVE area, as a program that knows nothing newer
 * writes, is restored. Each attempt runs in a child, which exits 3 from
 * its SIGSEGV handler, or 0 if the handler returned and xmm0 came back.
 */
enum { FRAME_STACK, FRAME_XSTATE_BV, FRAME_MXCSR, FRAME_FXSAVE };
static int frame_how;
static char *fx_only;

static void frame_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	_exit(si->si_code == SI_KERNEL ? 3 : 4);
}

static void frame_spoil(int sig, siginfo_t *si, void *ucp)
{
	(void)sig, (void)si;
	ucontext_t *uc = ucp;
	char *fp = (char *)uc->uc_mcontext.fpregs;
	switch (frame_how) {
	case FRAME_XSTATE_BV:
		memset(fp + 512, 0xff, 8);
		break;
	case FRAME_MXCSR:
		memset(fp + 24, 0xff, 4);
		break;
	case FRAME_FXSAVE:
		memcpy(fx_only, fp, 512);
		memset(fx_only + 464, 0, 48); /* no FP_XSTATE_MAGIC1 */
		memcpy(fx_only + 160, "\x34\x12\0\0", 4); /* xmm0 */
		uc->uc_mcontext.fpregs = (void *)fx_only;
		break;
	}
}

static void frame_child(int how)
{
	static char alt[65536];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {0};
	sa.sa_sigaction = frame_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = frame_spoil;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	frame_how = how;
	/* The legacy area ends where a page that is not mapped begins. */
	char *two = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(two + 4096, 4096);
	fx_only = two + 4096 - 512;
	if (how == FRAME_STACK) {
		long r, pid = getpid();
		__asm__ volatile("mov %%rsp, %%r12\n\tmov $0x1000, %%rsp\n\tsyscall\n\tmov %%r12, %%rsp"
				 : "=a"(r)
				 : "0"((long)SYS_kill), "D"(pid), "S"((long)SIGUSR1)
				 : "rcx", "r11", "r12", "memory");
		_exit(1);
	}
	unsigned x0;
	__asm__ volatile("pxor %%xmm0, %%xmm0" ::: "xmm0");
	raise(SIGUSR1);
	__asm__ volatile("movd %%xmm0, %0" : "=r"(x0));
	_exit(x0 == 0x1234 ? 0 : 2);
}

static void t_badframe(int argc, char **argv)
{
	static const char *names[] = {"frame on an unmapped stack", "xstate_bv all ones", "MXCSR all ones",
				      "FXSAVE area only"};
	for (int how = FRAME_STACK; how <= FRAME_FXSAVE; how++) {
		pid_t pid = xfork();
		if (pid == 0)
			frame_child(how);
		reap(names[how], pid);
	}
	(void)argc, (void)argv;
}

static const struct testcase cases[] = {
	{"siginfo", t_siginfo},
	{"badframe", t_badframe},
	{"sigpending-limit", t_sigpending_limit},
	{"latechld", t_latechld},
	{"restart", t_restart},
	{"resethand", t_resethand},
	{"nodefer", t_nodefer},
	{"altstack", t_altstack},
	{"mask", t_mask},
	{"showmask", t_showmask},
	{"sigsuspend", t_sigsuspend},
	{"sigtimedwait", t_sigtimedwait},
	{"pgkill", t_pgkill},
	{"stopcont", t_stopcont},
	{"regs", t_regs},
	{"segv", t_segv},
	{"traps", t_traps},
	{"deaths", t_deaths},
	{"die", t_die},
	{"nocldwait", t_nocldwait},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	self = argv[0];
	return run_case(cases, argc, argv);
}
