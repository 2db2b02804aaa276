/*
 * enosys: system calls that do not exist fail with ENOSYS, and the program
 * carries on. Under minisentry that is also the answer for a call the
 * sentry does not implement; either way, nothing but the program's own
 * output may appear.
 */
#include "check.h"

int main(void)
{
	begin();
	EXPECT_ERR(syscall(1000), ENOSYS);
	EXPECT_ERR(syscall(1000), ENOSYS); /* a second time, too */
	EXPECT_ERR(syscall(100000, 1, 2, 3), ENOSYS);
	EXPECT_ERR(syscall(-1L), ENOSYS);
	return finish();
}
