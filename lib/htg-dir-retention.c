/*++
/* NAME
/*	htg-dir-retention 3
/* SUMMARY
/*	retention records in the HTG directory
/* DESCRIPTION
/*	The copies kept after POP3 DELE: add, delete and list them, and
/*	htg_dir_pickup_commit(), which writes retention records together
/*	with audit events (htg-dir-audit.c encodes those).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-dir-private.h"

/* --- retention records ---------------------------------------------------
   Table "retention": "account<TAB>id" ->
   "retained<TAB>deadline<TAB>size<TAB>uid<TAB>message_id<TAB>path<TAB>restore_to".
   The table is opened per transaction, not in htg_dir_open(): a reader
   (e.g. Dovecot's auth process, whose module every lab shares) must keep
   opening directories that were created before the table existed. */

#define DB_RETENTION_NAME "retention"

/* 1 opened, 0 table missing (read transaction), -1 error */
static int retention_dbi(MDB_txn *txn, int create, MDB_dbi *dbi_r,
			 const char **error_r)
{
	int rc = mdb_dbi_open(txn, DB_RETENTION_NAME, create ? MDB_CREATE : 0,
			      dbi_r);

	if (rc == MDB_NOTFOUND && !create)
		return 0;
	return rc == 0 ? 1 : dirp_fail(error_r, "retention table", rc);
}

int dirp_retained_encode(const struct htg_retained *r, char *key,
			 size_t ksize, char *val, size_t vsize,
			 const char **error_r)
{
	char acct[HTG_USER_MAX], mid[HTG_USER_MAX];
	size_t i;
	int n;

	if (!htg_dir_normalise(r->account, acct, sizeof(acct)) ||
	    r->id[0] == '\0' || strpbrk(r->id, "\t\r\n") != NULL ||
	    strpbrk(r->path, "\t\r\n") != NULL ||
	    strpbrk(r->restore_to, "\t\r\n") != NULL) {
		*error_r = "invalid retention record";
		return 0;
	}
	for (i = 0; r->message_id[i] != '\0' && i + 1 < sizeof(mid); i++) {
		char c = r->message_id[i];
		mid[i] = (c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
	}
	mid[i] = '\0';
	n = snprintf(key, ksize, "%s\t%s", acct, r->id);
	if (n < 0 || (size_t)n >= ksize)
		goto toolong;
	n = snprintf(val, vsize, "%lld\t%lld\t%llu\t%u\t%s\t%s\t%s",
		     (long long)r->retained, (long long)r->deadline,
		     (unsigned long long)r->size, r->uid, mid, r->path,
		     r->restore_to);
	if (n < 0 || (size_t)n >= vsize)
		goto toolong;
	return 1;
toolong:
	*error_r = "retention record too long";
	return 0;
}

int dirp_retained_decode(const MDB_val *k, const MDB_val *v,
			 struct htg_retained *r)
{
	char key[DIRP_RETAINED_KEY_MAX];
	char val[DIRP_RETAINED_VAL_MAX];
	char *f[7], *p, *tab;
	long long retained, deadline;
	unsigned long long size;
	unsigned int uid;
	int i;

	if (!dirp_val_str(k, key, sizeof(key)) ||
	    !dirp_val_str(v, val, sizeof(val)) ||
	    (tab = strchr(key, '\t')) == NULL)
		return -1;
	*tab = '\0';
	memset(r, 0, sizeof(*r));
	p = val;
	for (i = 0; i < 7; i++) {
		f[i] = p;
		if (i < 6) {
			if ((p = strchr(p, '\t')) == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	if (sscanf(f[0], "%lld", &retained) != 1 ||
	    sscanf(f[1], "%lld", &deadline) != 1 ||
	    sscanf(f[2], "%llu", &size) != 1 || sscanf(f[3], "%u", &uid) != 1)
		return -1;
	if (strlen(key) >= sizeof(r->account) ||
	    strlen(tab + 1) >= sizeof(r->id) ||
	    strlen(f[4]) >= sizeof(r->message_id) ||
	    strlen(f[5]) >= sizeof(r->path) ||
	    strlen(f[6]) >= sizeof(r->restore_to))
		return -1;
	strcpy(r->account, key);
	strcpy(r->id, tab + 1);
	r->retained = retained;
	r->deadline = deadline;
	r->size = size;
	r->uid = uid;
	strcpy(r->message_id, f[4]);
	strcpy(r->path, f[5]);
	strcpy(r->restore_to, f[6]);
	return 0;
}

/* The same commit as a pickup's, without audit events. */
int htg_dir_retained_add(struct htg_dir *dir, const struct htg_retained *r,
			 unsigned int n, const char **error_r)
{
	DIRP_PG(dir, dirpg_retained_add(dir, r, n, error_r));
	return htg_dir_pickup_commit(dir, r, n, NULL, 0, error_r);
}

static int retained_del(struct htg_dir *dir, const char *account,
			const char *id, const char **error_r)
{
	char acct[HTG_USER_MAX], key[DIRP_RETAINED_KEY_MAX];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k;
	int rc;

	NORMALISE(account, acct, "user");
	if (snprintf(key, sizeof(key), "%s\t%s", acct, id) >= (int)sizeof(key))
		return 0;
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (retention_dbi(txn, 1, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	k = dirp_val(key);
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		*error_r = dirp_err("no retained copy %s for %s", id, acct);
		return 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "retention delete", rc);
	}
	return dirp_commit(txn, error_r);
}

/* a purge must work on a full directory: it may use the reserve */
int htg_dir_retained_del(struct htg_dir *dir, const char *account,
			 const char *id, const char **error_r)
{
	DIRP_PG(dir, dirpg_retained_del(dir, account, id, error_r));
	int ret;

	dirp_map_reserve(dir, 1);
	DIRP_RETRY(dir, ret, retained_del(dir, account, id, error_r));
	dirp_map_reserve(dir, 0);
	return ret;
}

int htg_dir_retained_iter(struct htg_dir *dir, const char *account,
			  htg_retained_cb *cb, void *ctx,
			  const char **error_r)
{
	DIRP_PG(dir, dirpg_retained_iter(dir, account, cb, ctx, error_r));
	char acct[HTG_USER_MAX];
	struct htg_retained r;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t alen = 0;
	int rc, op = MDB_FIRST, ret;

	if (account != NULL) {
		NORMALISE(account, acct, "user");
		alen = strlen(acct);
		k = dirp_val(acct);
		op = MDB_SET_RANGE;
	}
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((ret = retention_dbi(txn, 0, &dbi, error_r)) <= 0) {
		mdb_txn_abort(txn);
		return ret < 0 ? -1 : 1;	/* no table: nothing kept */
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "cursor", rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (account != NULL &&
		    (k.mv_size <= alen || memcmp(k.mv_data, acct, alen) != 0 ||
		     ((char *)k.mv_data)[alen] != '\t'))
			break;
		if (dirp_retained_decode(&k, &v, &r) < 0)
			continue;	/* skip a corrupt row */
		if (cb(&r, ctx) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "scan", rc);
	return 1;
}

/* --- audit events and retention records in one commit ------------------
   One LMDB commit (one fsync) for what a POP3 QUIT or an LMTP transaction
   produces, instead of one per event. */

/* Write (undo = 0) or delete (undo = 1) retention records and audit
   events in one transaction. */
static int pickup_apply(struct htg_dir *dir, int undo,
			const struct htg_retained *r, unsigned int nr,
			const struct htg_audit_event *ev, unsigned int nev,
			const char **error_r)
{
	char key[DIRP_RETAINED_KEY_MAX];
	char val[DIRP_RETAINED_VAL_MAX];
	MDB_txn *txn;
	MDB_dbi dbi = 0;
	int ret, rc;

	for (unsigned int i = 0; i < nr && !undo; i++) {
		if ((ret = dirp_retained_encode(&r[i], key, sizeof(key), val,
					   sizeof(val), error_r)) <= 0)
			return ret;
	}
	if (nr == 0 && nev == 0)
		return 1;
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (nr > 0 && retention_dbi(txn, 1, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (unsigned int i = 0; i < nr; i++) {
		MDB_val k, v;

		if (dirp_retained_encode(&r[i], key, sizeof(key), val, sizeof(val),
				    error_r) <= 0)
			continue;	/* undo: never written */
		k = dirp_val(key);
		v = dirp_val(val);
		rc = undo ? mdb_del(txn, dbi, &k, NULL) :
			mdb_put(txn, dbi, &k, &v, 0);
		if (rc != 0 && !(undo && rc == MDB_NOTFOUND)) {
			mdb_txn_abort(txn);
			return dirp_fail(error_r, undo ? "retention delete" :
					 "retention put", rc);
		}
	}
	for (unsigned int i = 0; i < nev; i++) {
		if (undo)
			ret = dirp_audit_del(dir, txn, &ev[i], error_r);
		else if ((ret = dirp_audit_put(dir, txn, &ev[i], error_r)) == 0 &&
			 strcmp(ev[i].event, "deliver") == 0)
			ret = dirp_delivery_done(txn, ev[i].account,
						 ev[i].message_id, error_r);
		if (ret < 0) {
			mdb_txn_abort(txn);
			return -1;
		}
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_pickup_commit(struct htg_dir *dir,
			  const struct htg_retained *r, unsigned int nr,
			  const struct htg_audit_event *ev, unsigned int nev,
			  const char **error_r)
{
	DIRP_PG(dir, dirpg_pickup_commit(dir, r, nr, ev, nev, error_r));
	int ret;

	DIRP_RETRY(dir, ret, pickup_apply(dir, 0, r, nr, ev, nev, error_r));
	return ret;
}

int htg_dir_pickup_undo(struct htg_dir *dir,
			const struct htg_retained *r, unsigned int nr,
			const struct htg_audit_event *ev, unsigned int nev,
			const char **error_r)
{
	DIRP_PG(dir, dirpg_pickup_undo(dir, r, nr, ev, nev, error_r));
	int ret;

	dirp_map_reserve(dir, 1);	/* deletes: room even when full */
	DIRP_RETRY(dir, ret, pickup_apply(dir, 1, r, nr, ev, nev, error_r));
	dirp_map_reserve(dir, 0);
	return ret;
}
