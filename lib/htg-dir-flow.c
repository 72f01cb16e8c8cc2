/*++
/* NAME
/*	htg-dir-flow 3
/* SUMMARY
/*	flows and grants in the HTG directory
/* DESCRIPTION
/*	A flow (berichtsoort) maps a local part to the address its messages
/*	are delivered to; a grant lets an account use a flow. Lookups run
/*	in their own read transaction, changes in one write transaction.
/*	Listing them is in htg-dir.c with the other iterators.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-dir-private.h"

/* --- flows and grants -------------------------------------------------- */

int htg_dir_flow_get(struct htg_dir *dir, const char *flow,
		     char *deliver_to_r, size_t size, const char **error_r)
{
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(flow, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_FLOWS, key, deliver_to_r, size, error_r);
}

int htg_dir_flow_add(struct htg_dir *dir, const char *flow,
		     const char *deliver_to, const char **error_r)
{
	char key[HTG_USER_MAX], to[HTG_USER_MAX];
	MDB_txn *txn;

	NORMALISE(flow, key, "flow");
	NORMALISE(deliver_to, to, "deliver-to address");
	if (strchr(key, '@') != NULL) {
		*error_r = dirp_err("flow \"%s\": a flow is a local part "
				    "(berichtsoort), without '@'", key);
		return 0;
	}
	if (!dirp_is_address(to)) {
		*error_r = dirp_err("\"%s\" is not a full address", to);
		return 0;
	}
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (dirp_put(dir, txn, DB_FLOWS, key, to, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_flow_del(struct htg_dir *dir, const char *flow,
		     const char **error_r)
{
	char key[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(flow, key, "flow");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_del(dir, txn, DB_FLOWS, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such flow: %s", key);
		return ret;
	}
	return dirp_commit(txn, error_r);
}

static int grant_key(const char *user, const char *flow, char *buf,
		     size_t size)
{
	char u[HTG_USER_MAX], f[HTG_USER_MAX];

	if (!htg_dir_normalise(user, u, sizeof(u)) ||
	    !htg_dir_normalise(flow, f, sizeof(f)))
		return 0;
	return snprintf(buf, size, "%s\t%s", u, f) < (int)size;
}

int htg_dir_grant_check(struct htg_dir *dir, const char *user,
			const char *flow, const char **error_r)
{
	char key[2 * HTG_USER_MAX];

	if (!grant_key(user, flow, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_GRANTS, key, NULL, 0, error_r);
}

int htg_dir_grant_add(struct htg_dir *dir, const char *user,
		      const char *flow, const char **error_r)
{
	char key[2 * HTG_USER_MAX], u[HTG_USER_MAX], f[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(user, u, "user");
	NORMALISE(flow, f, "flow");
	snprintf(key, sizeof(key), "%s\t%s", u, f);
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((ret = dirp_get(dir, txn, DB_ACCOUNTS, u, NULL, 0, error_r)) <= 0 ||
	    (ret = dirp_get(dir, txn, DB_FLOWS, f, NULL, 0, error_r)) <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such account or flow: %s, %s",
					    u, f);
		return ret;
	}
	if (dirp_put(dir, txn, DB_GRANTS, key, "", error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_grant_del(struct htg_dir *dir, const char *user,
		      const char *flow, const char **error_r)
{
	char key[2 * HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	if (!grant_key(user, flow, key, sizeof(key))) {
		*error_r = "invalid user or flow";
		return 0;
	}
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_del(dir, txn, DB_GRANTS, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = "no such grant";
		return ret;
	}
	return dirp_commit(txn, error_r);
}
