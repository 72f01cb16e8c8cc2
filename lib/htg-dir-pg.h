#ifndef HTG_DIR_PG_H
#define HTG_DIR_PG_H

/*++
/* NAME
/*	htg-dir-pg 3h
/* SUMMARY
/*	the HTG directory on PostgreSQL: internals
/* SYNOPSIS
/*	#include "htg-dir-pg.h"
/* DESCRIPTION
/*	A directory opened from a postgresql:// URI (libpq's syntax) keeps
/*	a struct dirpg in its handle, and every public htg_dir_* function
/*	starts with DIRP_PG(), which hands the call to the function of the
/*	same name with the prefix dirpg_ instead of htg_dir_.
/*
/*	libpq is loaded with dlopen() on the first such open, so that a
/*	program on the LMDB directory (each POP3 session's process among
/*	them) never maps libpq and what it links.
/*
/*	Connections are pooled per handle: a call takes one (or opens one),
/*	runs its statements and gives it back; threads of a process (the
/*	milter) run in parallel on connections of their own. A call whose
/*	connection broke is run once more on a new one: libpq's multi-host
/*	URI with target_session_attrs=read-write then finds the primary.
/*	Every statement is written so that running it twice does what
/*	running it once did.
/*--*/

#include <libpq-fe.h>

#include "htg-dir.h"

struct dirpg;

/* the prepared statements (htg-dir-pg-sql.c) */
enum dirpg_stmt {
	PGS_ACCOUNT_GET, PGS_ACCOUNT_ADD, PGS_ACCOUNT_HASH, PGS_ACCOUNT_FLAGS,
	PGS_ACCOUNT_HOME, PGS_ACCOUNT_DEL, PGS_ACCOUNT_ITER,
	PGS_ADDRESS_OWNER, PGS_DOMAIN_EXISTS, PGS_ADDRESS_ADD,
	PGS_ADDRESS_DEL, PGS_ADDRESS_ITER,
	PGS_LOGICAL_SET, PGS_LOGICAL_GET,
	PGS_FLOW_GET, PGS_FLOW_ADD, PGS_FLOW_SET, PGS_FLOW_DEL, PGS_FLOW_ITER,
	PGS_RESPOND_SET, PGS_RESPOND_OFF, PGS_RESPOND_GET,
	PGS_GRANT_CHECK, PGS_GRANT_ADD, PGS_GRANT_DEL, PGS_GRANT_ITER,
	PGS_NODE_SET, PGS_NODE_GET, PGS_NODE_DEL, PGS_NODE_ITER,
	PGS_AUDIT_PUT, PGS_AUDIT_DEL, PGS_AUDIT_ITER, PGS_AUDIT_ITER_ACCT,
	PGS_AUDIT_EXPIRE,
	PGS_MSGID_CLAIM, PGS_MSGID_GET, PGS_MSGID_SETTLE, PGS_MSGID_DROP,
	PGS_MSGID_SETTLE_AUDIT, PGS_MSGID_DROP_AUDIT, PGS_MSGID_PURGE,
	PGS_MSGID_ITER, PGS_MSGID_PUT,
	PGS_DELIVERY_BEGIN, PGS_DELIVERY_STATE, PGS_DELIVERY_MARK,
	PGS_DELIVERY_SEEN, PGS_DELIVERY_PURGE, PGS_DELIVERY_ITER,
	PGS_DELIVERY_PUT,
	PGS_RETAINED_PUT, PGS_RETAINED_DEL, PGS_RETAINED_ITER,
	PGS_RETAINED_ITER_ACCT,
	PGS_STATS, PGS_GENERATION,
	PGS_COUNT
};

/* a connection of a handle's pool (htg-dir-pg.c), running statements
   (htg-dir-pg-exec.c) */
struct dirpg_conn {
	PGconn *conn;
	pid_t pid;		/* the process that opened it */
	uint64_t prepared[(PGS_COUNT + 63) / 64];
	int silent;		/* no answer in time: dropped */
};
extern const char *const dirpg_sql[PGS_COUNT];

/* the schema version this code needs, and the migrations it knows
   (htg-dir-pg-schema.c, made from lib/sql/NNN-*.sql) */
struct dirpg_migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct dirpg_migration dirpg_migrations[];
extern const unsigned int dirpg_migrations_count;

/* the libpq functions, resolved by dlopen() (htg-dir-pg.c) */
struct dirpg_pq {
	PGconn *(*connectdb)(const char *conninfo);
	ConnStatusType (*status)(const PGconn *conn);
	PGTransactionStatusType (*transaction_status)(const PGconn *conn);
	char *(*error_message)(const PGconn *conn);
	void (*finish)(PGconn *conn);
	int (*socket)(const PGconn *conn);
	PGresult *(*exec)(PGconn *conn, const char *query);
	int (*send_query)(PGconn *conn, const char *query);
	int (*send_prepare)(PGconn *conn, const char *name, const char *query,
			    int nparams, const Oid *types);
	int (*consume_input)(PGconn *conn);
	int (*is_busy)(PGconn *conn);
	int (*send_query_prepared)(PGconn *conn, const char *name, int nparams,
				   const char *const *values,
				   const int *lengths, const int *formats,
				   int result_format);
	int (*set_single_row_mode)(PGconn *conn);
	PGresult *(*get_result)(PGconn *conn);
	ExecStatusType (*result_status)(const PGresult *res);
	char *(*result_error_field)(const PGresult *res, int fieldcode);
	char *(*result_error_message)(const PGresult *res);
	int (*ntuples)(const PGresult *res);
	char *(*getvalue)(const PGresult *res, int row, int col);
	int (*getlength)(const PGresult *res, int row, int col);
	char *(*cmd_tuples)(PGresult *res);
	void (*clear)(PGresult *res);
	PQnoticeProcessor (*set_notice_processor)(PGconn *conn,
						  PQnoticeProcessor proc,
						  void *arg);
	int (*nfields)(const PGresult *res);
	const char *(*parameter_status)(const PGconn *conn,
					const char *name);
};
extern struct dirpg_pq dirpg_pq;

/* How long a statement's answer may take (each row of a scan: its
   next row): past it the server counts as gone, the connection is
   dropped and the call fails, as when the connection breaks. A server
   that stops answering without closing (hung, or a network that drops
   every packet) would otherwise hold the caller until TCP gives up,
   many minutes. Above any statement we run, including a commit that
   waits for the synchronous standby. htg_dir_set_answer_timeout()
   changes it (htgctl: 0, no limit). */
#define DIRPG_ANSWER_TIMEOUT_MS 20000
extern unsigned int dirpg_answer_timeout_ms;

/* 1 when path names a PostgreSQL directory (a postgresql:// or
   postgres:// URI) */
int dirpg_is_uri(const char *path);
/* open / close the PostgreSQL side of dir (htg_dir_open/close) */
int dirpg_open(struct htg_dir *dir, const char *uri, int flags,
	       const char **error_r);
void dirpg_close(struct htg_dir *dir);

/* A connection of the pool, or NULL (error_r set). */
struct dirpg_conn *dirpg_get(struct htg_dir *dir, const char **error_r);
/* Give it back (or drop it when it broke or is inside a transaction). */
void dirpg_put(struct htg_dir *dir, struct dirpg_conn *c);
PGconn *dirpg_pgconn(struct dirpg_conn *c);

/* Run statement st on c with n text parameters (NULL = SQL NULL).
   Returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) or NULL with
   *error_r set; *sqlstate_r (may be NULL) gets the error's SQLSTATE ("" for
   a broken connection). */
PGresult *dirpg_exec(struct dirpg_conn *c, enum dirpg_stmt st, int n,
		     const char *const *params, const char **sqlstate_r,
		     const char **error_r);
/* a plain command (BEGIN, COMMIT, ROLLBACK, SET ...): 0 / -1 */
int dirpg_cmd(struct dirpg_conn *c, const char *sql, const char **error_r);
/* 1 when the connection broke (a call may then run once more) */
int dirpg_broken(struct dirpg_conn *c);

/* One statement in its own transaction, run once more on a new
   connection when the connection broke. The result, or NULL with
   *error_r (and *sqlstate_r, when it may be NULL-ed: an error of the
   statement itself, e.g. "23505" unique violation). */
PGresult *dirpg_run(struct htg_dir *dir, enum dirpg_stmt st, int n,
		    const char *const *params, const char **sqlstate_r,
		    const char **error_r);
/* The first column of the first row into buf: 1, 0 no row, -1 error
   (error_r). */
int dirpg_run_value(struct htg_dir *dir, enum dirpg_stmt st, int n,
		    const char *const *params, char *buf, size_t size,
		    const char **error_r);
/* Rows changed by a command: >= 0, or -1 (error_r; sqlstate_r). */
long dirpg_run_count(struct htg_dir *dir, enum dirpg_stmt st, int n,
		     const char *const *params, const char **sqlstate_r,
		     const char **error_r);
/* Stream the rows of st to cb (single-row mode: bounded memory). The
   callback returns 0 to go on. 1 done, -1 error. */
typedef int dirpg_row_cb(const PGresult *row, void *ctx);
int dirpg_scan(struct htg_dir *dir, enum dirpg_stmt st, int n,
	       const char *const *params, dirpg_row_cb *cb, void *ctx,
	       const char **error_r);
/* a text value of row 0 */
const char *dirpg_val(const PGresult *res, int col);
/* copy a text value into buf: 1, 0 too long */
int dirpg_copy(const PGresult *res, int col, char *buf, size_t size);

/* Lookups (htg-dir-pg-cache.c): the first row of st, cached when the
   handle was opened with HTG_DIR_CACHE. 1 found (row), 0 none, -1. */
#define DIRPG_ROW_COLS 8
struct dirpg_row {
	unsigned int ncols;
	const char *col[DIRPG_ROW_COLS];
	char buf[1536];
};
int dirpg_lookup(struct htg_dir *dir, enum dirpg_stmt st, int n,
		 const char *const *params, struct dirpg_row *row,
		 const char **error_r);
/* the same, the first column copied into buf (NULL: only found or not) */
int dirpg_lookup_value(struct htg_dir *dir, enum dirpg_stmt st, int n,
		       const char *const *params, char *buf, size_t size,
		       const char **error_r);
struct dirpg_cache;
struct dirpg_cache *dirpg_cache_new(void);
void dirpg_cache_free(struct dirpg_cache *c);
/* the handle's cache, NULL when it has none */
struct dirpg_cache *dirpg_cache(struct htg_dir *dir);

/* 1 when the database is SQL_ASCII: text columns take any byte but
   NUL (audit fields kept byte for byte); else UTF-8 only */
int dirpg_raw_text(const struct htg_dir *dir);

/* this writer's key for audit events it numbers itself */
const char *dirpg_host(const struct htg_dir *dir);
void dirpg_set_host(struct htg_dir *dir, const char *name);
uint32_t dirpg_next_seq(struct htg_dir *dir);

/* schema (htg-dir-pg-migrate.c): the newest version this code knows,
   the database's (>= 0, -1 error), migrations up to the newest */
int dirpg_schema_latest(void);
int dirpg_schema_version(struct dirpg_conn *c, const char **error_r);
int dirpg_migrate(struct htg_dir *dir, int *from_r, int *to_r,
		  const char **error_r);

/* the 17 parameters of the audit statements (time, host, process id,
   sequence number, then the fields); the directory numbers an event
   whose writer did not (key_pid 0), but for a delete (undo 1: sequence
   number 0, which PGS_AUDIT_DEL takes as any). htg-dir-pg-log.c */
struct dirpg_audit {
	const char *p[17];
	char num[5][24];
	char acct[HTG_USER_MAX];
	char text[9][HTG_USER_MAX + 4];
	char detail[512 + 4];
};
void dirpg_audit_fill(struct htg_dir *dir, const struct htg_audit_event *ev,
		      int undo, struct dirpg_audit *a);

/* stream the two columns of st to a pair callback (htg-dir-pg-acct.c) */
int dirpg_pair_iter(struct htg_dir *dir, enum dirpg_stmt st, htg_pair_cb *cb,
		    void *ctx, const char **error_r);

/* a delivery record's key: the account normalised, the Message-ID in
   hex (for decode($2, 'hex')); 0 unusable (htg-dir-pg-delivery.c) */
int dirpg_delivery_key(const char *account, const char *msgid,
		       char user[HTG_USER_MAX], char hex[2 * HTG_USER_MAX]);

/* the PostgreSQL counterparts of the public functions */
int dirpg_account_get(struct htg_dir *, const char *, struct htg_account *,
		      const char **);
int dirpg_account_add(struct htg_dir *, const struct htg_account *,
		      const char **);
int dirpg_account_set_hash(struct htg_dir *, const char *, const char *,
			   const char **);
int dirpg_account_set_flags(struct htg_dir *, const char *, uint32_t,
			    uint32_t, const char **);
int dirpg_account_set_home(struct htg_dir *, const char *, const char *,
			   const char **);
int dirpg_account_del(struct htg_dir *, const char *, const char **);
int dirpg_account_iter(struct htg_dir *, htg_account_cb *, void *,
		       const char **);
int dirpg_address_owner(struct htg_dir *, const char *, char *, size_t,
			const char **);
int dirpg_domain_exists(struct htg_dir *, const char *, const char **);
int dirpg_address_add(struct htg_dir *, const char *, const char *,
		      const char **);
int dirpg_address_del(struct htg_dir *, const char *, const char **);
int dirpg_address_iter(struct htg_dir *, htg_pair_cb *, void *,
		       const char **);
int dirpg_logical_set(struct htg_dir *, const char *, const char *,
		      const char **);
int dirpg_logical_get(struct htg_dir *, const char *, char *, size_t,
		      const char **);
int dirpg_flow_get(struct htg_dir *, const char *, char *, size_t,
		   const char **);
int dirpg_flow_add(struct htg_dir *, const char *, const char *,
		   const char **);
int dirpg_flow_set(struct htg_dir *, const char *, const char *,
		   const char **);
int dirpg_flow_del(struct htg_dir *, const char *, const char **);
int dirpg_flow_iter(struct htg_dir *, htg_pair_cb *, void *, const char **);
int dirpg_flow_respond_set(struct htg_dir *, const char *, const char *,
			   unsigned int, const char **);
int dirpg_flow_respond_get(struct htg_dir *, const char *, char *, size_t,
			   unsigned int *, const char **);
int dirpg_grant_check(struct htg_dir *, const char *, const char *,
		      const char **);
int dirpg_grant_add(struct htg_dir *, const char *, const char *,
		    const char **);
int dirpg_grant_del(struct htg_dir *, const char *, const char *,
		    const char **);
int dirpg_grant_iter(struct htg_dir *, htg_pair_cb *, void *, const char **);
int dirpg_node_set(struct htg_dir *, const char *, const char *,
		   const char **);
int dirpg_node_get(struct htg_dir *, const char *, char *, size_t,
		   const char **);
int dirpg_node_del(struct htg_dir *, const char *, const char **);
int dirpg_node_iter(struct htg_dir *, htg_pair_cb *, void *, const char **);

int dirpg_audit_append(struct htg_dir *, const struct htg_audit_event *,
		       const char **);
int dirpg_audit_iter(struct htg_dir *, const char *, htg_audit_cb *, void *,
		     const char **);
int dirpg_audit_expire(struct htg_dir *, int64_t, unsigned long *,
		       const char **);
int dirpg_retained_add(struct htg_dir *, const struct htg_retained *,
		       unsigned int, const char **);
int dirpg_retained_del(struct htg_dir *, const char *, const char *,
		       const char **);
int dirpg_retained_iter(struct htg_dir *, const char *, htg_retained_cb *,
			void *, const char **);
int dirpg_pickup_commit(struct htg_dir *, const struct htg_retained *,
			unsigned int, const struct htg_audit_event *,
			unsigned int, const char **);
int dirpg_pickup_undo(struct htg_dir *, const struct htg_retained *,
		      unsigned int, const struct htg_audit_event *,
		      unsigned int, const char **);
int dirpg_delivery_begin(struct htg_dir *, const char *, const char *,
			 int64_t, int64_t, const char **);
int dirpg_delivery_mark(struct htg_dir *, const char *, const char *,
			const char **);
int dirpg_delivery_seen(struct htg_dir *, const char *, const char *,
			int64_t, const char **);
int dirpg_delivery_purge(struct htg_dir *, int64_t, long *, const char **);
int dirpg_stats(struct htg_dir *, struct htg_dir_stats *, const char **);
int dirpg_table_iter(struct htg_dir *, const char *, htg_pair_cb *, void *,
		     const char **);
struct dirp_table_row;
int dirpg_table_put(struct htg_dir *, const struct dirp_table_row *,
		    const char **);

/* Message-ID claims, by the key htg-dir-msgid.c made (32 bytes) */
int dirpg_msgid_claim(struct htg_dir *, const unsigned char *key,
		      const char *queue_id, int64_t window_s, int64_t now,
		      const struct htg_msgid_claim *replace,
		      struct htg_msgid_claim *held_r, const char **error_r);
int dirpg_msgid_get(struct htg_dir *, const unsigned char *key, int64_t now,
		    struct htg_msgid_claim *claim_r, const char **error_r);
int dirpg_msgid_settle(struct htg_dir *, const unsigned char *key,
		       const char *queue_id, char state,
		       const struct htg_audit_event *ev, const char **error_r);
int dirpg_msgid_purge(struct htg_dir *, int64_t, long *, const char **);

#endif
