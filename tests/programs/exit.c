/*
 * exit: prints a line, then exits with the status given as argv[1]
 * (default 3). Linux keeps only the low 8 bits: exit(256) is status 0.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 3;
	printf("exiting with %d\n", status);
	exit(status);
}
