/* hello: the first program any sentry must run. printf, then exit 0. */
#include <stdio.h>

int main(void)
{
	printf("hello, world\n");
	return 0;
}
