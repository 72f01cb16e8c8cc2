/*++
/* NAME
/*	htg-dir-table 3
/* SUMMARY
/*	export and import of the expiring tables, row by row
/* SYNOPSIS
/*	#include "htg-dir.h"
/*
/*	int htg_dir_table_iter(dir, table, cb, ctx, error_r)
/*
/*	int htg_dir_table_put(dir, table, key_hex, value, error_r)
/* DESCRIPTION
/*	The tables "msgids" (htg-dir-msgid(3)) and "deliveries"
/*	(htg-dir-delivery(3)) have no listing of their own: their keys
/*	are a digest, or an account and a Message-ID joined by a tab.
/*	htgctl export and import move them as rows: the key in lower-case
/*	hex, the record as the text the directory stores.
/*
/*	htg_dir_table_iter() hands every row to the callback, in key
/*	order, inside one read transaction (a consistent view of the
/*	table; the callback must not call the directory). A row that
/*	htg_dir_table_put() would refuse is skipped with a warning
/*	(htg_dir_set_warning()), so that an export never holds a row its
/*	import refuses.
/*
/*	htg_dir_table_put() adds or replaces one row in one commit, after
/*	checking it as the table's own code would have written it
/*	(dirp_msgid_row_ok(), dirp_delivery_row_ok()): a foreign record
/*	cannot reach the milter or the Dovecot plugin through an import.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stddef.h>
#include <string.h>

#include "htg-dir-private.h"

#define TABLE_VAL_MAX	128

struct dir_table {
	const char *name;
	size_t dbi_off;		/* its handle in struct htg_dir */
	int (*row_ok)(const MDB_val *k, const MDB_val *v,
		      struct dirp_table_row *row_r);
};

static const struct dir_table dir_tables[] = {
	{ "msgids", offsetof(struct htg_dir, dbi_msgids), dirp_msgid_row_ok },
	{ "deliveries", offsetof(struct htg_dir, dbi_deliveries),
	  dirp_delivery_row_ok },
};

static const struct dir_table *table_find(const char *name)
{
	for (size_t i = 0; i < sizeof(dir_tables) / sizeof(*dir_tables); i++)
		if (name != NULL && strcmp(name, dir_tables[i].name) == 0)
			return &dir_tables[i];
	return NULL;
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* lower-case hex into out: the number of bytes, or 0 when it is not
   that or does not fit */
static size_t hex_decode(const char *in, unsigned char *out, size_t size)
{
	size_t len = strlen(in);

	if (len == 0 || len % 2 != 0 || len / 2 > size)
		return 0;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return len / 2;
}

int htg_dir_table_iter(struct htg_dir *dir, const char *table,
		       htg_pair_cb *cb, void *ctx, const char **error_r)
{
	const struct dir_table *t = table_find(table);
	char key[2 * DIRP_TABLE_KEY_MAX + 1], val[TABLE_VAL_MAX];
	unsigned long skipped = 0;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_dbi dbi;
	int rc, op = MDB_FIRST;

	DIRP_PG(dir, dirpg_table_iter(dir, table, cb, ctx, error_r));
	if (t == NULL) {
		*error_r = dirp_err("no such table: %.100s", table);
		return -1;
	}
	dbi = *(const MDB_dbi *)((const char *)dir + t->dbi_off);
	if (dbi == 0)
		return 1;	/* a reader of a directory without the table */
	if (dirp_rtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "cursor", rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		/* row_ok() bounds the key (DIRP_TABLE_KEY_MAX) and the value */
		if (k.mv_size > DIRP_TABLE_KEY_MAX ||
		    !t->row_ok(&k, &v, NULL) ||
		    !dirp_val_str(&v, val, sizeof(val))) {
			skipped++;
			continue;
		}
		hex_encode(k.mv_data, k.mv_size, key);
		if (cb(key, val, ctx) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (skipped > 0)
		dirp_warning("directory %s: table %s: %lu malformed rows "
			     "skipped", dir->path, t->name, skipped);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "scan", rc);
	return 1;
}

static int table_put(struct htg_dir *dir, const struct dir_table *t,
		     MDB_val *k, MDB_val *v, const char **error_r)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_dbi_open(txn, t->name, MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_put(txn, dbi, k, v, 0)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, t->name, rc);
	}
	return dirp_commit(txn, error_r);
}

/* The checks of htg_dir_table_put(), whatever the backend: the key
   decoded, the row as the table's own writers write it, its fields
   parsed (once: the backends write from *row_r). */
int dirp_table_check(const char *table, const char *key_hex,
		     const char *value, struct dirp_table_row *row_r,
		     const char **error_r)
{
	const struct dir_table *t = table_find(table);
	MDB_val k = { 0, row_r->key }, v = dirp_val(value);

	if (t == NULL) {
		*error_r = dirp_err("no such table: %.100s", table);
		return 0;
	}
	if ((k.mv_size = hex_decode(key_hex, row_r->key,
				    sizeof(row_r->key))) == 0) {
		*error_r = dirp_err("table %s: invalid key (lower-case hex "
				    "wanted)", t->name);
		return 0;
	}
	if (!t->row_ok(&k, &v, row_r)) {
		*error_r = dirp_err("table %s: invalid row (a key or record "
				    "its writers never write): \"%.100s\"",
				    t->name, value);
		return 0;
	}
	row_r->msgids = t->row_ok == dirp_msgid_row_ok;
	row_r->key_hex = key_hex;
	row_r->klen = k.mv_size;
	return 1;
}

int htg_dir_table_put(struct htg_dir *dir, const char *table,
		      const char *key_hex, const char *value,
		      const char **error_r)
{
	struct dirp_table_row row;
	MDB_val k, v = dirp_val(value);
	int ret;

	if (!dirp_table_check(table, key_hex, value, &row, error_r))
		return 0;
	DIRP_PG(dir, dirpg_table_put(dir, &row, error_r));
	k.mv_data = row.key;
	k.mv_size = row.klen;
	DIRP_RETRY(dir, ret, table_put(dir, table_find(table), &k, &v,
				       error_r));
	return ret;
}
