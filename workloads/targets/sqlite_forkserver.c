/* The fuzz workload's target: builds an in-memory SQLite database of
 * ODFB_FUZZ_BYTES (the large state a fork server clones at every exec), then
 * serves test cases, each an SQL text file, through the AFL fork-server
 * protocol: AFL's own (afl-clang-fast build) or a plain copy of it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#define FORKSRV_FD 198

static sqlite3 *db;
static int steps;

static int stop_long_queries(void *arg)
{
	(void)arg;
	return ++steps > 2000; /* abort runaway statements: a test case stays short */
}

/* ODFB_FUZZ_LAYOUT=mmap: SQLite's page cache in one private anonymous
 * mapping, 2 MiB aligned and a whole number of 2 MiB windows, prefaulted by
 * touching (never MAP_POPULATE): the one kind of memory the paper kernel
 * (5.6.19) shares at fork.  The default (heap) keeps SQLite's malloc. */
static void mmap_page_cache(unsigned long long bytes)
{
	const size_t win = 2u << 20;
	int hdr = 0;
	sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr);
	size_t slot = 4096 + (size_t)hdr;
	size_t n = bytes / 4000 + 1024; /* one slot per row page, plus the b-tree's interior pages */
	size_t len = (n * slot + win - 1) / win * win;
	char *m = mmap(0, len + win, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		exit(2);
	char *a = (char *)(((uintptr_t)m + win - 1) / win * win);
	madvise(a, len, MADV_NOHUGEPAGE); /* 2 MiB pages are copied classically */
	for (size_t i = 0; i < len; i += 4096)
		a[i] = 0;
	if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, a, (int)slot, (int)(len / slot)) != SQLITE_OK)
		exit(2);
}

static void build(unsigned long long bytes)
{
	char sql[512];
	const char *layout = getenv("ODFB_FUZZ_LAYOUT");
	if (layout && strcmp(layout, "mmap") == 0)
		mmap_page_cache(bytes);
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		exit(2);
	/* keep every page in memory, then fill with ~4 KB random rows */
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%llu; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);",
		 bytes / 1024 * 2 + 1024);
	if (sqlite3_exec(db, sql, 0, 0, 0) != SQLITE_OK)
		exit(2);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<%llu) "
		 "INSERT INTO t(v) SELECT randomblob(4000) FROM c;",
		 bytes / 4096 + 1);
	if (sqlite3_exec(db, sql, 0, 0, 0) != SQLITE_OK)
		exit(2);
}

static int run_case(const char *path)
{
	char buf[4097];
	FILE *f = path ? fopen(path, "rb") : stdin;
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	if (path)
		fclose(f);
	sqlite3_progress_handler(db, 100, stop_long_queries, 0);
	sqlite3_exec(db, buf, 0, 0, 0); /* errors are normal for fuzzed SQL */
	return 0;
}

#ifndef __AFL_HAVE_MANUAL_CONTROL
/* The classic AFL protocol: hello on 199; then per exec: a 4-byte request on
 * 198, fork, the child's pid and later its wait status on 199. */
static void fork_server(void)
{
	uint32_t hello = 0, req;
	if (write(FORKSRV_FD + 1, &hello, 4) != 4)
		return; /* not under a driver: run one case and exit */
	for (;;) {
		if (read(FORKSRV_FD, &req, 4) != 4)
			_exit(0);
		pid_t pid = fork();
		if (pid < 0)
			_exit(1);
		if (pid == 0) {
			close(FORKSRV_FD);
			close(FORKSRV_FD + 1);
			return;
		}
		int status = 0;
		if (write(FORKSRV_FD + 1, &pid, 4) != 4)
			_exit(1);
		if (waitpid(pid, &status, 0) < 0)
			_exit(1);
		if (write(FORKSRV_FD + 1, &status, 4) != 4)
			_exit(1);
	}
}
#endif

int main(int argc, char **argv)
{
	const char *b = getenv("ODFB_FUZZ_BYTES");
	build(b ? strtoull(b, 0, 10) : (64ull << 20));
#ifdef __AFL_HAVE_MANUAL_CONTROL
	__AFL_INIT(); /* deferred: every exec forks from the built database */
#else
	fork_server();
#endif
	return run_case(argc > 1 ? argv[1] : 0);
}
