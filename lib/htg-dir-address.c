/*++
/* NAME
/*	htg-dir-address 3
/* SUMMARY
/*	addresses and their domains in the HTG directory
/* DESCRIPTION
/*	Table "addresses": address -> owning user (an account's real and
/*	logical addresses, htgctl address add). Table "domains": domain ->
/*	number of addresses in it, kept in the same write transaction as
/*	every address change, so that Postfix's domain maps (socketmap,
/*	htg-policyd) answer from one key.
/*
/*	Table "logical": user -> the account's logical address (002
/*	footnote 2: where government answers go; htgctl address add
/*	--logical), one per account, forgotten with the address or the
/*	account. htg_dir_translate() maps a real address of an account
/*	with HTG_ACCOUNT_TRANSLATE to that logical address: Postfix's
/*	smtp_generic_maps and lmtp_generic_maps ask it (socketmap
/*	"translate"), so the government side sees only the logical
/*	address while the queue file, the milter and the DSNs keep the
/*	real one (issue 16).
/* SEE ALSO
/*	htg-dir(3)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htg-dir-private.h"

/* Adjust the per-domain address count; removes the key at zero. */
int dirp_domain_adjust(struct htg_dir *dir, MDB_txn *txn, const char *address,
		       int delta, const char **error_r)
{
	const char *domain = strchr(address, '@') + 1;
	char buf[32];
	long n = 0;
	int ret;

	ret = dirp_get(dir, txn, DB_DOMAINS, domain, buf, sizeof(buf), error_r);
	if (ret < 0)
		return -1;
	if (ret > 0)
		n = strtol(buf, NULL, 10);
	n += delta;
	if (n <= 0)
		return dirp_del(dir, txn, DB_DOMAINS, domain, error_r) < 0 ?
		    -1 : 0;
	snprintf(buf, sizeof(buf), "%ld", n);
	return dirp_put(dir, txn, DB_DOMAINS, domain, buf, error_r);
}

int htg_dir_address_owner(struct htg_dir *dir, const char *address,
			  char *user_r, size_t size, const char **error_r)
{
	DIRP_PG(dir, dirpg_address_owner(dir, address, user_r, size, error_r));
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(address, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_ADDRESSES, key, user_r, size, error_r);
}

int htg_dir_domain_exists(struct htg_dir *dir, const char *domain,
			  const char **error_r)
{
	DIRP_PG(dir, dirpg_domain_exists(dir, domain, error_r));
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(domain, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_DOMAINS, key, NULL, 0, error_r);
}

int htg_dir_address_add(struct htg_dir *dir, const char *address,
			const char *user, const char **error_r)
{
	char key[HTG_USER_MAX], ukey[HTG_USER_MAX], owner[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(address, key, "address");
	NORMALISE(user, ukey, "user");
	if (!dirp_is_address(key)) {
		*error_r = dirp_err("\"%s\" is not a full address "
				    "(local-part@domain)", key);
		return 0;
	}
	DIRP_PG(dir, dirpg_address_add(dir, key, ukey, error_r));
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, DB_ACCOUNTS, ukey, NULL, 0, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such account: %s", ukey);
		return ret;
	}
	ret = dirp_get(dir, txn, DB_ADDRESSES, key, owner, sizeof(owner),
		       error_r);
	if (ret != 0) {
		mdb_txn_abort(txn);
		if (ret < 0)
			return -1;
		/* one rule for duplicates: said, never silently taken */
		*error_r = strcmp(owner, ukey) == 0 ?
			dirp_err("address %s already belongs to %s", key, ukey) :
			dirp_err("address %s is owned by %s", key, owner);
		return 0;
	}
	if (dirp_put(dir, txn, DB_ADDRESSES, key, ukey, error_r) < 0 ||
	    dirp_domain_adjust(dir, txn, key, +1, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_address_del(struct htg_dir *dir, const char *address,
			const char **error_r)
{
	DIRP_PG(dir, dirpg_address_del(dir, address, error_r));
	char key[HTG_USER_MAX], owner[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(address, key, "address");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	/* the owner's logical address record goes with the address */
	if (dirp_get(dir, txn, DB_ADDRESSES, key, owner, sizeof(owner),
		     error_r) == 1 &&
	    dirp_logical_forget(dir, txn, owner, key, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	ret = dirp_del(dir, txn, DB_ADDRESSES, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such address: %s", key);
		return ret;
	}
	if (dirp_is_address(key) &&
	    dirp_domain_adjust(dir, txn, key, -1, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

/* --- logical addresses ----------------------------------------------------- */

/* Forget user's logical address record, in the caller's write txn; with
   address given, only when it is that address. 0 / -1. */
int dirp_logical_forget(struct htg_dir *dir, MDB_txn *txn, const char *user,
			const char *address, const char **error_r)
{
	char cur[HTG_USER_MAX];
	MDB_val k = dirp_val(user), v;
	int rc;

	if (dir->dbi_logical == 0)
		return 0;
	rc = mdb_get(txn, dir->dbi_logical, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dirp_fail(error_r, "logical get", rc);
	if (address != NULL &&
	    (!dirp_val_str(&v, cur, sizeof(cur)) || strcmp(cur, address) != 0))
		return 0;
	rc = mdb_del(txn, dir->dbi_logical, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 :
		dirp_fail(error_r, "logical delete", rc);
}

int htg_dir_logical_set(struct htg_dir *dir, const char *user,
			const char *address, const char **error_r)
{
	DIRP_PG(dir, dirpg_logical_set(dir, user, address, error_r));
	char ukey[HTG_USER_MAX], akey[HTG_USER_MAX], owner[HTG_USER_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	int ret, rc;

	NORMALISE(user, ukey, "user");
	NORMALISE(address, akey, "address");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, DB_ADDRESSES, akey, owner, sizeof(owner),
		       error_r);
	if (ret <= 0 || strcmp(owner, ukey) != 0) {
		mdb_txn_abort(txn);
		if (ret >= 0)
			*error_r = dirp_err("%s is not an address of %s", akey,
					    ukey);
		return ret < 0 ? -1 : 0;
	}
	k = dirp_val(ukey);
	v = dirp_val(akey);
	if (dir->dbi_logical == 0) {	/* only a read-only handle lacks it */
		mdb_txn_abort(txn);
		*error_r = "directory opened without table logical";
		return -1;
	}
	if ((rc = mdb_put(txn, dir->dbi_logical, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "logical put", rc);
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_logical_get(struct htg_dir *dir, const char *user, char *buf,
			size_t size, const char **error_r)
{
	DIRP_PG(dir, dirpg_logical_get(dir, user, buf, size, error_r));
	char ukey[HTG_USER_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	int rc, ret;

	NORMALISE(user, ukey, "user");
	if (dir->dbi_logical == 0)
		return 0;
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	k = dirp_val(ukey);
	rc = mdb_get(txn, dir->dbi_logical, &k, &v);
	ret = rc == 0 ? dirp_val_str(&v, buf, size) : 0;
	dirp_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "logical get", rc);
	return ret;
}

/* 002 footnote 2, "and vice versa": a real address of an account that
   translates leaves the gateway as the account's logical address. */
int htg_dir_translate(struct htg_dir *dir, const char *address, char *buf,
		      size_t size, const char **error_r)
{
	char owner[HTG_USER_MAX], logical[HTG_USER_MAX];
	struct htg_account a;
	int ret;

	if ((ret = htg_dir_address_owner(dir, address, owner, sizeof(owner),
					 error_r)) != 1)
		return ret;
	if ((ret = htg_dir_account_get(dir, owner, &a, error_r)) != 1)
		return ret;
	if ((a.flags & HTG_ACCOUNT_TRANSLATE) == 0)
		return 0;
	if ((ret = htg_dir_logical_get(dir, owner, logical, sizeof(logical),
				       error_r)) != 1)
		return ret;
	if (strcasecmp(logical, address) == 0)
		return 0;	/* already the logical address */
	if (strlen(logical) >= size) {
		*error_r = "logical address too long";
		return -1;
	}
	memcpy(buf, logical, strlen(logical) + 1);
	return 1;
}
