/*++
/* NAME
/*	htg-dir 3
/* SUMMARY
/*	the HTG directory over LMDB
/* DESCRIPTION
/*	Named databases in one LMDB environment:
/* .IP accounts
/*	user -> "flags<TAB>retention_days<TAB>max_size<TAB>created<TAB>hash"
/*	and, for an account with a home node, "<TAB>home" (htg-dir-account(3))
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
/*	htg-dir-account(3), accounts
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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "htg-dir-private.h"

/* the map LMDB opens with (never less than what is in use); a writer's
   first transaction sizes it (htg-dir-map.c) */
#define DIR_MAPSIZE	(1024UL * 1024)

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

/* --- iteration (the accounts': htg-dir-account.c) ----------------------- */

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
