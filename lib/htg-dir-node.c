/*++
/* NAME
/*	htg-dir-node 3
/* SUMMARY
/*	gateway nodes and the accounts' home nodes in the HTG directory
/* SYNOPSIS
/*	#include "htg-dir.h"
/* DESCRIPTION
/*	More than one machine (issue 15): mail storage stays local to a
/*	node, and every account has a home node where its mailbox lives.
/*	Dovecot on any other node proxies the account's POP3 logins and
/*	LMTP deliveries there (htg-passdb(3)); Postfix on any node accepts
/*	its submissions.
/*
/*	Table "nodes": node name -> address (an IP address or a host name
/*	where the node's Dovecot listens, as Dovecot's proxy field "host"
/*	takes it). A directory made before the table existed reads as one
/*	without nodes. The account's home is the sixth field of its record
/*	(htg-dir-account(3)); "" means no home: the account is served by
/*	whichever node it reaches, as on a single machine.
/*
/*	A node's name is 1-63 characters of [a-z0-9.-_] (compared in lower
/*	case), starting with a letter or digit; its address the same
/*	characters plus ':' (IPv6). Nothing else ever reaches Dovecot's
/*	proxy fields from here.
/*
/*	htg_dir_node_del() refuses while an account is homed on the node:
/*	its mail would have no home (move the accounts first).
/*
/*	htg_dir_node_pick() is the default home of a new account: the node
/*	with the fewest accounts homed there, ties broken by name order;
/*	"" when the directory has no nodes (one machine, no proxying).
/*	It is built on the public lookups only, so it serves every backend.
/* SEE ALSO
/*	htg-dir(3), htgctl(8) node, account home
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"

/* name (normalised): [a-z0-9.-_], first a letter or digit; an address
   also ':' */
static int node_word_ok(const char *s, int address)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
	      (address && *s == ':')))
		return 0;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '-' || *s == '_' ||
		      (address && *s == ':')))
			return 0;
	}
	return 1;
}

#define NODE_WORD(in, buf, what, address) do { \
	NORMALISE((in), (buf), (what)); \
	if (!node_word_ok((buf), (address))) { \
		*error_r = dirp_err("invalid %s \"%s\" (letters, digits, " \
				    ".-_%s)", (what), (buf), \
				    (address) ? ":" : ""); \
		return 0; \
	} \
} while (0)

int dirp_node_exists(struct htg_dir *dir, MDB_txn *txn, const char *node,
		     const char **error_r)
{
	MDB_val k = dirp_val(node), v;
	int rc;

	if (*node == '\0')
		return 1;
	if (dir->dbi_nodes == 0)
		return 0;
	rc = mdb_get(txn, dir->dbi_nodes, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : dirp_fail(error_r, "nodes get", rc);
}

int htg_dir_node_set(struct htg_dir *dir, const char *name,
		     const char *address, const char **error_r)
{
	char key[HTG_NODE_MAX], addr[HTG_NODE_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	NODE_WORD(name, key, "node name", 0);
	NODE_WORD(address, addr, "node address", 1);
	DIRP_PG(dir, dirpg_node_set(dir, key, addr, error_r));
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (dir->dbi_nodes == 0) {	/* only a read-only handle lacks it */
		mdb_txn_abort(txn);
		*error_r = "directory opened without table nodes";
		return -1;
	}
	k = dirp_val(key);
	v = dirp_val(addr);
	if ((rc = mdb_put(txn, dir->dbi_nodes, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "nodes put", rc);
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_node_get(struct htg_dir *dir, const char *name, char *address_r,
		     size_t size, const char **error_r)
{
	DIRP_PG(dir, dirpg_node_get(dir, name, address_r, size, error_r));
	char key[HTG_NODE_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	int rc, ret;

	NORMALISE(name, key, "node name");
	if (dir->dbi_nodes == 0)
		return 0;
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	k = dirp_val(key);
	rc = mdb_get(txn, dir->dbi_nodes, &k, &v);
	ret = rc == 0 ? dirp_val_str(&v, address_r, size) : 0;
	dirp_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "nodes get", rc);
	if (rc == 0 && ret == 0) {
		*error_r = "node address longer than the buffer";
		return -1;
	}
	return ret;
}

/* The home field of an account record: after the fifth tab, or "". */
static int record_home_is(const MDB_val *v, const char *node)
{
	const char *p = v->mv_data, *end = p + v->mv_size;
	size_t len = strlen(node);
	int tabs = 0;

	while (p < end && tabs < 5)
		if (*p++ == '\t')
			tabs++;
	return tabs == 5 && (size_t)(end - p) == len &&
	    memcmp(p, node, len) == 0;
}

/* Accounts homed on node, in txn: their number, the first in *first. */
static long homed_count(struct htg_dir *dir, MDB_txn *txn, const char *node,
			char *first, size_t size, const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	long n = 0;
	int rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, dir->dbi[DB_ACCOUNTS], &cur)) != 0)
		return dirp_fail(error_r, "cursor", rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (!record_home_is(&v, node))
			continue;
		if (n++ == 0 && !dirp_val_str(&k, first, size))
			first[0] = '\0';
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "scan", rc);
	return n;
}

int htg_dir_node_del(struct htg_dir *dir, const char *name,
		     const char **error_r)
{
	DIRP_PG(dir, dirpg_node_del(dir, name, error_r));
	char key[HTG_NODE_MAX], first[HTG_USER_MAX];
	MDB_val k;
	MDB_txn *txn;
	long n;
	int rc;

	NORMALISE(name, key, "node name");
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = dirp_node_exists(dir, txn, key, error_r)) != 1) {
		mdb_txn_abort(txn);
		if (rc == 0)
			*error_r = dirp_err("no such node: %s", key);
		return rc;
	}
	/* in the same transaction: no account can be homed there between
	   the count and the delete */
	if ((n = homed_count(dir, txn, key, first, sizeof(first),
			     error_r)) != 0) {
		mdb_txn_abort(txn);
		if (n < 0)
			return -1;
		*error_r = dirp_err("node %s is the home of %ld account%s "
				    "(%s%s): move them first (htgctl account "
				    "home USER NODE|none)", key, n,
				    n == 1 ? "" : "s", first,
				    n > 1 ? ", ..." : "");
		return 0;
	}
	k = dirp_val(key);
	if ((rc = mdb_del(txn, dir->dbi_nodes, &k, NULL)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "nodes delete", rc);
	}
	return dirp_commit(txn, error_r);
}

static int node_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct dirp_iter_ctx *c = _c;
	char key[HTG_NODE_MAX], val[HTG_NODE_MAX];

	if (!dirp_val_str(k, key, sizeof(key)) ||
	    !dirp_val_str(v, val, sizeof(val)))
		return 0;
	return c->pcb(key, val, c->ctx);
}

int htg_dir_node_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		      const char **error_r)
{
	DIRP_PG(dir, dirpg_node_iter(dir, cb, ctx, error_r));
	struct dirp_iter_ctx c = { .pcb = cb, .ctx = ctx };
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST, stop = 0;

	if (dir->dbi_nodes == 0)
		return 1;
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, dir->dbi_nodes, &cur)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "cursor", rc);
	}
	while (!stop && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		stop = node_row(&k, &v, &c);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "scan", rc);
	return 1;
}

/* --- the default home: fewest accounts, then name order ------------------- */

struct pick_node {
	char name[HTG_NODE_MAX];
	unsigned long homed;
};

struct pick_ctx {
	struct pick_node *nodes;
	size_t count, alloc;
	int oom;
};

static int pick_node_cb(const char *name, const char *address, void *_c)
{
	struct pick_ctx *c = _c;

	(void)address;
	if (c->count == c->alloc) {
		size_t n = c->alloc == 0 ? 8 : 2 * c->alloc;
		struct pick_node *p = realloc(c->nodes, n * sizeof(*p));

		if (p == NULL) {
			c->oom = 1;
			return 1;
		}
		c->nodes = p;
		c->alloc = n;
	}
	snprintf(c->nodes[c->count].name, HTG_NODE_MAX, "%s", name);
	c->nodes[c->count++].homed = 0;
	return 0;
}

static int pick_account_cb(const struct htg_account *a, void *_c)
{
	struct pick_ctx *c = _c;

	for (size_t i = 0; a->home[0] != '\0' && i < c->count; i++) {
		if (strcmp(c->nodes[i].name, a->home) == 0) {
			c->nodes[i].homed++;
			break;
		}
	}
	return 0;
}

int htg_dir_node_pick(struct htg_dir *dir, char *node_r, size_t size,
		      const char **error_r)
{
	struct pick_ctx c = { 0 };
	size_t best = 0;
	int ret = 1;

	if (size > 0)
		node_r[0] = '\0';
	if (htg_dir_node_iter(dir, pick_node_cb, &c, error_r) < 0 ||
	    (!c.oom && c.count > 0 &&
	     htg_dir_account_iter(dir, pick_account_cb, &c, error_r) < 0)) {
		free(c.nodes);
		return -1;
	}
	if (c.oom) {
		free(c.nodes);
		*error_r = "out of memory";
		return -1;
	}
	if (c.count == 0) {
		free(c.nodes);
		return 0;
	}
	/* the least homed; of those, the first name (whatever order a
	   backend lists the nodes in) */
	for (size_t i = 1; i < c.count; i++)
		if (c.nodes[i].homed < c.nodes[best].homed ||
		    (c.nodes[i].homed == c.nodes[best].homed &&
		     strcmp(c.nodes[i].name, c.nodes[best].name) < 0))
			best = i;
	if (strlen(c.nodes[best].name) >= size) {
		*error_r = "node name longer than the buffer";
		ret = -1;
	} else {
		strcpy(node_r, c.nodes[best].name);
	}
	free(c.nodes);
	return ret;
}
