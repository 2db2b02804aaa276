/*
 * args: prints argc, every argument and every environment variable, in
 * order, and checks how the initial stack lays them out: argv and envp are
 * NULL-terminated arrays, envp follows argv directly, and environ is envp.
 */
#include "check.h"

extern char **environ;

int main(int argc, char **argv, char **envp)
{
	begin();
	printf("argc=%d\n", argc);
	/* argv[0] is the path the test ran, which is the same natively and
	 * under minisentry, but print only the others: the path lives in a
	 * temporary directory. */
	for (int i = 1; i < argc; i++) {
		/* A long argument is shown by its start and a checksum. */
		size_t len = strlen(argv[i]);
		unsigned sum = 0;
		for (size_t j = 0; j < len; j++)
			sum = sum * 31 + (unsigned char)argv[i][j];
		printf("argv[%d]=\"%.40s\"%s (%zu bytes, sum %08x)\n", i, argv[i], len > 40 ? "..." : "", len, sum);
	}
	int n = 0;
	for (char **e = envp; *e; e++, n++)
		printf("envp[%d]=\"%s\"\n", n, *e);
	printf("%d environment variables\n", n);
	CHECK(argv[argc] == NULL);
	CHECK(envp == argv + argc + 1);
	CHECK(environ == envp);
	CHECK(argc >= 1 && argv[0][0] != '\0');
	return finish();
}
