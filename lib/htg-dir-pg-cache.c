/*++
/* NAME
/*	htg-dir-pg-cache 3
/* SUMMARY
/*	lookups of a PostgreSQL directory, cached until a change is announced
/* DESCRIPTION
/*	A handle opened with HTG_DIR_CACHE (htg-policyd) keeps
/*	the answers of its lookups (accounts, addresses, domains, logical
/*	addresses, flows, responding flows, grants, nodes), the "no such"
/*	answers too, in memory: a lookup costs a hash probe instead of a
/*	round trip to the database.
/*
/*	Every change of those tables is announced at its commit on the
/*	channel htg_directory (triggers of lib/sql/001-directory.sql). The
/*	handle LISTENs on a connection of its own and, before it answers
/*	from the cache, reads what arrived on it (a non-blocking read):
/*	any announcement empties the cache. So a change made on any node
/*	is seen by the next lookup after its announcement reached this
/*	process (on a LAN, well under a millisecond after the commit), and
/*	at most a millisecond later (the listener is read at most once a
/*	millisecond).
/*
/*	The listener asks the server a "SELECT 1" once a second; an
/*	answer missing for more than two seconds (a network cut, which
/*	closes nothing) counts as down: a cut never keeps a stale answer
/*	longer than about three seconds.
/*	When that connection is down (the database restarts, a failover)
/*	the cache is not used at all: every lookup asks the database,
/*	and the listener is made again at most once a second; once it is
/*	back the cache starts empty. An answer read from the database
/*	while the cache was emptied is not kept (a generation number).
/*	The cache holds at most CACHE_MAX answers; when full it is emptied.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

#define CACHE_BUCKETS	8192
#define CACHE_MAX	100000
#define KEY_MAX		1024

struct entry {
	struct entry *next;
	uint32_t hash;
	unsigned int keylen, datalen, ncols;
	int found;
	char data[];		/* key, then the columns, each NUL-ended */
};

struct dirpg_cache {
	pthread_mutex_t lock;
	char *conninfo;
	PGconn *listener;
	time_t tried;
	time_t ping_sent;	/* a "SELECT 1" is out since then, or 0 */
	uint64_t read_us;	/* the listener was last read then */
	time_t alive;		/* the listener last answered */
	uint64_t generation;
	unsigned int count;
	struct entry *bucket[CACHE_BUCKETS];
};

static uint32_t fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void cache_flush(struct dirpg_cache *c)
{
	for (unsigned int i = 0; i < CACHE_BUCKETS; i++) {
		while (c->bucket[i] != NULL) {
			struct entry *e = c->bucket[i];

			c->bucket[i] = e->next;
			free(e);
		}
	}
	c->count = 0;
	c->generation++;
}

struct dirpg_cache *dirpg_cache_new(const char *conninfo)
{
	struct dirpg_cache *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->conninfo = strdup(conninfo)) == NULL) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void dirpg_cache_free(struct dirpg_cache *c)
{
	if (c == NULL)
		return;
	cache_flush(c);
	if (c->listener != NULL)
		dirpg_pq.finish(c->listener);
	pthread_mutex_destroy(&c->lock);
	free(c->conninfo);
	free(c);
}

static void listener_drop(struct dirpg_cache *c)
{
	if (c->listener != NULL)
		dirpg_pq.finish(c->listener);
	c->listener = NULL;
	cache_flush(c);
}

#define READ_EVERY_US 1000

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int listener_readable(PGconn *conn)
{
	struct pollfd pfd = { .fd = dirpg_pq.socket(conn), .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* A listener that stopped hearing from the server (a network cut sends
   no FIN) would keep stale answers: once a second it asks the server
   for a "SELECT 1"; without the answer within PING_WAIT seconds the
   listener is dropped (and the cache with it). With the lock held:
   1 alive, 0 dropped. */
#define PING_WAIT 2

static int listener_alive(struct dirpg_cache *c)
{
	time_t now = time(NULL);
	PGresult *res;

	if (c->ping_sent != 0 && !dirpg_pq.is_busy(c->listener)) {
		while ((res = dirpg_pq.get_result(c->listener)) != NULL)
			dirpg_pq.clear(res);
		c->ping_sent = 0;
		c->alive = now;
	}
	if (c->ping_sent != 0 && now - c->ping_sent > PING_WAIT) {
		listener_drop(c);
		return 0;
	}
	if (c->ping_sent == 0 && now != c->alive &&
	    !dirpg_pq.send_query(c->listener, "SELECT 1")) {
		listener_drop(c);
		return 0;
	}
	if (c->ping_sent == 0 && now != c->alive)
		c->ping_sent = now;
	return 1;
}

/* With the lock held: 1 when the cache may answer (the listener is up
   and what it received is taken into account), else 0. */
static int cache_live(struct dirpg_cache *c)
{
	PGnotify *n;
	int flushed = 0;

	if (c->listener == NULL) {
		time_t now = time(NULL);
		PGresult *res;

		if (now == c->tried)
			return 0;
		c->tried = now;
		c->listener = dirpg_pq.connectdb(c->conninfo);
		if (dirpg_pq.status(c->listener) != CONNECTION_OK) {
			listener_drop(c);
			return 0;
		}
		res = dirpg_pq.exec(c->listener, "LISTEN htg_directory");
		if (res == NULL ||
		    dirpg_pq.result_status(res) != PGRES_COMMAND_OK) {
			if (res != NULL)
				dirpg_pq.clear(res);
			listener_drop(c);
			return 0;
		}
		dirpg_pq.clear(res);
		cache_flush(c);		/* what changed meanwhile is unknown */
		c->alive = now;
		c->ping_sent = 0;
		c->read_us = 0;
	}
	/* read all that is there: a session the server ended sends a last
	   message and then its end, which one read may not reach. At most
	   once per READ_EVERY_US: a poll() per answer was a tenth of
	   htg-policyd's time; an announcement waits that much longer. */
	if (now_us() - c->read_us < READ_EVERY_US)
		return 1;
	c->read_us = now_us();
	for (int i = 0; i < 8 && listener_readable(c->listener); i++) {
		if (!dirpg_pq.consume_input(c->listener) ||
		    dirpg_pq.status(c->listener) != CONNECTION_OK) {
			listener_drop(c);
			return 0;
		}
	}
	while ((n = dirpg_pq.notifies(c->listener)) != NULL) {
		dirpg_pq.freemem(n);
		if (!flushed++)
			cache_flush(c);
	}
	return listener_alive(c);
}

/* the cache key: statement and parameters */
static size_t cache_key(enum dirpg_stmt st, int n, const char *const *p,
			char *key)
{
	size_t len = (size_t)snprintf(key, KEY_MAX, "%d", (int)st);

	for (int i = 0; i < n; i++) {
		size_t l = strlen(p[i]);

		if (len + 1 + l >= KEY_MAX)
			return 0;	/* too long to cache */
		key[len++] = '\x1f';
		memcpy(key + len, p[i], l);
		len += l;
	}
	return len;
}

static void row_from(struct dirpg_row *row, const char *data,
		     unsigned int ncols, size_t len)
{
	memcpy(row->buf, data, len);
	row->ncols = ncols;
	for (unsigned int i = 0, off = 0; i < ncols; i++) {
		row->col[i] = row->buf + off;
		off += (unsigned int)strlen(row->buf + off) + 1;
	}
}

int dirpg_lookup(struct htg_dir *dir, enum dirpg_stmt st, int n,
		 const char *const *params, struct dirpg_row *row,
		 const char **error_r)
{
	struct dirpg_cache *c = dirpg_cache(dir);
	char key[KEY_MAX];
	size_t keylen = 0, datalen = 0;
	uint32_t h = 0;
	uint64_t gen = 0;
	struct entry *e;
	PGresult *res;
	int found, live = 0;

	if (c != NULL && (keylen = cache_key(st, n, params, key)) > 0) {
		h = fnv(key, keylen);
		pthread_mutex_lock(&c->lock);
		if ((live = cache_live(c))) {
			for (e = c->bucket[h % CACHE_BUCKETS]; e != NULL;
			     e = e->next) {
				if (e->hash != h || e->keylen != keylen ||
				    memcmp(e->data, key, keylen) != 0)
					continue;
				found = e->found;
				if (found)
					row_from(row, e->data + keylen,
						 e->ncols, e->datalen);
				pthread_mutex_unlock(&c->lock);
				return found;
			}
			gen = c->generation;
		}
		pthread_mutex_unlock(&c->lock);
	}
	if ((res = dirpg_run(dir, st, n, params, NULL, error_r)) == NULL)
		return -1;
	found = dirpg_pq.ntuples(res) > 0;
	row->ncols = 0;
	if (found) {
		int ncols = dirpg_pq.nfields(res);

		if (ncols > DIRPG_ROW_COLS)
			ncols = DIRPG_ROW_COLS;
		for (int i = 0; i < ncols; i++) {
			size_t l = (size_t)dirpg_pq.getlength(res, 0, i);

			if (datalen + l + 1 > sizeof(row->buf)) {
				dirpg_pq.clear(res);
				*error_r = "PostgreSQL directory: row too long";
				return -1;
			}
			memcpy(row->buf + datalen, dirpg_pq.getvalue(res, 0, i),
			       l + 1);
			row->col[i] = row->buf + datalen;
			datalen += l + 1;
		}
		row->ncols = (unsigned int)ncols;
	}
	dirpg_pq.clear(res);
	if (!live)
		return found;
	/* kept unless the cache was emptied while the database answered */
	if ((e = malloc(sizeof(*e) + keylen + datalen)) == NULL)
		return found;
	e->hash = h;
	e->keylen = (unsigned int)keylen;
	e->datalen = (unsigned int)datalen;
	e->ncols = row->ncols;
	e->found = found;
	memcpy(e->data, key, keylen);
	memcpy(e->data + keylen, row->buf, datalen);
	pthread_mutex_lock(&c->lock);
	if (c->generation != gen || c->listener == NULL) {
		free(e);
	} else {
		if (c->count >= CACHE_MAX)
			cache_flush(c);
		e->next = c->bucket[h % CACHE_BUCKETS];
		c->bucket[h % CACHE_BUCKETS] = e;
		c->count++;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}
