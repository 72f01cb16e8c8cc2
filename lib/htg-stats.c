/*++
/* NAME
/*	htg-stats 3
/* SUMMARY
/*	operational numbers: audit events counted per (event, rule, daemon)
/* DESCRIPTION
/*	See htg-stats.h. Streaming: one pass over the audit, one table of
/*	at most max_keys keys allocated up front (2 * max_keys slots, so a
/*	probe ends at an empty slot).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdlib.h>
#include <string.h>

#include "htg-stats.h"

int htg_stats_init(struct htg_stats *s, int by_account, size_t max_keys)
{
	memset(s, 0, sizeof(*s));
	if (max_keys == 0 || max_keys > HTG_STATS_KEYS_MAX)
		max_keys = HTG_STATS_KEYS_MAX;
	s->by_account = by_account;
	s->max_keys = max_keys;
	s->nslots = max_keys * 2;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	return s->slots != NULL ? 1 : -1;
}

void htg_stats_free(struct htg_stats *s)
{
	free(s->slots);
	s->slots = NULL;
	s->used = s->nslots = 0;
}

const char *htg_stats_daemon(const struct htg_audit_event *ev)
{
	static const char *const known[] = {
		"htg-milter", "htg-policyd", "htgctl", "htg-respond"
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(ev->session, known[i]) == 0)
			return known[i];
	return "dovecot";
}

/* FNV-1a over the key's strings */
static uint64_t hash_str(uint64_t h, const char *p)
{
	for (; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	return (h ^ 0xff) * 1099511628211ULL;
}

static void copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void event_total(struct htg_stats *s, const char *event)
{
	size_t i;

	for (i = 0; i < s->nevents; i++) {
		if (strcmp(s->events[i].event, event) == 0) {
			s->events[i].count++;
			return;
		}
	}
	/* unknown names beyond the table are in s->total only */
	if (s->nevents < HTG_STATS_EVENTS_MAX) {
		copy(s->events[i].event, sizeof(s->events[i].event), event);
		s->events[i].count = 1;
		s->nevents++;
	}
}

int htg_stats_add(struct htg_stats *s, const struct htg_audit_event *ev)
{
	struct htg_stats_count key, *c;
	const char *daemon = htg_stats_daemon(ev);
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	if ((s->since_us != 0 && ev->time_us < s->since_us) ||
	    (s->until_us != 0 && ev->time_us >= s->until_us))
		return 0;
	s->total++;
	memset(&key, 0, sizeof(key));
	copy(key.event, sizeof(key.event), ev->event);
	copy(key.rule, sizeof(key.rule), ev->rule);
	copy(key.daemon, sizeof(key.daemon), daemon);
	if (s->by_account)
		copy(key.account, sizeof(key.account), ev->account);
	event_total(s, key.event);
	h = hash_str(hash_str(hash_str(hash_str(h, key.event), key.rule),
			      key.daemon), key.account);
	for (i = (size_t)(h % s->nslots);; i = (i + 1) % s->nslots) {
		c = &s->slots[i];
		if (c->count == 0)
			break;
		if (strcmp(c->event, key.event) == 0 &&
		    strcmp(c->rule, key.rule) == 0 &&
		    strcmp(c->daemon, key.daemon) == 0 &&
		    strcmp(c->account, key.account) == 0) {
			c->count++;
			return 1;
		}
	}
	if (s->used >= s->max_keys) {
		s->overflow++;
		return -1;
	}
	*c = key;
	c->count = 1;
	s->used++;
	return 1;
}

static int scan_cb(const struct htg_audit_event *ev, void *ctx)
{
	(void)htg_stats_add(ctx, ev);
	return 0;
}

int htg_stats_scan(struct htg_dir *dir, struct htg_stats *s,
		   const char **error_r)
{
	return htg_dir_audit_iter(dir, NULL, scan_cb, s, error_r);
}

static int count_cmp(const void *a, const void *b)
{
	const struct htg_stats_count *x = a, *y = b;
	int d;

	if ((d = strcmp(x->event, y->event)) != 0 ||
	    (d = strcmp(x->rule, y->rule)) != 0 ||
	    (d = strcmp(x->daemon, y->daemon)) != 0)
		return d;
	return strcmp(x->account, y->account);
}

size_t htg_stats_sorted(struct htg_stats *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].count != 0)
			s->slots[n++] = s->slots[i];
	qsort(s->slots, n, sizeof(*s->slots), count_cmp);
	s->nslots = n;	/* no probing after this */
	return n;
}
