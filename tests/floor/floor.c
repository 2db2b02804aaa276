/*
 * floor: the lower bound of ptrace syscall interposition on this machine.
 *
 * A child runs getppid() in a loop; this tracer stops it at every call with
 * PTRACE_SYSEMU (the host skips the call), answers with a constant, and
 * resumes it. Per call the tracer does exactly what any ptrace sentry must:
 * waitpid, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_SYSEMU. Nothing can
 * interpose on a syscall through ptrace for less, so minisentry's own
 * syscall round trip is judged as a ratio to this figure, measured on the
 * same machine in the same run (tests/bench does that).
 *
 * By default the tracer and the child are pinned to one CPU: a ptrace stop
 * whose wake-up crosses CPUs costs several times more, and a sentry pins its
 * stub threads for that reason. -u leaves both free, to show that cost.
 *
 * Usage: floor [-n CALLS] [-c CPU] [-u]
 * Output: one line, "floor getppid: N calls, X ns/call".
 *
 * Build: gcc -O2 -Wall -Wextra -static -o floor floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The answer the tracer gives to every getppid; no real pid is this on a
 * test machine by accident often enough to matter, and the child checks it,
 * so a tracer that let the call through would be caught. */
#define ANSWER 4242

/* With PTRACE_O_TRACESYSGOOD a syscall stop reports SIGTRAP|0x80, which no
 * real signal can be mistaken for. */
#define SYSCALL_STOP (SIGTRAP | 0x80)

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "floor: %s\n", what);
	exit(1);
}

/* child is the tracee. It stops itself so the tracer can set its options
 * before the first measured call, then calls getppid `calls` times. It
 * uses syscall(2) so that no libc caching stands between it and the
 * kernel. */
static void child(long calls)
{
	/* If the tracer dies before it sets PTRACE_O_EXITKILL, the child
	 * must not linger stopped forever. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(2);
	/* kill(2) rather than raise(3): glibc's raise blocks and restores
	 * signals around the kill, which would add syscalls after the stop. */
	kill(getpid(), SIGSTOP);
	for (long i = 0; i < calls; i++)
		if (syscall(SYS_getppid) != ANSWER)
			_exit(1);
	_exit(0);
}

/* pin binds the calling thread to cpu; a child forked after inherits it. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* wait_stop waits for pid's next stop and returns its signal, failing on
 * anything that is not a stop (the child died early). */
static int wait_stop(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFSTOPPED(status)) {
		fprintf(stderr, "floor: child ended early, status %#x\n", status);
		exit(1);
	}
	return WSTOPSIG(status);
}

/* finish lets the child's exit run on the host. At a SYSEMU stop the host
 * has already decided to skip the call, so resuming is not enough: rewind rip
 * over the 2-byte syscall instruction and restore rax, so that the
 * instruction runs again, now under plain PTRACE_CONT, which does not
 * emulate. Returns the child's exit status. */
static int finish(pid_t pid, struct user_regs_struct *regs)
{
	int status;

	regs->rip -= 2;
	regs->rax = regs->orig_rax;
	if (ptrace(PTRACE_SETREGS, pid, NULL, regs) < 0)
		die("PTRACE_SETREGS");
	if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
		die("PTRACE_CONT");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status))
		fail("child did not exit normally");
	return WEXITSTATUS(status);
}

/* trace runs the measured loop: from the child's first resume to its exit
 * call, answering every getppid. Returns the elapsed nanoseconds. */
static double trace(pid_t pid, long calls)
{
	struct user_regs_struct regs;
	long answered = 0;
	double start = now_ns(), end;

	for (;;) {
		if (ptrace(PTRACE_SYSEMU, pid, NULL, NULL) < 0)
			die("PTRACE_SYSEMU");
		if (wait_stop(pid) != SYSCALL_STOP)
			fail("unexpected signal stop");
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
			die("PTRACE_GETREGS");
		if (regs.orig_rax != SYS_getppid)
			break;
		regs.rax = ANSWER;
		if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) < 0)
			die("PTRACE_SETREGS");
		answered++;
	}
	end = now_ns();
	if (regs.orig_rax != SYS_exit_group && regs.orig_rax != SYS_exit) {
		fprintf(stderr, "floor: unexpected syscall %lld\n", regs.orig_rax);
		exit(1);
	}
	if (finish(pid, &regs) != 0)
		fail("child saw a wrong getppid answer");
	if (answered != calls)
		fail("child made the wrong number of calls");
	return end - start;
}

static void usage(void)
{
	fprintf(stderr, "usage: floor [-n CALLS] [-c CPU] [-u]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long calls = 200000;
	int cpu = -1, pinned = 1, opt;
	pid_t pid;
	double ns;

	while ((opt = getopt(argc, argv, "n:c:u")) != -1) {
		switch (opt) {
		case 'n':
			calls = atol(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'u':
			pinned = 0;
			break;
		default:
			usage();
		}
	}
	if (calls <= 0 || optind != argc)
		usage();
	if (pinned)
		pin(cpu >= 0 ? cpu : sched_getcpu());

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		child(calls);
	if (wait_stop(pid) != SIGSTOP)
		fail("child did not stop itself");
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0)
		die("PTRACE_SETOPTIONS");

	ns = trace(pid, calls);
	printf("floor getppid: %ld calls, %.1f ns/call\n", calls, ns / calls);
	return 0;
}
