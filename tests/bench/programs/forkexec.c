/*
 * forkexec N PROGRAM: N times, fork, exec PROGRAM (a static true) in the
 * child and wait for it in the parent. Under a sentry each iteration is a
 * new address space and task, an exec that loads an ELF into it, and the
 * short life and death of the child: the process machinery end to end.
 */
#include "bench.h"

#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = count_arg(argc, argv, 1);
	char *prog, *args[2];
	double start;

	if (argc != 3)
		fail("usage: forkexec N PROGRAM");
	prog = argv[2];
	args[0] = prog;
	args[1] = NULL;
	start = now_ns();
	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execv(prog, args);
			/* Only _exit in the child: exit would flush the
			 * parent's stdio buffers a second time. */
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("the child did not exit with status 0 (did exec fail?)");
	}
	report(now_ns() - start, n);
	return 0;
}
