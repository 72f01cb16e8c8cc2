/*++
/* NAME
/*	htg-dir-msgid 3
/* SUMMARY
/*	Message-IDs an account used (HTG-MSGID)
/* DESCRIPTION
/*	Table "msgids": SHA-256(account<TAB>Message-ID) -> expiry (unix
/*	time, text). A claim records a Message-ID for a window; a second
/*	claim inside it is refused, a release forgets a claim, a purge
/*	deletes the expired records.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <openssl/evp.h>
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

int htg_dir_msgid_claim(struct htg_dir *dir, const char *account,
			const char *msgid, int64_t window_s, int64_t now,
			const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	char user[HTG_USER_MAX], val[32];
	MDB_val k = { sizeof(kb), kb }, v;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (!htg_dir_normalise(account, user, sizeof(user)))
		snprintf(user, sizeof(user), "-");	/* unauthenticated */
	if (msgid_key(user, msgid, kb, error_r) < 0 ||
	    dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (msgid_dbi(txn, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	/* check and record in one write transaction: of two concurrent
	   messages with the same Message-ID exactly one wins */
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size < sizeof(val)) {
		memcpy(val, v.mv_data, v.mv_size);
		val[v.mv_size] = '\0';
		if (strtoll(val, NULL, 10) > now) {
			mdb_txn_abort(txn);
			return 0;
		}
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "msgid get", rc);
	}
	snprintf(val, sizeof(val), "%lld", (long long)(now + window_s));
	v.mv_size = strlen(val);
	v.mv_data = val;
	if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "msgid put", rc);
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_msgid_release(struct htg_dir *dir, const char *account,
			  const char *msgid, const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	char user[HTG_USER_MAX];
	MDB_val k = { sizeof(kb), kb };
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (!htg_dir_normalise(account, user, sizeof(user)))
		snprintf(user, sizeof(user), "-");
	if (msgid_key(user, msgid, kb, error_r) < 0 ||
	    dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (msgid_dbi(txn, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "msgid delete", rc);
	}
	return dirp_commit(txn, error_r);
}

/* a claim past its expiry; a malformed value is kept (as before) */
static int msgid_expired(const MDB_val *v, int64_t now)
{
	char val[32];

	if (v->mv_size >= sizeof(val))
		return 0;
	memcpy(val, v->mv_data, v->mv_size);
	val[v->mv_size] = '\0';
	return strtoll(val, NULL, 10) <= now;
}

int htg_dir_msgid_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			const char **error_r)
{
	return dirp_purge(dir, "msgids", msgid_expired, now, purged_r, error_r);
}
