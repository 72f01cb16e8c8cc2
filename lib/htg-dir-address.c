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
/* SEE ALSO
/*	htg-dir(3)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(address, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_ADDRESSES, key, user_r, size, error_r);
}

int htg_dir_domain_exists(struct htg_dir *dir, const char *domain,
			  const char **error_r)
{
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
		if (strcmp(owner, ukey) == 0)
			return 1;	/* already so: idempotent */
		*error_r = dirp_err("address %s is owned by %s", key, owner);
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
	char key[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(address, key, "address");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
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
