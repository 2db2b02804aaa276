/*
 * mmapfile: shared and private mappings of files, in a fresh empty
 * directory given as argv[1]: a MAP_SHARED mapping and read(2), write(2),
 * pread, pwrite, msync and munmap on the same file agree; MAP_PRIVATE
 * writes stay out of the file; a shared mapping stays shared across fork;
 * touching pages past the end of the file (mapped so, or after ftruncate
 * or O_TRUNC) is SIGBUS; the permission checks (a read-only descriptor
 * cannot give a writable shared mapping, now or by mprotect); and the
 * errors of mmap, msync and mincore.
 */
#include "check.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PG 4096

static const char *top;
static char path_buf[4096];

/* path returns top/name in a static buffer. */
static const char *path(const char *name)
{
	snprintf(path_buf, sizeof path_buf, "%s/%s", top, name);
	return path_buf;
}

/* make_file creates name holding size bytes of a pattern, and returns a
 * descriptor opened with flags. */
static int make_file(const char *name, long size, int flags)
{
	int fd = open(path(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (long i = 0; i < size; i++) {
		char c = 'a' + i % 26;
		if (write(fd, &c, 1) != 1) {
			printf("make_file %s: write: %s\n", name, errname(errno));
			break;
		}
	}
	if (flags == O_RDWR)
		return fd;
	close(fd);
	return open(path(name), flags);
}

/* file_has reports whether the file name holds want at off, read through
 * a descriptor of its own. */
static int file_has(const char *name, long off, const char *want)
{
	char buf[256];
	size_t n = strlen(want);
	int fd = open(path(name), O_RDONLY);
	long r = pread(fd, buf, n, off);
	close(fd);
	return r == (long)n && memcmp(buf, want, n) == 0;
}

static long file_size(const char *name)
{
	struct stat st;
	return stat(path(name), &st) == 0 ? (long)st.st_size : -1;
}

/* Faults: the handler records the signal and jumps out. */
static sigjmp_buf fault_jmp;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_sig = sig;
	fault_code = si->si_code;
	fault_addr = si->si_addr;
	siglongjmp(fault_jmp, 1);
}

static const char *signame(int sig)
{
	switch (sig) {
	case 0: return "no signal";
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	default: return "another signal";
	}
}

static const char *codename(int sig, int code)
{
	if (sig == SIGBUS && code == BUS_ADRERR) return "BUS_ADRERR";
	if (sig == SIGSEGV && code == SEGV_MAPERR) return "SEGV_MAPERR";
	if (sig == SIGSEGV && code == SEGV_ACCERR) return "SEGV_ACCERR";
	return "another code";
}

/* TOUCH(what, p, write) reads (or writes) the byte at p and prints which
 * signal, if any, that raised, and whether si_addr was p. */
#define TOUCH(what, p, write)                                                                  \
	do {                                                                                   \
		volatile char *p_ = (volatile char *)(p);                                      \
		fault_sig = 0;                                                                 \
		if (sigsetjmp(fault_jmp, 1) == 0) {                                            \
			if (write)                                                             \
				*p_ = 'W';                                                     \
			else                                                                   \
				(void)*p_;                                                     \
		}                                                                              \
		if (fault_sig == 0)                                                            \
			printf("%s: no signal\n", what);                                       \
		else                                                                           \
			printf("%s: %s %s, at the address: %s\n", what, signame(fault_sig),     \
			       codename(fault_sig, fault_code),                               \
			       fault_addr == (void *)p_ ? "yes" : "no");                      \
	} while (0)

static void shared_and_fd(void)
{
	puts("-- a shared mapping and the descriptor");
	int fd = make_file("shared", 3 * PG, O_RDWR);
	char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(m[0] == 'a' && m[PG + 5] == 'a' + (PG + 5) % 26);

	/* Through the mapping, seen by read(2) and pread(2). */
	memcpy(m + 10, "via the mapping", 15);
	memcpy(m + 2 * PG - 4, "straddling", 10);
	char buf[64] = {0};
	lseek(fd, 10, SEEK_SET);
	EXPECT_RET(read(fd, buf, 15), 15);
	CHECK(memcmp(buf, "via the mapping", 15) == 0);
	EXPECT_RET(pread(fd, buf, 10, 2 * PG - 4), 10);
	CHECK(memcmp(buf, "straddling", 10) == 0);
	CHECK(file_has("shared", 10, "via the mapping"));

	/* Through the descriptor, seen by the mapping at once. */
	lseek(fd, 100, SEEK_SET);
	EXPECT_RET(write(fd, "via write", 9), 9);
	CHECK(memcmp(m + 100, "via write", 9) == 0);
	EXPECT_RET(pwrite(fd, "via pwrite", 10, PG + 200), 10);
	CHECK(memcmp(m + PG + 200, "via pwrite", 10) == 0);
	/* A write that reads its bytes from the mapping itself. */
	EXPECT_RET(pwrite(fd, m + 10, 15, 2 * PG + 300), 15);
	CHECK(memcmp(m + 2 * PG + 300, "via the mapping", 15) == 0);

	/* A second mapping of the same file, through another descriptor. */
	int fd2 = open(path("shared"), O_RDWR);
	char *m2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, PG);
	CHECK(m2 != MAP_FAILED && m2 != m + PG);
	CHECK(memcmp(m2 + 200, "via pwrite", 10) == 0);
	memcpy(m2 + 500, "second mapping", 14);
	CHECK(memcmp(m + PG + 500, "second mapping", 14) == 0);
	close(fd2);

	EXPECT_RET(msync(m, 3 * PG, MS_SYNC), 0);
	EXPECT_RET(msync(m, PG, MS_ASYNC), 0);
	EXPECT_RET(msync(m, PG, MS_INVALIDATE), 0);
	EXPECT_RET(msync(m, PG, MS_SYNC | MS_INVALIDATE), 0);
	memcpy(m + 2 * PG + 1000, "after msync", 11);
	EXPECT_RET(munmap(m2, PG), 0);
	EXPECT_RET(munmap(m, 3 * PG), 0);
	close(fd);

	/* Reopened, the file holds every write. */
	CHECK(file_has("shared", 10, "via the mapping"));
	CHECK(file_has("shared", 2 * PG - 4, "straddling"));
	CHECK(file_has("shared", 100, "via write"));
	CHECK(file_has("shared", PG + 200, "via pwrite"));
	CHECK(file_has("shared", PG + 500, "second mapping"));
	CHECK(file_has("shared", 2 * PG + 300, "via the mapping"));
	CHECK(file_has("shared", 2 * PG + 1000, "after msync"));
	CHECK(file_size("shared") == 3 * PG);
}

static void private_mapping(void)
{
	puts("-- a private mapping");
	int fd = make_file("private", PG + 100, O_RDWR);
	char *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(s, "shared first", 12);
	/* The private mapping starts from what the shared one wrote. */
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(memcmp(p, "shared first", 12) == 0);
	memcpy(p + 20, "private write", 13);
	memcpy(p + PG + 10, "private tail", 12);
	CHECK(memcmp(s + 20, "private write", 13) != 0);
	EXPECT_RET(msync(p, 2 * PG, MS_SYNC), 0);
	munmap(p, 2 * PG);
	munmap(s, PG);
	close(fd);
	CHECK(file_has("private", 0, "shared first"));
	CHECK(!file_has("private", 20, "private write"));
	CHECK(!file_has("private", PG + 10, "private tail"));
	CHECK(file_size("private") == PG + 100);
}

static void fork_shared(void)
{
	puts("-- fork");
	int fd = make_file("forked", 2 * PG, O_RDWR);
	char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	memcpy(m, "parent", 6);
	(void)p[0];
	pid_t pid = fork();
	if (pid == 0) {
		int ok = memcmp(m, "parent", 6) == 0;
		memcpy(m + PG, "child", 5);
		memcpy(p + 50, "child private", 13);
		/* The child's exit is not the last mapping: the parent's
		 * mapping keeps the write, and so does the file. */
		_exit(ok ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(memcmp(m + PG, "child", 5) == 0);
	CHECK(memcmp(p + 50, "child private", 13) != 0);
	char buf[8];
	EXPECT_RET(pread(fd, buf, 5, PG), 5);
	CHECK(memcmp(buf, "child", 5) == 0);
	munmap(m, 2 * PG);
	munmap(p, PG);
	close(fd);
	CHECK(file_has("forked", PG, "child"));
}

static void past_the_end(void)
{
	puts("-- past the end of the file");
	int fd = make_file("short", PG + 10, O_RDWR);
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	TOUCH("read in the last page", m + PG + 20, 0);
	CHECK(m[PG + 9] == 'a' + (PG + 9) % 26 && m[PG + 10] == 0 && m[2 * PG - 1] == 0);
	TOUCH("read a page past the end", m + 2 * PG, 0);
	TOUCH("write a page past the end", m + 3 * PG + 7, 1);
	/* What the mapping writes past the end stays out of the file. */
	memcpy(m + PG + 10, "beyond", 6);
	EXPECT_RET(msync(m, 2 * PG, MS_SYNC), 0);
	CHECK(file_size("short") == PG + 10);

	/* Growing the file makes the pages reachable: the bytes past the old
	 * end read as zeros, whatever the mapping wrote there. */
	EXPECT_RET(ftruncate(fd, 3 * PG), 0);
	TOUCH("read a page after ftruncate grew the file", m + 2 * PG, 0);
	CHECK(m[PG + 10] == 0 && m[2 * PG] == 0);

	/* Shrinking it takes the pages past the new end away, even those
	 * already touched. */
	m[2 * PG + 1] = 'x';
	EXPECT_RET(ftruncate(fd, PG), 0);
	TOUCH("read a touched page after ftruncate shrank the file", m + 2 * PG + 1, 0);
	TOUCH("read the new last page", m + PG - 1, 0);
	CHECK(file_size("short") == PG);

	/* O_TRUNC through another descriptor does the same. */
	int fd2 = open(path("short"), O_RDWR | O_TRUNC);
	TOUCH("read after O_TRUNC", m, 0);
	close(fd2);
	munmap(m, 4 * PG);
	close(fd);

	/* A mapping of an empty file. */
	fd = make_file("empty", 0, O_RDWR);
	m = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	TOUCH("read a mapping of an empty file", m, 0);
	munmap(m, PG);
	close(fd);
}

static void permissions(void)
{
	puts("-- permissions");
	int rd = make_file("perm", PG, O_RDONLY);
	int wr = open(path("perm"), O_WRONLY);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, rd, 0) == MAP_FAILED ? -1 : 0, EACCES);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_SHARED, wr, 0) == MAP_FAILED ? -1 : 0, EACCES);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wr, 0) == MAP_FAILED ? -1 : 0, EACCES);
	int dir = open(top, O_RDONLY | O_DIRECTORY);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_SHARED, dir, 0) == MAP_FAILED ? -1 : 0, ENODEV);
	close(dir);

	/* A read-only descriptor gives a shared mapping that can never be
	 * made writable, and a private one that can. */
	char *s = mmap(NULL, PG, PROT_READ, MAP_SHARED, rd, 0);
	CHECK(s != MAP_FAILED);
	EXPECT_ERR(mprotect(s, PG, PROT_READ | PROT_WRITE), EACCES);
	EXPECT_RET(mprotect(s, PG, PROT_NONE), 0);
	EXPECT_RET(mprotect(s, PG, PROT_READ), 0);
	TOUCH("write to a read-only shared mapping", s, 1);
	char *p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, rd, 0);
	EXPECT_RET(mprotect(p, PG, PROT_READ | PROT_WRITE), 0);
	p[0] = 'P';
	CHECK(s[0] == 'a');
	munmap(s, PG);
	munmap(p, PG);

	/* An O_RDWR descriptor: PROT_READ now, PROT_WRITE later. */
	int rw = open(path("perm"), O_RDWR);
	s = mmap(NULL, PG, PROT_READ, MAP_SHARED, rw, 0);
	EXPECT_RET(mprotect(s, PG, PROT_READ | PROT_WRITE), 0);
	memcpy(s, "upgraded", 8);
	munmap(s, PG);
	CHECK(file_has("perm", 0, "upgraded"));
	close(rw);
	close(rd);
	close(wr);
}

static void errors(void)
{
	puts("-- errors");
	int fd = make_file("errors", PG, O_RDWR);
	char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_ERR(syscall(SYS_msync, m, PG, 8), EINVAL);
	EXPECT_ERR(syscall(SYS_msync, m, PG, MS_SYNC | MS_ASYNC), EINVAL);
	EXPECT_ERR(syscall(SYS_msync, m + 1, PG, MS_SYNC), EINVAL);
	EXPECT_RET(syscall(SYS_msync, m, 0, MS_SYNC), 0);
	munmap(m + PG, PG);
	EXPECT_ERR(syscall(SYS_msync, m, 2 * PG, MS_SYNC), ENOMEM);
	EXPECT_ERR(syscall(SYS_msync, m + PG, PG, MS_SYNC), ENOMEM);
	EXPECT_ERR(syscall(SYS_msync, m, -PG, MS_SYNC), ENOMEM);
	EXPECT_ERR(syscall(SYS_mmap, NULL, PG, PROT_READ, MAP_SHARED, fd, 1), EINVAL);

	unsigned char vec[2];
	EXPECT_ERR(syscall(SYS_mincore, m + 1, PG, vec), EINVAL);
	EXPECT_ERR(syscall(SYS_mincore, m, 2 * PG, vec), ENOMEM);
	EXPECT_ERR(syscall(SYS_mincore, m, PG, ptr(16)), EFAULT);
	m[0] = 1;
	EXPECT_RET(syscall(SYS_mincore, m, PG, vec), 0);
	CHECK(vec[0] & 1);
	munmap(m, PG);
	close(fd);
}

int main(int argc, char **argv)
{
	begin();
	if (argc != 2) {
		fprintf(stderr, "usage: mmapfile DIR\n");
		return 2;
	}
	top = argv[1];
	struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER};
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	shared_and_fd();
	private_mapping();
	fork_shared();
	past_the_end();
	permissions();
	errors();
	return finish();
}
