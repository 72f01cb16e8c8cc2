/*++
/* NAME
/*	htg-dir-pg 3
/* SUMMARY
/*	the HTG directory on PostgreSQL: connections, statements, schema
/* DESCRIPTION
/*	What every PostgreSQL call of the directory shares (see
/*	htg-dir-pg(3h)): loading libpq, the pool of connections of a
/*	handle, running a prepared statement with one more try on a new
/*	connection when the connection broke, streaming rows, and the
/*	schema: its version check at open and htgctl init's migrations.
/*
/*	Connections are made with libpq's own parameters from the URI
/*	(passfile, sslmode, target_session_attrs, connect_timeout ...); a
/*	URI without connect_timeout gets 5 seconds, so that a dead host
/*	costs a bounded wait, never a hang.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

#define POOL_MAX	16	/* idle connections kept per handle */
#define DIRPG_LIBPQ	"libpq.so.5"

struct dirpg_conn {
	PGconn *conn;
	pid_t pid;		/* the process that opened it */
	uint64_t prepared[(PGS_COUNT + 63) / 64];
	int silent;		/* no answer in time: dropped */
};

struct dirpg {
	char *conninfo;
	pthread_mutex_t lock;
	struct dirpg_conn *idle[POOL_MAX];
	unsigned int nidle;
	char host[HTG_NODE_MAX];
	uint32_t seq;
	int rdonly;		/* HTG_DIR_RDONLY: read-only sessions */
	int lazysync;		/* HTG_DIR_LAZYSYNC: asynchronous commits */
	struct dirpg_cache *cache;	/* HTG_DIR_CACHE */
	int raw_text;		/* the database is SQL_ASCII */
};

struct dirpg_pq dirpg_pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static const char *pq_error;

#define PQ_SYM(field, name) { (void **)&dirpg_pq.field, name }

static void pq_load(void)
{
	const struct { void **fn; const char *name; } syms[] = {
		PQ_SYM(connectdb, "PQconnectdb"),
		PQ_SYM(status, "PQstatus"),
		PQ_SYM(transaction_status, "PQtransactionStatus"),
		PQ_SYM(error_message, "PQerrorMessage"),
		PQ_SYM(finish, "PQfinish"),
		PQ_SYM(socket, "PQsocket"),
		PQ_SYM(exec, "PQexec"),
		PQ_SYM(send_query, "PQsendQuery"),
		PQ_SYM(send_prepare, "PQsendPrepare"),
		PQ_SYM(consume_input, "PQconsumeInput"),
		PQ_SYM(is_busy, "PQisBusy"),
		PQ_SYM(send_query_prepared, "PQsendQueryPrepared"),
		PQ_SYM(set_single_row_mode, "PQsetSingleRowMode"),
		PQ_SYM(get_result, "PQgetResult"),
		PQ_SYM(result_status, "PQresultStatus"),
		PQ_SYM(result_error_field, "PQresultErrorField"),
		PQ_SYM(result_error_message, "PQresultErrorMessage"),
		PQ_SYM(ntuples, "PQntuples"),
		PQ_SYM(getvalue, "PQgetvalue"),
		PQ_SYM(getlength, "PQgetlength"),
		PQ_SYM(cmd_tuples, "PQcmdTuples"),
		PQ_SYM(clear, "PQclear"),
		PQ_SYM(set_notice_processor, "PQsetNoticeProcessor"),
		PQ_SYM(nfields, "PQnfields"),
		PQ_SYM(parameter_status, "PQparameterStatus"),
	};
	void *h = dlopen(DIRPG_LIBPQ, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		pq_error = dirp_err("PostgreSQL directory: cannot load %s "
				    "(Debian: libpq5): %s", DIRPG_LIBPQ,
				    dlerror());
		pq_error = strdup(pq_error);
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if ((*syms[i].fn = dlsym(h, syms[i].name)) == NULL) {
			pq_error = strdup(dirp_err("%s: no %s", DIRPG_LIBPQ,
						   syms[i].name));
			return;
		}
	}
}

int dirpg_is_uri(const char *path)
{
	return path != NULL && (strncmp(path, "postgresql://", 13) == 0 ||
				strncmp(path, "postgres://", 11) == 0);
}

static void pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;	/* NOTICEs of CREATE ... IF NOT EXISTS and the like */
}

static void conn_free(struct dirpg_conn *c)
{
	if (c == NULL)
		return;
	if (c->pid != getpid()) {
		/* a connection of the parent: never talk on its socket */
		(void)close(dirpg_pq.socket(c->conn));
	}
	dirpg_pq.finish(c->conn);
	free(c);
}

static struct dirpg_conn *conn_new(struct dirpg *pg, const char **error_r)
{
	struct dirpg_conn *c = calloc(1, sizeof(*c));
	const char *enc;

	if (c == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	c->pid = getpid();
	c->conn = dirpg_pq.connectdb(pg->conninfo);
	if (c->conn == NULL || dirpg_pq.status(c->conn) != CONNECTION_OK) {
		const char *m = c->conn != NULL ?
			dirpg_pq.error_message(c->conn) : "out of memory";
		size_t n = strlen(m);

		while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
			n--;
		*error_r = dirp_err("PostgreSQL directory: connect: %.*s",
				    (int)n, m);
		if (c->conn != NULL)
			dirpg_pq.finish(c->conn);
		free(c);
		return NULL;
	}
	(void)dirpg_pq.set_notice_processor(c->conn, pg_notice, NULL);
	enc = dirpg_pq.parameter_status(c->conn, "server_encoding");
	pg->raw_text = enc != NULL && strcmp(enc, "SQL_ASCII") == 0;
	/* a read-only handle: a write fails in the server (-1), as a
	   write on a read-only LMDB handle does */
	/* a lazy handle (HTG_DIR_LAZYSYNC: records whose loss is harmless,
	   as LMDB's lazy commits) does not wait for the WAL flush: a crash
	   of the database server (not a stop) may undo its last commits */
	if ((pg->rdonly && dirpg_cmd(c, "SET default_transaction_read_only "
				     "= on", error_r) < 0) ||
	    (pg->lazysync && dirpg_cmd(c, "SET synchronous_commit = off",
				       error_r) < 0)) {
		dirpg_pq.finish(c->conn);
		free(c);
		return NULL;
	}
	return c;
}

struct dirpg_conn *dirpg_get(struct htg_dir *dir, const char **error_r)
{
	struct dirpg *pg = dir->pg;
	struct dirpg_conn *c = NULL;

	pthread_mutex_lock(&pg->lock);
	while (pg->nidle > 0 && c == NULL) {
		c = pg->idle[--pg->nidle];
		if (c->pid != getpid()) {
			conn_free(c);
			c = NULL;
		}
	}
	pthread_mutex_unlock(&pg->lock);
	return c != NULL ? c : conn_new(pg, error_r);
}

void dirpg_put(struct htg_dir *dir, struct dirpg_conn *c)
{
	struct dirpg *pg = dir->pg;

	if (c == NULL)
		return;
	if (dirpg_broken(c) ||
	    dirpg_pq.transaction_status(c->conn) != PQTRANS_IDLE) {
		conn_free(c);
		return;
	}
	pthread_mutex_lock(&pg->lock);
	if (pg->nidle < POOL_MAX) {
		pg->idle[pg->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&pg->lock);
	conn_free(c);
}

PGconn *dirpg_pgconn(struct dirpg_conn *c)
{
	return c->conn;
}

int dirpg_broken(struct dirpg_conn *c)
{
	return c->silent || dirpg_pq.status(c->conn) != CONNECTION_OK;
}

unsigned int dirpg_answer_timeout_ms = DIRPG_ANSWER_TIMEOUT_MS;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the next result of c can be read without blocking: 0, or
   -1 when the server sent nothing for dirpg_answer_timeout_ms (a hung
   server, a network that drops everything: TCP alone would wait for
   many minutes). The connection is then marked broken, to be dropped. */
static int conn_wait(struct dirpg_conn *c)
{
	unsigned int limit = dirpg_answer_timeout_ms;
	int64_t deadline = now_ms() + limit;

	while (dirpg_pq.is_busy(c->conn)) {
		struct pollfd pfd = { .fd = dirpg_pq.socket(c->conn),
				      .events = POLLIN };
		int64_t left = limit == 0 ? -1 : deadline - now_ms();
		int r;

		if (limit > 0 && left <= 0) {
			c->silent = 1;
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR) {
			c->silent = 1;
			return -1;
		}
		/* a failed read leaves the error for PQgetResult */
		if (r > 0 && !dirpg_pq.consume_input(c->conn))
			return 0;
	}
	return 0;
}

/* The next result of the query sent on c, waited for at most
   dirpg_answer_timeout_ms; NULL when there is none (or none came). */
static PGresult *conn_next(struct dirpg_conn *c)
{
	if (c->silent || conn_wait(c) < 0)
		return NULL;
	return dirpg_pq.get_result(c->conn);
}

static int result_ok(const PGresult *res)
{
	ExecStatusType s = dirpg_pq.result_status(res);

	return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

/* Every result of the query sent on c: the first failed one, else the
   last; NULL when none came in time. */
static PGresult *conn_collect(struct dirpg_conn *c)
{
	PGresult *keep = NULL, *res;

	while ((res = conn_next(c)) != NULL) {
		if (keep != NULL && !result_ok(keep)) {
			dirpg_pq.clear(res);
			continue;
		}
		if (keep != NULL)
			dirpg_pq.clear(keep);
		keep = res;
	}
	if (c->silent && keep != NULL) {
		dirpg_pq.clear(keep);
		keep = NULL;
	}
	return keep;
}

static _Thread_local char sqlstate_buf[8];

/* the error of res (or of the connection) into error_r */
static void pg_error(struct dirpg_conn *c, PGresult *res,
		     const char **sqlstate_r, const char **error_r)
{
	const char *m = res != NULL ? dirpg_pq.result_error_message(res) : "";
	const char *st = res != NULL ?
		dirpg_pq.result_error_field(res, PG_DIAG_SQLSTATE) : NULL;
	char silent[64];
	size_t n;

	if (c->silent) {
		snprintf(silent, sizeof(silent), "no answer within %u ms: "
			 "connection dropped", dirpg_answer_timeout_ms);
		m = silent;
	} else if (m == NULL || *m == '\0')
		m = dirpg_pq.error_message(c->conn);
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	*error_r = dirp_err("PostgreSQL directory: %.*s", (int)n, m);
	snprintf(sqlstate_buf, sizeof(sqlstate_buf), "%s",
		 st != NULL && !dirpg_broken(c) ? st : "");
	if (sqlstate_r != NULL)
		*sqlstate_r = sqlstate_buf;
}

static int conn_prepare(struct dirpg_conn *c, enum dirpg_stmt st,
			const char **sqlstate_r, const char **error_r)
{
	char name[16];
	PGresult *res;

	if ((c->prepared[st / 64] & (1ULL << (st % 64))) != 0)
		return 0;
	snprintf(name, sizeof(name), "h%d", (int)st);
	res = dirpg_pq.send_prepare(c->conn, name, dirpg_sql[st], 0, NULL) ?
		conn_collect(c) : NULL;
	if (res == NULL || dirpg_pq.result_status(res) != PGRES_COMMAND_OK) {
		pg_error(c, res, sqlstate_r, error_r);
		if (res != NULL)
			dirpg_pq.clear(res);
		return -1;
	}
	dirpg_pq.clear(res);
	c->prepared[st / 64] |= 1ULL << (st % 64);
	return 0;
}

PGresult *dirpg_exec(struct dirpg_conn *c, enum dirpg_stmt st, int n,
		     const char *const *params, const char **sqlstate_r,
		     const char **error_r)
{
	char name[16];
	PGresult *res;
	ExecStatusType s;

	if (sqlstate_r != NULL)
		*sqlstate_r = "";
	if (conn_prepare(c, st, sqlstate_r, error_r) < 0)
		return NULL;
	snprintf(name, sizeof(name), "h%d", (int)st);
	res = dirpg_pq.send_query_prepared(c->conn, name, n, params, NULL,
					   NULL, 0) ? conn_collect(c) : NULL;
	s = res != NULL ? dirpg_pq.result_status(res) : PGRES_FATAL_ERROR;
	if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
		return res;
	pg_error(c, res, sqlstate_r, error_r);
	if (res != NULL)
		dirpg_pq.clear(res);
	return NULL;
}

int dirpg_cmd(struct dirpg_conn *c, const char *sql, const char **error_r)
{
	PGresult *res = dirpg_pq.send_query(c->conn, sql) ?
		conn_collect(c) : NULL;
	ExecStatusType s = res != NULL ? dirpg_pq.result_status(res) :
		PGRES_FATAL_ERROR;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		dirpg_pq.clear(res);
		return 0;
	}
	pg_error(c, res, NULL, error_r);
	if (res != NULL)
		dirpg_pq.clear(res);
	return -1;
}

PGresult *dirpg_run(struct htg_dir *dir, enum dirpg_stmt st, int n,
		    const char *const *params, const char **sqlstate_r,
		    const char **error_r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct dirpg_conn *c = dirpg_get(dir, error_r);
		PGresult *res;

		if (c == NULL)
			return NULL;
		res = dirpg_exec(c, st, n, params, sqlstate_r, error_r);
		if (res != NULL || !dirpg_broken(c)) {
			dirpg_put(dir, c);
			return res;
		}
		dirpg_put(dir, c);	/* broken: dropped; once more */
	}
	return NULL;
}

int dirpg_run_value(struct htg_dir *dir, enum dirpg_stmt st, int n,
		    const char *const *params, char *buf, size_t size,
		    const char **error_r)
{
	PGresult *res = dirpg_run(dir, st, n, params, NULL, error_r);
	int ret;

	if (res == NULL)
		return -1;
	if (dirpg_pq.ntuples(res) == 0)
		ret = 0;
	else if (buf == NULL || dirpg_copy(res, 0, buf, size))
		ret = 1;
	else {
		*error_r = "PostgreSQL directory: value too long";
		ret = -1;
	}
	dirpg_pq.clear(res);
	return ret;
}

long dirpg_run_count(struct htg_dir *dir, enum dirpg_stmt st, int n,
		     const char *const *params, const char **sqlstate_r,
		     const char **error_r)
{
	PGresult *res = dirpg_run(dir, st, n, params, sqlstate_r, error_r);
	long count;

	if (res == NULL)
		return -1;
	count = strtol(dirpg_pq.cmd_tuples(res), NULL, 10);
	dirpg_pq.clear(res);
	return count;
}

int dirpg_scan(struct htg_dir *dir, enum dirpg_stmt st, int n,
	       const char *const *params, dirpg_row_cb *cb, void *ctx,
	       const char **error_r)
{
	struct dirpg_conn *c;
	PGresult *res;
	char name[16];
	int ret = 1, stop = 0;

	for (int attempt = 0;; attempt++) {
		if ((c = dirpg_get(dir, error_r)) == NULL)
			return -1;
		if (conn_prepare(c, st, NULL, error_r) == 0)
			break;
		if (!dirpg_broken(c) || attempt > 0) {
			dirpg_put(dir, c);
			return -1;
		}
		dirpg_put(dir, c);
	}
	snprintf(name, sizeof(name), "h%d", (int)st);
	if (!dirpg_pq.send_query_prepared(c->conn, name, n, params, NULL,
					  NULL, 0) ||
	    !dirpg_pq.set_single_row_mode(c->conn)) {
		pg_error(c, NULL, NULL, error_r);
		dirpg_put(dir, c);
		return -1;
	}
	/* every result must be read, also after the callback stopped */
	while ((res = conn_next(c)) != NULL) {
		ExecStatusType s = dirpg_pq.result_status(res);

		if (s == PGRES_SINGLE_TUPLE) {
			if (!stop && cb(res, ctx) != 0)
				stop = 1;
		} else if (s != PGRES_TUPLES_OK && ret == 1) {
			pg_error(c, res, NULL, error_r);
			ret = -1;
		}
		dirpg_pq.clear(res);
	}
	if (c->silent && ret == 1) {
		pg_error(c, NULL, NULL, error_r);
		ret = -1;
	}
	dirpg_put(dir, c);
	return ret;
}

const char *dirpg_val(const PGresult *res, int col)
{
	return dirpg_pq.getvalue(res, 0, col);
}

int dirpg_copy(const PGresult *res, int col, char *buf, size_t size)
{
	const char *v = dirpg_pq.getvalue(res, 0, col);
	size_t len = (size_t)dirpg_pq.getlength(res, 0, col);

	if (len >= size)
		return 0;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return 1;
}

struct dirpg_cache *dirpg_cache(struct htg_dir *dir)
{
	return dir->pg->cache;
}

int dirpg_lookup_value(struct htg_dir *dir, enum dirpg_stmt st, int n,
		       const char *const *params, char *buf, size_t size,
		       const char **error_r)
{
	struct dirpg_row row;
	int ret = dirpg_lookup(dir, st, n, params, &row, error_r);
	size_t len;

	if (ret <= 0 || buf == NULL)
		return ret;
	len = strlen(row.col[0]);
	if (len >= size) {
		*error_r = "PostgreSQL directory: value too long";
		return -1;
	}
	memcpy(buf, row.col[0], len + 1);
	return 1;
}

int dirpg_raw_text(const struct htg_dir *dir)
{
	return dir->pg->raw_text;
}

void dirpg_set_host(struct htg_dir *dir, const char *name)
{
	snprintf(dir->pg->host, sizeof(dir->pg->host), "%s", name);
}

const char *dirpg_host(const struct htg_dir *dir)
{
	return dir->pg->host;
}

uint32_t dirpg_next_seq(struct htg_dir *dir)
{
	return __atomic_add_fetch(&dir->pg->seq, 1, __ATOMIC_RELAXED);
}

/* --- open, close ------------------------------------------------ */

int dirpg_open(struct htg_dir *dir, const char *uri, int flags,
	       const char **error_r)
{
	struct dirpg *pg;
	struct dirpg_conn *c;
	size_t len = strlen(uri);
	int v;

	(void)pthread_once(&pq_once, pq_load);
	if (pq_error != NULL) {
		*error_r = pq_error;
		return -1;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    (pg->conninfo = malloc(len + 64)) == NULL) {
		free(pg);
		*error_r = "out of memory";
		return -1;
	}
	/* a bounded wait for a dead host, unless the URI says otherwise */
	if (strstr(uri, "connect_timeout=") == NULL)
		snprintf(pg->conninfo, len + 64, "%s%sconnect_timeout=5", uri,
			 strchr(uri, '?') != NULL ? "&" : "?");
	else
		memcpy(pg->conninfo, uri, len + 1);
	pthread_mutex_init(&pg->lock, NULL);
	pg->rdonly = (flags & HTG_DIR_RDONLY) != 0;
	pg->lazysync = (flags & HTG_DIR_LAZYSYNC) != 0;
	if ((flags & HTG_DIR_CACHE) != 0 &&
	    (pg->cache = dirpg_cache_new()) == NULL) {
		free(pg->conninfo);
		free(pg);
		*error_r = "out of memory";
		return -1;
	}
	if (gethostname(pg->host, sizeof(pg->host)) < 0)
		snprintf(pg->host, sizeof(pg->host), "-");
	pg->host[sizeof(pg->host) - 1] = '\0';
	dir->pg = pg;
	/* the schema must be there (htgctl init), unless we are to make it */
	if ((flags & HTG_DIR_NOSCHEMA) == 0) {
		if ((c = dirpg_get(dir, error_r)) == NULL) {
			dirpg_close(dir);
			return -1;
		}
		v = dirpg_schema_version(c, error_r);
		dirpg_put(dir, c);
		if (v < 0 || v < dirpg_schema_latest()) {
			if (v >= 0)
				*error_r = dirp_err("PostgreSQL directory: "
						    "schema version %d, this "
						    "program needs %d (run "
						    "htgctl init)", v,
						    dirpg_schema_latest());
			dirpg_close(dir);
			return -1;
		}
	}
	return 1;
}

void dirpg_close(struct htg_dir *dir)
{
	struct dirpg *pg = dir->pg;

	if (pg == NULL)
		return;
	for (unsigned int i = 0; i < pg->nidle; i++)
		conn_free(pg->idle[i]);
	dirpg_cache_free(pg->cache);
	pthread_mutex_destroy(&pg->lock);
	free(pg->conninfo);
	free(pg);
	dir->pg = NULL;
}
