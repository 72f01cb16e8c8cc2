/*++
/* NAME
/*	htg-dir-msgid 3
/* SUMMARY
/*	Message-IDs an account used (HTG-MSGID)
/* DESCRIPTION
/*	Table "msgids": SHA-256(account<TAB>Message-ID) -> the claim, as
/*	text: "P expiry since queue-id" (pending: the milter accepted the
/*	message, its SMTP transaction has not ended), "E expiry queue-id"
/*	(ended, no proof yet that Postfix committed it), "F expiry
/*	queue-id" (final: committed). A bare "expiry" (before 2026-12) is
/*	read as final with an unknown queue id.
/*
/*	A claim is taken in one write transaction (of two concurrent
/*	messages with the same Message-ID exactly one wins), settled by the
/*	queue id that took it (compare and set), taken over only when the
/*	caller names the exact claim it replaces, and purged after expiry.
/*	What a claim means for a retry is decided in htg-milter
/*	(milter/milter-claim.c, doc/milter.md).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"

/* --- Message-IDs (HTG-MSGID) ------------------------------------------- */

#define MSGID_KEY_LEN 32	/* SHA-256 */

/* Table "msgids", opened (and created) in the writer's transaction: a
   directory made before it existed stays readable by every reader. */
static int msgid_dbi(MDB_txn *txn, MDB_dbi *dbi_r, const char **error_r)
{
	int rc = mdb_dbi_open(txn, "msgids", MDB_CREATE, dbi_r);

	return rc == 0 ? 0 : dirp_fail(error_r, "msgids table", rc);
}

static int msgid_key(const char *account, const char *msgid,
		     unsigned char key[MSGID_KEY_LEN], const char **error_r)
{
	char buf[HTG_USER_MAX + 1 + 1024];
	unsigned int len = 0;
	int n = snprintf(buf, sizeof(buf), "%s\t%s", account, msgid);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		*error_r = "Message-ID too long";
		return -1;
	}
	if (EVP_Digest(buf, (size_t)n, key, &len, EVP_sha256(), NULL) != 1 ||
	    len != MSGID_KEY_LEN) {
		*error_r = "SHA-256 failed";
		return -1;
	}
	return 0;
}

/* "P expiry since qid" / "E expiry qid" / "F expiry qid" / "expiry":
   1 parsed, 0 malformed */
static int msgid_parse(const MDB_val *v, struct htg_msgid_claim *c)
{
	char val[32 + 2 * 24 + HTG_QUEUE_ID_MAX], qid[HTG_QUEUE_ID_MAX];
	long long expiry, since = 0;
	int n;

	memset(c, 0, sizeof(*c));
	if (v->mv_size == 0 || v->mv_size >= sizeof(val))
		return 0;
	memcpy(val, v->mv_data, v->mv_size);
	val[v->mv_size] = '\0';
	snprintf(c->queue_id, sizeof(c->queue_id), "-");
	if (val[0] >= '0' && val[0] <= '9') {
		c->state = HTG_MSGID_FINAL;
		c->expiry = strtoll(val, NULL, 10);
		return 1;
	}
	if (val[0] == HTG_MSGID_PENDING)
		n = sscanf(val + 1, " %lld %lld %31s", &expiry, &since, qid) == 3;
	else if (val[0] == HTG_MSGID_ENDED || val[0] == HTG_MSGID_FINAL)
		n = sscanf(val + 1, " %lld %31s", &expiry, qid) == 2;
	else
		n = 0;
	if (!n)
		return 0;
	c->state = val[0];
	c->expiry = expiry;
	c->since = since;
	snprintf(c->queue_id, sizeof(c->queue_id), "%s", qid);
	return 1;
}

/* The claim as text, as every writer stores it: 1, 0 when it does not
   fit (it always does for a claim made here) */
static int msgid_format(const struct htg_msgid_claim *c, char *val,
			size_t size)
{
	int n;

	if (c->state == HTG_MSGID_PENDING)
		n = snprintf(val, size, "P %lld %lld %s", (long long)c->expiry,
			     (long long)c->since, c->queue_id);
	else
		n = snprintf(val, size, "%c %lld %s", c->state,
			     (long long)c->expiry, c->queue_id);
	return n > 0 && (size_t)n < size;
}

static int msgid_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
		     const struct htg_msgid_claim *c, const char **error_r)
{
	char val[32 + 2 * 24 + HTG_QUEUE_ID_MAX];
	MDB_val v;
	int rc;

	(void)msgid_format(c, val, sizeof(val));
	v.mv_size = strlen(val);
	v.mv_data = val;
	rc = mdb_put(txn, dbi, k, &v, 0);
	return rc == 0 ? 0 : dirp_fail(error_r, "msgid put", rc);
}

/* a queue id as a token of the value: [A-Za-z0-9], else "-" */
static void msgid_qid(const char *in, char *out)
{
	size_t n = in != NULL ? strlen(in) : 0;

	if (n == 0 || n >= HTG_QUEUE_ID_MAX)
		n = 0;
	for (size_t i = 0; i < n; i++)
		if (!((in[i] >= '0' && in[i] <= '9') || (in[i] >= 'A' && in[i] <= 'Z') ||
		      (in[i] >= 'a' && in[i] <= 'z')))
			n = 0;
	if (n == 0)
		snprintf(out, HTG_QUEUE_ID_MAX, "-");
	else
		snprintf(out, HTG_QUEUE_ID_MAX, "%s", in);
}

static int claim_same(const struct htg_msgid_claim *a,
		      const struct htg_msgid_claim *b)
{
	return a->state == b->state && a->expiry == b->expiry &&
		a->since == b->since && strcmp(a->queue_id, b->queue_id) == 0;
}

/* the key of (account, msgid); an unauthenticated sender's account is "-" */
static int msgid_user_key(const char *account, const char *msgid,
			unsigned char kb[MSGID_KEY_LEN], const char **error_r)
{
	char user[HTG_USER_MAX];

	if (!htg_dir_normalise(account, user, sizeof(user)))
		snprintf(user, sizeof(user), "-");	/* unauthenticated */
	return msgid_key(user, msgid, kb, error_r);
}

/* open the write txn and the table, make the key */
static int msgid_begin(struct htg_dir *dir, const char *account,
		       const char *msgid, unsigned char kb[MSGID_KEY_LEN],
		       MDB_txn **txn_r, MDB_dbi *dbi_r, const char **error_r)
{
	if (msgid_user_key(account, msgid, kb, error_r) < 0 ||
	    dirp_wtxn(dir, txn_r, error_r) < 0)
		return -1;
	if (msgid_dbi(*txn_r, dbi_r, error_r) < 0) {
		mdb_txn_abort(*txn_r);
		return -1;
	}
	return 0;
}

/* the unexpired claim under k: 1, 0 none, -1 error */
static int msgid_read(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, int64_t now,
		      struct htg_msgid_claim *c, const char **error_r)
{
	MDB_val v;
	int rc = mdb_get(txn, dbi, k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dirp_fail(error_r, "msgid get", rc);
	/* a malformed record counts as used (as before): never a reuse */
	if (!msgid_parse(&v, c)) {
		memset(c, 0, sizeof(*c));
		c->state = HTG_MSGID_FINAL;
		c->expiry = INT64_MAX;
		snprintf(c->queue_id, sizeof(c->queue_id), "-");
		return 1;
	}
	return c->expiry > now;
}

int htg_dir_msgid_claim(struct htg_dir *dir, const char *account,
			const char *msgid, const char *queue_id,
			int64_t window_s, int64_t now,
			const struct htg_msgid_claim *replace,
			struct htg_msgid_claim *held_r, const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	MDB_val k = { sizeof(kb), kb };
	struct htg_msgid_claim cur, mine;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (dir->pg != NULL) {
		char qid[HTG_QUEUE_ID_MAX];

		msgid_qid(queue_id, qid);
		return msgid_user_key(account, msgid, kb, error_r) < 0 ? -1 :
			dirpg_msgid_claim(dir, kb, qid, window_s, now,
					  replace, held_r, error_r);
	}
	if (msgid_begin(dir, account, msgid, kb, &txn, &dbi, error_r) < 0)
		return -1;
	/* check and record in one write transaction */
	if ((rc = msgid_read(txn, dbi, &k, now, &cur, error_r)) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (rc == 1 && (replace == NULL || !claim_same(&cur, replace))) {
		mdb_txn_abort(txn);
		*held_r = cur;
		return 0;
	}
	memset(&mine, 0, sizeof(mine));
	mine.state = HTG_MSGID_PENDING;
	mine.expiry = now + window_s;
	mine.since = now;
	msgid_qid(queue_id, mine.queue_id);
	if (msgid_put(txn, dbi, &k, &mine, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_msgid_get(struct htg_dir *dir, const char *account,
		      const char *msgid, int64_t now,
		      struct htg_msgid_claim *claim_r, const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	MDB_val k = { sizeof(kb), kb };
	MDB_txn *txn;
	int rc;

	/* a read transaction: a lookup never waits for the writer (the
	   milter's settle threads ask often) */
	if (msgid_user_key(account, msgid, kb, error_r) < 0)
		return -1;
	if (dir->pg != NULL)
		return dirpg_msgid_get(dir, kb, now, claim_r, error_r);
	if (dir->dbi_msgids == 0)
		return 0;	/* a reader of a directory without claims */
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	rc = msgid_read(txn, dir->dbi_msgids, &k, now, claim_r, error_r);
	dirp_abort(txn);
	return rc;
}

int htg_dir_msgid_settle(struct htg_dir *dir, const char *account,
			 const char *msgid, const char *queue_id, char state,
			 const char **error_r)
{
	return htg_dir_msgid_settle_audit(dir, account, msgid, queue_id, state,
					  NULL, error_r);
}

int htg_dir_msgid_settle_audit(struct htg_dir *dir, const char *account,
			       const char *msgid, const char *queue_id,
			       char state, const struct htg_audit_event *ev,
			       const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	MDB_val k = { sizeof(kb), kb };
	struct htg_msgid_claim cur;
	char qid[HTG_QUEUE_ID_MAX];
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	msgid_qid(queue_id, qid);
	if (dir->pg != NULL)
		return msgid_user_key(account, msgid, kb, error_r) < 0 ? -1 :
			dirpg_msgid_settle(dir, kb, qid, state, ev, error_r);
	if (msgid_begin(dir, account, msgid, kb, &txn, &dbi, error_r) < 0)
		return -1;
	/* expired or not: a claim is settled by the queue id that took it */
	if ((rc = msgid_read(txn, dbi, &k, INT64_MIN, &cur, error_r)) <= 0 ||
	    strcmp(cur.queue_id, qid) != 0 || strcmp(qid, "-") == 0) {
		mdb_txn_abort(txn);
		return rc < 0 ? -1 : 0;
	}
	if (state == 0) {
		if ((rc = mdb_del(txn, dbi, &k, NULL)) != 0) {
			mdb_txn_abort(txn);
			return dirp_fail(error_r, "msgid delete", rc);
		}
	} else {
		if (cur.state != HTG_MSGID_FINAL)
			cur.state = state;
		cur.since = 0;
		if (msgid_put(txn, dbi, &k, &cur, error_r) < 0) {
			mdb_txn_abort(txn);
			return -1;
		}
	}
	if (ev != NULL && dirp_audit_put(dir, txn, ev, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

/* a claim past its expiry; a malformed value is kept (as before) */
static int msgid_expired(const MDB_val *v, int64_t now)
{
	struct htg_msgid_claim c;

	return msgid_parse(v, &c) && c.expiry <= now;
}

int htg_dir_msgid_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			const char **error_r)
{
	DIRP_PG(dir, dirpg_msgid_purge(dir, now, purged_r, error_r));
	return dirp_purge(dir, "msgids", msgid_expired, now, purged_r, error_r);
}

/* A row that htg_dir_table_put() may write and htg_dir_table_iter()
   hands out: a SHA-256 key and a claim exactly as msgid_put() writes it
   (or the bare expiry of before 2026-12), so that what an import writes
   is what the milter would have. 1 valid, 0 not. */
int dirp_msgid_row_ok(const MDB_val *k, const MDB_val *v,
		      struct dirp_table_row *row_r)
{
	char val[32 + 2 * 24 + HTG_QUEUE_ID_MAX], qid[HTG_QUEUE_ID_MAX];
	struct htg_msgid_claim c;
	int ok;

	if (k->mv_size != MSGID_KEY_LEN || !msgid_parse(v, &c))
		return 0;
	if (((const char *)v->mv_data)[0] >= '0' &&
	    ((const char *)v->mv_data)[0] <= '9')
		ok = snprintf(val, sizeof(val), "%lld",
			      (long long)c.expiry) > 0;
	else {
		msgid_qid(c.queue_id, qid);
		ok = strcmp(qid, c.queue_id) == 0 &&
		    msgid_format(&c, val, sizeof(val));
	}
	if (!ok || strlen(val) != v->mv_size ||
	    memcmp(val, v->mv_data, v->mv_size) != 0)
		return 0;
	if (row_r != NULL) {
		row_r->state = c.state;
		row_r->expiry = c.expiry;
		row_r->since = c.since;
		snprintf(row_r->queue_id, sizeof(row_r->queue_id), "%s",
			 c.queue_id);
	}
	return 1;
}
