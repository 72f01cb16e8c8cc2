/*++
/* NAME
/*	test-dir-map 1
/* SUMMARY
/*	unit tests of the directory's map: growth up to map-max, a second
/*	process adopting a resize, the fill warnings, full
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "htg-dir.h"
#include "htg-test.h"

/* --- the map: growth, a second process, full (htg-dir-map.c) ------------ */

static char mapdir[] = "/tmp/htg-test-map.XXXXXX";

/* n audit events of about 700 bytes in one commit */
static int write_events(struct htg_dir *dir, unsigned int n, uint32_t tag,
			const char **error_r)
{
	struct htg_audit_event *ev = calloc(n, sizeof(*ev));
	int ret;

	if (ev == NULL)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		snprintf(ev[i].event, sizeof(ev[i].event), "top");
		snprintf(ev[i].account, sizeof(ev[i].account), "map@bedrijf.nl");
		memset(ev[i].message_id, 'm', 200);
		memset(ev[i].session, 's', 60);
		ev[i].uid = tag;
		ev[i].time_us = 1700000000000000LL + (int64_t)tag * 1000000 + i;
		ev[i].key_pid = 1;
		ev[i].key_seq = i;
	}
	ret = htg_dir_pickup_commit(dir, NULL, 0, ev, n, error_r);
	free(ev);
	return ret;
}

static int count_any(const struct htg_audit_event *ev, void *ctx)
{
	(void)ev;
	(*(unsigned long *)ctx)++;
	return 0;
}

static void test_map_growth(void)
{
	struct htg_dir *dir = test_open_dir(mapdir, HTG_DIR_CREATE |
					    HTG_DIR_LAZYSYNC);
	struct htg_dir_stats st, st2;
	const char *error = NULL;
	unsigned long n = 0;

	test_begin("map: grows on demand, in small and in one big commit");
	test_assert(htg_dir_stats(dir, &st, &error) == 1);
	test_assert(st.map_max == HTG_DIR_MAP_MAX_DEFAULT);
	test_assert(st.map_size < 16 * 1024 * 1024);	/* not 1 GiB */
	test_assert(st.used > 0 && st.used <= st.high_water);
	/* 24 MB in commits of 1,000 events: pre-grown before each */
	for (uint32_t b = 0; b < 30; b++)
		test_assert(write_events(dir, 1000, b, &error) == 1);
	/* one commit bigger than the room kept: runs out of map, grows,
	   runs again (DIRP_RETRY) */
	test_assert(write_events(dir, 40000, 100, &error) == 1);
	test_assert(htg_dir_stats(dir, &st2, &error) == 1);
	test_assert(st2.map_size > 40 * 1024 * 1024 &&
		    st2.map_size <= st2.map_max);
	test_assert(st2.audit_events == 70000);
	test_assert(htg_dir_audit_iter(dir, NULL, count_any, &n, &error) == 1 &&
		    n == 70000);
	htg_dir_close(&dir);
	test_end();
}

static void test_map_second_process(void)
{
	struct htg_dir *dir;
	int go[2], pid, status = -1;
	char c;

	test_begin("map: a process sees the map another process grew");
	if (pipe(go) < 0)
		exit(1);
	if ((pid = fork()) == 0) {
		/* opened now, with the map as it is */
		struct htg_dir *rd = test_open_dir(mapdir, HTG_DIR_RDONLY);
		struct htg_dir *wr = test_open_dir(mapdir, HTG_DIR_LAZYSYNC);
		const char *error;
		unsigned long n = 0;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* the data is now beyond this process's maps: their next
		   begin is MDB_MAP_RESIZED, adopted */
		if (htg_dir_audit_iter(rd, NULL, count_any, &n, &error) != 1) {
			printf("child read: %s\n", error);
			_exit(3);
		}
		if (n != 70000 + 60000)
			_exit(4);
		if (write_events(wr, 10, 300, &error) != 1) {
			printf("child write: %s\n", error);
			_exit(5);
		}
		htg_dir_close(&rd);
		htg_dir_close(&wr);
		_exit(0);
	}
	close(go[0]);
	dir = test_open_dir(mapdir, HTG_DIR_LAZYSYNC);
	{
		const char *error = NULL;

		test_assert(write_events(dir, 60000, 200, &error) == 1);
	}
	test_assert(write(go[1], "g", 1) == 1);
	close(go[1]);
	test_assert(waitpid(pid, &status, 0) == pid);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	htg_dir_close(&dir);
	test_end();
}

static unsigned int warnings;
static char last_warning[256];

static void count_warning(const char *text)
{
	warnings++;
	snprintf(last_warning, sizeof(last_warning), "%s", text);
}

static void test_map_warning(void)
{
	struct htg_dir *dir = test_open_dir(mapdir, HTG_DIR_LAZYSYNC), *w;
	struct htg_dir_stats st;
	const char *error = NULL;

	test_begin("map: a fill level from 80 % on is a warning");
	htg_dir_set_warning(count_warning);
	test_assert(htg_dir_stats(dir, &st, &error) == 1);
	/* 85 % full, with room for a write */
	test_assert(htg_dir_map_max_set(dir, st.used * 100 / 85, &error) == 1);
	warnings = 0;		/* that commit may have warned already */
	/* its first check is due */
	w = test_open_dir(mapdir, HTG_DIR_LAZYSYNC);
	test_assert(write_events(w, 1, 700, &error) == 1);
	test_assert(warnings == 1 && strstr(last_warning, "% full") != NULL);
	test_assert(write_events(w, 1, 701, &error) == 1);
	test_assert(warnings == 1);		/* once a minute */
	htg_dir_close(&w);
	test_assert(htg_dir_map_max_set(dir, 256ULL << 20, &error) == 1);
	warnings = 0;
	w = test_open_dir(mapdir, HTG_DIR_LAZYSYNC);
	test_assert(write_events(w, 1, 702, &error) == 1);
	test_assert(warnings == 0);		/* below 80 %: quiet */
	htg_dir_close(&w);
	htg_dir_set_warning(NULL);
	htg_dir_close(&dir);
	test_end();
}

static void test_map_full(void)
{
	struct htg_dir *dir = test_open_dir(mapdir, HTG_DIR_LAZYSYNC), *other;
	struct htg_msgid_claim held;
	struct htg_dir_stats st;
	struct htg_account a;
	const char *error = NULL;
	unsigned long expired = 0;
	int ret = 1;

	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "full@bedrijf.nl");
	snprintf(a.pwhash, sizeof(a.pwhash), "{SHA512-CRYPT}$6$x$y");
	a.retention_days = HTG_DEFAULT_RETENTION_DAYS;
	a.max_size = HTG_DEFAULT_MAX_SIZE;
	test_begin("map: full at the maximum is an error (4xx), nothing lost");
	test_assert(htg_dir_map_max_set(dir, 1024, &error) == 0);
	test_assert(htg_dir_stats(dir, &st, &error) == 1);
	/* the maximum below what is in use: full at once, everywhere */
	test_assert(htg_dir_map_max_set(dir, st.used, &error) == 1);
	other = test_open_dir(mapdir, 0);
	/* every kind of writer, at once (not whichever write no longer
	   finds a free page): -1 with the reason, which callers map to
	   4xx / -ERR */
	ret = write_events(other, 1, 400, &error);
	test_assert(ret == -1 && strstr(error, "directory full") != NULL);
	ret = htg_dir_msgid_claim(other, "full@bedrijf.nl", "<c@y>", "QF",
				  3600, 1000, NULL, &held, &error);
	test_assert(ret == -1 && strstr(error, "directory full") != NULL);
	ret = htg_dir_delivery_begin(other, "full@bedrijf.nl", "<d@y>",
				     3600, 1000, &error);
	test_assert(ret == -1 && strstr(error, "directory full") != NULL);
	test_assert(htg_dir_account_add(other, &a, &error) == -1);
	test_assert(htg_dir_stats(other, &st, &error) == 1);
	test_assert(st.permille >= 1000);
	/* expiry still works (the reserve), and frees pages */
	test_assert(htg_dir_audit_expire(other, 1700000000000000LL + 250 *
					 1000000LL, &expired, &error) == 1);
	test_assert(expired == 30000 + 40000 + 60000);
	/* more room: everything goes again */
	test_assert(htg_dir_map_max_set(dir, 256ULL << 20, &error) == 1);
	test_assert(htg_dir_account_add(other, &a, &error) == 1);
	test_assert(htg_dir_msgid_claim(other, "full@bedrijf.nl", "<x@y>",
					"QG", 3600, 1000, NULL, &held,
					&error) == 1);
	test_assert(write_events(other, 60000, 500, &error) == 1);
	htg_dir_close(&other);
	htg_dir_close(&dir);
	test_end();
}

int main(void)
{
	char path[sizeof(mapdir) + 16];
	int ret;

	if (mkdtemp(mapdir) == NULL)
		return 1;
	test_map_growth();
	test_map_second_process();
	test_map_warning();
	test_map_full();
	ret = test_exit();
	snprintf(path, sizeof(path), "%s/data.mdb", mapdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", mapdir);
	unlink(path);
	rmdir(mapdir);
	return ret;
}
