/*++
/* NAME
/*	policy-rate 3
/* SUMMARY
/*	optional per-account message rate limit (token buckets)
/* SYNOPSIS
/*	#include "policy-rate.h"
/* DESCRIPTION
/*	See policy-rate.h. One process answers every policy request, so the
/*	table needs no locking. Accounts are compared as the directory
/*	compares them: ASCII case-insensitively.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir.h"
#include "htg-msg.h"
#include "policy-rate.h"

#define RATE_PROBES 8		/* slots an account may live in */

struct rate_slot {
	char account[HTG_USER_MAX];	/* "" = free */
	double tokens;
	double last;
};

struct policy_rate {
	double limit;
	double per_second;
	size_t mask;
	struct rate_slot *slots;
};

struct policy_rate *policy_rate_new(unsigned limit, unsigned window,
				    size_t slots)
{
	struct policy_rate *r;
	size_t n = RATE_PROBES;

	if (limit == 0 || window == 0)
		msg_panic("policy_rate_new: limit %u window %u", limit, window);
	while (n < slots && n < ((size_t)1 << 24))
		n <<= 1;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->slots = calloc(n, sizeof(*r->slots))) == NULL)
		msg_fatal("out of memory");
	r->limit = limit;
	r->per_second = (double)limit / (double)window;
	r->mask = n - 1;
	return r;
}

void policy_rate_free(struct policy_rate **_r)
{
	if (*_r == NULL)
		return;
	free((*_r)->slots);
	free(*_r);
	*_r = NULL;
}

/* FNV-1a over the lower-cased name */
static uint32_t rate_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

static struct rate_slot *rate_slot(struct policy_rate *r, const char *key,
				   double now)
{
	uint32_t h = rate_hash(key);
	struct rate_slot *free_slot = NULL, *oldest = NULL, *victim;

	for (size_t i = 0; i < RATE_PROBES; i++) {
		struct rate_slot *s = &r->slots[(h + i) & r->mask];

		if (strcmp(s->account, key) == 0)
			return s;
		if (s->account[0] == '\0') {
			if (free_slot == NULL)
				free_slot = s;
		} else if (oldest == NULL || s->last < oldest->last) {
			oldest = s;
		}
	}
	/* a new account: a free slot, else the one idle for longest */
	victim = free_slot != NULL ? free_slot : oldest;
	strcpy(victim->account, key);
	victim->tokens = r->limit;
	victim->last = now;
	return victim;
}

int policy_rate_take(struct policy_rate *r, const char *account, double now)
{
	char key[HTG_USER_MAX];
	struct rate_slot *s;

	if (!htg_dir_normalise(account, key, sizeof(key)))
		return 1;	/* no account: HTG-AUTH decides, not us */
	s = rate_slot(r, key, now);
	if (now > s->last) {
		s->tokens += (now - s->last) * r->per_second;
		if (s->tokens > r->limit)
			s->tokens = r->limit;
	}
	s->last = now;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}
