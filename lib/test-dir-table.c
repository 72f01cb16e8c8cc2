/*++
/* NAME
/*	test-dir-table 1
/* SUMMARY
/*	unit tests of the directory's export side: the expiring tables row
/*	by row (htg-dir-table(3)), audit events with their keys, escaped
/*	fields (htg-field(3))
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-dir-private.h"
#include "htg-field.h"
#include "htg-test.h"

static char src_path[TEST_TMPDIR_MAX + 8], dst_path[TEST_TMPDIR_MAX + 8];

/* rows of a table, "KEY VALUE\n" each, into a fixed buffer */
struct rows {
	char text[4096];
	int n;
};

static int row_cb(const char *key, const char *value, void *ctx)
{
	struct rows *r = ctx;
	size_t len = strlen(r->text);

	snprintf(r->text + len, sizeof(r->text) - len, "%s %s\n", key, value);
	r->n++;
	return 0;
}

static int rows_of(struct htg_dir *dir, const char *table, struct rows *r)
{
	const char *error;

	memset(r, 0, sizeof(*r));
	return htg_dir_table_iter(dir, table, row_cb, r, &error);
}

/* copy every row of table from src to dst through the public API */
static int copy_cb(const char *key, const char *value, void *ctx)
{
	const char *error;
	void **a = ctx;

	return htg_dir_table_put(a[0], a[1], key, value, &error) != 1;
}

static int copy_table(struct htg_dir *src, struct htg_dir *dst,
		      const char *table)
{
	void *a[2] = { dst, (void *)table };
	const char *error;

	return htg_dir_table_iter(src, table, copy_cb, a, &error);
}

static void test_msgids(void)
{
	struct htg_dir *src = test_open_dir(src_path, HTG_DIR_CREATE);
	struct htg_dir *dst = test_open_dir(dst_path, HTG_DIR_CREATE);
	struct htg_msgid_claim held, got;
	struct rows r, r2;
	const char *error;

	test_begin("table msgids: claims come out as hex key and record, "
		   "and go into another directory as the same claims");
	test_assert(htg_dir_msgid_claim(src, "a@b.nl", "<p@x>", "QP", 100,
					1000, NULL, &held, &error) == 1);
	test_assert(htg_dir_msgid_claim(src, "a@b.nl", "<e@x>", "QE", 100,
					1000, NULL, &held, &error) == 1);
	test_assert(htg_dir_msgid_settle(src, "a@b.nl", "<e@x>", "QE",
					 HTG_MSGID_ENDED, &error) == 1);
	test_assert(htg_dir_msgid_claim(src, "c@d.nl", "<f@x>", "QF", 100,
					1000, NULL, &held, &error) == 1);
	test_assert(htg_dir_msgid_settle(src, "c@d.nl", "<f@x>", "QF",
					 HTG_MSGID_FINAL, &error) == 1);
	test_assert(rows_of(src, "msgids", &r) == 1 && r.n == 3);
	test_assert(strstr(r.text, " P 1100 1000 QP\n") != NULL);
	test_assert(strstr(r.text, " E 1100 QE\n") != NULL);
	test_assert(strstr(r.text, " F 1100 QF\n") != NULL);
	/* 64 lower-case hex digits, then the record */
	test_assert(strspn(r.text, "0123456789abcdef") == 64 &&
		    r.text[64] == ' ');
	test_assert(copy_table(src, dst, "msgids") == 1);
	test_assert(rows_of(dst, "msgids", &r2) == 1 &&
		    strcmp(r.text, r2.text) == 0);
	/* what the milter sees in the copy: the same claims */
	test_assert(htg_dir_msgid_get(dst, "A@B.NL", "<p@x>", 1050, &got,
				      &error) == 1 &&
		    got.state == HTG_MSGID_PENDING && got.since == 1000 &&
		    got.expiry == 1100 && strcmp(got.queue_id, "QP") == 0);
	test_assert(htg_dir_msgid_get(dst, "c@d.nl", "<f@x>", 1050, &got,
				      &error) == 1 &&
		    got.state == HTG_MSGID_FINAL);
	test_assert(htg_dir_msgid_claim(dst, "a@b.nl", "<e@x>", "QX", 100,
					1050, NULL, &held, &error) == 0 &&
		    held.state == HTG_MSGID_ENDED &&
		    strcmp(held.queue_id, "QE") == 0);
	/* put replaces; the bare expiry of old directories is a record */
	test_assert(htg_dir_table_put(dst, "msgids", "00000000000000000000000000000000"
				      "00000000000000000000000000000000",
				      "F 5 Q1", &error) == 1);
	test_assert(htg_dir_table_put(dst, "msgids", "00000000000000000000000000000000"
				      "00000000000000000000000000000000",
				      "12345", &error) == 1);
	test_assert(rows_of(dst, "msgids", &r2) == 1 && r2.n == 4 &&
		    strncmp(r2.text, "0000000000000000000000000000000000000000"
			    "000000000000000000000000 12345\n", 71) == 0);
	htg_dir_close(&src);
	htg_dir_close(&dst);
	test_end();
}

static void test_deliveries(void)
{
	struct htg_dir *src = test_open_dir(src_path, HTG_DIR_CREATE);
	struct htg_dir *dst = test_open_dir(dst_path, HTG_DIR_CREATE);
	struct rows r, r2;
	const char *error;

	test_begin("table deliveries: records come out as hex key and "
		   "record, and de-duplicate in another directory");
	test_assert(htg_dir_delivery_begin(src, "a@b.nl", "<1@x>", 100, 1000,
					   &error) == HTG_DELIVERY_NEW);
	test_assert(htg_dir_delivery_begin(src, "a@b.nl", "<2@x>", 100, 1000,
					   &error) == HTG_DELIVERY_NEW);
	test_assert(htg_dir_delivery_mark(src, "a@b.nl", "<2@x>", &error) == 1);
	test_assert(rows_of(src, "deliveries", &r) == 1 && r.n == 2);
	/* hex of "a@b.nl<TAB><1@x>" */
	test_assert(strcmp(r.text, "6140622e6e6c093c3140783e P 1100\n"
			   "6140622e6e6c093c3240783e D 1100\n") == 0);
	test_assert(copy_table(src, dst, "deliveries") == 1);
	test_assert(rows_of(dst, "deliveries", &r2) == 1 &&
		    strcmp(r.text, r2.text) == 0);
	/* what the Dovecot plugin sees in the copy */
	test_assert(htg_dir_delivery_begin(dst, "a@b.nl", "<1@x>", 100, 1050,
					   &error) == HTG_DELIVERY_PENDING);
	test_assert(htg_dir_delivery_begin(dst, "a@b.nl", "<2@x>", 100, 1050,
					   &error) == HTG_DELIVERY_DONE);
	test_assert(htg_dir_delivery_seen(dst, "a@b.nl", "<2@x>", 1050,
					  &error) == 1);
	htg_dir_close(&src);
	htg_dir_close(&dst);
	test_end();
}

/* what put must refuse: each row would not come from the table's own
   writers (or names no table) */
static const struct refusal {
	const char *table, *key, *value;
} refusals[] = {
#define K64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	{ "audit", K64, "F 5 Q1" },		/* not an expiring table */
	{ "msgids", "0123456789ABCDEF0123456789abcdef0123456789abcdef"
	  "0123456789abcdef", "F 5 Q1" },	/* upper-case hex */
	{ "msgids", K64 "0", "F 5 Q1" },	/* odd length */
	{ "msgids", K64 "00", "F 5 Q1" },	/* 33 bytes, not SHA-256 */
	{ "msgids", "0123456789abcdefg123456789abcdef0123456789abcdef"
	  "0123456789abcdef", "F 5 Q1" },	/* not hex */
	{ "msgids", "", "F 5 Q1" },
	{ "msgids", K64, "" },
	{ "msgids", K64, "X 5 Q1" },		/* no such state */
	{ "msgids", K64, "P 5 Q1" },		/* pending without since */
	{ "msgids", K64, "E 5 Q1 more" },	/* trailing text */
	{ "msgids", K64, "E  5 Q1" },		/* not as written */
	{ "msgids", K64, "E 05 Q1" },
	{ "msgids", K64, "E 5 Q-1" },		/* not a queue id */
	{ "msgids", K64, "12345x" },		/* old form, trailing text */
	{ "msgids", K64, "E 5 Q1\n" },
	/* "a@b.nl<TAB><1@x>" and variants */
	{ "deliveries", "6140622e6e6c093c3140783e", "X 5" },
	{ "deliveries", "6140622e6e6c093c3140783e", "P" },
	{ "deliveries", "6140622e6e6c093c3140783e", "P 5x" },
	{ "deliveries", "6140622e6e6c093c3140783e", "P 05" },
	{ "deliveries", "6140622e6e6c093c3140783e", "D 5 " },
	{ "deliveries", "4140622e6e6c093c3140783e", "D 5" },	/* A@b.nl */
	{ "deliveries", "6140622e6e6c3c3140783e", "D 5" },	/* no tab */
	{ "deliveries", "6140622e6e6c09", "D 5" },	/* no Message-ID */
	{ "deliveries", "6120622e6e6c093c3140783e", "D 5" },	/* "a b.nl" */
	{ "deliveries", "6140622e6e6c0900783e", "D 5" },	/* a NUL */
};

static void test_refusals(void)
{
	struct htg_dir *dst = test_open_dir(dst_path, HTG_DIR_CREATE);
	char key[2 * (HTG_USER_MAX + 8) + 1];
	struct rows before, after;
	const char *error;
	size_t i;

	test_begin("table put refuses what the table's writers never write");
	test_assert(rows_of(dst, "msgids", &before) == 1);
	for (i = 0; i < sizeof(refusals) / sizeof(*refusals); i++) {
		error = NULL;
		test_assert_idx(htg_dir_table_put(dst, refusals[i].table,
						  refusals[i].key,
						  refusals[i].value,
						  &error) == 0 &&
				error != NULL, i);
	}
	/* a Message-ID of HTG_USER_MAX bytes never makes a delivery key */
	snprintf(key, sizeof(key), "6140622e6e6c09");
	for (i = 0; i < HTG_USER_MAX; i++)
		strcat(key, "78");
	test_assert(htg_dir_table_put(dst, "deliveries", key, "D 5",
				      &error) == 0);
	key[strlen(key) - 2] = '\0';		/* 255 bytes: a key */
	test_assert(htg_dir_table_put(dst, "deliveries", key, "D 5",
				      &error) == 1);
	test_assert(htg_dir_table_iter(dst, "audit", row_cb, &after,
				       &error) == -1);
	test_assert(rows_of(dst, "msgids", &after) == 1 &&
		    strcmp(before.text, after.text) == 0);
	htg_dir_close(&dst);
	test_end();
}

static unsigned int warnings;

static void count_warning(const char *text)
{
	(void)text;
	warnings++;
}

static void test_iter_skips_malformed(void)
{
	struct htg_dir *dst = test_open_dir(dst_path, HTG_DIR_CREATE);
	MDB_val k = { 3, "abc" }, v = { 9, "garbage!!" };
	struct rows before, after;
	const char *error;
	MDB_txn *txn;

	test_begin("table iter skips a malformed row, with a warning");
	test_assert(rows_of(dst, "deliveries", &before) == 1);
	test_assert(dirp_wtxn(dst, &txn, &error) == 0);
	test_assert(mdb_put(txn, dst->dbi_deliveries, &k, &v, 0) == 0);
	test_assert(dirp_commit(txn, &error) == 1);
	htg_dir_set_warning(count_warning);
	test_assert(rows_of(dst, "deliveries", &after) == 1);
	htg_dir_set_warning(NULL);
	test_assert(strcmp(before.text, after.text) == 0 && warnings == 1);
	htg_dir_close(&dst);
	test_end();
}

static int event_cb(const struct htg_audit_event *ev, void *ctx)
{
	struct htg_audit_event *all = ctx;

	for (int i = 0; i < 4; i++) {
		if (all[i].event[0] == '\0') {
			all[i] = *ev;
			return 0;
		}
	}
	return 1;
}

static void test_audit_keys(void)
{
	struct htg_dir *dir = test_open_dir(src_path, HTG_DIR_CREATE);
	struct htg_audit_event ev, got[4];
	const char *error;

	test_begin("audit iter hands out each event's key; appended again "
		   "under it, an event replaces itself");
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "retr");
	snprintf(ev.account, sizeof(ev.account), "k@b.nl");
	snprintf(ev.detail, sizeof(ev.detail), "back\\slash");
	ev.time_us = 1700000000123456LL;
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	memset(got, 0, sizeof(got));
	test_assert(htg_dir_audit_iter(dir, "k@b.nl", event_cb, got,
				       &error) == 1);
	test_assert(got[0].key_pid != 0 && got[0].key_seq != 0 &&
		    got[1].event[0] == '\0');
	test_assert(got[0].time_us == ev.time_us &&
		    strcmp(got[0].detail, "back\\slash") == 0);
	/* an import of the export, twice: still one event */
	test_assert(htg_dir_audit_append(dir, &got[0], &error) == 1);
	test_assert(htg_dir_pickup_commit(dir, NULL, 0, &got[0], 1,
					  &error) == 1);
	memset(got, 0, sizeof(got));
	test_assert(htg_dir_audit_iter(dir, "k@b.nl", event_cb, got,
				       &error) == 1);
	test_assert(got[0].event[0] != '\0' && got[1].event[0] == '\0');
	htg_dir_close(&dir);
	test_end();
}

static int field_is(const char *in, const char *escaped)
{
	char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	int ok;

	if (f == NULL)
		return 0;
	htg_field_write(f, in);
	fputc('\0', f);
	fclose(f);
	ok = strcmp(buf, escaped) == 0;
	ok = ok && htg_field_unescape(buf) && strcmp(buf, in) == 0;
	return ok;
}

static void test_fields(void)
{
	static const char *const bad[] = {
		"a\\", "a\\q", "\\x0", "\\x00", "\\xg1", "\\X41", "a\tb",
		"a\x01", "\\xAB",
	};
	char buf[32];

	test_begin("fields: every byte but NUL comes back, bad escapes refused");
	test_assert(field_is("", ""));
	test_assert(field_is("plain <id@x.nl> \xc3\xa9\xff", "plain <id@x.nl> \xc3\xa9\xff"));
	test_assert(field_is("t\tn\nr\rb\\", "t\\tn\\nr\\rb\\\\"));
	test_assert(field_is("\x01\x1f\x7f", "\\x01\\x1f\\x7f"));
	test_assert(field_is("\\x41", "\\\\x41"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		test_assert_idx(htg_field_unescape(buf) == 0, i);
	}
	test_end();
}

int main(void)
{
	const char *tmp = test_tmpdir("dir-table");

	snprintf(src_path, sizeof(src_path), "%s/src", tmp);
	snprintf(dst_path, sizeof(dst_path), "%s/dst", tmp);
	test_msgids();
	test_deliveries();
	test_refusals();
	test_iter_skips_malformed();
	test_audit_keys();
	test_fields();
	return test_exit();
}
