/*
 * itimer: calls to setitimer(2) and getitimer(2) whose struct itimerval
 * arguments --strace should show, decoded, as strace(1) does. Exercise 3
 * of docs/coursework.md. Every value the calls take or return is fixed,
 * so the decoded lines are the same on every run.
 */
#include "check.h"

#include <sys/time.h>

int main(void)
{
	struct itimerval arm = {
		.it_interval = {.tv_sec = 1, .tv_usec = 500000},
		.it_value = {.tv_sec = 2, .tv_usec = 250000},
	};
	struct itimerval zero = {0}, old;
	begin();

	/* Arm the real-time timer, and see the old value: disarmed. */
	EXPECT_RET(setitimer(ITIMER_REAL, &arm, &old), 0);
	CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0);

	/* Disarm it at once, without asking for the old value, long
	 * before it could fire. */
	EXPECT_RET(setitimer(ITIMER_REAL, &zero, NULL), 0);

	/* The timers read back disarmed. */
	EXPECT_RET(getitimer(ITIMER_REAL, &old), 0);
	CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0);
	EXPECT_RET(getitimer(ITIMER_VIRTUAL, &old), 0);
	EXPECT_RET(getitimer(ITIMER_PROF, &old), 0);

	/* A profiling timer that would fire every 0.999999 seconds (the
	 * microseconds go up to 999999), disarmed again at once. */
	struct itimerval prof = {
		.it_interval = {.tv_sec = 0, .tv_usec = 999999},
		.it_value = {.tv_sec = 30, .tv_usec = 0},
	};
	EXPECT_RET(setitimer(ITIMER_PROF, &prof, NULL), 0);
	EXPECT_RET(setitimer(ITIMER_PROF, &zero, NULL), 0);

	/* A call that fails wrote nothing: strace shows the address it was
	 * given. */
	EXPECT_ERR(syscall(SYS_getitimer, ITIMER_REAL, ptr(8)), EFAULT);
	return finish();
}
