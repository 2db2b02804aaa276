/*
 * procs.h: helpers shared by the process, thread, futex, pipe and signal
 * test programs, on top of check.h.
 *
 * Every program takes the name of a case as argv[1] and runs only that
 * case, so that a test names the case that differs. What a case prints
 * must be the same natively and under minisentry: signal names come from
 * the table here (glibc's and musl's strsignal differ), wait statuses are
 * described without the core-dump bit, and pids are only ever compared.
 */
#ifndef MINISENTRY_PROCS_H
#define MINISENTRY_PROCS_H

#include "check.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static inline const char *signame(int sig)
{
	static const char *names[] = {
		[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL", [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE", [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
		[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
		[SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
		[SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU",
		[SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
		[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO", [SIGPWR] = "SIGPWR",
		[SIGSYS] = "SIGSYS",
	};
	static char buf[32];
	if (sig > 0 && sig < (int)(sizeof names / sizeof names[0]) && names[sig])
		return names[sig];
	/* SIGRTMIN differs between the libcs (glibc keeps two for itself):
	 * real-time signals are named by their kernel number. */
	snprintf(buf, sizeof buf, "signal %d", sig);
	return buf;
}

/* describe turns a wait status into words, ignoring the core-dump bit:
 * whether a core was written depends on the machine, not the kernel. */
static inline const char *describe(int status)
{
	static char buf[64];
	if (WIFEXITED(status))
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "killed by %s", signame(WTERMSIG(status)));
	else if (WIFSTOPPED(status))
		snprintf(buf, sizeof buf, "stopped by %s", signame(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		snprintf(buf, sizeof buf, "continued");
	else
		snprintf(buf, sizeof buf, "status %#x", status);
	return buf;
}

/* reap waits for pid and prints how it ended, under a label. It returns
 * the status. */
static inline int reap(const char *label, pid_t pid)
{
	int status = 0;
	pid_t r;
	do
		r = waitpid(pid, &status, 0);
	while (r == -1 && errno == EINTR);
	if (r != pid) {
		printf("FAIL: waitpid for %s = %d %s\n", label, (int)r, errname(errno));
		check_failures++;
		return -1;
	}
	printf("%s: %s\n", label, describe(status));
	return status;
}

/* child_done ends a child that ran checks: its status says whether they
 * passed, and reap's line shows it. */
static inline void child_done(void)
{
	fflush(stdout);
	_exit(check_failures ? 1 : 0);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* xfork forks, flushing stdout first so that nothing is printed twice. */
static inline pid_t xfork(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == -1) {
		printf("FAIL: fork: %s\n", errname(errno));
		exit(2);
	}
	return pid;
}

/* The case table: each program lists its cases and main runs the one
 * named by argv[1]. */
struct testcase {
	const char *name;
	void (*run)(int argc, char **argv);
};

static inline int run_case(const struct testcase *cases, int argc, char **argv)
{
	begin();
	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE [ARGS...]\n", argv[0]);
		return 2;
	}
	for (const struct testcase *c = cases; c->name; c++) {
		if (strcmp(c->name, argv[1]) == 0) {
			c->run(argc, argv);
			return finish();
		}
	}
	fprintf(stderr, "%s: no case %s\n", argv[0], argv[1]);
	return 2;
}

#endif
