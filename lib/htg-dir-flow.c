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
/*
/*	Table "respond": flow -> "MODE DELAY" for a flow the gateway answers
/*	for the government side (htgctl flow respond; issue 16): every
/*	message delivered to it gets a simulated answer (htg-respond(8)).
/*	Deleting the flow forgets it.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"

/* --- flows and grants -------------------------------------------------- */

int htg_dir_flow_get(struct htg_dir *dir, const char *flow,
		     char *deliver_to_r, size_t size, const char **error_r)
{
	DIRP_PG(dir, dirpg_flow_get(dir, flow, deliver_to_r, size, error_r));
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(flow, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_FLOWS, key, deliver_to_r, size, error_r);
}

/* add (replace 0) refuses an existing flow; set (replace 1) changes the
   target of an existing one and refuses a missing one */
static int flow_put(struct htg_dir *dir, const char *flow,
		    const char *deliver_to, int replace, const char **error_r)
{
	char key[HTG_USER_MAX], to[HTG_USER_MAX], cur[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

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
	DIRP_PG(dir, replace ? dirpg_flow_set(dir, key, to, error_r) :
		dirpg_flow_add(dir, key, to, error_r));
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, DB_FLOWS, key, cur, sizeof(cur), error_r);
	if (ret < 0 || (ret == 1) != replace) {
		mdb_txn_abort(txn);
		if (ret == 1)
			*error_r = dirp_err("flow %s exists (delivers to %s); "
					    "htgctl flow set changes its "
					    "target", key, cur);
		else if (ret == 0)
			*error_r = dirp_err("no such flow: %s", key);
		return ret < 0 ? -1 : 0;
	}
	if (dirp_put(dir, txn, DB_FLOWS, key, to, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_flow_add(struct htg_dir *dir, const char *flow,
		     const char *deliver_to, const char **error_r)
{
	return flow_put(dir, flow, deliver_to, 0, error_r);
}

int htg_dir_flow_set(struct htg_dir *dir, const char *flow,
		     const char *deliver_to, const char **error_r)
{
	return flow_put(dir, flow, deliver_to, 1, error_r);
}

int htg_dir_flow_del(struct htg_dir *dir, const char *flow,
		     const char **error_r)
{
	DIRP_PG(dir, dirpg_flow_del(dir, flow, error_r));
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
	if (dir->dbi_respond != 0) {
		MDB_val k = dirp_val(key);
		int rc = mdb_del(txn, dir->dbi_respond, &k, NULL);

		if (rc != 0 && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return dirp_fail(error_r, "respond delete", rc);
		}
	}
	return dirp_commit(txn, error_r);
}

/* --- responding flows ---------------------------------------------------- */

static const char *const respond_modes[] = { "ack", "echo", "refuse" };

int htg_dir_respond_mode_ok(const char *mode)
{
	for (size_t i = 0; i < sizeof(respond_modes) / sizeof(*respond_modes);
	     i++)
		if (strcmp(mode, respond_modes[i]) == 0)
			return 1;
	return 0;
}

int htg_dir_flow_respond_set(struct htg_dir *dir, const char *flow,
			     const char *mode, unsigned int delay,
			     const char **error_r)
{
	DIRP_PG(dir, dirpg_flow_respond_set(dir, flow, mode, delay, error_r));
	char key[HTG_USER_MAX], val[64];
	MDB_txn *txn;
	MDB_val k, v;
	int ret, rc;

	NORMALISE(flow, key, "flow");
	if (strcmp(mode, "off") != 0 && !htg_dir_respond_mode_ok(mode)) {
		*error_r = dirp_err("unknown respond mode: %s", mode);
		return 0;
	}
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dirp_get(dir, txn, DB_FLOWS, key, val, sizeof(val), error_r);
	if (ret <= 0 || dir->dbi_respond == 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dirp_err("no such flow: %s", key);
		else if (ret > 0)
			*error_r = "directory opened without table respond";
		return ret < 0 || ret > 0 ? -1 : 0;
	}
	k = dirp_val(key);
	if (strcmp(mode, "off") == 0) {
		rc = mdb_del(txn, dir->dbi_respond, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	} else {
		snprintf(val, sizeof(val), "%s %u", mode, delay);
		v = dirp_val(val);
		rc = mdb_put(txn, dir->dbi_respond, &k, &v, 0);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "respond put", rc);
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_flow_respond_get(struct htg_dir *dir, const char *flow,
			     char *mode_r, size_t size, unsigned int *delay_r,
			     const char **error_r)
{
	DIRP_PG(dir, dirpg_flow_respond_get(dir, flow, mode_r, size, delay_r, error_r));
	char key[HTG_USER_MAX], val[64], *sp;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, ret = 0;

	if (!htg_dir_normalise(flow, key, sizeof(key)) ||
	    dir->dbi_respond == 0)
		return 0;
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	k = dirp_val(key);
	rc = mdb_get(txn, dir->dbi_respond, &k, &v);
	if (rc == 0 && dirp_val_str(&v, val, sizeof(val)) &&
	    (sp = strchr(val, ' ')) != NULL) {
		*sp = '\0';
		if (htg_dir_respond_mode_ok(val) && strlen(val) < size) {
			memcpy(mode_r, val, strlen(val) + 1);
			*delay_r = (unsigned int)strtoul(sp + 1, NULL, 10);
			ret = 1;
		}
	}
	dirp_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "respond get", rc);
	return ret;
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
	DIRP_PG(dir, dirpg_grant_check(dir, user, flow, error_r));
	char key[2 * HTG_USER_MAX];

	if (!grant_key(user, flow, key, sizeof(key)))
		return 0;
	return dirp_lookup(dir, DB_GRANTS, key, NULL, 0, error_r);
}

int htg_dir_grant_add(struct htg_dir *dir, const char *user,
		      const char *flow, const char **error_r)
{
	DIRP_PG(dir, dirpg_grant_add(dir, user, flow, error_r));
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
	if ((ret = dirp_get(dir, txn, DB_GRANTS, key, NULL, 0, error_r)) != 0) {
		mdb_txn_abort(txn);
		if (ret > 0)
			*error_r = dirp_err("%s already has flow %s", u, f);
		return ret > 0 ? 0 : -1;
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
	DIRP_PG(dir, dirpg_grant_del(dir, user, flow, error_r));
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
