/*++
/* NAME
/*	htg-dir-pg-acct 3
/* SUMMARY
/*	accounts and addresses on PostgreSQL
/* DESCRIPTION
/*	The PostgreSQL side of htg-dir(3) and htg-dir-address(3): the
/*	same refusals as the LMDB code (whose public functions check and
/*	normalise before they hand over), each change one statement whose
/*	constraints decide what LMDB's write transaction decided (an
/*	account's addresses, grants and logical address go with it by
/*	ON DELETE CASCADE; a node with accounts homed there stays by its
/*	foreign key).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

#define SQL_UNIQUE	"23505"
#define SQL_FOREIGN	"23503"

/* --- accounts ------------------------------------------------------------- */

/* an account from its columns (ACCOUNT_COLS) */
static int account_cols(const char *const *col, struct htg_account *a)
{
	memset(a, 0, sizeof(*a));
	if (strlen(col[0]) >= sizeof(a->user) ||
	    strlen(col[1]) >= sizeof(a->pwhash) ||
	    strlen(col[6]) >= sizeof(a->home))
		return -1;
	strcpy(a->user, col[0]);
	strcpy(a->pwhash, col[1]);
	strcpy(a->home, col[6]);
	a->flags = (uint32_t)strtoul(col[2], NULL, 10);
	a->retention_days = (uint32_t)strtoul(col[3], NULL, 10);
	a->max_size = strtoull(col[4], NULL, 10);
	a->created = strtoll(col[5], NULL, 10);
	return 0;
}

static int account_row(const PGresult *res, struct htg_account *a)
{
	const char *col[7];

	for (int i = 0; i < 7; i++)
		col[i] = dirpg_val(res, i);
	return account_cols(col, a);
}

int dirpg_account_get(struct htg_dir *dir, const char *user,
		      struct htg_account *acct_r, const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };
	struct dirpg_row row;
	int ret;

	NORMALISE(user, key, "user");
	if ((ret = dirpg_lookup(dir, PGS_ACCOUNT_GET, 1, p, &row,
				error_r)) <= 0)
		return ret;
	if (row.ncols != 7 || account_cols(row.col, acct_r) < 0) {
		*error_r = dirp_err("directory: corrupt account record for %s",
				    key);
		return -1;
	}
	return 1;
}

int dirpg_account_add(struct htg_dir *dir, const struct htg_account *acct,
		      const char **error_r)
{
	char key[HTG_USER_MAX], home[HTG_NODE_MAX] = "", num[4][24];
	const char *p[7] = { key, acct->pwhash, num[0], num[1], num[2],
			     num[3], home };
	const char *state;

	/* checked, created and home set by htg_dir_account_add() */
	NORMALISE(acct->user, key, "user");
	snprintf(home, sizeof(home), "%s", acct->home);
	snprintf(num[0], sizeof(num[0]), "%u", acct->flags);
	snprintf(num[1], sizeof(num[1]), "%u", acct->retention_days);
	snprintf(num[2], sizeof(num[2]), "%llu",
		 (unsigned long long)acct->max_size);
	snprintf(num[3], sizeof(num[3]), "%lld", (long long)acct->created);
	if (dirpg_run_count(dir, PGS_ACCOUNT_ADD, 7, p, &state, error_r) >= 0)
		return 1;
	if (strcmp(state, SQL_UNIQUE) == 0) {
		*error_r = dirp_err("account %s already exists", key);
		return 0;
	}
	if (strcmp(state, SQL_FOREIGN) == 0) {
		*error_r = dirp_err("no such node: %s", home);
		return 0;
	}
	return -1;
}

/* an UPDATE of one account: 1, 0 no such account, -1 */
static int account_update(struct htg_dir *dir, enum dirpg_stmt st,
			  const char *key, const char *const *p, int n,
			  const char **error_r)
{
	const char *state;
	long count = dirpg_run_count(dir, st, n, p, &state, error_r);

	if (count < 0) {
		if (strcmp(state, SQL_FOREIGN) == 0) {
			*error_r = dirp_err("no such node: %s", p[1]);
			return 0;
		}
		return -1;
	}
	if (count == 0) {
		*error_r = dirp_err("no such account: %s", key);
		return 0;
	}
	return 1;
}

int dirpg_account_set_hash(struct htg_dir *dir, const char *user,
			   const char *pwhash, const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[2] = { key, pwhash };

	if (strlen(pwhash) >= HTG_HASH_MAX || strchr(pwhash, '\t') != NULL) {
		*error_r = "invalid password hash";
		return 0;
	}
	NORMALISE(user, key, "user");
	return account_update(dir, PGS_ACCOUNT_HASH, key, p, 2, error_r);
}

int dirpg_account_set_flags(struct htg_dir *dir, const char *user,
			    uint32_t set, uint32_t clear, const char **error_r)
{
	char key[HTG_USER_MAX], s[16], c[16];
	const char *p[3] = { key, s, c };

	NORMALISE(user, key, "user");
	/* integer columns: the flags are small bits, never the sign bit */
	snprintf(s, sizeof(s), "%d", (int)(set & 0x7fffffff));
	snprintf(c, sizeof(c), "%d", (int)(clear & 0x7fffffff));
	return account_update(dir, PGS_ACCOUNT_FLAGS, key, p, 3, error_r);
}

int dirpg_account_set_home(struct htg_dir *dir, const char *user,
			   const char *node, const char **error_r)
{
	char key[HTG_USER_MAX], home[HTG_NODE_MAX] = "";
	const char *p[2] = { key, home };

	NORMALISE(user, key, "user");
	if (node != NULL && *node != '\0')
		NORMALISE(node, home, "node");
	return account_update(dir, PGS_ACCOUNT_HOME, key, p, 2, error_r);
}

int dirpg_account_del(struct htg_dir *dir, const char *user,
		      const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };
	long count;

	NORMALISE(user, key, "user");
	if ((count = dirpg_run_count(dir, PGS_ACCOUNT_DEL, 1, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = dirp_err("no such account: %s", key);
		return 0;
	}
	return 1;
}

struct iter_ctx {
	htg_account_cb *acb;
	void *ctx;
};

static int account_iter_row(const PGresult *res, void *_c)
{
	struct iter_ctx *c = _c;
	struct htg_account a;

	if (account_row(res, &a) < 0)
		return 0;	/* skip, as LMDB skips a corrupt row */
	return c->acb(&a, c->ctx);
}

int dirpg_account_iter(struct htg_dir *dir, htg_account_cb *cb, void *ctx,
		       const char **error_r)
{
	struct iter_ctx c = { .acb = cb, .ctx = ctx };

	return dirpg_scan(dir, PGS_ACCOUNT_ITER, 0, NULL, account_iter_row, &c,
			  error_r);
}

/* --- addresses -------------------------------------------------------------- */

int dirpg_address_owner(struct htg_dir *dir, const char *address,
			char *user_r, size_t size, const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };

	if (!htg_dir_normalise(address, key, sizeof(key)))
		return 0;
	return dirpg_lookup_value(dir, PGS_ADDRESS_OWNER, 1, p, user_r, size,
			       error_r);
}

int dirpg_domain_exists(struct htg_dir *dir, const char *domain,
			const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };

	if (!htg_dir_normalise(domain, key, sizeof(key)))
		return 0;
	return dirpg_lookup_value(dir, PGS_DOMAIN_EXISTS, 1, p, NULL, 0, error_r);
}

int dirpg_address_add(struct htg_dir *dir, const char *address,
		      const char *user, const char **error_r)
{
	char key[HTG_USER_MAX], ukey[HTG_USER_MAX];
	const char *p[3] = { key, ukey, NULL };
	PGresult *res;
	int ret;

	/* checked by htg_dir_address_add() */
	NORMALISE(address, key, "address");
	NORMALISE(user, ukey, "user");
	p[2] = strrchr(key, '@') + 1;
	if ((res = dirpg_run(dir, PGS_ADDRESS_ADD, 3, p, NULL, error_r)) == NULL)
		return -1;
	if (dirpg_pq.ntuples(res) == 0) {
		*error_r = dirp_err("no such account: %s", ukey);
		ret = 0;
	} else if (strcmp(dirpg_val(res, 0), "added") == 0) {
		ret = 1;
	} else {
		/* one rule for duplicates: said, never silently taken */
		const char *owner = dirpg_val(res, 1);

		*error_r = strcmp(owner, ukey) == 0 ?
			dirp_err("address %s already belongs to %s", key, ukey) :
			dirp_err("address %s is owned by %s", key, owner);
		ret = 0;
	}
	dirpg_pq.clear(res);
	return ret;
}

int dirpg_address_del(struct htg_dir *dir, const char *address,
		      const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };
	long count;

	NORMALISE(address, key, "address");
	if ((count = dirpg_run_count(dir, PGS_ADDRESS_DEL, 1, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = dirp_err("no such address: %s", key);
		return 0;
	}
	return 1;
}

int dirpg_address_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		       const char **error_r)
{
	return dirpg_pair_iter(dir, PGS_ADDRESS_ITER, cb, ctx, error_r);
}

int dirpg_logical_set(struct htg_dir *dir, const char *user,
		      const char *address, const char **error_r)
{
	char ukey[HTG_USER_MAX], akey[HTG_USER_MAX];
	const char *p[2] = { ukey, akey };
	long count;

	NORMALISE(user, ukey, "user");
	NORMALISE(address, akey, "address");
	if ((count = dirpg_run_count(dir, PGS_LOGICAL_SET, 2, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = dirp_err("%s is not an address of %s", akey, ukey);
		return 0;
	}
	return 1;
}

int dirpg_logical_get(struct htg_dir *dir, const char *user, char *buf,
		      size_t size, const char **error_r)
{
	char ukey[HTG_USER_MAX];
	const char *p[1] = { ukey };

	NORMALISE(user, ukey, "user");
	return dirpg_lookup_value(dir, PGS_LOGICAL_GET, 1, p, buf, size, error_r);
}

/* --- listing pairs (here and htg-dir-pg-flow.c) --- */

struct pair_ctx {
	htg_pair_cb *pcb;
	void *ctx;
};

static int pair_row(const PGresult *res, void *_c)
{
	struct pair_ctx *c = _c;

	return c->pcb(dirpg_val(res, 0), dirpg_val(res, 1), c->ctx);
}

int dirpg_pair_iter(struct htg_dir *dir, enum dirpg_stmt st, htg_pair_cb *cb,
		    void *ctx, const char **error_r)
{
	struct pair_ctx c = { cb, ctx };

	return dirpg_scan(dir, st, 0, NULL, pair_row, &c, error_r);
}
