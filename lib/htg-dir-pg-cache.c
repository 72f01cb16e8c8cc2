/*++
/* NAME
/*	htg-dir-pg-cache 3
/* SUMMARY
/*	lookups of a PostgreSQL directory, cached while nothing changed
/* DESCRIPTION
/*	A handle opened with HTG_DIR_CACHE (htg-policyd) keeps the answers
/*	of its lookups (accounts, addresses, domains, logical addresses,
/*	flows, responding flows, grants, nodes), the "no such" answers
/*	too, in memory: a lookup costs a hash probe instead of a round
/*	trip to the database.
/*
/*	Every change of those tables counts up htg.generation in its own
/*	transaction (a trigger per table; lib/sql/003-generation.sql). A
/*	cached answer is given only while the counter was read at most
/*	CHECK_EVERY_US (1 ms) ago, and the cache is emptied when it has
/*	moved: so a change committed through any node is seen by every
/*	caching process's lookups from 1 ms after its commit on, whatever
/*	the load (a read of the counter is one round trip per millisecond
/*	at most, ~3 % of htg-policyd at 20,000 decisions/s). When the
/*	counter cannot be read (the database down, a failover, a network
/*	cut) the cache is emptied and not used: the lookup goes to the
/*	database and fails there as it would without a cache. An answer
/*	read from the database while the cache was emptied is not kept (a
/*	flush count). The cache holds at most CACHE_MAX answers; when full
/*	it is emptied.
/*
/*	(The first version listened for NOTIFY; an announcement reaches a
/*	listener when its server process gets the core, tens of
/*	milliseconds late on a loaded machine, so a test that changed a
/*	flow and then asked was answered from the old cache.)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

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
	int valid;		/* the counter was read: n is current */
	int64_t n;		/* htg.generation as last read */
	uint64_t checked_us;	/* when that read started */
	uint64_t flushes;	/* how often the cache was emptied */
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
	c->flushes++;
}

struct dirpg_cache *dirpg_cache_new(void)
{
	struct dirpg_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void dirpg_cache_free(struct dirpg_cache *c)
{
	if (c == NULL)
		return;
	cache_flush(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

#define CHECK_EVERY_US 1000

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* 1 when the cache may answer now: the change counter was read less
   than CHECK_EVERY_US ago (read again if not; the cache is emptied
   when it moved), 0 when it cannot be read (the cache emptied, not
   used). *flushes_r: the flush count the answer belongs to. */
static int cache_fresh(struct htg_dir *dir, struct dirpg_cache *c,
		       uint64_t *flushes_r)
{
	uint64_t t = now_us();
	const char *error;
	char buf[32];
	int ret;

	pthread_mutex_lock(&c->lock);
	if (c->valid && t - c->checked_us < CHECK_EVERY_US) {
		*flushes_r = c->flushes;
		pthread_mutex_unlock(&c->lock);
		return 1;
	}
	pthread_mutex_unlock(&c->lock);
	ret = dirpg_run_value(dir, PGS_GENERATION, 0, NULL, buf, sizeof(buf),
			      &error);
	pthread_mutex_lock(&c->lock);
	if (ret != 1) {
		cache_flush(c);
		c->valid = 0;
	} else {
		int64_t n = strtoll(buf, NULL, 10);

		if (!c->valid || n != c->n)
			cache_flush(c);
		c->n = n;
		c->valid = 1;
		/* the time before the read: a change committed after it
		   is seen by the read of the next millisecond */
		if (t > c->checked_us)
			c->checked_us = t;
	}
	*flushes_r = c->flushes;
	pthread_mutex_unlock(&c->lock);
	return ret == 1;
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

	if (c != NULL && (keylen = cache_key(st, n, params, key)) > 0 &&
	    (live = cache_fresh(dir, c, &gen))) {
		h = fnv(key, keylen);
		pthread_mutex_lock(&c->lock);
		for (e = c->bucket[h % CACHE_BUCKETS]; e != NULL; e = e->next) {
			if (e->hash != h || e->keylen != keylen ||
			    memcmp(e->data, key, keylen) != 0)
				continue;
			found = e->found;
			if (found)
				row_from(row, e->data + keylen, e->ncols,
					 e->datalen);
			pthread_mutex_unlock(&c->lock);
			return found;
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
	if (c->flushes != gen || !c->valid) {
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
