/*
 * observe: a little of everything that --strace, --stats, --report and
 * --trace show. It writes, passes a byte through a pipe, takes a signal
 * in a handler, starts a thread and joins it (a futex wait), and forks a
 * child that execs this program again to exit with status 3, which it
 * reaps with wait4.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void handler(int sig)
{
	caught = sig;
}

static void *thread(void *arg)
{
	/* Long enough for the main thread to be waiting in pthread_join. */
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	write(1, "thread\n", 7);
	return arg;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		write(1, "child\n", 6);
		return 3;
	}
	write(1, "hello\n", 6);

	int fds[2];
	char c;
	if (pipe(fds) != 0 || write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1)
		return 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || kill(getpid(), SIGUSR1) != 0)
		return 1;

	pthread_t th;
	if (pthread_create(&th, NULL, thread, NULL) != 0 || pthread_join(th, NULL) != 0)
		return 1;

	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char *args[] = {argv[0], "child", NULL};
		execv(argv[0], args);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	printf("child exit status %d, caught signal %d\n", WEXITSTATUS(status), caught);
	return 0;
}
