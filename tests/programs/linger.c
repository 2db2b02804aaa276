/*
 * linger: a program with something to clean up, for the tests of how
 * minisentry ends: it starts a child process and a thread (so that the
 * sandbox has several stub processes and threads), prints "ready", and
 * then ends as argv[1] says:
 *
 *	exit       exits with status 5 once its standard input ends
 *	crash      dies of SIGSEGV once its standard input ends
 *	wait       waits forever for a signal (SIGTERM's default kills it)
 *	nointr     the same, ignoring SIGINT
 *	spin       makes system calls forever
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static void *park(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "nointr") == 0)
		signal(SIGINT, SIG_IGN);
	int p[2];
	if (pipe(p) != 0)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		/* The child has a thread too. */
		pthread_t th;
		pthread_create(&th, NULL, park, NULL);
		write(p[1], "c", 1);
		park(NULL);
	}
	pthread_t th;
	if (pid < 0 || pthread_create(&th, NULL, park, NULL) != 0)
		return 2;
	char c;
	if (read(p[0], &c, 1) != 1)
		return 2;
	printf("ready\n");
	fflush(stdout);

	if (strcmp(mode, "exit") == 0 || strcmp(mode, "crash") == 0) {
		/* The test looks at the stubs before letting it go on. */
		while (read(0, &c, 1) > 0)
			;
		if (strcmp(mode, "exit") == 0)
			exit(5);
		*(volatile int *)ptr(0) = 1;
	}
	if (strcmp(mode, "wait") == 0 || strcmp(mode, "nointr") == 0)
		park(NULL);
	if (strcmp(mode, "spin") == 0)
		for (;;)
			getppid();
	fprintf(stderr, "usage: linger exit|crash|wait|nointr|spin\n");
	return 2;
}
