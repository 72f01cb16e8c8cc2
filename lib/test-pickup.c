/*++
/* NAME
/*	test-pickup 1
/* SUMMARY
/*	unit tests of the pickup rules and the directory's retention records
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-dir.h"
#include "htg-pickup.h"
#include "htg-test.h"

static const char *tmpdir;

static void test_deadline(void)
{
	test_begin("retention deadline: both sides of the boundary");
	test_assert(htg_retention_deadline(1000, 30) == 1000 + 30 * 86400);
	test_assert(htg_retention_deadline(1000, 0) == 1000);
	test_assert(htg_retention_deadline(INT64_MAX - 5, 1) == INT64_MAX);
	test_assert(!htg_retention_due(1000 + 86400, 1000 + 86399));
	test_assert(htg_retention_due(1000 + 86400, 1000 + 86400));
	test_assert(htg_retention_due(1000 + 86400, 1000 + 86401));
	test_end();
}

static void test_time_parse(void)
{
	static const struct {
		const char *in;
		int ok;
		int64_t t;
	} cases[] = {
		{ "@0", 1, 0 },
		{ "@1795000000", 1, 1795000000 },
		{ "2026-11-23", 1, 1795392000 },
		{ "2026-11-23T10:00:00Z", 1, 1795428000 },
		{ "2026-11-23T10:00:00.123456Z", 1, 1795428000 },
		{ "2026-11-23T11:00:00+01:00", 1, 1795428000 },
		{ "2026-11-23T09:30:00-00:30", 1, 1795428000 },
		{ "2026-11-23T10:00:00", 0, 0 },	/* no zone */
		{ "2026-13-01", 0, 0 },
		{ "2026-11-23X", 0, 0 },
		{ "2026-11-23T10:00:00.Z", 0, 0 },
		{ "@", 0, 0 },
		{ "@12x", 0, 0 },
		{ "yesterday", 0, 0 },
		{ "", 0, 0 },
	};

	test_begin("time parse");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = -1;
		int ok = htg_time_parse(cases[i].in, &t);

		test_assert_idx(ok == cases[i].ok, i);
		if (ok && cases[i].ok)
			test_assert_idx(t == cases[i].t, i);
	}
	{
		int64_t us = 0;

		test_assert(htg_time_parse_us("2026-11-23T10:00:00.123456Z", &us) &&
			    us == 1795428000LL * 1000000 + 123456);
		test_assert(htg_time_parse_us("2026-11-23T10:00:00.5Z", &us) &&
			    us == 1795428000LL * 1000000 + 500000);
		test_assert(htg_time_parse_us("2026-11-23T10:00:00.1234567Z", &us) &&
			    us == 1795428000LL * 1000000 + 123456);
		test_assert(htg_time_parse_us("@5", &us) && us == 5000000);
	}
	test_end();
}

static void test_msgid(void)
{
	test_begin("message-id equality");
	test_assert(htg_msgid_equal("<a@b>", "a@b"));
	test_assert(htg_msgid_equal(" <a@b> ", "<a@b>"));
	test_assert(!htg_msgid_equal("<a@b>", "<A@b>"));
	test_assert(!htg_msgid_equal("<a@b>", "<a@bc>"));
	test_assert(!htg_msgid_equal("", ""));
	test_assert(!htg_msgid_equal(NULL, "a"));
	test_end();
}

static struct htg_audit_event event(const char *name, const char *acct,
				    const char *mid, int64_t t)
{
	struct htg_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "%s", name);
	snprintf(ev.account, sizeof(ev.account), "%s", acct);
	snprintf(ev.message_id, sizeof(ev.message_id), "%s", mid);
	ev.time_us = t;
	return ev;
}

static void test_filter(void)
{
	struct htg_audit_filter f;
	struct htg_audit_event ev = event("retr", "a@b.nl", "<x@y>", 5000000);

	test_begin("audit filter");
	htg_audit_filter_init(&f);
	test_assert(htg_audit_filter_match(&f, &ev));
	f.account = "a@b.nl";
	test_assert(htg_audit_filter_match(&f, &ev));
	f.account = "c@b.nl";
	test_assert(!htg_audit_filter_match(&f, &ev));
	htg_audit_filter_init(&f);
	f.event = "retr";
	test_assert(htg_audit_filter_match(&f, &ev));
	f.event = "top";
	test_assert(!htg_audit_filter_match(&f, &ev));
	htg_audit_filter_init(&f);
	f.message_id = "x@y";
	test_assert(htg_audit_filter_match(&f, &ev));
	f.message_id = "<x@z>";
	test_assert(!htg_audit_filter_match(&f, &ev));
	htg_audit_filter_init(&f);
	f.since_us = 5000000;		/* inclusive */
	test_assert(htg_audit_filter_match(&f, &ev));
	f.since_us = 5000001;
	test_assert(!htg_audit_filter_match(&f, &ev));
	htg_audit_filter_init(&f);
	f.until_us = 5000001;		/* exclusive */
	test_assert(htg_audit_filter_match(&f, &ev));
	f.until_us = 5000000;
	test_assert(!htg_audit_filter_match(&f, &ev));
	test_assert(htg_audit_event_known("top"));
	test_assert(htg_audit_event_known("purge"));
	test_assert(!htg_audit_event_known("retrieve"));
	test_end();
}

static int collect(const struct htg_retained *r, void *ctx)
{
	char *buf = ctx;

	strcat(buf, r->id);
	strcat(buf, ",");
	return 0;
}

static struct htg_retained retained(const char *acct, const char *id)
{
	struct htg_retained r;

	memset(&r, 0, sizeof(r));
	snprintf(r.account, sizeof(r.account), "%s", acct);
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.message_id, sizeof(r.message_id), "<m\t%s@x>", id);
	snprintf(r.path, sizeof(r.path), "/var/mail/%s", id);
	r.retained = 100;
	r.deadline = 200;
	r.size = 42;
	r.uid = 7;
	return r;
}

static int first_r(const struct htg_retained *r, void *ctx)
{
	*(struct htg_retained *)ctx = *r;
	return 1;
}

static void test_retained_records(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, HTG_DIR_CREATE);
	struct htg_retained r[3], got;
	char buf[256] = "";
	const char *error;

	test_begin("retention records");
	/* a directory made before the table existed reads as empty */
	test_assert(htg_dir_retained_iter(dir, NULL, collect, buf, &error) == 1);
	test_assert(buf[0] == '\0');
	r[0] = retained("A@B.nl", "1");
	r[1] = retained("a@b.nl", "2");
	r[2] = retained("a@bb.nl", "3");
	test_assert(htg_dir_retained_add(dir, r, 3, &error) == 1);
	test_assert(htg_dir_retained_iter(dir, "a@b.nl", collect, buf, &error) == 1);
	test_assert(strcmp(buf, "1,2,") == 0);
	buf[0] = '\0';
	test_assert(htg_dir_retained_iter(dir, NULL, collect, buf, &error) == 1);
	test_assert(strcmp(buf, "1,2,3,") == 0);
	memset(&got, 0, sizeof(got));
	test_assert(htg_dir_retained_iter(dir, "a@bb.nl", first_r, &got, &error) == 1);
	test_assert(strcmp(got.account, "a@bb.nl") == 0 && got.deadline == 200 &&
		    got.size == 42 && got.uid == 7 &&
		    strcmp(got.message_id, "<m 3@x>") == 0 &&
		    strcmp(got.path, "/var/mail/3") == 0 && got.restore_to[0] == '\0');
	test_assert(htg_dir_retained_del(dir, "a@b.nl", "1", &error) == 1);
	test_assert(htg_dir_retained_del(dir, "a@b.nl", "1", &error) == 0);
	buf[0] = '\0';
	test_assert(htg_dir_retained_iter(dir, "a@b.nl", collect, buf, &error) == 1);
	test_assert(strcmp(buf, "2,") == 0);
	/* all or nothing: a bad record refuses the batch */
	r[0] = retained("a@b.nl", "4");
	r[1] = retained("a@b.nl", "bad\tid");
	test_assert(htg_dir_retained_add(dir, r, 2, &error) == 0);
	buf[0] = '\0';
	test_assert(htg_dir_retained_iter(dir, "a@b.nl", collect, buf, &error) == 1);
	test_assert(strcmp(buf, "2,") == 0);
	htg_dir_close(&dir);
	test_end();
}

static int count_ev(const struct htg_audit_event *ev, void *ctx)
{
	(void)ev;
	(*(int *)ctx)++;
	return 0;
}

static void test_audit_expire(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_audit_event ev;
	unsigned long n = 0;
	const char *error;
	int count = 0;

	test_begin("audit expiry keeps what is younger than the cut");
	ev = event("retr", "a@b.nl", "<1@x>", 1000);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	ev.time_us = 2000;
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	ev.time_us = 3000;
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(htg_dir_audit_expire(dir, 2000, &n, &error) == 1 && n == 1);
	test_assert(htg_dir_audit_expire(dir, 2000, &n, &error) == 1 && n == 0);
	test_assert(htg_dir_audit_iter(dir, NULL, count_ev, &count, &error) == 1);
	test_assert(count == 2);
	htg_dir_close(&dir);
	test_end();
}

static void test_account_flags(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_account a, got;
	const char *error;

	test_begin("account disable and enable");
	memset(&a, 0, sizeof(a));
	strcpy(a.user, "f@b.nl");
	strcpy(a.pwhash, "{SHA512-CRYPT}$6$x$y");
	a.retention_days = 9;
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_set_flags(dir, "F@b.nl",
					      HTG_ACCOUNT_DISABLED, 0, &error) == 1);
	test_assert(htg_dir_account_get(dir, "f@b.nl", &got, &error) == 1 &&
		    (got.flags & HTG_ACCOUNT_DISABLED) != 0 &&
		    got.retention_days == 9 &&
		    strcmp(got.pwhash, a.pwhash) == 0);
	test_assert(htg_dir_account_set_flags(dir, "f@b.nl", 0,
					      HTG_ACCOUNT_DISABLED, &error) == 1);
	test_assert(htg_dir_account_get(dir, "f@b.nl", &got, &error) == 1 &&
		    got.flags == 0);
	test_assert(htg_dir_account_set_flags(dir, "nobody@b.nl", 1, 0,
					      &error) == 0);
	htg_dir_close(&dir);
	test_end();
}

static void test_hygiene_rules(void)
{
	char base[64];
	uint32_t uid = 0;
	int64_t t = 0;

	test_begin("hygiene: maildir names, uidlist lines, staleness");
	test_assert(htg_maildir_name_time("1795417735.M1P2.host,S=5:2,S", &t) == 1 &&
		    t == 1795417735);
	test_assert(htg_maildir_name_time("htgrestore.1", &t) == 0);
	test_assert(htg_maildir_name_time("1795417735", &t) == 0);
	test_assert(htg_uidlist_line("3 V1795417735 N3 Gabc", &uid, base,
				     sizeof(base)) == 0);
	test_assert(htg_uidlist_line("12 :1795.M1.host,S=5", &uid, base,
				     sizeof(base)) == 1 && uid == 12 &&
		    strcmp(base, "1795.M1.host,S=5") == 0);
	test_assert(htg_uidlist_line("7 W42 :1795.M2.host\n", &uid, base,
				     sizeof(base)) == 1 && uid == 7 &&
		    strcmp(base, "1795.M2.host") == 0);
	test_assert(htg_uidlist_line("0 :x", &uid, base, sizeof(base)) == 0);
	test_assert(htg_uidlist_line("9 :", &uid, base, sizeof(base)) == 0);
	test_assert(!htg_hygiene_stale(1000, 1000 + 7 * 86400 - 1, 7));
	test_assert(htg_hygiene_stale(1000, 1000 + 7 * 86400, 7));
	test_assert(!htg_hygiene_stale(0, 1000000000, 7));	/* never retrieved */
	test_end();
}

int main(void)
{
	int ret;

	tmpdir = test_tmpdir("pickup");
	test_deadline();
	test_time_parse();
	test_msgid();
	test_filter();
	test_hygiene_rules();
	test_retained_records();
	test_audit_expire();
	test_account_flags();
	ret = test_exit();
	return ret;
}
