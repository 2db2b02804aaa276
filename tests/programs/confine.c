/*
 * confine: run under `minisentry run --root DIR`, it tries every way out
 * of DIR it knows, or, with "readonly" under --read-only too, every way
 * to change the tree. It cannot be compared with a native run (that would
 * need a chroot), so it checks itself: the test then checks that the
 * canary files outside the root were neither read nor changed.
 *
 * usage: confine escape HOSTPATH...   (host paths of the canaries)
 *        confine readonly
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef ST_RDONLY
#define ST_RDONLY 1
#endif

/*
 * try_read opens path (relative to dirfd) and reads it: the attempt fails
 * if it shows the canary's secret. It prints the outcome.
 */
static void try_read(int dirfd, const char *path)
{
	char buf[256] = {0};
	int fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0) {
		printf("read %s: %s\n", path, errname(errno));
		return;
	}
	long n = read(fd, buf, sizeof buf - 1);
	close(fd);
	/* A canary, or the host's /etc/passwd (the root has no /etc). */
	int leaked = n > 0 && (strstr(buf, "SECRET") != NULL || strstr(buf, "root:") != NULL);
	printf("read %s: opened, %s\n", path, leaked ? "LEAKED the canary" : "not a canary");
	if (leaked)
		check_failures++;
}

/* try_write tries to change the file at path every way there is. */
static void try_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	if (fd >= 0) {
		write(fd, "overwritten", 11);
		close(fd);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		write(fd, "appended", 8);
		close(fd);
	}
	truncate(path, 0);
	chmod(path, 0777);
	struct timespec ts[2] = {{1, 0}, {1, 0}};
	utimensat(AT_FDCWD, path, ts, 0);
	link(path, "/stolen");
	rename(path, "/stolen");
	unlink(path);
	unlink("/stolen");
}

static void escape(int argc, char **argv)
{
	char cwd[PATH_MAX];
	/* Links the program plants inside the root, pointing out. */
	for (int i = 2; i < argc; i++) {
		char name[32];
		snprintf(name, sizeof name, "/abs%d", i);
		EXPECT_RET(symlink(argv[i], name), 0);
	}
	EXPECT_RET(symlink("../../canary", "/rel"), 0);
	EXPECT_RET(symlink("/..", "/up"), 0);
	EXPECT_RET(mkdir("/sub", 0755), 0);
	EXPECT_RET(symlink("../../../..", "/sub/up4"), 0);
	EXPECT_RET(symlink("/proc/self/root/..", "/procroot"), 0);
	EXPECT_RET(symlink("/proc/self/cwd/..", "/proccwd"), 0);
	EXPECT_RET(symlink("loop", "/loop"), 0);

	const char *paths[] = {
		"/../canary", "/../../canary", "../canary", "../../../../canary", "//../..//canary",
		"/abs2", "/abs3", "/rel", "/up/canary", "/up/up/canary", "/sub/up4/canary",
		"/sub/../../canary", "/procroot/canary", "/proccwd/canary", "/proc/self/root/../canary",
		"/proc/self/cwd/../canary", "/proc/1/root/../canary", "/dev/../../canary", "/loop",
		"/etc/passwd", "/../../etc/passwd", "../../../../../../../etc/passwd", "/proc/self/root/etc/passwd",
		"/proc/1/cwd/../../../etc/passwd", "/dev/fd/../../etc/passwd",
	};
	int n = sizeof paths / sizeof paths[0];
	for (int i = 0; i < n; i++)
		try_read(AT_FDCWD, paths[i]);
	for (int i = 2; i < argc; i++)
		try_read(AT_FDCWD, argv[i]);

	/* From a directory descriptor, and through the descriptor's links. */
	int dfd = open("/sub", O_RDONLY | O_DIRECTORY);
	try_read(dfd, "../../canary");
	try_read(dfd, "up4/canary");
	char fdpath[64];
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d/../../canary", dfd);
	try_read(AT_FDCWD, fdpath);
	struct {
		uint64_t flags, mode, resolve;
	} how = {O_RDONLY, 0, 0x10}; /* RESOLVE_IN_ROOT from /sub */
	int fd = syscall(SYS_openat2, dfd, "/../canary", &how, sizeof how);
	printf("openat2 RESOLVE_IN_ROOT /sub /../canary: %s\n", fd >= 0 ? "opened" : errname(errno));
	if (fd >= 0)
		close(fd);
	/* The directory moves away; the descriptor still works inside. */
	EXPECT_RET(rename("/sub", "/moved"), 0);
	EXPECT_RET(symlink("/..", "/sub"), 0);
	try_read(dfd, "../../canary");
	try_read(dfd, "up4/canary");
	close(dfd);

	/* The working directory cannot climb out either. */
	EXPECT_RET(chdir("/.."), 0);
	EXPECT_RET(chdir("../../.."), 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, "/") == 0);
	try_read(AT_FDCWD, "canary");
	EXPECT_RET(chdir("/up/up"), 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, "/") == 0);

	/* Writes, links and renames. */
	for (int i = 0; i < n; i++)
		try_write(paths[i]);
	for (int i = 2; i < argc; i++)
		try_write(argv[i]);

	/* Executing a host program by its host path finds nothing. */
	char *args[] = {"busybox", "true", NULL};
	EXPECT_ERR(execve("/usr/bin/busybox", args, NULL), ENOENT);
	EXPECT_ERR(execve("/proc/self/root/../../usr/bin/busybox", args, NULL), ENOENT);
}

static void readonly(void)
{
	char buf[64];
	int fd = open("/inside", O_RDONLY);
	CHECK(fd >= 0);
	EXPECT_RET(read(fd, buf, sizeof buf), 6);
	EXPECT_ERR(syscall(SYS_open, "/inside", O_WRONLY), EROFS);
	EXPECT_ERR(syscall(SYS_open, "/inside", O_RDWR | O_APPEND), EROFS);
	EXPECT_ERR(syscall(SYS_open, "/inside", O_RDONLY | O_TRUNC), EROFS);
	EXPECT_ERR(syscall(SYS_open, "/new", O_WRONLY | O_CREAT, 0644), EROFS);
	EXPECT_ERR(syscall(SYS_open, "/inside", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	EXPECT_ERR(syscall(SYS_open, "/missing/new", O_WRONLY | O_CREAT, 0644), ENOENT);
	EXPECT_ERR(syscall(SYS_creat, "/new", 0644), EROFS);
	EXPECT_ERR(syscall(SYS_mkdir, "/newdir", 0755), EROFS);
	EXPECT_ERR(syscall(SYS_mkdir, "/dir", 0755), EEXIST);
	EXPECT_ERR(syscall(SYS_rmdir, "/dir"), EROFS);
	EXPECT_ERR(syscall(SYS_unlink, "/inside"), EROFS);
	EXPECT_ERR(syscall(SYS_rename, "/inside", "/renamed"), EROFS);
	EXPECT_ERR(syscall(SYS_link, "/inside", "/hard"), EROFS);
	EXPECT_ERR(syscall(SYS_symlink, "inside", "/sym"), EROFS);
	EXPECT_ERR(syscall(SYS_mknod, "/fifo", S_IFIFO | 0644, 0), EROFS);
	EXPECT_ERR(syscall(SYS_chmod, "/inside", 0777), EROFS);
	EXPECT_ERR(syscall(SYS_fchmod, fd, 0777), EROFS);
	EXPECT_ERR(syscall(SYS_chown, "/inside", -1, -1), EROFS);
	EXPECT_ERR(syscall(SYS_fchown, fd, -1, -1), EROFS);
	EXPECT_ERR(syscall(SYS_truncate, "/inside", 0L), EROFS);
	EXPECT_ERR(syscall(SYS_ftruncate, fd, 0L), EINVAL);
	EXPECT_ERR(syscall(SYS_utimensat, AT_FDCWD, "/inside", NULL, 0), EROFS);
	EXPECT_ERR(syscall(SYS_utimensat, fd, NULL, NULL, 0), EROFS);
	EXPECT_ERR(syscall(SYS_access, "/inside", W_OK), EROFS);
	EXPECT_RET(access("/inside", R_OK), 0);
	/* Reopening through /proc/self/fd follows the same rules. */
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	EXPECT_ERR(syscall(SYS_open, link, O_WRONLY), EROFS);
	EXPECT_ERR(syscall(SYS_open, link, O_RDWR | O_APPEND), EROFS);
	EXPECT_ERR(syscall(SYS_open, link, O_RDONLY | O_TRUNC), EROFS);
	int again = open(link, O_RDONLY);
	CHECK(again >= 0 && read(again, buf, sizeof buf) == 6);
	close(again);
	int dir = open("/dir", O_PATH | O_DIRECTORY);
	snprintf(link, sizeof link, "/proc/self/fd/%d", dir);
	EXPECT_ERR(syscall(SYS_open, link, O_TMPFILE | O_RDWR, 0600), EROFS);
	EXPECT_ERR(syscall(SYS_open, link, O_WRONLY), EISDIR);
	close(dir);
	struct statfs sfs;
	EXPECT_RET(statfs("/", &sfs), 0);
	CHECK(sfs.f_flags & ST_RDONLY);
	close(fd);
	/* Reading a directory still works. */
	fd = open("/dir", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof buf) > 0);
	close(fd);
}

int main(int argc, char **argv)
{
	begin();
	if (argc >= 2 && strcmp(argv[1], "escape") == 0)
		escape(argc, argv);
	else if (argc == 2 && strcmp(argv[1], "readonly") == 0)
		readonly();
	else {
		fprintf(stderr, "usage: confine escape HOSTPATH... | confine readonly\n");
		return 2;
	}
	return finish();
}
