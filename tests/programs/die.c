/*
 * die: dies of a synchronous signal, chosen by argv[1]:
 *
 *	null      write through a NULL pointer            SIGSEGV
 *	unmapped  read a page that was just unmapped      SIGSEGV
 *	readonly  write to a PROT_READ page               SIGSEGV
 *	exec      call into a page without PROT_EXEC      SIGSEGV
 *	ill       execute ud2                             SIGILL
 *	fpe       divide by zero                          SIGFPE
 *
 * Natively the shell would report 128+signal; under minisentry the sentry
 * must exit with that status itself. What was printed before the fault
 * must come out.
 */
#include "check.h"

#include <sys/mman.h>

static volatile int zero = 0, seven = 7;

int main(int argc, char **argv)
{
	begin();
	const char *how = argc > 1 ? argv[1] : "null";
	printf("about to die: %s\n", how);

	if (strcmp(how, "null") == 0) {
		*(volatile int *)0 = 42;
	} else if (strcmp(how, "unmapped") == 0) {
		volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		p[0] = 1;
		munmap((void *)p, 4096);
		printf("read back %d\n", p[0]);
	} else if (strcmp(how, "readonly") == 0) {
		volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("readable: %d\n", p[0]);
		p[0] = 1;
	} else if (strcmp(how, "exec") == 0) {
		unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		p[0] = 0xc3; /* ret */
		((void (*)(void))p)();
	} else if (strcmp(how, "ill") == 0) {
		__builtin_trap();
	} else if (strcmp(how, "fpe") == 0) {
		printf("%d\n", seven / zero); /* 1/x would compile to a compare */
	}
	printf("still alive\n");
	return 1;
}
