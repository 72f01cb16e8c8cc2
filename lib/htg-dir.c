/*++
/* NAME
/*	htg-dir 3
/* SUMMARY
/*	the HTG directory over LMDB
/* DESCRIPTION
/*	Named databases in one LMDB environment:
/* .IP accounts
/*	user -> "flags<TAB>retention_days<TAB>max_size<TAB>created<TAB>hash"
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
/* .PP
/*	Text values keep the store readable with mdb_dump. LMDB gives readers
/*	a consistent snapshot per transaction and never blocks them on the
/*	writer; a read transaction per lookup is what makes every change
/*	visible at once without any reload.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "htg-dir.h"

#define DIR_MAPSIZE	(1024UL * 1024 * 1024)	/* sparse; grows on demand */

enum dir_db {
	DB_ACCOUNTS, DB_ADDRESSES, DB_DOMAINS, DB_FLOWS, DB_GRANTS, DB_AUDIT,
	DB_COUNT
};

static const char *const dir_db_names[DB_COUNT] = {
	"accounts", "addresses", "domains", "flows", "grants", "audit"
};

struct htg_dir {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	int rdonly;
	uint32_t audit_seq;
};

static _Thread_local char dir_errbuf[512];

static const char *dir_err(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static const char *dir_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dir_errbuf, sizeof(dir_errbuf), fmt, ap);
	va_end(ap);
	return dir_errbuf;
}

/* Report an LMDB failure and return -1. */
static int dir_fail(const char **error_r, const char *what, int rc)
{
	*error_r = dir_err("directory %s: %s", what, mdb_strerror(rc));
	return -1;
}

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

/* A full address: exactly one '@', non-empty local part and domain. */
static int dir_is_address(const char *a)
{
	const char *at = strchr(a, '@');

	return at != NULL && at != a && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL;
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
	if ((flags & HTG_DIR_CREATE) != 0 && mkdir(path, 0770) < 0 &&
	    errno != EEXIST) {
		*error_r = dir_err("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	dir = calloc(1, sizeof(*dir));
	if (dir == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	dir->rdonly = (flags & HTG_DIR_RDONLY) != 0;
	if ((rc = mdb_env_create(&dir->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(dir->env, DB_COUNT + 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(dir->env, DIR_MAPSIZE)) != 0 ||
	    (rc = mdb_env_set_maxreaders(dir->env, 1022)) != 0) {
		*error_r = dir_err("lmdb init: %s", mdb_strerror(rc));
		goto fail;
	}
	if (dir->rdonly)
		envflags |= MDB_RDONLY;
	if ((rc = mdb_env_open(dir->env, path, envflags, 0660)) != 0) {
		*error_r = dir_err("open directory %s: %s", path,
				   mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(dir->env, NULL, dir->rdonly ? MDB_RDONLY : 0,
				&txn)) != 0) {
		*error_r = dir_err("open directory %s: %s", path,
				   mdb_strerror(rc));
		goto fail;
	}
	for (int i = 0; i < DB_COUNT; i++) {
		/* a writer creates tables a newer version added */
		unsigned int dflags = dir->rdonly ? 0 : MDB_CREATE;

		rc = mdb_dbi_open(txn, dir_db_names[i], dflags, &dir->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			*error_r = dir_err("directory %s: table %s: %s%s", path,
					   dir_db_names[i], mdb_strerror(rc),
					   rc == MDB_NOTFOUND ?
					   " (not initialised: run htgctl)" : "");
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		*error_r = dir_err("open directory %s: %s", path,
				   mdb_strerror(rc));
		goto fail;
	}
	*dir_r = dir;
	return 1;
fail:
	if (dir->env != NULL)
		mdb_env_close(dir->env);
	free(dir);
	return -1;
}

void htg_dir_close(struct htg_dir **_dir)
{
	struct htg_dir *dir = *_dir;

	if (dir == NULL)
		return;
	mdb_env_close(dir->env);
	free(dir);
	*_dir = NULL;
}

/* --- low-level helpers ------------------------------------------------ */

static int dir_rtxn(struct htg_dir *dir, MDB_txn **txn_r,
		    const char **error_r)
{
	int rc = mdb_txn_begin(dir->env, NULL, MDB_RDONLY, txn_r);

	return rc == 0 ? 0 : dir_fail(error_r, "read", rc);
}

static int dir_wtxn(struct htg_dir *dir, MDB_txn **txn_r,
		    const char **error_r)
{
	int rc;

	if (dir->rdonly) {
		*error_r = "directory opened read-only";
		return -1;
	}
	rc = mdb_txn_begin(dir->env, NULL, 0, txn_r);
	return rc == 0 ? 0 : dir_fail(error_r, "write", rc);
}

static int dir_commit(MDB_txn *txn, const char **error_r)
{
	int rc = mdb_txn_commit(txn);

	return rc == 0 ? 1 : dir_fail(error_r, "commit", rc);
}

static MDB_val dir_val(const char *s)
{
	MDB_val v = { strlen(s), (void *)s };

	return v;
}

/* Get a text value into buf. 1 found, 0 not found, -1 error. */
static int dir_get(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
		   const char *key, char *buf, size_t size,
		   const char **error_r)
{
	MDB_val k = dir_val(key), v;
	int rc = mdb_get(txn, dir->dbi[db], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return dir_fail(error_r, "get", rc);
	if (buf != NULL) {
		if (v.mv_size >= size) {
			*error_r = dir_err("directory %s: value for \"%s\" too long",
					   dir_db_names[db], key);
			return -1;
		}
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
	}
	return 1;
}

/* One read transaction around one dir_get. */
static int dir_lookup(struct htg_dir *dir, enum dir_db db, const char *key,
		      char *buf, size_t size, const char **error_r)
{
	MDB_txn *txn;
	int ret;

	if (dir_rtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_get(dir, txn, db, key, buf, size, error_r);
	mdb_txn_abort(txn);
	return ret;
}

static int dir_put(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
		   const char *key, const char *value, const char **error_r)
{
	MDB_val k = dir_val(key), v = dir_val(value);
	int rc = mdb_put(txn, dir->dbi[db], &k, &v, 0);

	return rc == 0 ? 0 : dir_fail(error_r, "put", rc);
}

static int dir_del(struct htg_dir *dir, MDB_txn *txn, enum dir_db db,
		   const char *key, const char **error_r)
{
	MDB_val k = dir_val(key);
	int rc = mdb_del(txn, dir->dbi[db], &k, NULL);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc == 0 ? 1 : dir_fail(error_r, "delete", rc);
}

#define NORMALISE(in, buf, what) do { \
	if (!htg_dir_normalise((in), (buf), sizeof(buf))) { \
		*error_r = dir_err("invalid %s \"%.100s\"", (what), \
				   (in) != NULL ? (in) : ""); \
		return 0; \
	} \
} while (0)

/* --- accounts ---------------------------------------------------------- */

static int account_decode(const char *user, const char *rec,
			  struct htg_account *a)
{
	unsigned int flags, retention;
	unsigned long long max_size;
	long long created;
	int pos = 0;

	memset(a, 0, sizeof(*a));
	if (sscanf(rec, "%u\t%u\t%llu\t%lld\t%n", &flags, &retention,
		   &max_size, &created, &pos) != 4 || pos == 0)
		return -1;
	if (strlen(rec + pos) >= sizeof(a->pwhash) ||
	    strlen(user) >= sizeof(a->user))
		return -1;
	strcpy(a->user, user);
	strcpy(a->pwhash, rec + pos);
	a->flags = flags;
	a->retention_days = retention;
	a->max_size = max_size;
	a->created = created;
	return 0;
}

static void account_encode(const struct htg_account *a, char *buf,
			   size_t size)
{
	snprintf(buf, size, "%u\t%u\t%llu\t%lld\t%s", a->flags,
		 a->retention_days, (unsigned long long)a->max_size,
		 (long long)a->created, a->pwhash);
}

int htg_dir_account_get(struct htg_dir *dir, const char *user,
			struct htg_account *acct_r, const char **error_r)
{
	char key[HTG_USER_MAX], rec[HTG_HASH_MAX + 128];
	int ret;

	NORMALISE(user, key, "user");
	ret = dir_lookup(dir, DB_ACCOUNTS, key, rec, sizeof(rec), error_r);
	if (ret <= 0)
		return ret;
	if (account_decode(key, rec, acct_r) < 0) {
		*error_r = dir_err("directory: corrupt account record for %s",
				   key);
		return -1;
	}
	return 1;
}

int htg_dir_account_add(struct htg_dir *dir, const struct htg_account *acct,
			const char **error_r)
{
	char key[HTG_USER_MAX], rec[HTG_HASH_MAX + 128];
	struct htg_account a = *acct;
	MDB_txn *txn;
	int ret;

	NORMALISE(acct->user, key, "user");
	if (!dir_is_address(key)) {
		*error_r = dir_err("user \"%s\" is not a full mailbox name "
				   "(local-part@domain)", key);
		return 0;
	}
	if (strchr(a.pwhash, '\t') != NULL || strchr(a.pwhash, '\n') != NULL) {
		*error_r = "invalid password hash";
		return 0;
	}
	if (a.created == 0)
		a.created = (int64_t)time(NULL);
	account_encode(&a, rec, sizeof(rec));
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_get(dir, txn, DB_ACCOUNTS, key, NULL, 0, error_r);
	if (ret != 0) {
		mdb_txn_abort(txn);
		if (ret > 0)
			*error_r = dir_err("account %s already exists", key);
		return ret > 0 ? 0 : -1;
	}
	if (dir_put(dir, txn, DB_ACCOUNTS, key, rec, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

int htg_dir_account_set_hash(struct htg_dir *dir, const char *user,
			     const char *pwhash, const char **error_r)
{
	char key[HTG_USER_MAX], rec[HTG_HASH_MAX + 128];
	struct htg_account a;
	MDB_txn *txn;
	int ret;

	NORMALISE(user, key, "user");
	if (strlen(pwhash) >= sizeof(a.pwhash) || strchr(pwhash, '\t') != NULL) {
		*error_r = "invalid password hash";
		return 0;
	}
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_get(dir, txn, DB_ACCOUNTS, key, rec, sizeof(rec), error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such account: %s", key);
		return ret;
	}
	if (account_decode(key, rec, &a) < 0) {
		mdb_txn_abort(txn);
		*error_r = dir_err("directory: corrupt account record for %s",
				   key);
		return -1;
	}
	strcpy(a.pwhash, pwhash);
	account_encode(&a, rec, sizeof(rec));
	if (dir_put(dir, txn, DB_ACCOUNTS, key, rec, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

/* Adjust the per-domain address count; removes the key at zero. */
static int domain_adjust(struct htg_dir *dir, MDB_txn *txn,
			 const char *address, int delta, const char **error_r)
{
	const char *domain = strchr(address, '@') + 1;
	char buf[32];
	long n = 0;
	int ret;

	ret = dir_get(dir, txn, DB_DOMAINS, domain, buf, sizeof(buf), error_r);
	if (ret < 0)
		return -1;
	if (ret > 0)
		n = strtol(buf, NULL, 10);
	n += delta;
	if (n <= 0)
		return dir_del(dir, txn, DB_DOMAINS, domain, error_r) < 0 ? -1 : 0;
	snprintf(buf, sizeof(buf), "%ld", n);
	return dir_put(dir, txn, DB_DOMAINS, domain, buf, error_r);
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
		return dir_fail(error_r, "cursor", rc);
	if (by_prefix) {
		/* grants: keys "user<TAB>flow" sort together */
		k = dir_val(user);
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
			if (domain_adjust(dir, txn, addr, -1, error_r) < 0) {
				mdb_cursor_close(cur);
				return -1;
			}
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			mdb_cursor_close(cur);
			return dir_fail(error_r, "delete", rc);
		}
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dir_fail(error_r, "scan", rc);
	return 0;
}

int htg_dir_account_del(struct htg_dir *dir, const char *user,
			const char **error_r)
{
	char key[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(user, key, "user");
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_del(dir, txn, DB_ACCOUNTS, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such account: %s", key);
		return ret;
	}
	if (dir_purge_matching(dir, txn, DB_ADDRESSES, key, 0, error_r) < 0 ||
	    dir_purge_matching(dir, txn, DB_GRANTS, key, 1, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

/* --- addresses ----------------------------------------------------------- */

int htg_dir_address_owner(struct htg_dir *dir, const char *address,
			  char *user_r, size_t size, const char **error_r)
{
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(address, key, sizeof(key)))
		return 0;
	return dir_lookup(dir, DB_ADDRESSES, key, user_r, size, error_r);
}

int htg_dir_domain_exists(struct htg_dir *dir, const char *domain,
			  const char **error_r)
{
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(domain, key, sizeof(key)))
		return 0;
	return dir_lookup(dir, DB_DOMAINS, key, NULL, 0, error_r);
}

int htg_dir_address_add(struct htg_dir *dir, const char *address,
			const char *user, const char **error_r)
{
	char key[HTG_USER_MAX], ukey[HTG_USER_MAX], owner[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(address, key, "address");
	NORMALISE(user, ukey, "user");
	if (!dir_is_address(key)) {
		*error_r = dir_err("\"%s\" is not a full address "
				   "(local-part@domain)", key);
		return 0;
	}
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((ret = dir_get(dir, txn, DB_ACCOUNTS, ukey, NULL, 0, error_r)) <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such account: %s", ukey);
		return ret;
	}
	ret = dir_get(dir, txn, DB_ADDRESSES, key, owner, sizeof(owner),
		      error_r);
	if (ret != 0) {
		mdb_txn_abort(txn);
		if (ret < 0)
			return -1;
		if (strcmp(owner, ukey) == 0)
			return 1;	/* already so: idempotent */
		*error_r = dir_err("address %s is owned by %s", key, owner);
		return 0;
	}
	if (dir_put(dir, txn, DB_ADDRESSES, key, ukey, error_r) < 0 ||
	    domain_adjust(dir, txn, key, +1, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

int htg_dir_address_del(struct htg_dir *dir, const char *address,
			const char **error_r)
{
	char key[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(address, key, "address");
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_del(dir, txn, DB_ADDRESSES, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such address: %s", key);
		return ret;
	}
	if (dir_is_address(key) &&
	    domain_adjust(dir, txn, key, -1, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

/* --- flows and grants -------------------------------------------------- */

int htg_dir_flow_get(struct htg_dir *dir, const char *flow,
		     char *deliver_to_r, size_t size, const char **error_r)
{
	char key[HTG_USER_MAX];

	if (!htg_dir_normalise(flow, key, sizeof(key)))
		return 0;
	return dir_lookup(dir, DB_FLOWS, key, deliver_to_r, size, error_r);
}

int htg_dir_flow_add(struct htg_dir *dir, const char *flow,
		     const char *deliver_to, const char **error_r)
{
	char key[HTG_USER_MAX], to[HTG_USER_MAX];
	MDB_txn *txn;

	NORMALISE(flow, key, "flow");
	NORMALISE(deliver_to, to, "deliver-to address");
	if (strchr(key, '@') != NULL) {
		*error_r = dir_err("flow \"%s\": a flow is a local part "
				   "(berichtsoort), without '@'", key);
		return 0;
	}
	if (!dir_is_address(to)) {
		*error_r = dir_err("\"%s\" is not a full address", to);
		return 0;
	}
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (dir_put(dir, txn, DB_FLOWS, key, to, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

int htg_dir_flow_del(struct htg_dir *dir, const char *flow,
		     const char **error_r)
{
	char key[HTG_USER_MAX];
	MDB_txn *txn;
	int ret;

	NORMALISE(flow, key, "flow");
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_del(dir, txn, DB_FLOWS, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such flow: %s", key);
		return ret;
	}
	return dir_commit(txn, error_r);
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
	return dir_lookup(dir, DB_GRANTS, key, NULL, 0, error_r);
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
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((ret = dir_get(dir, txn, DB_ACCOUNTS, u, NULL, 0, error_r)) <= 0 ||
	    (ret = dir_get(dir, txn, DB_FLOWS, f, NULL, 0, error_r)) <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such account or flow: %s, %s",
					   u, f);
		return ret;
	}
	if (dir_put(dir, txn, DB_GRANTS, key, "", error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
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
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_del(dir, txn, DB_GRANTS, key, error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = "no such grant";
		return ret;
	}
	return dir_commit(txn, error_r);
}

/* --- iteration ------------------------------------------------------------ */

typedef int dir_row_cb(const MDB_val *k, const MDB_val *v, void *ctx);

static int dir_scan(struct htg_dir *dir, enum dir_db db, dir_row_cb *cb,
		    void *ctx, const char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST, stop = 0;

	if (dir_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, dir->dbi[db], &cur)) != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "cursor", rc);
	}
	while (!stop && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		stop = cb(&k, &v, ctx);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dir_fail(error_r, "scan", rc);
	return 1;
}

static int val_str(const MDB_val *v, char *buf, size_t size)
{
	if (v->mv_size >= size)
		return 0;
	memcpy(buf, v->mv_data, v->mv_size);
	buf[v->mv_size] = '\0';
	return 1;
}

struct iter_ctx {
	htg_account_cb *acb;
	htg_pair_cb *pcb;
	htg_audit_cb *ecb;
	const char *filter;
	void *ctx;
	int grants;
};

static int account_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct iter_ctx *c = _c;
	char user[HTG_USER_MAX], rec[HTG_HASH_MAX + 128];
	struct htg_account a;

	if (!val_str(k, user, sizeof(user)) || !val_str(v, rec, sizeof(rec)) ||
	    account_decode(user, rec, &a) < 0)
		return 0;	/* skip a corrupt row rather than stop a listing */
	return c->acb(&a, c->ctx);
}

static int pair_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct iter_ctx *c = _c;
	char key[2 * HTG_USER_MAX], val[HTG_USER_MAX], *tab;

	if (!val_str(k, key, sizeof(key)) || !val_str(v, val, sizeof(val)))
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
	struct iter_ctx c = { .acb = cb, .ctx = ctx };

	return dir_scan(dir, DB_ACCOUNTS, account_row, &c, error_r);
}

int htg_dir_address_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
			 const char **error_r)
{
	struct iter_ctx c = { .pcb = cb, .ctx = ctx };

	return dir_scan(dir, DB_ADDRESSES, pair_row, &c, error_r);
}

int htg_dir_flow_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		      const char **error_r)
{
	struct iter_ctx c = { .pcb = cb, .ctx = ctx };

	return dir_scan(dir, DB_FLOWS, pair_row, &c, error_r);
}

int htg_dir_grant_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		       const char **error_r)
{
	struct iter_ctx c = { .pcb = cb, .ctx = ctx, .grants = 1 };

	return dir_scan(dir, DB_GRANTS, pair_row, &c, error_r);
}

/* --- audit ------------------------------------------------------------------ */

/* Fields are tab separated; tabs and line breaks inside a field would
   break the record, so they become spaces. */
static void audit_field(char *dst, size_t *pos, size_t size, const char *s)
{
	for (; s != NULL && *s != '\0' && *pos + 2 < size; s++) {
		char c = *s;
		dst[(*pos)++] = (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
	}
	if (*pos + 1 < size)
		dst[(*pos)++] = '\t';
}

int htg_dir_audit_append(struct htg_dir *dir, const struct htg_audit_event *ev,
			 const char **error_r)
{
	unsigned char kb[16];
	char rec[2048], num[64];
	size_t pos = 0;
	int64_t t = ev->time_us;
	uint32_t pid = (uint32_t)getpid(), seq;
	MDB_txn *txn;
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	if (t == 0) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		t = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	}
	seq = __atomic_add_fetch(&dir->audit_seq, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 8; i++)
		kb[i] = (unsigned char)((uint64_t)t >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		kb[8 + i] = (unsigned char)(pid >> (24 - 8 * i));
		kb[12 + i] = (unsigned char)(seq >> (24 - 8 * i));
	}
	audit_field(rec, &pos, sizeof(rec), ev->event);
	audit_field(rec, &pos, sizeof(rec), ev->account);
	audit_field(rec, &pos, sizeof(rec), ev->message_id);
	snprintf(num, sizeof(num), "%" PRIu64, ev->size);
	audit_field(rec, &pos, sizeof(rec), num);
	snprintf(num, sizeof(num), "%" PRIu32, ev->uid);
	audit_field(rec, &pos, sizeof(rec), num);
	audit_field(rec, &pos, sizeof(rec), ev->queue_id);
	audit_field(rec, &pos, sizeof(rec), ev->rule);
	audit_field(rec, &pos, sizeof(rec), ev->remote);
	audit_field(rec, &pos, sizeof(rec), ev->tls);
	audit_field(rec, &pos, sizeof(rec), ev->session);
	v.mv_size = pos > 0 ? pos - 1 : 0;	/* drop the last tab */
	v.mv_data = rec;
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_put(txn, dir->dbi[DB_AUDIT], &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "audit put", rc);
	}
	return dir_commit(txn, error_r);
}

static void audit_copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static int audit_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct iter_ctx *c = _c;
	struct htg_audit_event ev;
	const unsigned char *kb = k->mv_data;
	const char *p = v->mv_data, *end = p + v->mv_size;
	char num[32];
	int field = 0;

	if (k->mv_size != 16)
		return 0;
	memset(&ev, 0, sizeof(ev));
	for (int i = 0; i < 8; i++)
		ev.time_us = (int64_t)(((uint64_t)ev.time_us << 8) | kb[i]);
	while (p <= end) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		size_t len = (tab != NULL ? tab : end) - p;

		switch (field++) {
		case 0: audit_copy(ev.event, sizeof(ev.event), p, len); break;
		case 1: audit_copy(ev.account, sizeof(ev.account), p, len); break;
		case 2: audit_copy(ev.message_id, sizeof(ev.message_id), p, len); break;
		case 3: audit_copy(num, sizeof(num), p, len);
			ev.size = strtoull(num, NULL, 10); break;
		case 4: audit_copy(num, sizeof(num), p, len);
			ev.uid = (uint32_t)strtoul(num, NULL, 10); break;
		case 5: audit_copy(ev.queue_id, sizeof(ev.queue_id), p, len); break;
		case 6: audit_copy(ev.rule, sizeof(ev.rule), p, len); break;
		case 7: audit_copy(ev.remote, sizeof(ev.remote), p, len); break;
		case 8: audit_copy(ev.tls, sizeof(ev.tls), p, len); break;
		case 9: audit_copy(ev.session, sizeof(ev.session), p, len); break;
		default: break;
		}
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (c->filter != NULL && strcmp(c->filter, ev.account) != 0)
		return 0;
	return c->ecb(&ev, c->ctx);
}

int htg_dir_audit_iter(struct htg_dir *dir, const char *account,
		       htg_audit_cb *cb, void *ctx, const char **error_r)
{
	char key[HTG_USER_MAX];
	struct iter_ctx c = { .ecb = cb, .ctx = ctx };

	if (account != NULL) {
		NORMALISE(account, key, "user");
		c.filter = key;
	}
	return dir_scan(dir, DB_AUDIT, audit_row, &c, error_r);
}

/* --- Message-IDs (HTG-MSGID) ------------------------------------------- */

#define MSGID_KEY_LEN 32	/* SHA-256 */

/* Table "msgids", opened (and created) in the writer's transaction: a
   directory made before it existed stays readable by every reader. */
static int msgid_dbi(MDB_txn *txn, MDB_dbi *dbi_r, const char **error_r)
{
	int rc = mdb_dbi_open(txn, "msgids", MDB_CREATE, dbi_r);

	return rc == 0 ? 0 : dir_fail(error_r, "msgids table", rc);
}

static int msgid_key(const char *account, const char *msgid,
		     unsigned char key[MSGID_KEY_LEN], const char **error_r)
{
	char buf[HTG_USER_MAX + 1 + 1024];
	unsigned int len = 0;
	int n = snprintf(buf, sizeof(buf), "%s\t%s", account, msgid);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		*error_r = "Message-ID too long";
		return -1;
	}
	if (EVP_Digest(buf, (size_t)n, key, &len, EVP_sha256(), NULL) != 1 ||
	    len != MSGID_KEY_LEN) {
		*error_r = "SHA-256 failed";
		return -1;
	}
	return 0;
}

int htg_dir_msgid_claim(struct htg_dir *dir, const char *account,
			const char *msgid, int64_t window_s, int64_t now,
			const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	char user[HTG_USER_MAX], val[32];
	MDB_val k = { sizeof(kb), kb }, v;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (!htg_dir_normalise(account, user, sizeof(user)))
		snprintf(user, sizeof(user), "-");	/* unauthenticated */
	if (msgid_key(user, msgid, kb, error_r) < 0 ||
	    dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (msgid_dbi(txn, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	/* check and record in one write transaction: of two concurrent
	   messages with the same Message-ID exactly one wins */
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size < sizeof(val)) {
		memcpy(val, v.mv_data, v.mv_size);
		val[v.mv_size] = '\0';
		if (strtoll(val, NULL, 10) > now) {
			mdb_txn_abort(txn);
			return 0;
		}
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "msgid get", rc);
	}
	snprintf(val, sizeof(val), "%lld", (long long)(now + window_s));
	v.mv_size = strlen(val);
	v.mv_data = val;
	if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "msgid put", rc);
	}
	return dir_commit(txn, error_r);
}

int htg_dir_msgid_release(struct htg_dir *dir, const char *account,
			  const char *msgid, const char **error_r)
{
	unsigned char kb[MSGID_KEY_LEN];
	char user[HTG_USER_MAX];
	MDB_val k = { sizeof(kb), kb };
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (!htg_dir_normalise(account, user, sizeof(user)))
		snprintf(user, sizeof(user), "-");
	if (msgid_key(user, msgid, kb, error_r) < 0 ||
	    dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (msgid_dbi(txn, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "msgid delete", rc);
	}
	return dir_commit(txn, error_r);
}

int htg_dir_msgid_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			const char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_dbi dbi;
	char val[32];
	long purged = 0;
	int rc, op = MDB_FIRST;

	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (msgid_dbi(txn, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "cursor", rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (v.mv_size >= sizeof(val))
			continue;
		memcpy(val, v.mv_data, v.mv_size);
		val[v.mv_size] = '\0';
		if (strtoll(val, NULL, 10) > now)
			continue;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		purged++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "msgid purge", rc);
	}
	if (purged_r != NULL)
		*purged_r = purged;
	return dir_commit(txn, error_r);
}

/* --- appended: account flags -------------------------------------------- */

int htg_dir_account_set_flags(struct htg_dir *dir, const char *user,
			      uint32_t set, uint32_t clear,
			      const char **error_r)
{
	char key[HTG_USER_MAX], rec[HTG_HASH_MAX + 128];
	struct htg_account a;
	MDB_txn *txn;
	int ret;

	NORMALISE(user, key, "user");
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	ret = dir_get(dir, txn, DB_ACCOUNTS, key, rec, sizeof(rec), error_r);
	if (ret <= 0) {
		mdb_txn_abort(txn);
		if (ret == 0)
			*error_r = dir_err("no such account: %s", key);
		return ret;
	}
	if (account_decode(key, rec, &a) < 0) {
		mdb_txn_abort(txn);
		*error_r = dir_err("directory: corrupt account record for %s",
				   key);
		return -1;
	}
	a.flags = (a.flags | set) & ~clear;
	account_encode(&a, rec, sizeof(rec));
	if (dir_put(dir, txn, DB_ACCOUNTS, key, rec, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dir_commit(txn, error_r);
}

/* --- appended: retention records ------------------------------------------
   Table "retention": "account<TAB>id" ->
   "retained<TAB>deadline<TAB>size<TAB>uid<TAB>message_id<TAB>path<TAB>restore_to".
   The table is opened per transaction, not in htg_dir_open(): a reader
   (e.g. Dovecot's auth process, whose module every lab shares) must keep
   opening directories that were created before the table existed. */

#define DB_RETENTION_NAME "retention"

/* 1 opened, 0 table missing (read transaction), -1 error */
static int retention_dbi(MDB_txn *txn, int create, MDB_dbi *dbi_r,
			 const char **error_r)
{
	int rc = mdb_dbi_open(txn, DB_RETENTION_NAME, create ? MDB_CREATE : 0,
			      dbi_r);

	if (rc == MDB_NOTFOUND && !create)
		return 0;
	return rc == 0 ? 1 : dir_fail(error_r, "retention table", rc);
}

static int retained_encode(const struct htg_retained *r, char *key,
			   size_t ksize, char *val, size_t vsize,
			   const char **error_r)
{
	char acct[HTG_USER_MAX], mid[HTG_USER_MAX];
	size_t i;
	int n;

	if (!htg_dir_normalise(r->account, acct, sizeof(acct)) ||
	    r->id[0] == '\0' || strpbrk(r->id, "\t\r\n") != NULL ||
	    strpbrk(r->path, "\t\r\n") != NULL ||
	    strpbrk(r->restore_to, "\t\r\n") != NULL) {
		*error_r = "invalid retention record";
		return 0;
	}
	for (i = 0; r->message_id[i] != '\0' && i + 1 < sizeof(mid); i++) {
		char c = r->message_id[i];
		mid[i] = (c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
	}
	mid[i] = '\0';
	n = snprintf(key, ksize, "%s\t%s", acct, r->id);
	if (n < 0 || (size_t)n >= ksize)
		goto toolong;
	n = snprintf(val, vsize, "%lld\t%lld\t%llu\t%u\t%s\t%s\t%s",
		     (long long)r->retained, (long long)r->deadline,
		     (unsigned long long)r->size, r->uid, mid, r->path,
		     r->restore_to);
	if (n < 0 || (size_t)n >= vsize)
		goto toolong;
	return 1;
toolong:
	*error_r = "retention record too long";
	return 0;
}

static int retained_decode(const MDB_val *k, const MDB_val *v,
			   struct htg_retained *r)
{
	char key[HTG_USER_MAX + HTG_RETAINED_ID_MAX + 2];
	char val[HTG_USER_MAX + 2 * HTG_PATH_MAX + 128];
	char *f[7], *p, *tab;
	long long retained, deadline;
	unsigned long long size;
	unsigned int uid;
	int i;

	if (!val_str(k, key, sizeof(key)) || !val_str(v, val, sizeof(val)) ||
	    (tab = strchr(key, '\t')) == NULL)
		return -1;
	*tab = '\0';
	memset(r, 0, sizeof(*r));
	p = val;
	for (i = 0; i < 7; i++) {
		f[i] = p;
		if (i < 6) {
			if ((p = strchr(p, '\t')) == NULL)
				return -1;
			*p++ = '\0';
		}
	}
	if (sscanf(f[0], "%lld", &retained) != 1 ||
	    sscanf(f[1], "%lld", &deadline) != 1 ||
	    sscanf(f[2], "%llu", &size) != 1 || sscanf(f[3], "%u", &uid) != 1)
		return -1;
	if (strlen(key) >= sizeof(r->account) ||
	    strlen(tab + 1) >= sizeof(r->id) ||
	    strlen(f[4]) >= sizeof(r->message_id) ||
	    strlen(f[5]) >= sizeof(r->path) ||
	    strlen(f[6]) >= sizeof(r->restore_to))
		return -1;
	strcpy(r->account, key);
	strcpy(r->id, tab + 1);
	r->retained = retained;
	r->deadline = deadline;
	r->size = size;
	r->uid = uid;
	strcpy(r->message_id, f[4]);
	strcpy(r->path, f[5]);
	strcpy(r->restore_to, f[6]);
	return 0;
}

int htg_dir_retained_add(struct htg_dir *dir, const struct htg_retained *r,
			 unsigned int n, const char **error_r)
{
	char key[HTG_USER_MAX + HTG_RETAINED_ID_MAX + 2];
	char val[HTG_USER_MAX + 2 * HTG_PATH_MAX + 128];
	MDB_txn *txn;
	MDB_dbi dbi;
	int ret, rc;

	for (unsigned int i = 0; i < n; i++) {
		if ((ret = retained_encode(&r[i], key, sizeof(key), val,
					   sizeof(val), error_r)) <= 0)
			return ret;
	}
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (retention_dbi(txn, 1, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (unsigned int i = 0; i < n; i++) {
		MDB_val k, v;

		(void)retained_encode(&r[i], key, sizeof(key), val,
				      sizeof(val), error_r);
		k = dir_val(key);
		v = dir_val(val);
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
			mdb_txn_abort(txn);
			return dir_fail(error_r, "retention put", rc);
		}
	}
	return dir_commit(txn, error_r);
}

int htg_dir_retained_del(struct htg_dir *dir, const char *account,
			 const char *id, const char **error_r)
{
	char acct[HTG_USER_MAX], key[HTG_USER_MAX + HTG_RETAINED_ID_MAX + 2];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k;
	int rc;

	NORMALISE(account, acct, "user");
	if (snprintf(key, sizeof(key), "%s\t%s", acct, id) >= (int)sizeof(key))
		return 0;
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (retention_dbi(txn, 1, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	k = dir_val(key);
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		*error_r = dir_err("no retained copy %s for %s", id, acct);
		return 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "retention delete", rc);
	}
	return dir_commit(txn, error_r);
}

int htg_dir_retained_iter(struct htg_dir *dir, const char *account,
			  htg_retained_cb *cb, void *ctx,
			  const char **error_r)
{
	char acct[HTG_USER_MAX];
	struct htg_retained r;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t alen = 0;
	int rc, op = MDB_FIRST, ret;

	if (account != NULL) {
		NORMALISE(account, acct, "user");
		alen = strlen(acct);
		k = dir_val(acct);
		op = MDB_SET_RANGE;
	}
	if (dir_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((ret = retention_dbi(txn, 0, &dbi, error_r)) <= 0) {
		mdb_txn_abort(txn);
		return ret < 0 ? -1 : 1;	/* no table: nothing kept */
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "cursor", rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (account != NULL &&
		    (k.mv_size <= alen || memcmp(k.mv_data, acct, alen) != 0 ||
		     ((char *)k.mv_data)[alen] != '\t'))
			break;
		if (retained_decode(&k, &v, &r) < 0)
			continue;	/* skip a corrupt row */
		if (cb(&r, ctx) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dir_fail(error_r, "scan", rc);
	return 1;
}

/* --- appended: audit expiry ------------------------------------------------ */

int htg_dir_audit_expire(struct htg_dir *dir, int64_t before_us,
			 unsigned long *count_r, const char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	*count_r = 0;
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, dir->dbi[DB_AUDIT], &cur)) != 0) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "cursor", rc);
	}
	/* keys start with the big-endian time: oldest first */
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		const unsigned char *kb = k.mv_data;
		int64_t t = 0;

		op = MDB_NEXT;
		if (k.mv_size != 16)
			continue;
		for (int i = 0; i < 8; i++)
			t = (int64_t)(((uint64_t)t << 8) | kb[i]);
		if (t >= before_us)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		(*count_r)++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return dir_fail(error_r, "audit expire", rc);
	}
	return dir_commit(txn, error_r);
}

/* --- appended: audit events and retention records in one commit ----------
   One LMDB commit (one fsync) for what a POP3 QUIT or an LMTP transaction
   produces, instead of one per event. The encoding is the one
   htg_dir_audit_append() writes. */

static int audit_put_txn(struct htg_dir *dir, MDB_txn *txn,
			 const struct htg_audit_event *ev, const char **error_r)
{
	unsigned char kb[16];
	char rec[2048], num[64];
	size_t pos = 0;
	int64_t t = ev->time_us;
	uint32_t pid = (uint32_t)getpid(), seq;
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	if (t == 0) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		t = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	}
	seq = __atomic_add_fetch(&dir->audit_seq, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 8; i++)
		kb[i] = (unsigned char)((uint64_t)t >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		kb[8 + i] = (unsigned char)(pid >> (24 - 8 * i));
		kb[12 + i] = (unsigned char)(seq >> (24 - 8 * i));
	}
	audit_field(rec, &pos, sizeof(rec), ev->event);
	audit_field(rec, &pos, sizeof(rec), ev->account);
	audit_field(rec, &pos, sizeof(rec), ev->message_id);
	snprintf(num, sizeof(num), "%" PRIu64, ev->size);
	audit_field(rec, &pos, sizeof(rec), num);
	snprintf(num, sizeof(num), "%" PRIu32, ev->uid);
	audit_field(rec, &pos, sizeof(rec), num);
	audit_field(rec, &pos, sizeof(rec), ev->queue_id);
	audit_field(rec, &pos, sizeof(rec), ev->rule);
	audit_field(rec, &pos, sizeof(rec), ev->remote);
	audit_field(rec, &pos, sizeof(rec), ev->tls);
	audit_field(rec, &pos, sizeof(rec), ev->session);
	v.mv_size = pos > 0 ? pos - 1 : 0;	/* drop the last tab */
	v.mv_data = rec;
	if ((rc = mdb_put(txn, dir->dbi[DB_AUDIT], &k, &v, 0)) != 0)
		return dir_fail(error_r, "audit put", rc);
	return 0;
}

int htg_dir_pickup_commit(struct htg_dir *dir,
			  const struct htg_retained *r, unsigned int nr,
			  const struct htg_audit_event *ev, unsigned int nev,
			  const char **error_r)
{
	char key[HTG_USER_MAX + HTG_RETAINED_ID_MAX + 2];
	char val[HTG_USER_MAX + 2 * HTG_PATH_MAX + 128];
	MDB_txn *txn;
	MDB_dbi dbi = 0;
	int ret, rc;

	for (unsigned int i = 0; i < nr; i++) {
		if ((ret = retained_encode(&r[i], key, sizeof(key), val,
					   sizeof(val), error_r)) <= 0)
			return ret;
	}
	if (nr == 0 && nev == 0)
		return 1;
	if (dir_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (nr > 0 && retention_dbi(txn, 1, &dbi, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (unsigned int i = 0; i < nr; i++) {
		MDB_val k, v;

		(void)retained_encode(&r[i], key, sizeof(key), val,
				      sizeof(val), error_r);
		k = dir_val(key);
		v = dir_val(val);
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
			mdb_txn_abort(txn);
			return dir_fail(error_r, "retention put", rc);
		}
	}
	for (unsigned int i = 0; i < nev; i++) {
		if (audit_put_txn(dir, txn, &ev[i], error_r) < 0) {
			mdb_txn_abort(txn);
			return -1;
		}
	}
	return dir_commit(txn, error_r);
}
