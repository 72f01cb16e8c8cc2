#ifndef HTG_DIR_PRIVATE_H
#define HTG_DIR_PRIVATE_H

/*++
/* NAME
/*	htg-dir-private 3h
/* SUMMARY
/*	internals shared by the HTG directory files
/* SYNOPSIS
/*	#include "htg-dir-private.h"
/* DESCRIPTION
/*	The directory handle, its tables and the helpers that htg-dir.c,
/*	htg-dir-flow.c, htg-dir-audit.c, htg-dir-msgid.c and
/*	htg-dir-retention.c share; htg-dir-lmdb.c defines the helpers.
/*	They are global symbols with the prefix dirp_: this code is also
/*	linked into Dovecot modules, so no internal name may collide with
/*	one of Dovecot's.
/*
/*	Writers return 1 done, 0 refused (reason in *error_r), -1 error,
/*	like the public API; the lower-level helpers say otherwise where
/*	they differ.
/*--*/

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <lmdb.h>

#include "htg-dir.h"
#include "htg-dir-pg.h"

/* Tables opened by htg_dir_open(). "msgids" and "retention" are opened
   per transaction instead (htg-dir-msgid.c, htg-dir-retention.c). */
enum dir_db {
	DB_ACCOUNTS, DB_ADDRESSES, DB_DOMAINS, DB_FLOWS, DB_GRANTS, DB_AUDIT,
	DB_COUNT
};

extern const char *const dirp_db_names[DB_COUNT];

struct htg_dir {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	int rdonly;
	int lazysync;		/* HTG_DIR_LAZYSYNC: no flush after commit */
	char *path;
	uint32_t audit_seq;
	/* the map (htg-dir-map.c): every transaction of this handle holds
	   maplock for reading; a resize takes it for writing, because LMDB
	   unmaps the old map and no thread may still read it */
	pthread_rwlock_t maplock;
	MDB_dbi dbi_meta;	/* table "meta", 0 when it does not exist */
	MDB_dbi dbi_logical;	/* table "logical", 0 when it does not exist */
	MDB_dbi dbi_respond;	/* table "respond", 0 when it does not exist */
	MDB_dbi dbi_nodes;	/* table "nodes", 0 when it does not exist */
	MDB_dbi dbi_msgids;	/* "msgids", "deliveries": for read lookups */
	MDB_dbi dbi_deliveries;
	uint64_t map_max;	/* the maximum, as last read */
	uint64_t max_override;	/* htg_dir_map_max_set() at work */
	int grow_pending;	/* a commit ran out of map below the maximum */
	time_t checked_at;	/* last fill level check (warnings) */
	struct dirpg *pg;	/* a PostgreSQL directory (htg-dir-pg(3)):
				   everything above is unused */
	char *state_path;	/* local state (the pickup journal) */
};

/* The first statement of every public function: a PostgreSQL directory
   runs the dirpg_ function of the same name instead. */
#define DIRP_PG(dir, call) do { \
	if ((dir)->pg != NULL) \
		return (call); \
} while (0)

/* htg_dir_open() of a postgresql:// URI (htg-dir-shared.c): 1 / -1 */
int dirp_open_pg(const char *uri, int flags, struct htg_dir **dir_r,
		 const char **error_r);

/* a warning to where htg_dir_set_warning() says (default stderr) */
void dirp_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* errors: formatted into a per-thread buffer */
const char *dirp_err(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
int dirp_fail(const char **error_r, const char *what, int rc);

int dirp_is_address(const char *a);

/* transactions: 0 begun / -1 error; commit: 1 / -1. Every transaction
   of the directory code begins with dirp_rtxn/dirp_wtxn and ends with
   dirp_commit/dirp_abort: they hold the handle's map lock, so that the
   map can grow (htg-dir-map.c). The macro below routes the files'
   mdb_txn_abort() calls through dirp_abort(). */
int dirp_rtxn(struct htg_dir *dir, MDB_txn **txn_r, const char **error_r);
int dirp_wtxn(struct htg_dir *dir, MDB_txn **txn_r, const char **error_r);
int dirp_commit(MDB_txn *txn, const char **error_r);
void dirp_abort(MDB_txn *txn);
#define mdb_txn_abort(txn) dirp_abort(txn)

/* htg-dir-map.c: the map grows on demand up to the maximum (meta
   "map_max"). Inside a new write transaction: 0 go on, 1 the map must
   change first (the caller aborts, calls dirp_map_adjust(), begins
   again), -1 error. */
int dirp_map_check(struct htg_dir *dir, MDB_txn *txn, const char **error_r);
/* resize to the size the policy wants (no transaction of this thread
   may be active): 0 / -1 */
int dirp_map_adjust(struct htg_dir *dir, int adopt, const char **error_r);
/* after a commit: warn (rate-limited) when the fill level is high */
void dirp_map_watch(struct htg_dir *dir);
/* a writer failed: 1 when it ran out of map below the maximum and the
   map has grown, so the whole transaction may run again (at most a
   few times, counted in *attempts) */
int dirp_again(struct htg_dir *dir, int *attempts);
/* Run a writer call again while dirp_again() says so. */
#define DIRP_RETRY(dir, ret, call) do { \
	int dirp_attempts_ = 0; \
	do (ret) = (call); \
	while ((ret) < 0 && dirp_again((dir), &dirp_attempts_)); \
} while (0)
/* Writers that delete (expiry, purges, undo) may use a reserve above the
   maximum, so that a full directory can always be emptied: on 1 for the
   duration of the call, then 0. */
void dirp_map_reserve(struct htg_dir *dir, int on);
/* the thread's last LMDB error (dirp_fail) and the handle it was on */
extern _Thread_local int dirp_last_rc;
extern _Thread_local struct htg_dir *dirp_cur;
/* transactions this thread has open (dirp_rtxn/wtxn, not yet ended) */
extern _Thread_local int dirp_depth;

/* text records: get/lookup/del 1 found, 0 not found, -1 error;
   put 0 / -1 */
MDB_val dirp_val(const char *s);
int dirp_get(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
	     const char *key, char *buf, size_t size, const char **error_r);
int dirp_lookup(struct htg_dir *dir, enum dir_db db, const char *key,
		char *buf, size_t size, const char **error_r);
int dirp_put(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
	     const char *key, const char *value, const char **error_r);
int dirp_del(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
	     const char *key, const char **error_r);

/* Expiring tables ("msgids", "deliveries"): delete every row whose value
   the callback calls expired (1) at now, in one write transaction;
   1 done, -1 error. The table is created when missing. */
typedef int dirp_expired_cb(const MDB_val *v, int64_t now);
int dirp_purge(struct htg_dir *dir, const char *table, dirp_expired_cb *expired,
	       int64_t now, long *purged_r, const char **error_r);

/* htg-dir-delivery.c: a pending delivery record becomes done, in txn
   (0 nothing to do, -1 error) */
/* the per-domain address count, in the caller's write txn (htg-dir-address.c) */
/* the account's logical address record goes with it (htg-dir-address.c) */
int dirp_logical_forget(struct htg_dir *dir, MDB_txn *txn, const char *user,
			const char *address, const char **error_r);
int dirp_domain_adjust(struct htg_dir *dir, MDB_txn *txn, const char *address,
		       int delta, const char **error_r);
/* htg-dir-node.c: in the caller's write txn, 1 when node (normalised)
   exists, 0 not, -1 error; "" always exists (no home) */
int dirp_node_exists(struct htg_dir *dir, MDB_txn *txn, const char *node,
		     const char **error_r);
int dirp_delivery_done(MDB_txn *txn, const char *account, const char *msgid,
		       const char **error_r);

/* A row of an expiring table, decoded once by dirp_table_check() for
   whichever backend writes it. DIRP_TABLE_KEY_MAX: the longest key
   ("account<TAB>Message-ID"). */
#define DIRP_TABLE_KEY_MAX	(2 * HTG_USER_MAX + 2)
struct dirp_table_row {
	int msgids;			/* 1 msgids, 0 deliveries */
	const char *key_hex;		/* the key as given: lower-case hex */
	unsigned char key[DIRP_TABLE_KEY_MAX];	/* decoded */
	size_t klen;
	char state;	/* msgids: HTG_MSGID_* (a bare expiry: FINAL);
			   deliveries: 'P' or 'D' */
	int64_t expiry, since;		/* since: a PENDING claim's */
	char queue_id[HTG_QUEUE_ID_MAX];	/* msgids: "-" unknown */
};
/* Rows of the expiring tables as htg_dir_table_put() may write them
   (htg-dir-table.c): 1 a row the directory's own writers could have
   written (its fields into *row_r, when not NULL), 0 not
   (htg-dir-msgid.c, htg-dir-delivery.c). */
int dirp_msgid_row_ok(const MDB_val *k, const MDB_val *v,
		      struct dirp_table_row *row_r);
int dirp_delivery_row_ok(const MDB_val *k, const MDB_val *v,
			 struct dirp_table_row *row_r);
/* What htg_dir_table_put() checks, for any backend: key_hex decoded
   and the row valid for table, all of it in *row_r: 1, or 0 with
   *error_r. */
int dirp_table_check(const char *table, const char *key_hex,
		     const char *value, struct dirp_table_row *row_r,
		     const char **error_r);

/* Normalise in into buf, or refuse the call (return 0) with a reason. */
#define NORMALISE(in, buf, what) do { \
	if (!htg_dir_normalise((in), (buf), sizeof(buf))) { \
		*error_r = dirp_err("invalid %s \"%.100s\"", (what), \
				    (in) != NULL ? (in) : ""); \
		return 0; \
	} \
} while (0)

/* whole-table scan in one read transaction; the callback returns 0 to
   continue. 1 done, -1 error. */
typedef int dirp_row_cb(const MDB_val *k, const MDB_val *v, void *ctx);

/* Retention records and audit events as the directory stores them
   (text; keys and values): also the pickup journal's format, so that a
   journal outlives a change of the structs. encode: 1, or 0 with
   *error_r; decode: 0, or -1 when it is not such a row. */
int dirp_retained_encode(const struct htg_retained *r, char *key,
			 size_t ksize, char *val, size_t vsize,
			 const char **error_r);
int dirp_retained_decode(const MDB_val *k, const MDB_val *v,
			 struct htg_retained *r);
MDB_val dirp_audit_encode(const struct htg_audit_event *ev,
			  unsigned char kb[16], char *rec, size_t size);
int dirp_audit_decode(const MDB_val *k, const MDB_val *v,
		      struct htg_audit_event *ev);
#define DIRP_RETAINED_KEY_MAX	(HTG_USER_MAX + HTG_RETAINED_ID_MAX + 2)
#define DIRP_RETAINED_VAL_MAX	(HTG_USER_MAX + 2 * HTG_PATH_MAX + 128)
#define DIRP_AUDIT_REC_MAX	2048

int dirp_scan(struct htg_dir *dir, enum dir_db db, dirp_row_cb *cb,
	      void *ctx, const char **error_r);
int dirp_val_str(const MDB_val *v, char *buf, size_t size);

/* what the public iterators hand to their dirp_scan() callback */
struct dirp_iter_ctx {
	htg_account_cb *acb;
	htg_pair_cb *pcb;
	htg_audit_cb *ecb;
	const char *filter;
	void *ctx;
	int grants;
};

/* htg-dir-audit.c: one event inside the caller's write transaction;
   0 / -1 */
int dirp_audit_put(struct htg_dir *dir, MDB_txn *txn,
		   const struct htg_audit_event *ev, const char **error_r);
int dirp_audit_del(struct htg_dir *dir, MDB_txn *txn,
		   const struct htg_audit_event *ev, const char **error_r);

#endif
