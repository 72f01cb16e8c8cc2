/*++
/* NAME
/*	htg-dir-pg 3
/* SUMMARY
/*	the HTG directory on PostgreSQL: connections, statements, schema
/* DESCRIPTION
/*	What every PostgreSQL call of the directory shares (see
/*	htg-dir-pg(3h)): loading libpq, the pool of connections of a
/*	handle, and the handle's open (the schema's version check) and
/*	close. Running statements is htg-dir-pg-exec.c.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

#define POOL_MAX	16	/* idle connections kept per handle */
#define DIRPG_LIBPQ	"libpq.so.5"

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
