/*++
/* NAME
/*	htg-dir-lmdb 3
/* SUMMARY
/*	LMDB access shared by the HTG directory files
/* DESCRIPTION
/*	Error strings, read and write transactions, text records by key
/*	and a whole-table scan: the dirp_ helpers that htg-dir-private.h
/*	declares for htg-dir.c and its siblings. The prefix keeps these
/*	symbols apart from Dovecot's in the modules that link them.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "htg-dir-private.h"

static _Thread_local char dir_errbuf[512];

const char *dirp_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dir_errbuf, sizeof(dir_errbuf), fmt, ap);
	va_end(ap);
	return dir_errbuf;
}

_Thread_local int dirp_last_rc;
_Thread_local struct htg_dir *dirp_cur;
_Thread_local int dirp_depth;

/* Report an LMDB failure and return -1. Out of map: say how full the
   directory is and against which maximum (the callers log it and
   answer 4xx / -ERR), and let the next write transaction grow it. */
int dirp_fail(const char **error_r, const char *what, int rc)
{
	dirp_last_rc = rc;
	if (rc == MDB_MAP_FULL && dirp_cur != NULL) {
		struct htg_dir *dir = dirp_cur;
		MDB_envinfo info;

		(void)mdb_env_info(dir->env, &info);
		if ((uint64_t)info.me_mapsize < dir->map_max) {
			dir->grow_pending = 1;
			*error_r = dirp_err("directory %s: map of %zu bytes "
					    "full, grows (maximum %llu): try "
					    "again", what, info.me_mapsize,
					    (unsigned long long)dir->map_max);
		} else {
			*error_r = dirp_err("directory full (%s): the map "
					    "reached its maximum of %llu "
					    "bytes (htgctl stats; htgctl "
					    "expire, audit expire; htgctl "
					    "map-max)", what,
					    (unsigned long long)dir->map_max);
		}
		return -1;
	}
	*error_r = dirp_err("directory %s: %s", what, mdb_strerror(rc));
	return -1;
}

/* A full address: exactly one '@', non-empty local part and domain. */
int dirp_is_address(const char *a)
{
	const char *at = strchr(a, '@');

	return at != NULL && at != a && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL;
}

/* --- low-level helpers ------------------------------------------------ */

/* Begin under the map lock; a map another process grew beyond ours
   (MDB_MAP_RESIZED) is adopted and the begin tried again. */
static int txn_begin(struct htg_dir *dir, unsigned int flags,
		     MDB_txn **txn_r, const char **error_r)
{
	int rc;

	for (int attempt = 0;; attempt++) {
		if ((rc = pthread_rwlock_rdlock(&dir->maplock)) != 0) {
			*error_r = dirp_err("directory map lock: %s",
					    strerror(rc));
			return -1;
		}
		rc = mdb_txn_begin(dir->env, NULL, flags, txn_r);
		if (rc == 0) {
			dirp_depth++;
			return 0;
		}
		pthread_rwlock_unlock(&dir->maplock);
		/* a thread inside another transaction cannot wait for the
		   map lock it holds itself */
		if (rc != MDB_MAP_RESIZED || attempt >= 3 || dirp_depth > 0)
			return dirp_fail(error_r, (flags & MDB_RDONLY) != 0 ?
					 "read" : "write", rc);
		if (dirp_map_adjust(dir, 1, error_r) < 0)
			return -1;
	}
}

int dirp_rtxn(struct htg_dir *dir, MDB_txn **txn_r,
	      const char **error_r)
{
	return txn_begin(dir, MDB_RDONLY, txn_r, error_r);
}

/* A write transaction on a map that fits the policy (htg-dir-map.c):
   grown when it runs short, shrunk to a lowered maximum; refused when
   the directory is full. */
int dirp_wtxn(struct htg_dir *dir, MDB_txn **txn_r,
	      const char **error_r)
{
	int ret;

	if (dir->rdonly) {
		*error_r = "directory opened read-only";
		return -1;
	}
	dirp_cur = dir;
	dirp_last_rc = 0;
	for (int attempt = 0;; attempt++) {
		if (dir->grow_pending && dirp_depth == 0 &&
		    dirp_map_adjust(dir, 0, error_r) < 0)
			return -1;
		if (txn_begin(dir, 0, txn_r, error_r) < 0)
			return -1;
		/* no resize inside another transaction of this thread (a
		   write from a scan's callback): the map lock is held */
		if (attempt >= 2 ||
		    (ret = dirp_map_check(dir, *txn_r, error_r)) == 0 ||
		    (ret > 0 && dirp_depth > 1))
			return 0;
		dirp_abort(*txn_r);
		if (ret < 0 || dirp_map_adjust(dir, 0, error_r) < 0)
			return -1;
	}
}

void dirp_abort(MDB_txn *txn)
{
	struct htg_dir *dir = mdb_env_get_userctx(mdb_txn_env(txn));

	(mdb_txn_abort)(txn);
	dirp_depth--;
	pthread_rwlock_unlock(&dir->maplock);
}

/* Commit; on a durable handle, flush the meta page after LMDB's writer
   lock is released (htg-dir.h, HTG_DIR_LAZYSYNC). A failed flush is
   reported: the commit is visible but may not survive a system crash. */
int dirp_commit(MDB_txn *txn, const char **error_r)
{
	MDB_env *env = mdb_txn_env(txn);
	struct htg_dir *dir = mdb_env_get_userctx(env);
	const char *what = "commit";
	int rc = mdb_txn_commit(txn);

	if (rc == 0 && !dir->lazysync) {
		what = "sync";
		rc = mdb_env_sync(env, 1);
	}
	dirp_depth--;
	pthread_rwlock_unlock(&dir->maplock);
	if (rc != 0)
		return dirp_fail(error_r, what, rc);
	if (!dir->rdonly)
		dirp_map_watch(dir);
	return 1;
}

MDB_val dirp_val(const char *s)
{
	MDB_val v = { strlen(s), (void *)s };

	return v;
}

/* Get a text value into buf. 1 found, 0 not found, -1 error. */
int dirp_get(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
	     const char *key, char *buf, size_t size,
	     const char **error_r)
{
	MDB_val k = dirp_val(key), v;
	int rc = mdb_get(txn, dir->dbi[db], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dirp_fail(error_r, "get", rc);
	if (buf != NULL) {
		if (v.mv_size >= size) {
			*error_r = dirp_err("directory %s: value for \"%s\" too long",
					    dirp_db_names[db], key);
			return -1;
		}
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
	}
	return 1;
}

/* One read transaction around one dirp_get. */
int dirp_lookup(struct htg_dir *dir, enum dir_db db, const char *key,
		char *buf, size_t size, const char **error_r)
{
	MDB_txn *txn;
	int ret;

	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, db, key, buf, size, error_r);
	mdb_txn_abort(txn);
	return ret;
}

int dirp_put(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
	     const char *key, const char *value, const char **error_r)
{
	MDB_val k = dirp_val(key), v = dirp_val(value);
	int rc = mdb_put(txn, dir->dbi[db], &k, &v, 0);

	return rc == 0 ? 0 : dirp_fail(error_r, "put", rc);
}

int dirp_del(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
	     const char *key, const char **error_r)
{
	MDB_val k = dirp_val(key);
	int rc = mdb_del(txn, dir->dbi[db], &k, NULL);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : dirp_fail(error_r, "delete", rc);
}

int dirp_scan(struct htg_dir *dir, enum dir_db db, dirp_row_cb *cb,
	      void *ctx, const char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST, stop = 0;

	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, dir->dbi[db], &cur)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "cursor", rc);
	}
	while (!stop && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		stop = cb(&k, &v, ctx);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "scan", rc);
	return 1;
}

int dirp_val_str(const MDB_val *v, char *buf, size_t size)
{
	if (v->mv_size >= size)
		return 0;
	memcpy(buf, v->mv_data, v->mv_size);
	buf[v->mv_size] = '\0';
	return 1;
}

static int purge(struct htg_dir *dir, const char *table,
		 dirp_expired_cb *expired, int64_t now, long *purged_r,
		 const char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_dbi dbi;
	long purged = 0;
	int rc, op = MDB_FIRST;

	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_dbi_open(txn, table, MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, table, rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (!expired(&v, now))
			continue;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		purged++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, table, rc);
	}
	if (purged_r != NULL)
		*purged_r = purged;
	return dirp_commit(txn, error_r);
}

/* Expiry must work on a full directory: it may use the reserve. */
int dirp_purge(struct htg_dir *dir, const char *table, dirp_expired_cb *expired,
	       int64_t now, long *purged_r, const char **error_r)
{
	int ret;

	dirp_map_reserve(dir, 1);
	DIRP_RETRY(dir, ret, purge(dir, table, expired, now, purged_r,
				   error_r));
	dirp_map_reserve(dir, 0);
	return ret;
}
