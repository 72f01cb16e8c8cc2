/*++
/* NAME
/*	htg-dir-pg-delivery 3
/* SUMMARY
/*	delivery records and the expiring tables' rows on PostgreSQL
/* DESCRIPTION
/*	The PostgreSQL side of htg-dir-delivery(3) and htg-dir-table(3).
/*	A delivery record is one row per (account, Message-ID), the
/*	Message-ID as bytes (bytea: a key, whatever bytes it holds); the
/*	first LMTP delivery of any node records it pending with one INSERT
/*	... ON CONFLICT, so of two nodes exactly one delivers. Export and
/*	import see the rows as LMDB stores them: the key in hex
/*	("account<TAB>Message-ID", or the claim's SHA-256), the record as
/*	its text.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

/* the Message-ID of a delivery record: hex, for decode($2, 'hex') */
int dirpg_delivery_key(const char *account, const char *msgid,
			   char user[HTG_USER_MAX], char hex[2 * HTG_USER_MAX])
{
	static const char digits[] = "0123456789abcdef";
	size_t n;

	if (!htg_dir_normalise(account, user, HTG_USER_MAX) || msgid == NULL ||
	    *msgid == '\0' || (n = strlen(msgid)) >= HTG_USER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[(unsigned char)msgid[i] >> 4];
		hex[2 * i + 1] = digits[(unsigned char)msgid[i] & 15];
	}
	hex[2 * n] = '\0';
	return 1;
}

/* --- delivery records --------------------------------------------------- */

int dirpg_delivery_begin(struct htg_dir *dir, const char *account,
			 const char *msgid, int64_t window_s, int64_t now,
			 const char **error_r)
{
	char user[HTG_USER_MAX], hex[2 * HTG_USER_MAX], exp[24], t[24];
	char state[4];
	const char *p[4] = { user, hex, exp, t };
	int ret;

	if (!dirpg_delivery_key(account, msgid, user, hex)) {
		*error_r = "account or Message-ID unusable as a key";
		return 0;
	}
	snprintf(exp, sizeof(exp), "%" PRId64, now + window_s);
	snprintf(t, sizeof(t), "%" PRId64, now);
	for (int attempt = 0; attempt < 2; attempt++) {
		/* one statement decides: of two nodes, one records */
		if ((ret = dirpg_run_value(dir, PGS_DELIVERY_BEGIN, 4, p, NULL,
					   0, error_r)) != 0)
			return ret < 0 ? -1 : HTG_DELIVERY_NEW;
		/* an unexpired record is there: which */
		p[2] = t;
		ret = dirpg_run_value(dir, PGS_DELIVERY_STATE, 3, p, state,
				      sizeof(state), error_r);
		p[2] = exp;
		if (ret < 0)
			return -1;
		if (ret > 0)
			return state[0] == 'D' ? HTG_DELIVERY_DONE :
				HTG_DELIVERY_PENDING;
		/* it expired in between: try again */
	}
	return HTG_DELIVERY_PENDING;	/* look in the mailbox */
}

int dirpg_delivery_mark(struct htg_dir *dir, const char *account,
			const char *msgid, const char **error_r)
{
	char user[HTG_USER_MAX], hex[2 * HTG_USER_MAX];
	const char *p[2] = { user, hex };

	if (!dirpg_delivery_key(account, msgid, user, hex))
		return 1;
	return dirpg_run_count(dir, PGS_DELIVERY_MARK, 2, p, NULL, error_r) < 0 ?
		-1 : 1;
}

int dirpg_delivery_seen(struct htg_dir *dir, const char *account,
			const char *msgid, int64_t now, const char **error_r)
{
	char user[HTG_USER_MAX], hex[2 * HTG_USER_MAX], t[24];
	const char *p[3] = { user, hex, t };

	if (!dirpg_delivery_key(account, msgid, user, hex))
		return 0;
	snprintf(t, sizeof(t), "%" PRId64, now);
	return dirpg_run_value(dir, PGS_DELIVERY_SEEN, 3, p, NULL, 0, error_r);
}

int dirpg_delivery_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			 const char **error_r)
{
	char t[24];
	const char *p[1] = { t };

	snprintf(t, sizeof(t), "%" PRId64, now);
	*purged_r = dirpg_run_count(dir, PGS_DELIVERY_PURGE, 1, p, NULL,
				    error_r);
	return *purged_r < 0 ? -1 : 1;
}

/* --- export / import of the expiring tables ---------------------------- */

struct table_iter {
	htg_pair_cb *cb;
	void *ctx;
	int msgids;
};

/* the record as LMDB's text (htg-dir-msgid(3), htg-dir-delivery(3)) */
static int table_row(const PGresult *res, void *_c)
{
	struct table_iter *c = _c;
	char rec[128];

	if (c->msgids && dirpg_val(res, 1)[0] == 'P')
		snprintf(rec, sizeof(rec), "P %s %s %s", dirpg_val(res, 2),
			 dirpg_val(res, 3), dirpg_val(res, 4));
	else if (c->msgids)
		snprintf(rec, sizeof(rec), "%s %s %s", dirpg_val(res, 1),
			 dirpg_val(res, 2), dirpg_val(res, 4));
	else
		snprintf(rec, sizeof(rec), "%s %s", dirpg_val(res, 1),
			 dirpg_val(res, 2));
	return c->cb(dirpg_val(res, 0), rec, c->ctx);
}

int dirpg_table_iter(struct htg_dir *dir, const char *table, htg_pair_cb *cb,
		     void *ctx, const char **error_r)
{
	struct table_iter c = { cb, ctx, 0 };

	if (strcmp(table, "msgids") == 0)
		c.msgids = 1;
	else if (strcmp(table, "deliveries") != 0) {
		*error_r = dirp_err("no such table: %s", table);
		return -1;
	}
	return dirpg_scan(dir, c.msgids ? PGS_MSGID_ITER : PGS_DELIVERY_ITER, 0,
			  NULL, table_row, &c, error_r);
}

/* a row htg_dir_table_put() checked and decoded (dirp_table_check()):
   the key's bytes, the record's fields */
int dirpg_table_put(struct htg_dir *dir, const struct dirp_table_row *row,
		    const char **error_r)
{
	char state[2] = { row->state, '\0' }, e[24], s[24];

	snprintf(e, sizeof(e), "%" PRId64, row->expiry);
	if (row->msgids) {
		/* the digest as hex, as the key column holds it */
		const char *p[5] = { row->key_hex, state, e, s, row->queue_id };

		snprintf(s, sizeof(s), "%" PRId64, row->since);
		return dirpg_run_count(dir, PGS_MSGID_PUT, 5, p, NULL,
				       error_r) < 0 ? -1 : 1;
	}
	{
		/* "account<TAB>Message-ID": no NUL, one tab at least
		   (dirp_delivery_row_ok()) */
		char user[HTG_USER_MAX], raw[DIRP_TABLE_KEY_MAX + 1];
		char hex[2 * HTG_USER_MAX];
		const char *p[4] = { user, hex, state, e };
		char *tab;

		memcpy(raw, row->key, row->klen);
		raw[row->klen] = '\0';
		if ((tab = strchr(raw, '\t')) == NULL)
			return 0;
		*tab = '\0';
		if (!dirpg_delivery_key(raw, tab + 1, user, hex)) {
			*error_r = "deliveries: key unusable";
			return 0;
		}
		return dirpg_run_count(dir, PGS_DELIVERY_PUT, 4, p, NULL,
				       error_r) < 0 ? -1 : 1;
	}
}
