/*++
/* NAME
/*	htg-dir-map 3
/* SUMMARY
/*	the directory's LMDB map: grown on demand up to a maximum
/* DESCRIPTION
/*	LMDB stores the directory in one memory map whose size is the most
/*	the directory can hold; a write that needs more fails with
/*	MDB_MAP_FULL. Here the map is kept a little larger than what is in
/*	use (grown before a write transaction begins when it runs short,
/*	and again when a write still ran out), never larger than the
/*	maximum. The maximum is the record "map_max" of the table "meta"
/*	(bytes, text; htgctl map-max sets it), so every process that opens
/*	the directory - htgctl, htg-milter, the Dovecot modules - reads
/*	the same value; without the record it is HTG_DIR_MAP_MAX_DEFAULT.
/*	A write transaction reads it when it begins: lowering it takes
/*	effect at once in every process (the map shrinks, LMDB never below
/*	what is in use), raising it lets every writer grow.
/*
/*	At the maximum, writers fail with an error that says so
/*	(dirp_fail()); callers answer 4xx or -ERR, so nothing is lost and
/*	nothing accepted unchecked. The map itself costs address space,
/*	not disk: the file grows only with the pages written.
/*
/*	Resizing unmaps LMDB's map, so no transaction of the process may be
/*	active: every transaction holds the handle's map lock for reading
/*	(dirp_rtxn/dirp_wtxn ... dirp_commit/dirp_abort), a resize takes it
/*	for writing. Another process that grew the map past ours shows as
/*	MDB_MAP_RESIZED at the next begin; the map is then adopted
/*	(mdb_env_set_mapsize(env, 0), lmdb.h) and the begin repeated.
/*
/*	Fill level: pages up to LMDB's high-water mark, less the pages on
/*	its free list (reused before the file grows), against the maximum.
/*	After a commit, at most once a minute per process, a level of 80 %
/*	or more is logged as a warning.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-dir-private.h"

#define MAP_STEP	(1024ULL * 1024)	/* sizes in whole MiB */
#define MAP_SLACK	(8 * MAP_STEP)		/* room kept beyond use */
#define MAP_LOCK_WAIT	5			/* seconds, then give up */
#define MAP_WATCH_S	60			/* warnings at most this often */

static void warn_stderr(const char *text)
{
	fprintf(stderr, "htg-dir: warning: %s\n", text);
}

static htg_dir_warning_fn *dir_warning = warn_stderr;

void htg_dir_set_warning(htg_dir_warning_fn *fn)
{
	dir_warning = fn != NULL ? fn : warn_stderr;
}

/* Say a warning where the caller wants them (htg_dir_set_warning). */
void dirp_warning(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	dir_warning(text);
}

static uint64_t round_up(uint64_t n, uint64_t to)
{
	return (n + to - 1) / to * to;
}

/* The map for used bytes: half as much again and some MiB, at most
   max (page aligned). */
static uint64_t map_target(uint64_t used, uint64_t max)
{
	uint64_t t = round_up(used + used / 2 + MAP_SLACK, MAP_STEP);

	return t < max ? t : max / 4096 * 4096;
}

/* The maximum as stored; the default without a record. A bad record is
   an error (a maximum nobody can read must not silently become the
   default). */
static int map_read_max(struct htg_dir *dir, MDB_txn *txn, uint64_t *max_r,
			const char **error_r)
{
	MDB_val k = dirp_val("map_max"), v;
	char buf[32], *end;
	unsigned long long n;
	int rc;

	*max_r = HTG_DIR_MAP_MAX_DEFAULT;
	if (dir->max_override != 0) {
		*max_r = dir->max_override;
		return 0;
	}
	if (dir->dbi_meta == 0)
		return 0;
	rc = mdb_get(txn, dir->dbi_meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dirp_fail(error_r, "meta", rc);
	errno = 0;
	if (!dirp_val_str(&v, buf, sizeof(buf)) ||
	    (n = strtoull(buf, &end, 10)) < HTG_DIR_MAP_MAX_MIN ||
	    *end != '\0' || errno != 0) {
		*error_r = dirp_err("directory: bad meta map_max \"%.*s\"",
				    (int)(v.mv_size < 32 ? v.mv_size : 32),
				    (const char *)v.mv_data);
		return -1;
	}
	*max_r = n;
	return 0;
}

static void map_info(struct htg_dir *dir, uint64_t *map_r, uint64_t *hw_r,
		     uint64_t *psize_r)
{
	MDB_envinfo info;
	MDB_stat st;

	(void)mdb_env_info(dir->env, &info);
	(void)mdb_env_stat(dir->env, &st);
	*map_r = info.me_mapsize;
	*psize_r = st.ms_psize;
	*hw_r = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

/* Room kept below the maximum: a write that begins below it cannot
   run into LMDB's own limit unless it is itself this big. */
static uint64_t map_margin(uint64_t max)
{
	return max / 64 > HTG_DIR_MAP_MAX_MIN ? max / 64 : HTG_DIR_MAP_MAX_MIN;
}

static int map_free_pages(MDB_txn *txn, uint64_t *pages_r,
			  const char **error_r);

int dirp_map_check(struct htg_dir *dir, MDB_txn *txn, const char **error_r)
{
	uint64_t max, map, hw, psize, free_pages, used;

	if (map_read_max(dir, txn, &max, error_r) < 0)
		return -1;
	dir->map_max = max;
	map_info(dir, &map, &hw, &psize);
	/* Full: what is in use (less LMDB's free list, counted only when
	   near) within the margin of the maximum. Refused here, at the
	   begin, so that "full" is one state for every writer rather than
	   whichever write no longer finds a free page; deleting writers
	   (the reserve) and map-max itself go on. */
	if (dir->max_override == 0 && hw + map_margin(max) >= max) {
		/* LMDB reads its free list only in a read transaction; this
		   one sees what the write transaction began with. Not through
		   dirp_rtxn: the map lock is held already. */
		MDB_txn *rtxn;
		int rc = mdb_txn_begin(dir->env, NULL, MDB_RDONLY, &rtxn);

		if (rc != 0)
			return dirp_fail(error_r, "read", rc);
		rc = map_free_pages(rtxn, &free_pages, error_r);
		(mdb_txn_abort)(rtxn);
		if (rc < 0)
			return -1;
		used = hw - free_pages * psize;
		if (used + map_margin(max) >= max) {
			dirp_last_rc = MDB_MAP_FULL;
			*error_r = dirp_err("directory full: %llu bytes in use, "
					    "the maximum is %llu less a margin "
					    "of %llu (htgctl stats; htgctl "
					    "expire, audit expire; htgctl "
					    "map-max)",
					    (unsigned long long)used,
					    (unsigned long long)max,
					    (unsigned long long)map_margin(max));
			return -1;
		}
	}
	if (map > max && map > hw)
		return 1;	/* the maximum was lowered */
	if (map < max && map - hw < (map_target(hw, max) - hw) / 2)
		return 1;	/* running short */
	return 0;
}

int dirp_map_adjust(struct htg_dir *dir, int adopt, const char **error_r)
{
	struct timespec until;
	uint64_t map, hw, psize, size = 0, max = dir->map_max;
	int rc;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += MAP_LOCK_WAIT;
	/* a thread of this process still in a transaction (or this thread,
	   inside a scan's callback) delays the resize; in the worst case
	   the caller fails with a temporary error */
	if ((rc = pthread_rwlock_timedwrlock(&dir->maplock, &until)) != 0) {
		*error_r = dirp_err("directory map lock: %s", strerror(rc));
		return -1;
	}
	map_info(dir, &map, &hw, &psize);
	if (!adopt && max != 0) {
		size = map > max ? max / psize * psize : map_target(hw, max);
		if (dir->grow_pending && size <= map && map < max)
			size = map_target(map, max);
	}
	/* 0 adopts the size another process gave the environment */
	rc = size != map ? mdb_env_set_mapsize(dir->env, (size_t)size) : 0;
	dir->grow_pending = 0;
	pthread_rwlock_unlock(&dir->maplock);
	if (rc != 0) {
		*error_r = dirp_err("directory map resize: %s",
				    mdb_strerror(rc));
		return -1;
	}
	return 0;
}

void dirp_map_reserve(struct htg_dir *dir, int on)
{
	const char *error;
	MDB_txn *txn;
	uint64_t max;

	dir->max_override = 0;
	if (!on || dirp_rtxn(dir, &txn, &error) < 0)
		return;
	if (map_read_max(dir, txn, &max, &error) == 0)
		dir->max_override = max + (max / 32 > MAP_STEP ?
					   max / 32 : MAP_STEP);
	dirp_abort(txn);
}

int dirp_again(struct htg_dir *dir, int *attempts)
{
	(void)dir;
	if (dirp_last_rc != MDB_MAP_FULL || !dir->grow_pending)
		return 0;
	return (*attempts)++ < 3;
}

/* Pages on LMDB's free list: each record of table 0 lists page numbers
   and starts with their count (mdb_stat -f counts them so). */
static int map_free_pages(MDB_txn *txn, uint64_t *pages_r,
			  const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*pages_r = 0;
	if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0)
		return dirp_fail(error_r, "free list", rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		size_t n;

		if (v.mv_size < sizeof(n))
			continue;
		memcpy(&n, v.mv_data, sizeof(n));
		*pages_r += n;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "free list", rc);
	return 0;
}

static uint64_t table_entries(struct htg_dir *dir, MDB_txn *txn,
			      const char *name, MDB_dbi known)
{
	MDB_dbi dbi = known;
	MDB_stat st;

	if (dbi == 0 && mdb_dbi_open(txn, name, 0, &dbi) != 0)
		return 0;
	if (mdb_stat(txn, dbi, &st) != 0)
		return 0;
	(void)dir;
	return st.ms_entries;
}

int htg_dir_stats(struct htg_dir *dir, struct htg_dir_stats *st,
		  const char **error_r)
{
	DIRP_PG(dir, dirpg_stats(dir, st, error_r));
	uint64_t hw, free_pages;
	MDB_txn *txn;

	memset(st, 0, sizeof(*st));
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if (map_read_max(dir, txn, &st->map_max, error_r) < 0 ||
	    map_free_pages(txn, &free_pages, error_r) < 0) {
		dirp_abort(txn);
		return -1;
	}
	map_info(dir, &st->map_size, &hw, &st->page_size);
	st->high_water = hw;
	st->free_bytes = free_pages * st->page_size;
	st->used = hw > st->free_bytes ? hw - st->free_bytes : 0;
	st->permille = st->map_max == 0 ? 0 :
	    (unsigned int)(st->used * 1000 / st->map_max);
	st->accounts = table_entries(dir, txn, "accounts",
				     dir->dbi[DB_ACCOUNTS]);
	st->audit_events = table_entries(dir, txn, "audit", dir->dbi[DB_AUDIT]);
	st->msgids = table_entries(dir, txn, "msgids", 0);
	st->deliveries = table_entries(dir, txn, "deliveries", 0);
	st->retained = table_entries(dir, txn, "retention", 0);
	dirp_abort(txn);
	return 1;
}

int htg_dir_map_max_set(struct htg_dir *dir, uint64_t max,
			const char **error_r)
{
	MDB_txn *txn;
	char buf[32];
	int ret, attempts = 0;

	if (dir->pg != NULL) {
		*error_r = "a PostgreSQL directory has no map: its size is "
			"the database's business";
		return 0;
	}
	if (max < HTG_DIR_MAP_MAX_MIN) {
		*error_r = dirp_err("the maximum must be at least %llu bytes",
				    (unsigned long long)HTG_DIR_MAP_MAX_MIN);
		return 0;
	}
	if (dir->dbi_meta == 0) {
		*error_r = "directory opened without its meta table";
		return -1;
	}
	/* this handle grows to the new maximum to write it: a full
	   directory can be given room */
	dir->max_override = max;
	snprintf(buf, sizeof(buf), "%" PRIu64, max);
	do {
		ret = -1;
		if (dirp_wtxn(dir, &txn, error_r) < 0)
			continue;
		MDB_val k = dirp_val("map_max"), v = dirp_val(buf);
		int rc = mdb_put(txn, dir->dbi_meta, &k, &v, 0);

		if (rc != 0) {
			dirp_abort(txn);
			(void)dirp_fail(error_r, "meta put", rc);
		} else
			ret = dirp_commit(txn, error_r);
	} while (ret < 0 && dirp_again(dir, &attempts));
	dir->max_override = 0;
	return ret;
}

void dirp_map_watch(struct htg_dir *dir)
{
	struct htg_dir_stats st;
	uint64_t map, hw, psize;
	time_t now = time(NULL);
	const char *error;
	char text[256];

	if (now - dir->checked_at < MAP_WATCH_S && now >= dir->checked_at)
		return;
	dir->checked_at = now;
	map_info(dir, &map, &hw, &psize);
	if (dir->map_max == 0 || hw * 10 < dir->map_max * 8)
		return;		/* below 80 % even counting free pages */
	if (htg_dir_stats(dir, &st, &error) < 0 || st.permille < 800)
		return;
	snprintf(text, sizeof(text), "directory %s is %u.%u%% full "
		 "(%" PRIu64 " of maximum %" PRIu64 " bytes)%s", dir->path,
		 st.permille / 10, st.permille % 10, st.used, st.map_max,
		 st.permille >= 900 ?
		 ": writes will fail soon; expire records or raise the "
		 "maximum (htgctl map-max)" : "");
	dir_warning(text);
}
