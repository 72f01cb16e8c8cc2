/*++
/* NAME
/*	htg-dir-pg-msgid 3
/* SUMMARY
/*	Message-ID claims on PostgreSQL (HTG-MSGID)
/* DESCRIPTION
/*	The PostgreSQL side of htg-dir-msgid(3), by the key that file
/*	makes (SHA-256 of account and Message-ID). A claim is one INSERT
/*	... ON CONFLICT whose WHERE says when an existing row may be taken
/*	over: the primary key makes two concurrent claims of any two
/*	nodes end with exactly one winner, without reading first.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

#define KEY_LEN 32

/* "\x<64 hex digits>": the key as a bytea parameter */
static void key_param(const unsigned char *key, char buf[2 + 2 * KEY_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	buf[0] = '\\';
	buf[1] = 'x';
	for (int i = 0; i < KEY_LEN; i++) {
		buf[2 + 2 * i] = digits[key[i] >> 4];
		buf[3 + 2 * i] = digits[key[i] & 15];
	}
	buf[2 + 2 * KEY_LEN] = '\0';
}

static void claim_row(const PGresult *res, struct htg_msgid_claim *c)
{
	memset(c, 0, sizeof(*c));
	c->state = dirpg_val(res, 0)[0];
	c->expiry = strtoll(dirpg_val(res, 1), NULL, 10);
	c->since = strtoll(dirpg_val(res, 2), NULL, 10);
	snprintf(c->queue_id, sizeof(c->queue_id), "%s", dirpg_val(res, 3));
	snprintf(c->node, sizeof(c->node), "%s", dirpg_val(res, 4));
}

int dirpg_msgid_get(struct htg_dir *dir, const unsigned char *key, int64_t now,
		    struct htg_msgid_claim *claim_r, const char **error_r)
{
	char k[2 + 2 * KEY_LEN + 1], t[24];
	const char *p[2] = { k, t };
	PGresult *res;
	int ret = 0;

	key_param(key, k);
	snprintf(t, sizeof(t), "%" PRId64, now);
	if ((res = dirpg_run(dir, PGS_MSGID_GET, 2, p, NULL, error_r)) == NULL)
		return -1;
	if (dirpg_pq.ntuples(res) > 0) {
		claim_row(res, claim_r);
		ret = 1;
	}
	dirpg_pq.clear(res);
	return ret;
}

int dirpg_msgid_claim(struct htg_dir *dir, const unsigned char *key,
		      const char *queue_id, int64_t window_s, int64_t now,
		      const struct htg_msgid_claim *replace,
		      struct htg_msgid_claim *held_r, const char **error_r)
{
	char k[2 + 2 * KEY_LEN + 1], exp[24], t[24], rs[2] = "", re[24] = "0";
	char rsince[24] = "0";
	const char *p[9] = { k, exp, t, queue_id, rs, re, rsince,
			     replace != NULL ? replace->queue_id : "",
			     dirpg_host(dir) };
	int ret;

	key_param(key, k);
	snprintf(exp, sizeof(exp), "%" PRId64, now + window_s);
	snprintf(t, sizeof(t), "%" PRId64, now);
	if (replace != NULL) {
		rs[0] = replace->state;
		rs[1] = '\0';
		snprintf(re, sizeof(re), "%" PRId64, replace->expiry);
		snprintf(rsince, sizeof(rsince), "%" PRId64, replace->since);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((ret = dirpg_run_value(dir, PGS_MSGID_CLAIM, 9, p, NULL, 0,
					   error_r)) != 0)
			return ret;
		/* held: by which claim (it may have gone in between) */
		if ((ret = dirpg_msgid_get(dir, key, now, held_r, error_r)) != 0)
			return ret < 0 ? -1 : 0;
	}
	*error_r = "Message-ID claim: the holder keeps changing";
	return -1;
}

int dirpg_msgid_settle(struct htg_dir *dir, const unsigned char *key,
		       const char *queue_id, char state,
		       const struct htg_audit_event *ev, const char **error_r)
{
	char k[2 + 2 * KEY_LEN + 1], s[2] = { state != 0 ? state : 'X', 0 };
	const char *p[20] = { k, queue_id, s };
	struct dirpg_audit a;
	PGresult *res;
	enum dirpg_stmt st;
	int ret;

	key_param(key, k);
	if (ev == NULL) {
		long n = dirpg_run_count(dir, state != 0 ? PGS_MSGID_SETTLE :
					 PGS_MSGID_DROP, state != 0 ? 3 : 2,
					 p, NULL, error_r);

		return n < 0 ? -1 : n > 0;
	}
	dirpg_audit_fill(dir, ev, 0, &a);
	memcpy(p + 3, a.p, sizeof(a.p));
	st = state != 0 ? PGS_MSGID_SETTLE_AUDIT : PGS_MSGID_DROP_AUDIT;
	if ((res = dirpg_run(dir, st, 20, p, NULL, error_r)) == NULL)
		return -1;
	ret = strtol(dirpg_val(res, 0), NULL, 10) > 0;
	dirpg_pq.clear(res);
	return ret;
}

int dirpg_msgid_purge(struct htg_dir *dir, int64_t now, long *purged_r,
		      const char **error_r)
{
	char t[24];
	const char *p[1] = { t };

	snprintf(t, sizeof(t), "%" PRId64, now);
	*purged_r = dirpg_run_count(dir, PGS_MSGID_PURGE, 1, p, NULL, error_r);
	return *purged_r < 0 ? -1 : 1;
}
