/*
 * process: fork, vfork, execve, wait4/waitid, orphans, process groups and
 * sessions. argv[1] names the case; some cases take paths the test made
 * (a #! script, a file that is not executable...) as further arguments.
 *
 * The program re-executes itself through argv[0] (an absolute path in the
 * tests), never through /proc/self/exe, with a helper case ("say",
 * "env", "script-interp", "block") that the other cases exec.
 */
#include "procs.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

static char *self;

/* Copy-on-write: after fork, parent and child each see only their own
 * writes to globals, the heap and the stack. */
static int global = 1;

static void t_cow(int argc, char **argv)
{
	int *heap = malloc(4096 * sizeof(int));
	for (int i = 0; i < 4096; i++)
		heap[i] = i;
	volatile int stack = 10;
	/* A big private anonymous mapping, touched before the fork. */
	char *big = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(big != MAP_FAILED);
	memset(big, 'p', 1 << 20);
	int sync[2];
	CHECK(pipe(sync) == 0);

	pid_t pid = xfork();
	if (pid == 0) {
		global = 2;
		heap[100] = -1;
		stack = 20;
		big[4096 * 10] = 'c';
		printf("child: global=%d heap[100]=%d stack=%d big=%c\n", global, heap[100], stack, big[4096 * 10]);
		/* Let the parent write, then look again. */
		char c;
		close(sync[1]);
		CHECK(read(sync[0], &c, 1) == 0);
		printf("child after parent's writes: global=%d heap[100]=%d stack=%d big=%c\n", global, heap[100], stack, big[4096 * 10]);
		CHECK(global == 2 && heap[100] == -1 && stack == 20 && big[4096 * 10] == 'c');
		child_done();
	}
	close(sync[0]);
	global = 3;
	heap[100] = -3;
	stack = 30;
	big[4096 * 10] = 'P';
	close(sync[1]);
	reap("child", pid);
	printf("parent: global=%d heap[100]=%d stack=%d big=%c\n", global, heap[100], stack, big[4096 * 10]);
	CHECK(global == 3 && heap[100] == -3 && stack == 30 && big[4096 * 10] == 'P');
	CHECK(heap[99] == 99 && big[0] == 'p');

	/* A grandchild copies the child's copy. */
	pid = xfork();
	if (pid == 0) {
		global = 4;
		pid_t gc = xfork();
		if (gc == 0) {
			CHECK(global == 4);
			global = 5;
			child_done();
		}
		reap("grandchild", gc);
		CHECK(global == 4);
		child_done();
	}
	reap("child", pid);
	CHECK(global == 3);
	(void)argc, (void)argv;
}

/* vfork: the parent sleeps until the child execs or exits, and the child
 * runs in the parent's memory until then. */
static volatile int vfork_mark;

static void t_vfork(int argc, char **argv)
{
	vfork_mark = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		vfork_mark = 1; /* in the parent's memory */
		_exit(7);
	}
	printf("after vfork+_exit, the parent sees the child's write: %s\n", vfork_mark == 1 ? "yes" : "no");
	CHECK(vfork_mark == 1);
	reap("vfork child", pid);

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		char *args[] = {self, "say", "hello from the vforked child", NULL};
		execv(self, args);
		_exit(127);
	}
	/* The exec'd child may or may not have printed yet: reap first. */
	reap("vfork+exec child", pid);

	/* A failing exec in a vfork child: the parent resumes when it exits. */
	pid = vfork();
	if (pid == 0) {
		char *args[] = {"nope", NULL};
		execv("/nonexistent/nope", args);
		_exit(errno == ENOENT ? 42 : 1);
	}
	reap("vfork+failed exec child", pid);
	(void)argc, (void)argv;
}

static void t_say(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		printf("say: %s\n", argv[i]);
	exit(0);
}

/* env prints the variables named on the command line. */
static void t_env(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char *v = getenv(argv[i]);
		printf("env: %s=%s\n", argv[i], v ? v : "(unset)");
	}
	exit(0);
}

/* script-interp is what the #! script names: it prints its arguments,
 * the script's own path as a yes/no (it is a temporary file). */
static void t_script_interp(int argc, char **argv)
{
	/* argv: self "script-interp" [optional arg from #!] script args... */
	const char *script = getenv("SCRIPT");
	for (int i = 2; i < argc; i++) {
		if (script && strcmp(argv[i], script) == 0)
			printf("interp arg %d: the script's path\n", i);
		else
			printf("interp arg %d: %s\n", i, argv[i]);
	}
	exit(0);
}

static int spawn_exec(const char *path, char **args, char **envp)
{
	pid_t pid = xfork();
	if (pid == 0) {
		syscall(SYS_execve, path, args, envp);
		printf("exec %s: %s\n", args[0], errname(errno));
		fflush(stdout);
		_exit(127);
	}
	return reap(args[0], pid);
}

/* exec: argv[2] is a #! script naming this program, argv[3] a file
 * without any execute bit, argv[4] an executable file that is neither an
 * ELF nor a script, argv[5] a script whose interpreter is missing. */
static void t_exec(int argc, char **argv)
{
	if (argc < 6) {
		printf("FAIL: exec needs four paths\n");
		check_failures++;
		return;
	}
	const char *script = argv[2], *noexec = argv[3], *garbage = argv[4], *badinterp = argv[5];

	char *sayargs[] = {"say", "say", "one", "two words", "", NULL};
	char *noenv[] = {NULL};
	spawn_exec(self, sayargs, noenv);

	/* argv and envp arrive as given. */
	char *envargs[] = {"env", "env", "A", "B", "PATH", NULL};
	char *envp[] = {"A=1", "B=two words", NULL};
	spawn_exec(self, envargs, envp);

	/* A #! script runs its interpreter with the script's path in front
	 * of the script's arguments. */
	char scriptenv[4096];
	snprintf(scriptenv, sizeof scriptenv, "SCRIPT=%s", script);
	char *senv[] = {scriptenv, NULL};
	char *scriptargs[] = {"script", "arg1", "arg 2", NULL};
	spawn_exec(script, scriptargs, senv);

	EXPECT_ERR(syscall(SYS_execve, "/nonexistent/program", sayargs, noenv), ENOENT);
	EXPECT_ERR(syscall(SYS_execve, "", sayargs, noenv), ENOENT);
	EXPECT_ERR(syscall(SYS_execve, noexec, sayargs, noenv), EACCES);
	EXPECT_ERR(syscall(SYS_execve, "/", sayargs, noenv), EACCES);
	EXPECT_ERR(syscall(SYS_execve, garbage, sayargs, noenv), ENOEXEC);
	EXPECT_ERR(syscall(SYS_execve, badinterp, sayargs, noenv), ENOENT);
	EXPECT_ERR(syscall(SYS_execve, ptr(1), sayargs, noenv), EFAULT);
	EXPECT_ERR(syscall(SYS_execve, self, ptr(1), noenv), EFAULT);
	/* A path through a regular file. */
	char notdir[4096];
	snprintf(notdir, sizeof notdir, "%s/x", self);
	EXPECT_ERR(syscall(SYS_execve, notdir, sayargs, noenv), ENOTDIR);

	/* The failed execs changed nothing: this process still runs. */
	printf("still here after the failed execs\n");
}

/* block is exec'd by pgrp: it tells its parent it has exec'd by writing
 * to fd 1 and waits for EOF on fd 0. */
static void t_block(int argc, char **argv)
{
	char c = 'x';
	if (write(1, &c, 1) != 1)
		_exit(3);
	while (read(0, &c, 1) > 0)
		;
	_exit(0);
}

static void t_wait(int argc, char **argv)
{
	int status;
	EXPECT_ERR(wait(&status), ECHILD);
	EXPECT_ERR(syscall(SYS_wait4, -1, &status, WNOHANG, NULL), ECHILD);
	siginfo_t si;
	EXPECT_ERR(syscall(SYS_waitid, P_ALL, 0, &si, WEXITED, NULL), ECHILD);
	EXPECT_ERR(syscall(SYS_waitid, P_ALL, 0, &si, 0, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_wait4, -1, &status, 0x1000, NULL), EINVAL);

	/* Exit status encoding, and WNOHANG while the child still runs. */
	int gate[2];
	CHECK(pipe(gate) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		char c;
		close(gate[1]);
		read(gate[0], &c, 1);
		_exit(42);
	}
	close(gate[0]);
	EXPECT_RET(waitpid(pid, &status, WNOHANG), 0);
	memset(&si, 0xff, sizeof si);
	EXPECT_RET(syscall(SYS_waitid, P_PID, pid, &si, WEXITED | WNOHANG, NULL), 0);
	CHECK(si.si_pid == 0);
	close(gate[1]);
	status = -1;
	EXPECT_RET(waitpid(pid, &status, 0) == pid, 1);
	printf("raw status %#x: %s\n", status, describe(status));
	CHECK(status == 42 << 8);
	EXPECT_ERR(waitpid(pid, &status, 0), ECHILD);

	/* A NULL status pointer is allowed. */
	pid = xfork();
	if (pid == 0)
		_exit(0);
	EXPECT_RET(waitpid(pid, NULL, 0) == pid, 1);

	/* Killed by a signal. */
	pid = xfork();
	if (pid == 0) {
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("raw status %#x: %s\n", status, describe(status));
	CHECK((status & 0x7f) == SIGKILL);

	/* waitid's siginfo. */
	pid = xfork();
	if (pid == 0)
		_exit(7);
	memset(&si, 0, sizeof si);
	EXPECT_RET(syscall(SYS_waitid, P_PID, pid, &si, WEXITED, NULL), 0);
	printf("waitid: signo %s code %s status %d pid matches %s\n", signame(si.si_signo),
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status, si.si_pid == pid ? "yes" : "no");
	CHECK(si.si_uid == getuid());

	pid = xfork();
	if (pid == 0) {
		kill(getpid(), SIGTERM);
		_exit(1);
	}
	memset(&si, 0, sizeof si);
	EXPECT_RET(syscall(SYS_waitid, P_ALL, 0, &si, WEXITED, NULL), 0);
	printf("waitid: signo %s code %s status %s pid matches %s\n", signame(si.si_signo),
	       si.si_code == CLD_KILLED ? "CLD_KILLED" : si.si_code == CLD_DUMPED ? "CLD_DUMPED" : "other",
	       signame(si.si_status), si.si_pid == pid ? "yes" : "no");

	/* WNOWAIT leaves the zombie to be waited for again. */
	pid = xfork();
	if (pid == 0)
		_exit(9);
	memset(&si, 0, sizeof si);
	EXPECT_RET(syscall(SYS_waitid, P_PID, pid, &si, WEXITED | WNOWAIT, NULL), 0);
	CHECK(si.si_pid == pid && si.si_status == 9);
	/* A zombie still exists for kill. */
	EXPECT_RET(kill(pid, 0), 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("after WNOWAIT: %s\n", describe(status));
	EXPECT_ERR(kill(pid, 0), ESRCH);

	/* P_PGID and wait4's negative pid pick children by process group. */
	int gate2[2];
	CHECK(pipe(gate2) == 0);
	pid_t a = xfork();
	if (a == 0) {
		char c;
		close(gate2[1]);
		read(gate2[0], &c, 1);
		_exit(11);
	}
	pid_t b = xfork();
	if (b == 0) {
		setpgid(0, 0);
		_exit(12);
	}
	setpgid(b, b); /* either may run first */
	close(gate2[0]);
	memset(&si, 0, sizeof si);
	EXPECT_RET(syscall(SYS_waitid, P_PGID, b, &si, WEXITED, NULL), 0);
	printf("P_PGID waited for b: %s, status %d\n", si.si_pid == b ? "yes" : "no", si.si_status);
	EXPECT_ERR(syscall(SYS_waitid, P_PGID, b, &si, WEXITED, NULL), ECHILD);
	/* a is in our group: wait4(0) and waitid(P_PGID, 0) mean our group. */
	memset(&si, 0xff, sizeof si);
	EXPECT_RET(syscall(SYS_waitid, P_PGID, 0, &si, WEXITED | WNOHANG, NULL), 0);
	CHECK(si.si_pid == 0);
	close(gate2[1]);
	EXPECT_RET(syscall(SYS_wait4, -getpgrp(), &status, 0, NULL) == a, 1);
	printf("wait4(-pgrp): %s\n", describe(status));

	/* wait4 for a pid that is not our child. */
	EXPECT_ERR(waitpid(getpid(), &status, 0), ECHILD);

	/* Children's exits in order of death, wait(-1) sees each once. */
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = xfork();
		if (kids[i] == 0)
			_exit(20 + i);
	}
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		pid_t r = wait(&status);
		for (int j = 0; j < 3; j++)
			if (r == kids[j] && WEXITSTATUS(status) == 20 + j)
				seen |= 1 << j;
	}
	printf("wait(-1) found all three: %s\n", seen == 7 ? "yes" : "no");
	EXPECT_ERR(wait(&status), ECHILD);

	/* rusage is accepted. */
	pid = xfork();
	if (pid == 0)
		_exit(0);
	struct rusage ru;
	EXPECT_RET(syscall(SYS_wait4, pid, &status, 0, &ru) == pid, 1);
	(void)argc, (void)argv;
}

/* An orphan's parent changes when its parent dies. Which process adopts
 * it differs (a subreaper, init, the sandbox's first task), so only the
 * change is printed. */
static void t_orphan(int argc, char **argv)
{
	int report[2], hello[2];
	CHECK(pipe(report) == 0);
	CHECK(pipe(hello) == 0);
	pid_t child = xfork();
	if (child == 0) {
		close(report[0]);
		pid_t me = getpid();
		pid_t gc = xfork();
		if (gc == 0) {
			close(hello[0]);
			int parent_was_child = getppid() == me;
			/* Now the child may die. */
			close(hello[1]);
			/* Wait for the child to die. */
			int changed = 0;
			for (int i = 0; i < 5000 && !changed; i++) {
				if (getppid() != me)
					changed = 1;
				else
					sleep_ms(2);
			}
			char msg[64];
			int n = snprintf(msg, sizeof msg, "grandchild: parent was child %s, changed %s\n",
					 parent_was_child ? "yes" : "no", changed ? "yes" : "no");
			write(report[1], msg, n);
			_exit(0);
		}
		/* Wait until the grandchild has looked at its parent. */
		close(hello[1]);
		char c;
		read(hello[0], &c, 1);
		_exit(0);
	}
	close(hello[0]);
	close(hello[1]);
	close(report[1]);
	reap("child", child);
	char buf[128];
	ssize_t n, total = 0;
	while ((n = read(report[0], buf + total, sizeof buf - 1 - total)) > 0)
		total += n;
	buf[total] = 0;
	printf("%s", buf);
	CHECK(strstr(buf, "changed yes") != NULL);
	(void)argc, (void)argv;
}

static void t_pgrp(int argc, char **argv)
{
	/* Our own group and session, whatever they are. */
	EXPECT_RET(getpgid(0) == getpgrp(), 1);
	EXPECT_RET(syscall(SYS_getpgid, getpid()) == getpgrp(), 1);
	EXPECT_RET(getsid(0) == getsid(getpid()), 1);
	EXPECT_ERR(setpgid(0, -1), EINVAL);
	EXPECT_ERR(setpgid(-1, 0), EINVAL);

	/* A pid that is gone. */
	pid_t gone = xfork();
	if (gone == 0)
		_exit(0);
	CHECK(waitpid(gone, NULL, 0) == gone);
	EXPECT_ERR(getpgid(gone), ESRCH);
	EXPECT_ERR(getsid(gone), ESRCH);
	EXPECT_ERR(setpgid(gone, gone), ESRCH);

	/* A child in a new group of its own, set from both sides. */
	int gate[2];
	CHECK(pipe(gate) == 0);
	pid_t child = xfork();
	if (child == 0) {
		close(gate[1]);
		char c;
		read(gate[0], &c, 1);
		_exit(0);
	}
	close(gate[0]);
	EXPECT_RET(setpgid(child, child), 0);
	EXPECT_RET(getpgid(child) == child, 1);
	EXPECT_RET(getsid(child) == getsid(0), 1);
	/* Back into ours: a group in the same session. */
	EXPECT_RET(setpgid(child, getpgrp()), 0);
	EXPECT_RET(getpgid(child) == getpgrp(), 1);
	/* A group that does not exist in our session. */
	EXPECT_ERR(setpgid(child, gone), EPERM);
	close(gate[1]);
	reap("child", child);

	/* A child that starts a session: it leads the session and a group,
	 * so setsid fails the second time, and it cannot join our group. */
	pid_t parent_pgrp = getpgrp();
	child = xfork();
	if (child == 0) {
		pid_t sid = setsid();
		CHECK(sid == getpid());
		CHECK(getsid(0) == getpid());
		CHECK(getpgrp() == getpid());
		EXPECT_ERR(setsid(), EPERM);
		EXPECT_ERR(setpgid(0, parent_pgrp), EPERM);
		/* A session leader's group cannot change. */
		EXPECT_ERR(setpgid(0, 0), EPERM);
		/* Its child is in its session and group, and can leave the
		 * group but not make a session leader's group id its own. */
		pid_t gc = xfork();
		if (gc == 0) {
			CHECK(getsid(0) == getppid());
			CHECK(getpgrp() == getppid());
			EXPECT_RET(setpgid(0, 0), 0);
			CHECK(getpgrp() == getpid());
			/* A group leader cannot start a session. */
			EXPECT_ERR(setsid(), EPERM);
			child_done();
		}
		reap("grandchild", gc);
		child_done();
	}
	reap("session child", child);
	/* The parent cannot move a child of another session. */
	child = xfork();
	if (child == 0) {
		setsid();
		sleep_ms(50);
		_exit(0);
	}
	/* Wait until it has called setsid. */
	for (int i = 0; i < 5000 && getsid(child) != child; i++)
		sleep_ms(1);
	EXPECT_ERR(setpgid(child, child), EPERM);
	reap("session child", child);

	/* After the child execs, its parent may no longer move it. */
	int up[2], down[2];
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	child = xfork();
	if (child == 0) {
		dup2(down[0], 0);
		dup2(up[1], 1);
		close(up[0]), close(up[1]), close(down[0]), close(down[1]);
		char *args[] = {self, "block", NULL};
		execv(self, args);
		_exit(127);
	}
	close(up[1]), close(down[0]);
	char c;
	CHECK(read(up[0], &c, 1) == 1);
	EXPECT_ERR(setpgid(child, child), EACCES);
	close(down[1]);
	reap("exec'd child", child);
	(void)argc, (void)argv;
}

/* clone without CLONE_VM behaves as fork; the exit signal can be other
 * than SIGCHLD, and then only __WALL or __WCLONE find the child. */
static void t_clone(int argc, char **argv)
{
	fflush(stdout);
	long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0)
		_exit(5);
	reap("clone(SIGCHLD) child", pid);

	/* Ignored, so that the child's exit does not kill us. */
	signal(SIGUSR1, SIG_IGN);
	fflush(stdout);
	pid = syscall(SYS_clone, SIGUSR1, 0, NULL, NULL, 0);
	if (pid == 0)
		_exit(6);
	int status;
	/* It may not have exited yet: waitpid without __WCLONE never finds
	 * it, with WNOHANG that is ECHILD at once. */
	EXPECT_ERR(waitpid(pid, &status, WNOHANG), ECHILD);
	EXPECT_RET(waitpid(pid, &status, __WALL) == pid, 1);
	printf("clone(SIGUSR1) child: %s\n", describe(status));

	/* An exit signal that is no signal at all: the child is reaped
	 * as any other, its parent just gets no signal. */
	fflush(stdout);
	pid = syscall(SYS_clone, 100, 0, NULL, NULL, 0);
	if (pid == 0)
		_exit(7);
	EXPECT_RET(waitpid(pid, &status, __WALL) == pid, 1);
	printf("clone(100) child: %s\n", describe(status));

	EXPECT_ERR(syscall(SYS_clone, CLONE_THREAD, 0, NULL, NULL, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_clone, CLONE_SIGHAND, 0, NULL, NULL, 0), EINVAL);
	/* A TLS base that arch_prctl would refuse, the highest first. */
	EXPECT_ERR(syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0, NULL, NULL, 0x8000000000000000UL), EPERM);
	EXPECT_ERR(syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0, NULL, NULL, 0x7ffffffff000UL), EPERM);
	(void)argc, (void)argv;
}

static const struct testcase cases[] = {
	{"cow", t_cow},
	{"vfork", t_vfork},
	{"exec", t_exec},
	{"wait", t_wait},
	{"orphan", t_orphan},
	{"pgrp", t_pgrp},
	{"clone", t_clone},
	{"say", t_say},
	{"env", t_env},
	{"script-interp", t_script_interp},
	{"block", t_block},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	self = argv[0];
	return run_case(cases, argc, argv);
}
