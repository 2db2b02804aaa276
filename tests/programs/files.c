/*
 * files: the file system system calls, in a fresh empty directory given
 * as argv[1] (the same path natively and under minisentry): creating,
 * reading and writing files, directories and their listings, links,
 * renames, attributes, the working directory, and the errors of each.
 * Only facts that do not depend on the run are printed: no inode numbers,
 * no times other than those the program sets.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef STATX_SIZE
#define STATX_MODE 0x2
#define STATX_SIZE 0x200
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

static const char *top;

/* mode returns a file's type and permission bits, or -1. */
static long mode(const char *path, int follow)
{
	struct stat st;
	int r = follow ? stat(path, &st) : lstat(path, &st);
	return r == 0 ? (long)st.st_mode : -1;
}

static long size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static long nlink(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (long)st.st_nlink : -1;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * list prints the entries of dir, sorted, each with its d_type, read with
 * getdents64 through a buffer of bufsize bytes; it checks that every
 * d_off, seeked to, resumes the listing after its entry.
 */
static void list(const char *dir, size_t bufsize)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char *names[256];
	int n = 0;
	char buf[4096];
	long r;
	if (fd < 0) {
		printf("list %s: open: %s\n", dir, errname(errno));
		return;
	}
	while ((r = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
		for (long off = 0; off < r;) {
			unsigned short reclen = *(unsigned short *)(buf + off + 16);
			unsigned char type = *(unsigned char *)(buf + off + 18);
			char *name = buf + off + 19;
			char *line = malloc(strlen(name) + 8);
			sprintf(line, "%s %d", name, type);
			if (n < 256)
				names[n++] = line;
			if (reclen % 8 != 0)
				printf("reclen %d is not a multiple of 8\n", reclen);
			off += reclen;
		}
	}
	if (r < 0)
		printf("list %s: getdents64: %s\n", dir, errname(errno));
	qsort(names, n, sizeof names[0], cmpstr);
	printf("list %s (buffer %zu):", dir, bufsize);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
	/* At the end, getdents64 keeps returning 0. */
	EXPECT_RET(syscall(SYS_getdents64, fd, buf, bufsize), 0);
	close(fd);
}

/*
 * same_entries compares the linux_dirent64 records in a and b, n bytes of
 * them, field by field: the padding after each name is whatever the
 * buffer held.
 */
static int same_entries(const char *a, const char *b, long n)
{
	for (long off = 0; off < n;) {
		unsigned short reclen = *(unsigned short *)(a + off + 16);
		if (memcmp(a + off, b + off, 19) != 0 || strcmp(a + off + 19, b + off + 19) != 0)
			return 0;
		off += reclen;
	}
	return 1;
}

/* seekdirs checks that a d_off resumes a listing right after its entry. */
static void seekdirs(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	char buf[4096], again[4096];
	long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
	CHECK(r > 0);
	unsigned short first = *(unsigned short *)(buf + 16);
	int64_t doff = *(int64_t *)(buf + 8);
	CHECK(lseek(fd, doff, SEEK_SET) == doff);
	long r2 = syscall(SYS_getdents64, fd, again, sizeof again);
	CHECK(r2 >= r - first && same_entries(again, buf + first, r - first));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(syscall(SYS_getdents64, fd, again, sizeof again) == r);
	/* A buffer too small for one entry. */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, 8), EINVAL);
	EXPECT_ERR(syscall(SYS_getdents64, fd, ptr(1), 4096), EFAULT);
	close(fd);
	int file = open("a", O_RDONLY);
	EXPECT_ERR(syscall(SYS_getdents64, file, buf, sizeof buf), ENOTDIR);
	close(file);
	EXPECT_ERR(syscall(SYS_getdents64, 999, buf, sizeof buf), EBADF);
}

static void cwd_is(const char *rel)
{
	char want[PATH_MAX], got[PATH_MAX];
	snprintf(want, sizeof want, "%s%s", top, rel);
	long r = syscall(SYS_getcwd, got, sizeof got);
	printf("getcwd = top%s (%s)\n", r > 0 && strncmp(got, top, strlen(top)) == 0 ? got + strlen(top) : got,
	       r == (long)strlen(want) + 1 && strcmp(got, want) == 0 ? "ok" : "FAIL");
	if (!(r == (long)strlen(want) + 1 && strcmp(got, want) == 0))
		check_failures++;
}

/* copying checks copy_file_range and fallocate, from the file at in. */
static void copying(int in)
{
	char buf[16];
	int out = open("copy", O_CREAT | O_RDWR | O_TRUNC, 0644);
	int64_t offin = 7, offout = 0;
	EXPECT_RET(syscall(SYS_copy_file_range, in, &offin, out, &offout, 5L, 0), 5);
	CHECK(offin == 12 && offout == 5);
	EXPECT_RET(pread(out, buf, 5, 0), 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	/* Without offsets, the files' own move. */
	EXPECT_RET(lseek(in, 0, SEEK_SET), 0);
	EXPECT_RET(syscall(SYS_copy_file_range, in, NULL, out, NULL, 5L, 0), 5);
	EXPECT_RET(lseek(in, 0, SEEK_CUR), 5);
	EXPECT_RET(lseek(out, 0, SEEK_CUR), 5);
	EXPECT_RET(pread(out, buf, 5, 0), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	EXPECT_ERR(syscall(SYS_copy_file_range, in, NULL, out, NULL, 5L, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_copy_file_range, in, ptr(1), out, NULL, 5L, 0), EFAULT);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(syscall(SYS_copy_file_range, p[0], NULL, out, NULL, 5L, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_fsync, p[1]), EINVAL);
	EXPECT_ERR(syscall(SYS_ftruncate, p[1], 0L), EINVAL);
	EXPECT_ERR(syscall(SYS_lseek, p[0], 0L, SEEK_CUR), ESPIPE);
	close(p[0]);
	close(p[1]);
	printf("fallocate: %s\n", errname(syscall(SYS_fallocate, out, 0, 0L, 8192L) ? errno : 0));
	printf("copy size %ld\n", (long)lseek(out, 0, SEEK_END));
	close(out);
	EXPECT_RET(unlink("copy"), 0);
	/* An unnamed file in the directory, where the file system has them. */
	int tmp = open(".", O_TMPFILE | O_RDWR, 0600);
	printf("O_TMPFILE: %s\n", tmp >= 0 ? "opened" : errname(errno));
	if (tmp >= 0) {
		EXPECT_RET(pwrite(tmp, "tmp", 3, 0), 3);
		EXPECT_RET(pread(tmp, buf, 3, 0), 3);
		close(tmp);
	}
}

static void files(void)
{
	char buf[256];
	int fd = open("a", O_CREAT | O_RDWR | O_EXCL, 0640);
	CHECK(fd >= 0);
	EXPECT_RET(write(fd, "hello, world\n", 13), 13);
	EXPECT_RET(lseek(fd, 0, SEEK_CUR), 13);
	EXPECT_RET(pread(fd, buf, 5, 7), 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	EXPECT_RET(lseek(fd, 0, SEEK_CUR), 13);
	EXPECT_RET(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_RET(read(fd, buf, sizeof buf), 13);
	EXPECT_RET(read(fd, buf, sizeof buf), 0);
	EXPECT_RET(lseek(fd, 100, SEEK_END), 113);
	EXPECT_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	EXPECT_ERR(syscall(SYS_lseek, fd, 0, 42), EINVAL);
	/* A hole, then a byte. */
	EXPECT_RET(pwrite(fd, "x", 1, 999), 1);
	EXPECT_RET(pread(fd, buf, 4, 997), 3);
	CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 'x');
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	printf("a: mode %o size %ld nlink %ld\n", (int)st.st_mode, (long)st.st_size, (long)st.st_nlink);
	EXPECT_RET(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	copying(fd);
	close(fd);
	EXPECT_ERR(syscall(SYS_fstat, fd, &st), EBADF);
	EXPECT_ERR(syscall(SYS_close, fd), EBADF);

	EXPECT_ERR(syscall(SYS_open, "a", O_CREAT | O_EXCL | O_WRONLY, 0600), EEXIST);
	EXPECT_ERR(syscall(SYS_open, "missing", O_RDONLY), ENOENT);
	EXPECT_ERR(syscall(SYS_open, "a/x", O_RDONLY), ENOTDIR);
	EXPECT_ERR(syscall(SYS_open, "a", O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR(syscall(SYS_open, ".", O_WRONLY), EISDIR);
	EXPECT_ERR(syscall(SYS_open, ptr(1), O_RDONLY), EFAULT);
	EXPECT_ERR(syscall(SYS_open, "", O_RDONLY), ENOENT);

	/* creat truncates; O_APPEND appends wherever the offset is. */
	fd = creat("b", 0600);
	EXPECT_RET(write(fd, "bb", 2), 2);
	close(fd);
	EXPECT_RET(size("b"), 2);
	fd = creat("b", 0600);
	close(fd);
	EXPECT_RET(size("b"), 0);
	fd = open("b", O_WRONLY | O_APPEND);
	EXPECT_RET(write(fd, "one", 3), 3);
	EXPECT_RET(lseek(fd, 0, SEEK_SET), 0);
	EXPECT_RET(write(fd, "two", 3), 3);
	close(fd);
	fd = open("b", O_RDONLY);
	EXPECT_RET(read(fd, buf, sizeof buf), 6);
	CHECK(memcmp(buf, "onetwo", 6) == 0);
	close(fd);
	fd = open("b", O_RDWR | O_TRUNC);
	close(fd);
	EXPECT_RET(size("b"), 0);
}

static void links(void)
{
	char buf[PATH_MAX];
	EXPECT_RET(symlink("a", "link"), 0);
	EXPECT_RET(symlink("missing", "dangling"), 0);
	EXPECT_ERR(symlink("a", "link"), EEXIST);
	EXPECT_ERR(syscall(SYS_symlink, "", "empty"), ENOENT);
	printf("lstat link: %o, stat link: %o, stat dangling: %ld\n", (int)mode("link", 0), (int)mode("link", 1), mode("dangling", 1));
	EXPECT_RET(readlink("link", buf, sizeof buf), 1);
	CHECK(buf[0] == 'a');
	EXPECT_RET(readlink("dangling", buf, 3), 3);
	CHECK(memcmp(buf, "mis", 3) == 0);
	EXPECT_ERR(syscall(SYS_readlink, "a", buf, sizeof buf), EINVAL);
	EXPECT_ERR(syscall(SYS_readlink, "link", buf, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_readlink, "missing", buf, sizeof buf), ENOENT);
	EXPECT_ERR(syscall(SYS_readlink, "link", ptr(1), sizeof buf), EFAULT);
	/* O_CREAT through a dangling symlink creates its target. */
	int fd = open("dangling", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	printf("missing after O_CREAT through dangling: %o\n", (int)mode("missing", 0));
	EXPECT_RET(unlink("missing"), 0);
	EXPECT_ERR(syscall(SYS_open, "link", O_RDONLY | O_NOFOLLOW), ELOOP);

	EXPECT_RET(link("a", "hard"), 0);
	EXPECT_RET(nlink("a"), 2);
	EXPECT_ERR(syscall(SYS_link, "a", "hard"), EEXIST);
	EXPECT_ERR(syscall(SYS_link, "missing", "x"), ENOENT);
	EXPECT_ERR(syscall(SYS_link, ".", "x"), EPERM);
	/* linkat without AT_SYMLINK_FOLLOW links the symlink itself. */
	EXPECT_RET(syscall(SYS_linkat, AT_FDCWD, "link", AT_FDCWD, "link2", 0), 0);
	printf("link2: %o, nlink of link %ld\n", (int)mode("link2", 0), nlink("link"));
	EXPECT_RET(syscall(SYS_linkat, AT_FDCWD, "link", AT_FDCWD, "hard2", AT_SYMLINK_FOLLOW), 0);
	EXPECT_RET(nlink("a"), 3);
	EXPECT_ERR(syscall(SYS_linkat, AT_FDCWD, "a", AT_FDCWD, "x", 0x8000), EINVAL);
	EXPECT_RET(unlink("hard2"), 0);
	EXPECT_RET(unlink("link2"), 0);
	EXPECT_RET(unlink("hard"), 0);
	EXPECT_RET(nlink("a"), 1);
}

static void directories(void)
{
	char buf[64];
	EXPECT_RET(mkdir("d", 0755), 0);
	EXPECT_ERR(mkdir("d", 0755), EEXIST);
	EXPECT_ERR(mkdir("missing/d", 0755), ENOENT);
	EXPECT_ERR(mkdir("a/d", 0755), ENOTDIR);
	EXPECT_ERR(mkdir("d/..", 0755), EEXIST);
	EXPECT_RET(mkdir("d/e/", 0700), 0);
	printf("d: %o, d/e: %o\n", (int)mode("d", 1), (int)mode("d/e", 1));
	for (int i = 0; i < 40; i++) {
		snprintf(buf, sizeof buf, "d/file-%02d-%s", i, i % 2 ? "odd" : "even-and-longer-name");
		close(open(buf, O_CREAT | O_WRONLY, 0644));
	}
	EXPECT_RET(symlink("../a", "d/up"), 0);
	EXPECT_RET(mknod("d/fifo", S_IFIFO | 0600, 0), 0);
	printf("d/fifo: %o\n", (int)mode("d/fifo", 1));
	list("d", 4096);
	list("d", 64);
	list(".", 200);
	seekdirs("d");

	/* rename */
	EXPECT_RET(rename("d/file-00-even-and-longer-name", "d/renamed"), 0);
	EXPECT_RET(rename("d/renamed", "d/file-01-odd"), 0);
	printf("d/renamed: %ld, d/file-01-odd: %o\n", mode("d/renamed", 0), (int)mode("d/file-01-odd", 0));
	EXPECT_ERR(syscall(SYS_renameat2, AT_FDCWD, "d/file-02-even-and-longer-name", AT_FDCWD, "d/file-03-odd", RENAME_NOREPLACE), EEXIST);
	EXPECT_RET(syscall(SYS_renameat2, AT_FDCWD, "d/file-02-even-and-longer-name", AT_FDCWD, "d/new", RENAME_NOREPLACE), 0);
	EXPECT_ERR(syscall(SYS_renameat2, AT_FDCWD, "d/new", AT_FDCWD, "d/x", 0x80), EINVAL);
	EXPECT_ERR(syscall(SYS_rename, "d", "d/e/inside"), EINVAL);
	EXPECT_ERR(syscall(SYS_rename, "missing", "x"), ENOENT);
	EXPECT_ERR(syscall(SYS_rename, "a", "d"), EISDIR);
	EXPECT_ERR(syscall(SYS_rename, "d/e", "a"), ENOTDIR);
	EXPECT_RET(mkdir("f", 0755), 0);
	EXPECT_ERR(syscall(SYS_rename, "f", "d"), ENOTEMPTY);
	EXPECT_RET(rename("f", "d/e/f"), 0);
	EXPECT_ERR(syscall(SYS_rename, "d/.", "x"), EBUSY);

	/* unlink and rmdir */
	EXPECT_ERR(syscall(SYS_rmdir, "d"), ENOTEMPTY);
	EXPECT_ERR(syscall(SYS_unlink, "d"), EISDIR);
	EXPECT_ERR(syscall(SYS_rmdir, "a"), ENOTDIR);
	EXPECT_ERR(syscall(SYS_unlink, "missing"), ENOENT);
	EXPECT_ERR(syscall(SYS_unlink, "a/"), ENOTDIR);
	EXPECT_ERR(syscall(SYS_rmdir, "d/e/f/."), EINVAL);
	EXPECT_ERR(syscall(SYS_rmdir, "d/e/f/.."), ENOTEMPTY);
	EXPECT_RET(syscall(SYS_unlinkat, AT_FDCWD, "d/e/f", AT_REMOVEDIR), 0);
	EXPECT_ERR(syscall(SYS_unlinkat, AT_FDCWD, "d/e", 0x1), EINVAL);
}

static void attributes(void)
{
	struct stat st;
	EXPECT_RET(chmod("a", 0604), 0);
	printf("a after chmod: %o\n", (int)mode("a", 1));
	EXPECT_RET(chmod("link", 0600), 0);
	printf("a after chmod through link: %o\n", (int)mode("a", 1));
	EXPECT_ERR(syscall(SYS_chmod, "missing", 0600), ENOENT);
	int fd = open("a", O_RDONLY);
	EXPECT_RET(fchmod(fd, 0640), 0);
	printf("a after fchmod: %o\n", (int)mode("a", 1));
	EXPECT_RET(syscall(SYS_fchmodat, AT_FDCWD, "a", 0644), 0);
	printf("a after fchmodat: %o\n", (int)mode("a", 1));
	/* Changing the owner to the same ids is always allowed. */
	CHECK(fstat(fd, &st) == 0);
	EXPECT_RET(chown("a", st.st_uid, st.st_gid), 0);
	EXPECT_RET(lchown("link", -1, -1), 0);
	EXPECT_RET(fchown(fd, -1, st.st_gid), 0);
	EXPECT_ERR(syscall(SYS_fchownat, AT_FDCWD, "a", -1, -1, 0x2), EINVAL);

	EXPECT_RET(truncate("a", 10), 0);
	EXPECT_RET(size("a"), 10);
	EXPECT_ERR(syscall(SYS_truncate, "d", 0), EISDIR);
	EXPECT_ERR(syscall(SYS_truncate, "a", (long)-1), EINVAL);
	EXPECT_ERR(syscall(SYS_ftruncate, fd, 0), EINVAL);
	close(fd);
	fd = open("a", O_RDWR);
	EXPECT_RET(ftruncate(fd, 3), 0);
	EXPECT_RET(size("a"), 3);
	EXPECT_RET(fsync(fd), 0);
	EXPECT_RET(fdatasync(fd), 0);

	struct timespec ts[2] = {{1000, 0}, {2000, 500}};
	EXPECT_RET(utimensat(AT_FDCWD, "a", ts, 0), 0);
	CHECK(stat("a", &st) == 0);
	printf("a times: %ld.%ld %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec omit[2] = {{3000, 0}, {0, UTIME_OMIT}};
	EXPECT_RET(utimensat(AT_FDCWD, "link", omit, 0), 0);
	CHECK(stat("a", &st) == 0);
	printf("a times after UTIME_OMIT: %ld %ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
	struct timespec linkts[2] = {{5000, 0}, {6000, 0}};
	EXPECT_RET(utimensat(AT_FDCWD, "link", linkts, AT_SYMLINK_NOFOLLOW), 0);
	CHECK(lstat("link", &st) == 0);
	printf("link mtime: %ld\n", (long)st.st_mtim.tv_sec);
	CHECK(stat("a", &st) == 0);
	printf("a mtime still: %ld\n", (long)st.st_mtim.tv_sec);
	struct timespec fts[2] = {{7000, 0}, {8000, 0}};
	EXPECT_RET(futimens(fd, fts), 0);
	CHECK(stat("a", &st) == 0);
	printf("a mtime after futimens: %ld\n", (long)st.st_mtim.tv_sec);
	EXPECT_RET(utimensat(AT_FDCWD, "a", NULL, 0), 0);
	CHECK(stat("a", &st) == 0);
	CHECK(st.st_mtim.tv_sec > 8000);
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	EXPECT_ERR(syscall(SYS_utimensat, AT_FDCWD, "a", bad, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_utimensat, AT_FDCWD, "a", ts, 0x4), EINVAL);
	struct timeval tv[2] = {{9000, 0}, {9500, 0}};
	EXPECT_RET(utimes("a", tv), 0);
	CHECK(stat("a", &st) == 0);
	printf("a mtime after utimes: %ld\n", (long)st.st_mtim.tv_sec);
	close(fd);

	/* access: the answers depend on who runs the test, the same way. */
	printf("access a F_OK %s, R_OK %s, X_OK %s, missing %s\n",
	       errname(access("a", F_OK) ? errno : 0), errname(access("a", R_OK) ? errno : 0),
	       errname(access("a", X_OK) ? errno : 0), errname(access("missing", F_OK) ? errno : 0));
	EXPECT_RET(syscall(SYS_faccessat2, AT_FDCWD, "a", R_OK, AT_EACCESS), 0);
	EXPECT_RET(syscall(SYS_faccessat, AT_FDCWD, "d", X_OK), 0);
	EXPECT_ERR(syscall(SYS_faccessat2, AT_FDCWD, "a", R_OK, 0x1), EINVAL);
	EXPECT_ERR(syscall(SYS_access, "a", 0x10), EINVAL);
	EXPECT_ERR(syscall(SYS_access, "a/b", F_OK), ENOTDIR);

	/* umask applies to what is created. */
	mode_t old = umask(0);
	EXPECT_RET(old, 022);
	close(open("u", O_CREAT | O_WRONLY, 0666));
	EXPECT_RET(mkdir("ud", 0777), 0);
	printf("u: %o, ud: %o\n", (int)mode("u", 1), (int)mode("ud", 1));
	EXPECT_RET(umask(077), 0);
	close(open("u2", O_CREAT | O_WRONLY, 0666));
	printf("u2: %o\n", (int)mode("u2", 1));
	umask(old);
	unlink("u");
	unlink("u2");
	rmdir("ud");

	struct statfs sfs, fsfs;
	EXPECT_RET(statfs(".", &sfs), 0);
	fd = open(".", O_RDONLY);
	EXPECT_RET(fstatfs(fd, &fsfs), 0);
	close(fd);
	CHECK(sfs.f_type == fsfs.f_type && sfs.f_namelen == fsfs.f_namelen);
	EXPECT_ERR(syscall(SYS_statfs, "missing", &sfs), ENOENT);
}

static void workdir(void)
{
	EXPECT_RET(chdir("d/e"), 0);
	cwd_is("/d/e");
	EXPECT_RET(chdir(".."), 0);
	cwd_is("/d");
	EXPECT_RET(chdir(top), 0);
	cwd_is("");
	EXPECT_RET(symlink("d/e", "elink"), 0);
	EXPECT_RET(chdir("elink"), 0);
	cwd_is("/d/e");
	EXPECT_RET(chdir("../.."), 0);
	cwd_is("");
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	EXPECT_RET(fchdir(dfd), 0);
	cwd_is("/d");
	EXPECT_RET(chdir(top), 0);
	int ffd = open("a", O_RDONLY);
	EXPECT_ERR(syscall(SYS_fchdir, ffd), ENOTDIR);
	EXPECT_ERR(syscall(SYS_fchdir, 999), EBADF);
	EXPECT_ERR(syscall(SYS_chdir, "a"), ENOTDIR);
	EXPECT_ERR(syscall(SYS_chdir, "missing"), ENOENT);
	char buf[PATH_MAX];
	EXPECT_ERR(syscall(SYS_getcwd, buf, 1), ERANGE);
	EXPECT_ERR(syscall(SYS_getcwd, ptr(1), sizeof buf), EFAULT);

	/* Relative to a directory descriptor. */
	int fd = openat(dfd, "e/../file-03-odd", O_RDONLY);
	CHECK(fd >= 0);
	close(fd);
	struct stat st;
	EXPECT_RET(fstatat(dfd, "up", &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK(S_ISLNK(st.st_mode));
	EXPECT_RET(fstatat(dfd, "up", &st, 0), 0);
	CHECK(S_ISREG(st.st_mode));
	EXPECT_RET(fstatat(dfd, "", &st, AT_EMPTY_PATH), 0);
	CHECK(S_ISDIR(st.st_mode));
	EXPECT_ERR(syscall(SYS_newfstatat, dfd, "", &st, 0), ENOENT);
	EXPECT_ERR(syscall(SYS_newfstatat, dfd, "up", &st, 0x1), EINVAL);
	EXPECT_ERR(syscall(SYS_newfstatat, ffd, "x", &st, 0), ENOTDIR);
	EXPECT_ERR(syscall(SYS_newfstatat, 999, "x", &st, 0), EBADF);
	EXPECT_ERR(syscall(SYS_newfstatat, AT_FDCWD, "a", ptr(1), 0), EFAULT);
	/* An absolute path ignores the descriptor, even a bad one. */
	snprintf(buf, sizeof buf, "%s/a", top);
	EXPECT_RET(syscall(SYS_newfstatat, 999, buf, &st, 0), 0);
	EXPECT_RET(mkdirat(dfd, "made", 0755), 0);
	EXPECT_RET(syscall(SYS_renameat, dfd, "made", AT_FDCWD, "made2"), 0);
	EXPECT_RET(unlinkat(AT_FDCWD, "made2", AT_REMOVEDIR), 0);
	EXPECT_RET(symlinkat("target", dfd, "sl"), 0);
	EXPECT_RET(readlinkat(dfd, "sl", buf, sizeof buf), 6);
	EXPECT_RET(unlinkat(dfd, "sl", 0), 0);
	/* struct statx: stx_mask at 0, stx_mode at 0x1c, stx_size at 0x28. */
	union {
		char b[256];
		uint64_t align;
	} stx;
	EXPECT_RET(syscall(SYS_statx, dfd, "../a", 0, STATX_SIZE | STATX_MODE, &stx), 0);
	printf("statx a: size %llu mode %o has size %d\n", (unsigned long long)*(uint64_t *)(stx.b + 0x28),
	       *(uint16_t *)(stx.b + 0x1c), !!(*(uint32_t *)stx.b & STATX_SIZE));
	EXPECT_RET(syscall(SYS_statx, ffd, "", AT_EMPTY_PATH, STATX_SIZE, &stx), 0);
	printf("statx of descriptor: size %llu\n", (unsigned long long)*(uint64_t *)(stx.b + 0x28));
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, "a", 0x6000, STATX_SIZE, &stx), EINVAL);
	EXPECT_ERR(syscall(SYS_statx, AT_FDCWD, "a", 0, 0x80000000u, &stx), EINVAL);
	close(ffd);
	close(dfd);

	/* openat2 */
	struct {
		uint64_t flags, mode, resolve;
	} how = {O_RDONLY, 0, 0};
	fd = syscall(SYS_openat2, AT_FDCWD, "a", &how, sizeof how);
	CHECK(fd >= 0);
	close(fd);
	how.mode = 0644;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, "a", &how, sizeof how), EINVAL);
	how.mode = 0;
	how.resolve = 0x1000;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, "a", &how, sizeof how), EINVAL);
	how.resolve = 0x08; /* RESOLVE_BENEATH */
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, "../a", &how, sizeof how), EXDEV);
	fd = syscall(SYS_openat2, AT_FDCWD, "d/up", &how, sizeof how);
	printf("openat2 RESOLVE_BENEATH d/up (../a): %s\n", fd >= 0 ? "opened" : errname(errno));
	if (fd >= 0)
		close(fd);
	how.resolve = 0x04; /* RESOLVE_NO_SYMLINKS */
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, "link", &how, sizeof how), ELOOP);
	how.resolve = 0;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, "a", &how, 8), EINVAL);
}

static void names(void)
{
	static char longpath[5000];
	memset(longpath, 'x', sizeof longpath - 1);
	EXPECT_ERR(syscall(SYS_open, longpath, O_RDONLY), ENAMETOOLONG);
	EXPECT_ERR(syscall(SYS_mkdir, longpath, 0755), ENAMETOOLONG);
	EXPECT_ERR(syscall(SYS_stat, longpath, ptr(0)), ENAMETOOLONG);
	char longname[300];
	memset(longname, 'y', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	EXPECT_ERR(syscall(SYS_open, longname, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	EXPECT_ERR(syscall(SYS_mkdir, ptr(1), 0755), EFAULT);
	EXPECT_ERR(syscall(SYS_unlink, ptr(1)), EFAULT);
	EXPECT_ERR(syscall(SYS_rename, "a", ptr(1)), EFAULT);
	EXPECT_ERR(syscall(SYS_chdir, ptr(1)), EFAULT);
}

static void cleanup(void)
{
	char buf[64];
	for (int i = 0; i < 40; i++) {
		snprintf(buf, sizeof buf, "d/file-%02d-%s", i, i % 2 ? "odd" : "even-and-longer-name");
		unlink(buf);
	}
	const char *rest[] = {"d/new", "d/up", "d/fifo", "a", "b", "link", "dangling", "elink"};
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
		EXPECT_RET(unlink(rest[i]), 0);
	EXPECT_RET(rmdir("d/e"), 0);
	EXPECT_RET(rmdir("d"), 0);
	list(".", 4096);
}

int main(int argc, char **argv)
{
	begin();
	if (argc != 2) {
		fprintf(stderr, "usage: files DIR\n");
		return 2;
	}
	top = argv[1];
	umask(022);
	CHECK(chdir(top) == 0);
	cwd_is("");
	files();
	links();
	directories();
	attributes();
	workdir();
	names();
	cleanup();
	return finish();
}
