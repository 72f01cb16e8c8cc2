/*++
/* NAME
/*	htg-dir-pg-exec 3
/* SUMMARY
/*	the HTG directory on PostgreSQL: running statements
/* DESCRIPTION
/*	Prepared statements on a connection of the handle's pool
/*	(htg-dir-pg.c): one more try on a new connection when the
/*	connection broke, rows streamed one at a time (single-row mode),
/*	errors with the server's SQLSTATE.
/*
/*	Every answer is awaited with poll() for at most
/*	dirpg_answer_timeout_ms (htg-dir-pg.h, htg_dir_set_answer_timeout()):
/*	a server that stops answering without closing (hung, or a network
/*	that drops every packet) would otherwise hold the caller until TCP
/*	gives up. Past it the connection counts as broken and is dropped.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

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
