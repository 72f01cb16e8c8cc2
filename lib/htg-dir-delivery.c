/*++
/* NAME
/*	htg-dir-delivery 3
/* SUMMARY
/*	delivery de-duplication records (LMTP at-least-once)
/* DESCRIPTION
/*	Postfix hands a message to LMTP at least once: when the LMTP
/*	process dies after the mailbox commit but before Postfix reads its
/*	250, Postfix delivers the message again. The Dovecot mail plugin
/*	keeps one record per (account, Message-ID) so that the second
/*	delivery is recognised (htg-deliver.c):
/*
/*	Table "deliveries": "account<TAB>Message-ID" -> "P expiry" or
/*	"D expiry" (expiry: unix time, text).
/*
/*	htg_dir_delivery_begin() runs before the mailbox save. It
/*	records P ("pending": a save is about to start) and returns
/*	HTG_DELIVERY_NEW, or, when an unexpired record exists, returns
/*	HTG_DELIVERY_PENDING or HTG_DELIVERY_DONE without writing.
/*
/*	htg_dir_pickup_commit() turns P into D in the same commit as the
/*	"deliver" audit event, i.e. right after the mailbox commit. So a
/*	crash before the mailbox commit leaves P and no message, a crash
/*	between the two commits leaves P and the message, and a crash
/*	after them leaves D: the plugin skips a D and, for a P, searches
/*	the mailbox for the Message-ID (htg_dir_delivery_mark() records
/*	what it found).
/*
/*	The key is used as is (no digest), so it must fit LMDB's key
/*	limit: a Message-ID of HTG_USER_MAX bytes or more is refused
/*	(return 0) and the caller delivers without de-duplication.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"

/* Table "deliveries", opened in each transaction (like "msgids"): a
   directory made before the table existed stays readable. */
static int delivery_dbi(MDB_txn *txn, MDB_dbi *dbi_r, const char **error_r)
{
	int rc = mdb_dbi_open(txn, "deliveries", MDB_CREATE, dbi_r);

	return rc == 0 ? 0 : dirp_fail(error_r, "deliveries table", rc);
}

/* "account<TAB>msgid" into key; 0 when it does not fit (or the account
   is not a valid name), 1 done. */
static int delivery_key(const char *account, const char *msgid,
			char *key, size_t size)
{
	char user[HTG_USER_MAX];
	int n;

	if (!htg_dir_normalise(account, user, sizeof(user)) ||
	    msgid == NULL || *msgid == '\0' || strlen(msgid) >= HTG_USER_MAX)
		return 0;
	n = snprintf(key, size, "%s\t%s", user, msgid);
	return n > 0 && (size_t)n < size;
}

/* Parse "S expiry": the state letter, or 0 when malformed. */
static char delivery_parse(const MDB_val *v, long long *expiry_r)
{
	char buf[32];

	if (v->mv_size < 3 || v->mv_size >= sizeof(buf))
		return 0;
	memcpy(buf, v->mv_data, v->mv_size);
	buf[v->mv_size] = '\0';
	if ((buf[0] != 'P' && buf[0] != 'D') || buf[1] != ' ')
		return 0;
	*expiry_r = strtoll(buf + 2, NULL, 10);
	return buf[0];
}

static int delivery_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, char state,
			long long expiry, const char **error_r)
{
	char val[32];
	MDB_val v;
	int rc;

	snprintf(val, sizeof(val), "%c %lld", state, expiry);
	v = dirp_val(val);
	rc = mdb_put(txn, dbi, k, &v, 0);
	return rc == 0 ? 0 : dirp_fail(error_r, "deliveries put", rc);
}

static int delivery_begin(struct htg_dir *dir, const char *account,
			   const char *msgid, int64_t window_s, int64_t now,
			   const char **error_r)
{
	char key[2 * HTG_USER_MAX + 2];
	MDB_val k, v;
	MDB_txn *txn;
	MDB_dbi dbi;
	long long expiry;
	char state;
	int rc;

	if (!delivery_key(account, msgid, key, sizeof(key))) {
		*error_r = "account or Message-ID unusable as a key";
		return 0;
	}
	k = dirp_val(key);
	/* check and record in one write transaction */
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (delivery_dbi(txn, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && (state = delivery_parse(&v, &expiry)) != 0 &&
	    expiry > now) {
		mdb_txn_abort(txn);	/* nothing written: no sync */
		return state == 'D' ? HTG_DELIVERY_DONE : HTG_DELIVERY_PENDING;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "deliveries get", rc);
	}
	if (delivery_put(txn, dbi, &k, 'P', (long long)(now + window_s),
			 error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r) < 0 ? -1 : HTG_DELIVERY_NEW;
}

/* P -> D for an existing record, in the caller's transaction. A missing
   record (de-duplication off, or expired and purged) stays missing. */
int dirp_delivery_done(MDB_txn *txn, const char *account, const char *msgid,
		       const char **error_r)
{
	char key[2 * HTG_USER_MAX + 2];
	MDB_val k, v;
	MDB_dbi dbi;
	long long expiry;
	int rc;

	if (!delivery_key(account, msgid, key, sizeof(key)))
		return 0;
	k = dirp_val(key);
	/* a directory without the table has no record to complete */
	if ((rc = mdb_dbi_open(txn, "deliveries", 0, &dbi)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dirp_fail(error_r, "deliveries table", rc);
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dirp_fail(error_r, "deliveries get", rc);
	if (delivery_parse(&v, &expiry) != 'P')
		return 0;
	return delivery_put(txn, dbi, &k, 'D', expiry, error_r);
}

int htg_dir_delivery_begin(struct htg_dir *dir, const char *account,
			   const char *msgid, int64_t window_s, int64_t now,
			   const char **error_r)
{
	DIRP_PG(dir, dirpg_delivery_begin(dir, account, msgid, window_s, now, error_r));
	int ret;

	DIRP_RETRY(dir, ret, delivery_begin(dir, account, msgid, window_s,
					    now, error_r));
	return ret;
}

static int delivery_mark(struct htg_dir *dir, const char *account,
			 const char *msgid, const char **error_r)
{
	MDB_txn *txn;

	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (dirp_delivery_done(txn, account, msgid, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_delivery_mark(struct htg_dir *dir, const char *account,
			  const char *msgid, const char **error_r)
{
	DIRP_PG(dir, dirpg_delivery_mark(dir, account, msgid, error_r));
	int ret;

	DIRP_RETRY(dir, ret, delivery_mark(dir, account, msgid, error_r));
	return ret;
}

/* past its window; a malformed record is useless: purged too */
static int delivery_expired(const MDB_val *v, int64_t now)
{
	long long expiry;

	return delivery_parse(v, &expiry) == 0 || expiry <= now;
}

int htg_dir_delivery_seen(struct htg_dir *dir, const char *account,
			  const char *msgid, int64_t now, const char **error_r)
{
	DIRP_PG(dir, dirpg_delivery_seen(dir, account, msgid, now, error_r));
	char key[2 * HTG_USER_MAX + 2];
	MDB_val k, v;
	MDB_txn *txn;
	MDB_dbi dbi;
	long long expiry;
	int rc, seen;

	if (!delivery_key(account, msgid, key, sizeof(key)))
		return 0;
	k = dirp_val(key);
	/* a read transaction on the handle opened with the directory: a
	   lookup never waits for the writer, and works on a full one */
	if (dir->dbi_deliveries == 0)
		return 0;
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	dbi = dir->dbi_deliveries;
	rc = mdb_get(txn, dbi, &k, &v);
	seen = rc == 0 && delivery_parse(&v, &expiry) != 0 && expiry > now;
	dirp_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "deliveries get", rc);
	return seen;
}

int htg_dir_delivery_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			   const char **error_r)
{
	DIRP_PG(dir, dirpg_delivery_purge(dir, now, purged_r, error_r));
	return dirp_purge(dir, "deliveries", delivery_expired, now, purged_r,
			  error_r);
}

/* A row that htg_dir_table_put() may write and htg_dir_table_iter()
   hands out: a key as delivery_key() makes it (a normalised account, a
   tab, a Message-ID) and a value as delivery_put() writes it. 1 valid,
   0 not. */
int dirp_delivery_row_ok(const MDB_val *k, const MDB_val *v,
			 struct dirp_table_row *row_r)
{
	char key[2 * HTG_USER_MAX + 2], again[2 * HTG_USER_MAX + 2], val[32];
	long long expiry;
	char state, *tab;

	if (!dirp_val_str(k, key, sizeof(key)) ||
	    memchr(k->mv_data, '\0', k->mv_size) != NULL ||
	    (tab = strchr(key, '\t')) == NULL)
		return 0;
	*tab = '\0';
	if (!delivery_key(key, tab + 1, again, sizeof(again)))
		return 0;
	*tab = '\t';
	if (strcmp(again, key) != 0 ||
	    (state = delivery_parse(v, &expiry)) == 0)
		return 0;
	snprintf(val, sizeof(val), "%c %lld", state, expiry);
	if (strlen(val) != v->mv_size ||
	    memcmp(val, v->mv_data, v->mv_size) != 0)
		return 0;
	if (row_r != NULL) {
		row_r->state = state;
		row_r->expiry = expiry;
		row_r->since = 0;
		snprintf(row_r->queue_id, sizeof(row_r->queue_id), "-");
	}
	return 1;
}
