/*
 * sqlite: a real library as the guest, Debian's static libsqlite3.a (package
 * libsqlite3-dev), in a fresh empty directory given as argv[1]: 10,000
 * inserts in one transaction into a database with a rollback journal,
 * queries through an index, an update and a rollback, PRAGMA
 * integrity_check, a second connection that reads what the first wrote;
 * then the same in WAL mode, whose index lives in a MAP_SHARED mapping of the
 * -shm file, locked with fcntl. Only query results are printed: the same
 * library with the same statements gives the same ones on every run.
 *
 * Built apart from the other programs (glibc only, with -lsqlite3): see
 * tests/realworld_test.go.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static int print_row(void *arg, int n, char **vals, char **names)
{
	(void)arg, (void)names;
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "|" : "  ", vals[i] ? vals[i] : "NULL");
	printf("\n");
	return 0;
}

/* run executes sql, printing the rows it returns under the statement. */
static void run(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	printf("%s\n", sql);
	if (sqlite3_exec(db, sql, print_row, NULL, &err) != SQLITE_OK) {
		printf("  error: %s\n", err ? err : "?");
		sqlite3_free(err);
		failures++;
	}
}

static sqlite3 *open_db(const char *dir, const char *name)
{
	char path[4096];
	sqlite3 *db;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		printf("open %s: %s\n", name, sqlite3_errmsg(db));
		exit(1);
	}
	return db;
}

/* insert_rows adds n rows in one transaction, through one prepared
 * statement: a number, a text computed from it, and a blob. */
static void insert_rows(sqlite3 *db, int first, int n)
{
	sqlite3_stmt *st;
	run(db, "BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO t(a, b, c) VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		printf("prepare: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	for (int i = first; i < first + n; i++) {
		char text[64], blob[100];
		snprintf(text, sizeof text, "row %d of %d", (i * 7919) % 10007, n);
		memset(blob, i & 0xff, sizeof blob);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, blob, (int)(i % sizeof blob), SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			printf("insert %d: %s\n", i, sqlite3_errmsg(db));
			failures++;
			break;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	printf("inserted %d rows\n", n);
	run(db, "COMMIT");
}

static void exercise(const char *dir, const char *name, const char *mode)
{
	printf("-- %s\n", name);
	sqlite3 *db = open_db(dir, name);
	run(db, mode);
	run(db, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL, c BLOB)");
	insert_rows(db, 0, 10000);
	run(db, "SELECT count(*), sum(a), min(b), max(b), sum(length(c)) FROM t");
	run(db, "CREATE INDEX tb ON t(b)");
	run(db, "SELECT a, b FROM t WHERE b LIKE 'row 100_ %' ORDER BY b LIMIT 5");
	run(db, "SELECT count(*) FROM t WHERE b >= 'row 5' AND b < 'row 6'");
	run(db, "UPDATE t SET b = b || ' updated' WHERE a % 1000 = 0");
	run(db, "SELECT a, b FROM t WHERE b LIKE '% updated' ORDER BY a");
	/* A transaction rolled back leaves nothing behind. */
	run(db, "BEGIN");
	run(db, "DELETE FROM t WHERE a < 5000");
	run(db, "SELECT count(*) FROM t");
	run(db, "ROLLBACK");
	run(db, "SELECT count(*) FROM t");

	/* A second connection sees the first one's commits. */
	sqlite3 *other = open_db(dir, name);
	run(other, "SELECT count(*), sum(a) FROM t");
	insert_rows(db, 10000, 100);
	run(other, "SELECT count(*), max(a) FROM t");
	sqlite3_close(other);

	run(db, "PRAGMA integrity_check");
	run(db, "PRAGMA page_count");
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sqlite DIR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sqlite %s\n", sqlite3_libversion());
	exercise(argv[1], "journal.db", "PRAGMA journal_mode=DELETE");
	exercise(argv[1], "wal.db", "PRAGMA journal_mode=WAL");
	printf("%d statements failed\n", failures);
	return failures ? 1 : 0;
}
