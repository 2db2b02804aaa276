/*
 * futex N: two threads hand a turn back and forth N times through one
 * futex word, with raw FUTEX_WAIT and FUTEX_WAKE calls; one round trip is
 * main -> peer -> main. Every hand-off wakes the other thread whether it
 * sleeps or not, so each round trip makes the same two wakes and at most
 * two waits: under a sentry, a blocking syscall, a wake-up across tasks and
 * a switch back into the stub, twice.
 */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* linux/futex.h's values, spelled out to need no kernel headers. */
enum {
	FUTEX_WAIT_PRIVATE = 0 | 128,
	FUTEX_WAKE_PRIVATE = 1 | 128,
};

enum { MAIN_TURN, PEER_TURN };

static _Atomic int turn = MAIN_TURN;
static long rounds;

/* wait_turn sleeps until the word says it is want's turn. FUTEX_WAIT
 * returns at once if the word already changed, so no wake-up is lost. */
static void wait_turn(int want)
{
	int v;

	while ((v = atomic_load(&turn)) != want)
		if (syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			die("FUTEX_WAIT");
}

static void give_turn(int to)
{
	atomic_store(&turn, to);
	if (syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
		die("FUTEX_WAKE");
}

static void *peer(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		wait_turn(PEER_TURN);
		give_turn(MAIN_TURN);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	double start, ns;
	int err;

	rounds = count_arg(argc, argv, 1);
	if ((err = pthread_create(&t, NULL, peer, NULL)) != 0) {
		errno = err;
		die("pthread_create");
	}
	start = now_ns();
	for (long i = 0; i < rounds; i++) {
		give_turn(PEER_TURN);
		wait_turn(MAIN_TURN);
	}
	ns = now_ns() - start;
	if ((err = pthread_join(t, NULL)) != 0) {
		errno = err;
		die("pthread_join");
	}
	report(ns, rounds);
	return 0;
}
