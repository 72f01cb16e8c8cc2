/*++
/* NAME
/*	htg-dir-account 3
/* SUMMARY
/*	accounts in the HTG directory over LMDB
/* SYNOPSIS
/*	#include "htg-dir.h"
/* DESCRIPTION
/*	The accounts of htg-dir(3): get, add, update (password hash,
/*	flags, home node), delete and list them.
/*
/*	Table "accounts": user -> "flags<TAB>retention_days<TAB>max_size
/*	<TAB>created<TAB>hash" and, for an account with a home node,
/*	"<TAB>home" (a record without it, as every version before issue 15
/*	wrote, has no home; one without a home is still written so, so that
/*	an older reader keeps reading it).
/*
/*	Every update reads, changes and writes back the record in one
/*	write transaction (account_modify()). Deleting an account also
/*	deletes its addresses (and their domain counts), its grants and
/*	its logical address, in the same transaction.
/*
/*	On a postgresql:// directory every function hands the call to its
/*	dirpg_ twin (htg-dir-pg-acct.c) after the checks both share.
/* SEE ALSO
/*	htg-dir(3), the directory
/*	htg-dir-node(3), nodes and home nodes
/*	htg-dir-pg(3h), the PostgreSQL side
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "htg-dir-private.h"

/* an account record: four numbers, the hash, the home node */
#define ACCOUNT_REC_MAX	(HTG_HASH_MAX + HTG_NODE_MAX + 128)

static int account_decode(const char *user, const char *rec,
			  struct htg_account *a)
{
	unsigned int flags, retention;
	unsigned long long max_size;
	long long created;
	int pos = 0;

	memset(a, 0, sizeof(*a));
	/* no "\t" after the last number: in a scanf format it would also
	   skip the tab after an empty hash, taking the home for the hash */
	if (sscanf(rec, "%u\t%u\t%llu\t%lld%n", &flags, &retention,
		   &max_size, &created, &pos) != 4 || pos == 0 ||
	    rec[pos++] != '\t')
		return -1;
	const char *hash = rec + pos, *home = strchr(hash, '\t');
	size_t hlen = home != NULL ? (size_t)(home - hash) : strlen(hash);

	if (hlen >= sizeof(a->pwhash) || strlen(user) >= sizeof(a->user))
		return -1;
	if (home != NULL) {	/* the sixth field (issue 15) */
		if (strlen(++home) >= sizeof(a->home) ||
		    strchr(home, '\t') != NULL)
			return -1;
		strcpy(a->home, home);
	}
	strcpy(a->user, user);
	memcpy(a->pwhash, hash, hlen);
	a->pwhash[hlen] = '\0';
	a->flags = flags;
	a->retention_days = retention;
	a->max_size = max_size;
	a->created = created;
	return 0;
}

static void account_encode(const struct htg_account *a, char *buf,
			   size_t size)
{
	/* no home: the five fields every older reader expects */
	snprintf(buf, size, "%u\t%u\t%llu\t%lld\t%s%s%s", a->flags,
		 a->retention_days, (unsigned long long)a->max_size,
		 (long long)a->created, a->pwhash,
		 a->home[0] != '\0' ? "\t" : "", a->home);
}

int htg_dir_account_get(struct htg_dir *dir, const char *user,
			struct htg_account *acct_r, const char **error_r)
{
	DIRP_PG(dir, dirpg_account_get(dir, user, acct_r, error_r));
	char key[HTG_USER_MAX], rec[ACCOUNT_REC_MAX];
	int ret;

	NORMALISE(user, key, "user");
	ret = dirp_lookup(dir, DB_ACCOUNTS, key, rec, sizeof(rec), error_r);
	if (ret <= 0)
		return ret;
	if (account_decode(key, rec, acct_r) < 0) {
		*error_r = dirp_err("directory: corrupt account record for %s",
				    key);
		return -1;
	}
	return 1;
}

int htg_dir_account_add(struct htg_dir *dir, const struct htg_account *acct,
			const char **error_r)
{
	char key[HTG_USER_MAX], rec[ACCOUNT_REC_MAX];
	struct htg_account a = *acct;
	MDB_txn *txn;
	int ret;

	NORMALISE(acct->user, key, "user");
	if (!dirp_is_address(key)) {
		*error_r = dirp_err("user \"%s\" is not a full mailbox name "
				    "(local-part@domain)", key);
		return 0;
	}
	if (strchr(a.pwhash, '\t') != NULL || strchr(a.pwhash, '\n') != NULL) {
		*error_r = "invalid password hash";
		return 0;
	}
	if (a.created == 0)
		a.created = (int64_t)time(NULL);
	if (a.home[0] != '\0')
		NORMALISE(acct->home, a.home, "node");
	DIRP_PG(dir, dirpg_account_add(dir, &a, error_r));
	account_encode(&a, rec, sizeof(rec));
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, DB_ACCOUNTS, key, NULL, 0, error_r);
	if (ret != 0) {
		mdb_txn_abort(txn);
		if (ret > 0)
			*error_r = dirp_err("account %s already exists", key);
		return ret > 0 ? 0 : -1;
	}
	/* a home node must exist (htg-dir-node.c) */
	if ((ret = dirp_node_exists(dir, txn, a.home, error_r)) != 1) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such node: %s", a.home);
		return ret;
	}
	if (dirp_put(dir, txn, DB_ACCOUNTS, key, rec, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

/* Read, change and write back one account record in one write
   transaction: the shared body of every account update. */
static int account_modify(struct htg_dir *dir, const char *user,
			  void (*edit)(struct htg_account *a, const void *arg),
			  const void *arg, const char *node,
			  const char **error_r)
{
	char key[HTG_USER_MAX], rec[ACCOUNT_REC_MAX];
	struct htg_account a;
	MDB_txn *txn;
	int ret;

	NORMALISE(user, key, "user");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, DB_ACCOUNTS, key, rec, sizeof(rec), error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such account: %s", key);
		return ret;
	}
	if (account_decode(key, rec, &a) < 0) {
		mdb_txn_abort(txn);
		*error_r = dirp_err("directory: corrupt account record for %s",
				    key);
		return -1;
	}
	/* a new home node must exist when the record names it */
	if (node != NULL &&
	    (ret = dirp_node_exists(dir, txn, node, error_r)) != 1) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such node: %s", node);
		return ret;
	}
	edit(&a, arg);
	account_encode(&a, rec, sizeof(rec));
	if (dirp_put(dir, txn, DB_ACCOUNTS, key, rec, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

static void edit_hash(struct htg_account *a, const void *arg)
{
	strcpy(a->pwhash, arg);		/* length checked by the caller */
}

int htg_dir_account_set_hash(struct htg_dir *dir, const char *user,
			     const char *pwhash, const char **error_r)
{
	DIRP_PG(dir, dirpg_account_set_hash(dir, user, pwhash, error_r));
	if (strlen(pwhash) >= HTG_HASH_MAX || strchr(pwhash, '\t') != NULL) {
		*error_r = "invalid password hash";
		return 0;
	}
	return account_modify(dir, user, edit_hash, pwhash, NULL, error_r);
}

struct flag_edit {
	uint32_t set, clear;
};

static void edit_flags(struct htg_account *a, const void *arg)
{
	const struct flag_edit *f = arg;

	a->flags = (a->flags | f->set) & ~f->clear;
}

int htg_dir_account_set_flags(struct htg_dir *dir, const char *user,
			      uint32_t set, uint32_t clear,
			      const char **error_r)
{
	DIRP_PG(dir, dirpg_account_set_flags(dir, user, set, clear, error_r));
	struct flag_edit f = { set, clear };

	return account_modify(dir, user, edit_flags, &f, NULL, error_r);
}

static void edit_home(struct htg_account *a, const void *arg)
{
	strcpy(a->home, arg);		/* normalised, length checked */
}

/* node "" = no home (the account is served wherever it logs in) */
int htg_dir_account_set_home(struct htg_dir *dir, const char *user,
			     const char *node, const char **error_r)
{
	char name[HTG_NODE_MAX] = "";

	if (node == NULL)
		node = "";
	if (*node != '\0')
		NORMALISE(node, name, "node");
	DIRP_PG(dir, dirpg_account_set_home(dir, user, name, error_r));
	return account_modify(dir, user, edit_home, name, name, error_r);
}

/* Delete every record of db whose value (or key prefix) matches. */
static int dir_purge_matching(struct htg_dir *dir, MDB_txn *txn,
			      enum dir_db db, const char *user, int by_prefix,
			      const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t ulen = strlen(user);
	int rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, dir->dbi[db], &cur)) != 0)
		return dirp_fail(error_r, "cursor", rc);
	if (by_prefix) {
		/* grants: keys "user<TAB>flow" sort together */
		k = dirp_val(user);
		op = MDB_SET_RANGE;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		int match;

		op = MDB_NEXT;
		if (by_prefix) {
			if (k.mv_size <= ulen ||
			    memcmp(k.mv_data, user, ulen) != 0 ||
			    ((char *)k.mv_data)[ulen] != '\t')
				break;
			match = 1;
		} else {
			match = v.mv_size == ulen &&
			    memcmp(v.mv_data, user, ulen) == 0;
		}
		if (!match)
			continue;
		if (db == DB_ADDRESSES) {
			char addr[HTG_USER_MAX];

			if (k.mv_size >= sizeof(addr))
				continue;
			memcpy(addr, k.mv_data, k.mv_size);
			addr[k.mv_size] = '\0';
			if (dirp_domain_adjust(dir, txn, addr, -1, error_r) < 0) {
				mdb_cursor_close(cur);
				return -1;
			}
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			mdb_cursor_close(cur);
			return dirp_fail(error_r, "delete", rc);
		}
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "scan", rc);
	return 0;
}

int htg_dir_account_del(struct htg_dir *dir, const char *user,
			const char **error_r)
{
	DIRP_PG(dir, dirpg_account_del(dir, user, error_r));
	char key[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(user, key, "user");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_del(dir, txn, DB_ACCOUNTS, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such account: %s", key);
		return ret;
	}
	if (dir_purge_matching(dir, txn, DB_ADDRESSES, key, 0, error_r) < 0 ||
	    dir_purge_matching(dir, txn, DB_GRANTS, key, 1, error_r) < 0 ||
	    dirp_logical_forget(dir, txn, key, NULL, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

/* --- iteration ------------------------------------------------------------ */

static int account_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct dirp_iter_ctx *c = _c;
	char user[HTG_USER_MAX], rec[ACCOUNT_REC_MAX];
	struct htg_account a;

	if (!dirp_val_str(k, user, sizeof(user)) ||
	    !dirp_val_str(v, rec, sizeof(rec)) ||
	    account_decode(user, rec, &a) < 0)
		return 0;	/* skip a corrupt row rather than stop a listing */
	return c->acb(&a, c->ctx);
}

int htg_dir_account_iter(struct htg_dir *dir, htg_account_cb *cb, void *ctx,
			 const char **error_r)
{
	DIRP_PG(dir, dirpg_account_iter(dir, cb, ctx, error_r));
	struct dirp_iter_ctx c = { .acb = cb, .ctx = ctx };

	return dirp_scan(dir, DB_ACCOUNTS, account_row, &c, error_r);
}
