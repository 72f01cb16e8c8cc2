/*++
/* NAME
/*	htg-dir 3
/* SUMMARY
/*	the HTG directory over LMDB
/* DESCRIPTION
/*	Named databases in one LMDB environment:
/* .IP accounts
/*	user -> "flags<TAB>retention_days<TAB>max_size<TAB>created<TAB>hash"
/*	and, for an account with a home node, "<TAB>home" (a record without
/*	it, as every version before issue 15 wrote, has no home; one without
/*	a home is still written so, so that an older reader keeps reading it)
/* .IP addresses
/*	address -> owning user
/* .IP domains
/*	domain -> number of addresses in it (for Postfix domain maps)
/* .IP flows
/*	flow -> deliver-to address
/* .IP grants
/*	"user<TAB>flow" -> ""
/* .IP audit
/*	time_us(8, big endian) pid(4) seq(4) -> tab separated event
/* .IP msgids
/*	SHA-256(account<TAB>Message-ID) -> expiry (unix time, text): the
/*	Message-IDs an account used (HTG-MSGID); hashed because a
/*	Message-ID may be longer than an LMDB key
/* .IP meta
/*	"map_max" -> the most bytes the directory may hold (htg-dir-map(3))
/* .IP logical
/*	user -> the account's logical address (htg-dir-address(3))
/* .IP respond
/*	flow -> "MODE DELAY": the gateway answers for the government side
/*	(htg-dir-flow(3))
/* .IP nodes
/*	node name -> address of the node (htg-dir-node(3))
/* .PP
/*	Text values keep the store readable with mdb_dump. LMDB gives readers
/*	a consistent snapshot per transaction and never blocks them on the
/*	writer; a read transaction per lookup is what makes every change
/*	visible at once without any reload.
/* SEE ALSO
/*	htg-dir-address(3), addresses and domains
/*	htg-dir-flow(3), flows and grants
/*	htg-dir-audit(3), audit events
/*	htg-dir-msgid(3), Message-IDs an account used
/*	htg-dir-retention(3), retention records
/*	htg-dir-lmdb(3), the LMDB access the files share
/*	htg-dir-map(3), the map's size and the maximum
/*	htg-dir-table(3), the expiring tables row by row (htgctl export)
/*	htg-dir-node(3), nodes and home nodes
/*	htg-dir-shared(3), a postgresql:// URI: the directory of several machines
/*	htg-dir-pg(3h), the PostgreSQL side of every function
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "htg-dir-private.h"

/* the map LMDB opens with (never less than what is in use); a writer's
   first transaction sizes it (htg-dir-map.c) */
#define DIR_MAPSIZE	(1024UL * 1024)
/* an account record: four numbers, the hash, the home node */
#define ACCOUNT_REC_MAX	(HTG_HASH_MAX + HTG_NODE_MAX + 128)

const char *const dirp_db_names[DB_COUNT] = {
	"accounts", "addresses", "domains", "flows", "grants", "audit"
};

int htg_dir_normalise(const char *in, char *buf, size_t bufsize)
{
	size_t i;

	if (in == NULL || *in == '\0')
		return 0;
	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i + 1 >= bufsize || c <= 0x20 || c == 0x7f)
			return 0;
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
	}
	buf[i] = '\0';
	return 1;
}

int htg_dir_open(const char *path, int flags, struct htg_dir **dir_r,
		 const char **error_r)
{
	struct htg_dir *dir;
	MDB_txn *txn;
	unsigned int envflags = MDB_NOTLS;
	int rc;

	*dir_r = NULL;
	if (path == NULL || *path == '\0')
		path = getenv(HTG_DIR_ENV);
	if (path == NULL || *path == '\0')
		path = HTG_DIR_DEFAULT;
	if (dirpg_is_uri(path))
		return dirp_open_pg(path, flags, dir_r, error_r);
	if ((flags & HTG_DIR_CREATE) != 0 && mkdir(path, 0770) < 0 &&
	    errno != EEXIST) {
		*error_r = dirp_err("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	dir = calloc(1, sizeof(*dir));
	if (dir == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	dir->rdonly = (flags & HTG_DIR_RDONLY) != 0;
	if ((dir->path = strdup(path)) == NULL) {
		free(dir);
		*error_r = "out of memory";
		return -1;
	}
	dir->lazysync = (flags & HTG_DIR_LAZYSYNC) != 0;
	if ((rc = pthread_rwlock_init(&dir->maplock, NULL)) != 0) {
		free(dir->path);
		free(dir);
		*error_r = dirp_err("directory map lock: %s", strerror(rc));
		return -1;
	}
	if ((rc = mdb_env_create(&dir->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(dir->env, DB_COUNT + 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(dir->env, DIR_MAPSIZE)) != 0 ||
	    (rc = mdb_env_set_maxreaders(dir->env, 1022)) != 0) {
		*error_r = dirp_err("lmdb init: %s", mdb_strerror(rc));
		goto fail;
	}
	if (dir->rdonly)
		envflags |= MDB_RDONLY;
	else	/* the meta page is flushed by dirp_commit(), unless lazy */
		envflags |= MDB_NOMETASYNC;
	if ((rc = mdb_env_open(dir->env, path, envflags, 0660)) != 0) {
		*error_r = dirp_err("open directory %s: %s", path,
				    mdb_strerror(rc));
		goto fail;
	}
	(void)mdb_env_set_userctx(dir->env, dir);
	(void)pthread_rwlock_rdlock(&dir->maplock);	/* dirp_abort() */
	rc = mdb_txn_begin(dir->env, NULL, dir->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* another process grew the map since our mdb_env_open: adopt
		   its size (0: the size in use) and begin again */
		rc = mdb_env_set_mapsize(dir->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(dir->env, NULL,
					   dir->rdonly ? MDB_RDONLY : 0, &txn);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&dir->maplock);
		*error_r = dirp_err("open directory %s: %s", path,
				    mdb_strerror(rc));
		goto fail;
	}
	dirp_depth++;		/* as dirp_rtxn/dirp_wtxn count it */
	for (int i = 0; i < DB_COUNT; i++) {
		/* a writer creates tables a newer version added */
		unsigned int dflags = dir->rdonly ? 0 : MDB_CREATE;

		rc = mdb_dbi_open(txn, dirp_db_names[i], dflags, &dir->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			*error_r = dirp_err("directory %s: table %s: %s%s",
					    path, dirp_db_names[i],
					    mdb_strerror(rc),
					    rc == MDB_NOTFOUND ?
					    " (not initialised: run htgctl)" : "");
			goto fail;
		}
	}
	/* tables a newer version added, each read as empty by a reader of
	   a directory made before it existed: the maximum (htg-dir-map.c),
	   logical addresses (htg-dir-address.c), responding flows
	   (htg-dir-flow.c), nodes (htg-dir-node.c) */
	{
		const struct { const char *name; MDB_dbi *dbi; } opt[] = {
			{ "meta", &dir->dbi_meta },
			{ "logical", &dir->dbi_logical },
			{ "respond", &dir->dbi_respond },
			{ "nodes", &dir->dbi_nodes },
			/* opened here so that lookups need no write
			   transaction (mdb_dbi_open may not run in two
			   transactions of a process at once) */
			{ "msgids", &dir->dbi_msgids },
			{ "deliveries", &dir->dbi_deliveries },
		};

		for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
			rc = mdb_dbi_open(txn, opt[i].name,
					  dir->rdonly ? 0 : MDB_CREATE,
					  opt[i].dbi);
			if (rc == MDB_NOTFOUND && dir->rdonly) {
				*opt[i].dbi = 0;
			} else if (rc != 0) {
				mdb_txn_abort(txn);
				*error_r = dirp_err("directory %s: table %s: %s",
						    path, opt[i].name,
						    mdb_strerror(rc));
				goto fail;
			}
		}
	}
	rc = mdb_txn_commit(txn);
	dirp_depth--;
	pthread_rwlock_unlock(&dir->maplock);
	if (rc != 0) {
		*error_r = dirp_err("open directory %s: %s", path,
				    mdb_strerror(rc));
		goto fail;
	}
	*dir_r = dir;
	return 1;
fail:
	if (dir->env != NULL)
		mdb_env_close(dir->env);
	pthread_rwlock_destroy(&dir->maplock);
	free(dir->path);
	free(dir);
	return -1;
}

void htg_dir_close(struct htg_dir **_dir)
{
	struct htg_dir *dir = *_dir;

	if (dir == NULL)
		return;
	if (dirp_cur == dir)
		dirp_cur = NULL;
	if (dir->pg != NULL) {
		dirpg_close(dir);
		free(dir->state_path);
		free(dir->path);
		free(dir);
		*_dir = NULL;
		return;
	}
	mdb_env_close(dir->env);
	pthread_rwlock_destroy(&dir->maplock);
	free(dir->path);
	free(dir);
	*_dir = NULL;
}

const char *htg_dir_path(const struct htg_dir *dir)
{
	return dir->path;
}

/* --- accounts ---------------------------------------------------------- */

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

static int pair_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct dirp_iter_ctx *c = _c;
	char key[2 * HTG_USER_MAX], val[HTG_USER_MAX], *tab;

	if (!dirp_val_str(k, key, sizeof(key)) ||
	    !dirp_val_str(v, val, sizeof(val)))
		return 0;
	if (c->grants) {
		if ((tab = strchr(key, '\t')) == NULL)
			return 0;
		*tab = '\0';
		return c->pcb(key, tab + 1, c->ctx);
	}
	return c->pcb(key, val, c->ctx);
}

int htg_dir_account_iter(struct htg_dir *dir, htg_account_cb *cb, void *ctx,
			 const char **error_r)
{
	DIRP_PG(dir, dirpg_account_iter(dir, cb, ctx, error_r));
	struct dirp_iter_ctx c = { .acb = cb, .ctx = ctx };

	return dirp_scan(dir, DB_ACCOUNTS, account_row, &c, error_r);
}

int htg_dir_address_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
			 const char **error_r)
{
	DIRP_PG(dir, dirpg_address_iter(dir, cb, ctx, error_r));
	struct dirp_iter_ctx c = { .pcb = cb, .ctx = ctx };

	return dirp_scan(dir, DB_ADDRESSES, pair_row, &c, error_r);
}

int htg_dir_flow_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		      const char **error_r)
{
	DIRP_PG(dir, dirpg_flow_iter(dir, cb, ctx, error_r));
	struct dirp_iter_ctx c = { .pcb = cb, .ctx = ctx };

	return dirp_scan(dir, DB_FLOWS, pair_row, &c, error_r);
}

int htg_dir_grant_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		       const char **error_r)
{
	DIRP_PG(dir, dirpg_grant_iter(dir, cb, ctx, error_r));
	struct dirp_iter_ctx c = { .pcb = cb, .ctx = ctx, .grants = 1 };

	return dirp_scan(dir, DB_GRANTS, pair_row, &c, error_r);
}
