/*++
/* NAME
/*	test-dir-node 1
/* SUMMARY
/*	unit tests of nodes and home nodes in the LMDB directory
/* DESCRIPTION
/*	htg-dir-node(3): the node table (accepted and refused names and
/*	addresses, delete refused while accounts are homed there), the
/*	account's home field (set, cleared, refused for an unknown node),
/*	records written before the field existed, the default home.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>

#include "htg-dir.h"
#include "htg-test.h"

static const char *tmpdir;

static struct htg_account account(const char *user, const char *home)
{
	struct htg_account a;

	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "%s", user);
	snprintf(a.pwhash, sizeof(a.pwhash), "{SHA512-CRYPT}$6$x$y");
	snprintf(a.home, sizeof(a.home), "%s", home);
	a.retention_days = HTG_DEFAULT_RETENTION_DAYS;
	a.max_size = HTG_DEFAULT_MAX_SIZE;
	return a;
}

/* The account record as the directory stores it (raw LMDB). */
static void raw_account(const char *user, const char *rec, char *got,
			size_t size)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(user), (void *)user }, v;

	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
	    mdb_env_set_mapsize(env, 64UL << 20) != 0 ||
	    mdb_env_open(env, tmpdir, 0, 0660) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "accounts", 0, &dbi) != 0) {
		printf("raw lmdb open failed\n");
		exit(1);
	}
	if (rec != NULL) {
		v.mv_size = strlen(rec);
		v.mv_data = (void *)rec;
		if (mdb_put(txn, dbi, &k, &v, 0) != 0)
			exit(1);
	}
	if (got != NULL) {
		got[0] = '\0';
		if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size < size) {
			memcpy(got, v.mv_data, v.mv_size);
			got[v.mv_size] = '\0';
		}
	}
	if (mdb_txn_commit(txn) != 0)
		exit(1);
	mdb_env_close(env);
}

static int count_cb(const char *key, const char *value, void *ctx)
{
	(void)key;
	(void)value;
	++*(int *)ctx;
	return 0;
}

static void test_nodes(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, HTG_DIR_CREATE);
	char addr[HTG_NODE_MAX];
	const char *error;
	int n = 0;

	test_begin("nodes: set, get, iterate, refused names and addresses");
	test_assert(htg_dir_node_get(dir, "gw1", addr, sizeof(addr), &error) == 0);
	test_assert(htg_dir_node_set(dir, "GW1", "127.0.1.1", &error) == 1);
	test_assert(htg_dir_node_get(dir, "gw1", addr, sizeof(addr), &error) == 1 &&
		    strcmp(addr, "127.0.1.1") == 0);
	/* set changes an existing node */
	test_assert(htg_dir_node_set(dir, "gw1", "gw1.example.nl", &error) == 1);
	test_assert(htg_dir_node_get(dir, "gw1", addr, sizeof(addr), &error) == 1 &&
		    strcmp(addr, "gw1.example.nl") == 0);
	test_assert(htg_dir_node_set(dir, "gw2", "fd00::2", &error) == 1);
	/* nothing but names and addresses reaches Dovecot's proxy fields */
	test_assert(htg_dir_node_set(dir, "gw 3", "127.0.1.3", &error) == 0);
	test_assert(htg_dir_node_set(dir, "gw3", "127.0.1.3\tport=1", &error) == 0);
	test_assert(htg_dir_node_set(dir, "gw3", "a;b", &error) == 0);
	test_assert(htg_dir_node_set(dir, "gw3", "", &error) == 0);
	test_assert(htg_dir_node_set(dir, "-gw3", "127.0.1.3", &error) == 0);
	test_assert(htg_dir_node_set(dir, "gw:3", "127.0.1.3", &error) == 0);
	test_assert(htg_dir_node_set(dir, "gw3", "host=evil", &error) == 0);
	test_assert(htg_dir_node_set(dir, "0123456789012345678901234567890123"
				     "456789012345678901234567890123456789",
				     "127.0.1.3", &error) == 0);
	test_assert(htg_dir_node_iter(dir, count_cb, &n, &error) == 1 && n == 2);
	htg_dir_close(&dir);
	test_end();
}

static void test_home(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, HTG_DIR_CREATE);
	struct htg_account a = account("a@bedrijf.nl", "gw2"), got;
	char rec[512];
	const char *error;

	test_begin("home: add, set, clear, refused unknown node");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_get(dir, "a@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw2") == 0 &&
		    strcmp(got.pwhash, "{SHA512-CRYPT}$6$x$y") == 0);
	/* an account without a password (empty hash) keeps its home */
	a = account("nopw@bedrijf.nl", "gw2");
	a.pwhash[0] = '\0';
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_get(dir, "nopw@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw2") == 0 && got.pwhash[0] == '\0');
	test_assert(htg_dir_account_del(dir, "nopw@bedrijf.nl", &error) == 1);
	a = account("b@bedrijf.nl", "nosuch");
	test_assert(htg_dir_account_add(dir, &a, &error) == 0 &&
		    strstr(error, "no such node") != NULL);
	test_assert(htg_dir_account_get(dir, "b@bedrijf.nl", &got, &error) == 0);
	a = account("b@bedrijf.nl", "GW1");	/* names compare in lower case */
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_get(dir, "b@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw1") == 0);
	test_assert(htg_dir_account_set_home(dir, "a@bedrijf.nl", "gw1", &error) == 1);
	test_assert(htg_dir_account_get(dir, "a@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw1") == 0);
	test_assert(htg_dir_account_set_home(dir, "a@bedrijf.nl", "nosuch", &error) == 0);
	test_assert(htg_dir_account_set_home(dir, "a@bedrijf.nl", "gw 1", &error) == 0);
	test_assert(htg_dir_account_set_home(dir, "x@bedrijf.nl", "gw1", &error) == 0);
	test_assert(htg_dir_account_get(dir, "a@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw1") == 0);
	/* other changes keep the home */
	test_assert(htg_dir_account_set_flags(dir, "a@bedrijf.nl",
					      HTG_ACCOUNT_DISABLED, 0, &error) == 1);
	test_assert(htg_dir_account_set_hash(dir, "a@bedrijf.nl", "{X}new",
					     &error) == 1);
	test_assert(htg_dir_account_get(dir, "a@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw1") == 0 &&
		    strcmp(got.pwhash, "{X}new") == 0 &&
		    got.flags == HTG_ACCOUNT_DISABLED);
	/* cleared: the record is the five fields an older reader knows */
	test_assert(htg_dir_account_set_home(dir, "a@bedrijf.nl", "", &error) == 1);
	test_assert(htg_dir_account_get(dir, "a@bedrijf.nl", &got, &error) == 1 &&
		    got.home[0] == '\0');
	htg_dir_close(&dir);
	raw_account("a@bedrijf.nl", NULL, rec, sizeof(rec));
	test_assert(strstr(rec, "{X}new") != NULL &&
		    strchr(strstr(rec, "{X}new"), '\t') == NULL);
	test_end();
}

static void test_old_record(void)
{
	struct htg_dir *dir;
	struct htg_account got;
	const char *error;

	test_begin("home: records written before it existed");
	/* as every version before issue 15 wrote it: five fields */
	raw_account("old@bedrijf.nl",
		    "0\t30\t52428800\t1700000000\t{SHA512-CRYPT}$6$old$h",
		    NULL, 0);
	dir = test_open_dir(tmpdir, 0);
	test_assert(htg_dir_account_get(dir, "old@bedrijf.nl", &got, &error) == 1 &&
		    got.home[0] == '\0' && got.created == 1700000000 &&
		    strcmp(got.pwhash, "{SHA512-CRYPT}$6$old$h") == 0);
	test_assert(htg_dir_account_set_home(dir, "old@bedrijf.nl", "gw2",
					     &error) == 1);
	test_assert(htg_dir_account_get(dir, "old@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.home, "gw2") == 0 && got.created == 1700000000 &&
		    strcmp(got.pwhash, "{SHA512-CRYPT}$6$old$h") == 0);
	htg_dir_close(&dir);
	/* a sixth field that does not fit is a corrupt record, not a cut */
	raw_account("bad@bedrijf.nl",
		    "0\t30\t52428800\t1700000000\t{X}y\t0123456789012345678901"
		    "23456789012345678901234567890123456789012345", NULL, 0);
	dir = test_open_dir(tmpdir, 0);
	test_assert(htg_dir_account_get(dir, "bad@bedrijf.nl", &got, &error) == -1);
	htg_dir_close(&dir);
	raw_account("bad@bedrijf.nl", "0\t30\t52428800\t1700000000\t{X}y", NULL, 0);
	test_end();
}

static void test_node_del(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	char addr[HTG_NODE_MAX];
	const char *error;

	test_begin("nodes: delete refused while accounts are homed there");
	/* gw1: b@; gw2: old@ */
	test_assert(htg_dir_node_del(dir, "gw1", &error) == 0 &&
		    strstr(error, "b@bedrijf.nl") != NULL);
	test_assert(htg_dir_node_del(dir, "gw2", &error) == 0 &&
		    strstr(error, "home of 1 account") != NULL);
	test_assert(htg_dir_node_del(dir, "nosuch", &error) == 0);
	test_assert(htg_dir_node_get(dir, "gw1", addr, sizeof(addr), &error) == 1);
	test_assert(htg_dir_account_set_home(dir, "b@bedrijf.nl", "", &error) == 1);
	test_assert(htg_dir_node_del(dir, "gw1", &error) == 1);
	test_assert(htg_dir_node_get(dir, "gw1", addr, sizeof(addr), &error) == 0);
	/* an account deleted takes its home with it */
	test_assert(htg_dir_account_del(dir, "old@bedrijf.nl", &error) == 1);
	test_assert(htg_dir_node_del(dir, "gw2", &error) == 1);
	htg_dir_close(&dir);
	test_end();
}

static void test_pick(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_account a;
	char node[HTG_NODE_MAX];
	const char *error;

	test_begin("nodes: the default home");
	test_assert(htg_dir_node_pick(dir, node, sizeof(node), &error) == 0 &&
		    node[0] == '\0');
	test_assert(htg_dir_node_set(dir, "n2", "127.0.1.2", &error) == 1);
	test_assert(htg_dir_node_set(dir, "n1", "127.0.1.1", &error) == 1);
	/* tie: name order */
	test_assert(htg_dir_node_pick(dir, node, sizeof(node), &error) == 1 &&
		    strcmp(node, "n1") == 0);
	a = account("p1@bedrijf.nl", "n1");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_node_pick(dir, node, sizeof(node), &error) == 1 &&
		    strcmp(node, "n2") == 0);
	a = account("p2@bedrijf.nl", "n2");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	a = account("p3@bedrijf.nl", "n2");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_node_pick(dir, node, sizeof(node), &error) == 1 &&
		    strcmp(node, "n1") == 0);
	/* accounts without a home count for no node */
	test_assert(htg_dir_node_pick(dir, node, 2, &error) == -1);
	htg_dir_close(&dir);
	test_end();
}

static void test_rdonly_old_directory(void)
{
	struct htg_dir *dir;
	char addr[HTG_NODE_MAX];
	const char *error;
	int n = 0;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	test_begin("nodes: a directory without the table reads as no nodes");
	/* drop the table, as a directory made before issue 15 lacks it */
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
	    mdb_env_set_mapsize(env, 64UL << 20) != 0 ||
	    mdb_env_open(env, tmpdir, 0, 0660) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "nodes", 0, &dbi) != 0 ||
	    mdb_drop(txn, dbi, 1) != 0 || mdb_txn_commit(txn) != 0)
		exit(1);
	mdb_env_close(env);
	dir = test_open_dir(tmpdir, HTG_DIR_RDONLY);
	test_assert(htg_dir_node_get(dir, "n1", addr, sizeof(addr), &error) == 0);
	test_assert(htg_dir_node_iter(dir, count_cb, &n, &error) == 1 && n == 0);
	test_assert(htg_dir_node_pick(dir, addr, sizeof(addr), &error) == 0);
	htg_dir_close(&dir);
	test_end();
}

int main(void)
{
	tmpdir = test_tmpdir("dir-node");
	test_nodes();
	test_home();
	test_old_record();
	test_node_del();
	test_pick();
	test_rdonly_old_directory();
	return test_exit();
}
