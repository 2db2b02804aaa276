/*
 * brk: grows the heap by 4 MiB, touches every page, shrinks it, grows it
 * again (the regrown part must read as zeros) and checks the edge cases:
 * brk(0) and a brk below the start return the current break, an unaligned
 * break is kept as given, and the heap may not grow into another mapping.
 *
 * It calls the brk system call directly (musl's sbrk only accepts 0) and
 * prints nothing until the end: printf could call malloc, which may move
 * the break behind the program's back.
 */
#include "check.h"

#include <sys/mman.h>

#define MiB (1UL << 20)

static char *sys_brk(void *addr)
{
	return (char *)syscall(SYS_brk, addr);
}

extern char end[]; /* the end of the program's bss, from the linker */

int main(void)
{
	begin();
	printf("brk test\n"); /* allocate stdout's buffer now, before measuring */

	char *cur = sys_brk(0);
	int above_bss = cur >= end;
	int same_again = sys_brk(0) == cur;
	int below_start = sys_brk((void *)4096) == cur;

	char *top = sys_brk(cur + 4 * MiB);
	int grew = top == cur + 4 * MiB;
	int touched = 1;
	if (grew) {
		for (char *q = cur; q < top; q += 4096)
			*q = (char)((q - cur) >> 12);
		for (char *q = cur; q < top; q += 4096)
			touched &= *q == (char)((q - cur) >> 12);
	}

	int shrank = sys_brk(cur + 1 * MiB) == cur + 1 * MiB;
	int regrew = sys_brk(cur + 4 * MiB) == cur + 4 * MiB;
	int kept = 1, zeroed = 1;
	if (shrank && regrew) {
		for (char *q = cur; q < cur + 1 * MiB; q += 4096)
			kept &= *q == (char)((q - cur) >> 12);
		for (char *q = cur + 1 * MiB; q < cur + 4 * MiB; q += 4096)
			zeroed &= *q == 0;
	}

	char *odd = cur + 4 * MiB + 123;
	int unaligned = sys_brk(odd) == odd;
	int odd_usable = 1;
	if (unaligned) {
		odd[-1] = 7; /* the page holding the unaligned end is mapped */
		odd_usable = odd[-1] == 7;
	}

	/* A mapping in the way: the break cannot grow through it. */
	char *wall = (char *)(((unsigned long)cur + 8 * MiB) & ~4095UL);
	char *m = mmap(wall, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	int walled = m == wall;
	int blocked = sys_brk(cur + 16 * MiB) == odd;
	if (walled)
		munmap(wall, 4096);
	int back = sys_brk(cur) == cur;

	CHECK(above_bss);
	CHECK(same_again);
	CHECK(below_start);
	CHECK(grew);
	CHECK(touched);
	CHECK(shrank);
	CHECK(regrew);
	CHECK(kept);
	CHECK(zeroed);
	CHECK(unaligned);
	CHECK(odd_usable);
	CHECK(walled);
	CHECK(blocked);
	CHECK(back);
	return finish();
}
