/*++
/* NAME
/*	test-dir 1
/* SUMMARY
/*	unit tests of the directory (LMDB, or PostgreSQL when
/*	HTG_TEST_DIRECTORY names one) and the password hashes
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "htg-dir.h"
#include "htg-passwd.h"
#include "htg-test.h"

static const char *tmpdir;

/* LMDB's flushes land here: the test program's symbol interposes libc's
   for the shared liblmdb. */
static unsigned int fdatasync_calls;

int fdatasync(int fd)
{
	fdatasync_calls++;
	return (int)syscall(SYS_fdatasync, fd);
}

/* a PostgreSQL directory gets its schema (htgctl init) */
static void migrate(const char *uri)
{
	struct htg_dir *dir;
	const char *error;
	int from, to;

	if (htg_dir_open(uri, HTG_DIR_NOSCHEMA, &dir, &error) != 1 ||
	    htg_dir_migrate(dir, &from, &to, &error) != 1) {
		printf("%s: %s\n", uri, error);
		exit(1);
	}
	htg_dir_close(&dir);
}

static struct htg_account account(const char *user)
{
	struct htg_account a;

	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "%s", user);
	snprintf(a.pwhash, sizeof(a.pwhash), "{SHA512-CRYPT}$6$x$y");
	a.retention_days = HTG_DEFAULT_RETENTION_DAYS;
	a.max_size = HTG_DEFAULT_MAX_SIZE;
	return a;
}

static void test_normalise(void)
{
	char buf[16];

	test_begin("normalise");
	test_assert(htg_dir_normalise("Demo@Example.NL", buf, sizeof(buf)) == 1 &&
		    strcmp(buf, "demo@example.nl") == 0);
	test_assert(htg_dir_normalise("", buf, sizeof(buf)) == 0);
	test_assert(htg_dir_normalise("a b@c", buf, sizeof(buf)) == 0);
	test_assert(htg_dir_normalise("a\tb", buf, sizeof(buf)) == 0);
	test_assert(htg_dir_normalise("a\r\nb", buf, sizeof(buf)) == 0);
	test_assert(htg_dir_normalise("0123456789abcdef", buf, sizeof(buf)) == 0);
	test_end();
}

static void test_accounts(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, HTG_DIR_CREATE);
	struct htg_account a = account("Demo@Bedrijf.NL"), got;
	const char *error;

	test_begin("accounts");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_add(dir, &a, &error) == 0);	/* exists */
	a = account("not-an-address");
	test_assert(htg_dir_account_add(dir, &a, &error) == 0);
	test_assert(htg_dir_account_get(dir, "DEMO@bedrijf.nl", &got, &error) == 1);
	test_assert(strcmp(got.user, "demo@bedrijf.nl") == 0);
	test_assert(got.retention_days == 30 && got.max_size == 52428800ULL);
	test_assert(got.created > 0);
	test_assert(htg_dir_account_get(dir, "nobody@x.nl", &got, &error) == 0);
	test_assert(htg_dir_account_set_hash(dir, "demo@bedrijf.nl",
					     "{SHA512-CRYPT}$6$new", &error) == 1);
	test_assert(htg_dir_account_get(dir, "demo@bedrijf.nl", &got, &error) == 1 &&
		    strcmp(got.pwhash, "{SHA512-CRYPT}$6$new") == 0);
	test_assert(htg_dir_account_set_hash(dir, "nobody@x.nl", "{X}y", &error) == 0);
	htg_dir_close(&dir);
	test_end();
}

static void test_addresses_flows_grants(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_dir *reader = test_open_dir(tmpdir, HTG_DIR_RDONLY);
	struct htg_account b = account("other@bedrijf.nl");
	char owner[HTG_USER_MAX], to[HTG_USER_MAX];
	const char *error;

	test_begin("addresses, flows, grants; readers see writes at once");
	test_assert(htg_dir_account_add(dir, &b, &error) == 1);
	test_assert(htg_dir_address_add(dir, "Ik@MijnBedrijf.nl", "demo@bedrijf.nl", &error) == 1);
	/* one rule for duplicates: adding what exists is refused, saying so */
	test_assert(htg_dir_address_add(dir, "ik@mijnbedrijf.nl", "demo@bedrijf.nl", &error) == 0 &&
		    strstr(error, "already belongs to demo@bedrijf.nl") != NULL);
	test_assert(htg_dir_address_add(dir, "ik@mijnbedrijf.nl", "other@bedrijf.nl", &error) == 0 &&
		    strstr(error, "is owned by demo@bedrijf.nl") != NULL);
	test_assert(htg_dir_address_add(dir, "x@y.nl", "nobody@bedrijf.nl", &error) == 0);
	test_assert(htg_dir_address_add(dir, "no-domain", "demo@bedrijf.nl", &error) == 0);
	test_assert(htg_dir_address_owner(reader, "IK@mijnbedrijf.nl", owner, sizeof(owner), &error) == 1 &&
		    strcmp(owner, "demo@bedrijf.nl") == 0);
	test_assert(htg_dir_domain_exists(reader, "MijnBedrijf.nl", &error) == 1);
	test_assert(htg_dir_domain_exists(reader, "bedrijf.nl", &error) == 0);

	test_assert(htg_dir_flow_add(dir, "DMS", "dms@overheid.nl", &error) == 1);
	/* add never replaces a target; set changes it (and only it) */
	test_assert(htg_dir_flow_add(dir, "dms", "other@overheid.nl", &error) == 0 &&
		    strstr(error, "flow dms exists (delivers to dms@overheid.nl)") != NULL);
	test_assert(htg_dir_flow_set(dir, "nieuw", "x@overheid.nl", &error) == 0);
	test_assert(htg_dir_flow_set(dir, "dms", "dms2@overheid.nl", &error) == 1);
	test_assert(htg_dir_flow_get(reader, "dms", to, sizeof(to), &error) == 1 &&
		    strcmp(to, "dms2@overheid.nl") == 0);
	test_assert(htg_dir_flow_set(dir, "dms", "dms@overheid.nl", &error) == 1);
	test_assert(htg_dir_flow_add(dir, "dms@x", "dms@overheid.nl", &error) == 0);
	test_assert(htg_dir_flow_add(dir, "ags", "not-full", &error) == 0);
	test_assert(htg_dir_flow_get(reader, "dms", to, sizeof(to), &error) == 1 &&
		    strcmp(to, "dms@overheid.nl") == 0);
	test_assert(htg_dir_flow_get(reader, "emcs", to, sizeof(to), &error) == 0);

	test_assert(htg_dir_grant_check(reader, "demo@bedrijf.nl", "dms", &error) == 0);
	test_assert(htg_dir_grant_add(dir, "demo@bedrijf.nl", "DMS", &error) == 1);
	test_assert(htg_dir_grant_add(dir, "demo@bedrijf.nl", "emcs", &error) == 0);
	test_assert(htg_dir_grant_check(reader, "Demo@Bedrijf.nl", "dms", &error) == 1);
	test_assert(htg_dir_grant_add(dir, "demo@bedrijf.nl", "dms", &error) == 0 &&
		    strstr(error, "already has flow dms") != NULL);
	test_assert(htg_dir_grant_check(reader, "other@bedrijf.nl", "dms", &error) == 0);
	test_assert(htg_dir_grant_del(dir, "demo@bedrijf.nl", "dms", &error) == 1);
	test_assert(htg_dir_grant_check(reader, "demo@bedrijf.nl", "dms", &error) == 0);
	test_assert(htg_dir_grant_del(dir, "demo@bedrijf.nl", "dms", &error) == 0);

	/* deleting an account removes its addresses, domains and grants */
	test_assert(htg_dir_grant_add(dir, "demo@bedrijf.nl", "dms", &error) == 1);
	test_assert(htg_dir_account_del(dir, "demo@bedrijf.nl", &error) == 1);
	test_assert(htg_dir_address_owner(reader, "ik@mijnbedrijf.nl", owner, sizeof(owner), &error) == 0);
	test_assert(htg_dir_domain_exists(reader, "mijnbedrijf.nl", &error) == 0);
	test_assert(htg_dir_grant_check(reader, "demo@bedrijf.nl", "dms", &error) == 0);
	test_assert(htg_dir_account_del(dir, "demo@bedrijf.nl", &error) == 0);

	/* a read-only handle refuses writes */
	test_assert(htg_dir_flow_add(reader, "x", "a@b.nl", &error) == -1);
	htg_dir_close(&reader);
	htg_dir_close(&dir);
	test_end();
}

/* logical addresses and translation (002 fn 2; issue 16 item 4) */
static void test_logical_translate(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_dir *reader = test_open_dir(tmpdir, HTG_DIR_RDONLY);
	struct htg_account t = account("vertaal@bedrijf.nl");
	char buf[HTG_USER_MAX];
	const char *error;

	test_begin("logical address: set, translate on/off, forgotten");
	test_assert(htg_dir_account_add(dir, &t, &error) == 1);
	test_assert(htg_dir_address_add(dir, "echt@vertaal.nl", "vertaal@bedrijf.nl", &error) == 1);
	test_assert(htg_dir_address_add(dir, "nl1@postbus.nl", "vertaal@bedrijf.nl", &error) == 1);
	/* no logical address yet, no flag: nothing translated */
	test_assert(htg_dir_logical_get(reader, "vertaal@bedrijf.nl", buf, sizeof(buf), &error) == 0);
	test_assert(htg_dir_translate(reader, "echt@vertaal.nl", buf, sizeof(buf), &error) == 0);
	/* only an address of the account can be its logical one */
	test_assert(htg_dir_logical_set(dir, "vertaal@bedrijf.nl", "elders@x.nl", &error) == 0);
	test_assert(htg_dir_logical_set(dir, "vertaal@bedrijf.nl", "NL1@postbus.nl", &error) == 1);
	test_assert(htg_dir_logical_get(reader, "Vertaal@bedrijf.nl", buf, sizeof(buf), &error) == 1 &&
		    strcmp(buf, "nl1@postbus.nl") == 0);
	/* the flag off: still nothing */
	test_assert(htg_dir_translate(reader, "echt@vertaal.nl", buf, sizeof(buf), &error) == 0);
	test_assert(htg_dir_account_set_flags(dir, "vertaal@bedrijf.nl", HTG_ACCOUNT_TRANSLATE, 0, &error) == 1);
	test_assert(htg_dir_translate(reader, "Echt@Vertaal.nl", buf, sizeof(buf), &error) == 1 &&
		    strcmp(buf, "nl1@postbus.nl") == 0);
	/* the logical address itself and strangers map to nothing */
	test_assert(htg_dir_translate(reader, "nl1@postbus.nl", buf, sizeof(buf), &error) == 0);
	test_assert(htg_dir_translate(reader, "iemand@anders.nl", buf, sizeof(buf), &error) == 0);
	/* deleting the logical address forgets it */
	test_assert(htg_dir_address_del(dir, "nl1@postbus.nl", &error) == 1);
	test_assert(htg_dir_logical_get(reader, "vertaal@bedrijf.nl", buf, sizeof(buf), &error) == 0);
	test_assert(htg_dir_translate(reader, "echt@vertaal.nl", buf, sizeof(buf), &error) == 0);
	/* and so does deleting the account */
	test_assert(htg_dir_address_add(dir, "nl1@postbus.nl", "vertaal@bedrijf.nl", &error) == 1);
	test_assert(htg_dir_logical_set(dir, "vertaal@bedrijf.nl", "nl1@postbus.nl", &error) == 1);
	test_assert(htg_dir_account_del(dir, "vertaal@bedrijf.nl", &error) == 1);
	test_assert(htg_dir_logical_get(reader, "vertaal@bedrijf.nl", buf, sizeof(buf), &error) == 0);
	htg_dir_close(&reader);
	htg_dir_close(&dir);
	test_end();
}

/* responding flows (issue 16 item 3) */
static void test_respond(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_dir *reader = test_open_dir(tmpdir, HTG_DIR_RDONLY);
	char mode[16];
	unsigned int delay;
	const char *error;

	test_begin("responding flows: set, get, off, forgotten with the flow");
	test_assert(htg_dir_flow_add(dir, "antwoord", "a@overheid.nl", &error) == 1);
	test_assert(htg_dir_flow_respond_get(reader, "antwoord", mode, sizeof(mode), &delay, &error) == 0);
	test_assert(htg_dir_flow_respond_set(dir, "antwoord", "bogus", 0, &error) == 0);
	test_assert(htg_dir_flow_respond_set(dir, "onbekend", "ack", 0, &error) == 0);
	test_assert(htg_dir_flow_respond_set(dir, "Antwoord", "echo", 30, &error) == 1);
	test_assert(htg_dir_flow_respond_get(reader, "antwoord", mode, sizeof(mode), &delay, &error) == 1 &&
		    strcmp(mode, "echo") == 0 && delay == 30);
	test_assert(htg_dir_flow_respond_set(dir, "antwoord", "off", 0, &error) == 1);
	test_assert(htg_dir_flow_respond_get(reader, "antwoord", mode, sizeof(mode), &delay, &error) == 0);
	test_assert(htg_dir_flow_respond_set(dir, "antwoord", "refuse", 0, &error) == 1);
	test_assert(htg_dir_flow_del(dir, "antwoord", &error) == 1);
	test_assert(htg_dir_flow_respond_get(reader, "antwoord", mode, sizeof(mode), &delay, &error) == 0);
	htg_dir_close(&reader);
	htg_dir_close(&dir);
	test_end();
}

static int count_cb(const struct htg_audit_event *ev, void *ctx)
{
	int *n = ctx;

	if (strcmp(ev->event, "retr") == 0 && ev->size == 1234 && ev->uid == 7 &&
	    strcmp(ev->message_id, "<a b@c>") == 0 && ev->time_us > 0)
		(*n)++;
	return 0;
}

static void test_audit(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_audit_event ev;
	const char *error;
	int n = 0;

	test_begin("audit append and filter");
	memset(&ev, 0, sizeof(ev));
	strcpy(ev.event, "retr");
	strcpy(ev.account, "other@bedrijf.nl");
	strcpy(ev.message_id, "<a\tb@c>");	/* tab must not split fields */
	ev.size = 1234;
	ev.uid = 7;
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(htg_dir_audit_iter(dir, "other@bedrijf.nl", count_cb, &n, &error) == 1);
	test_assert(n == 2);
	n = 0;
	test_assert(htg_dir_audit_iter(dir, "demo@bedrijf.nl", count_cb, &n, &error) == 1);
	test_assert(n == 0);
	htg_dir_close(&dir);
	test_end();
}

/* A durable handle's commit is on disk when it returns: data pages flushed
   under LMDB's writer lock, then the meta page after (two flushes); a
   lazy handle flushes the data pages only. */
static void test_commit_flushes(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_dir *lazy = test_open_dir(tmpdir, HTG_DIR_LAZYSYNC);
	struct htg_audit_event ev;
	const char *error;

	test_begin("commit flushes: durable handle two, lazy handle one");
	memset(&ev, 0, sizeof(ev));
	strcpy(ev.event, "retr");
	strcpy(ev.account, "flush@bedrijf.nl");
	fdatasync_calls = 0;
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(fdatasync_calls == 2);
	fdatasync_calls = 0;
	test_assert(htg_dir_audit_append(lazy, &ev, &error) == 1);
	test_assert(fdatasync_calls == 1);
	htg_dir_close(&lazy);
	htg_dir_close(&dir);
	test_end();
}

#define CLAIM(acct, id, qid, now) \
	htg_dir_msgid_claim(dir, acct, id, qid, 100, now, NULL, &held, &error)

static void test_msgids(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_msgid_claim held, got;
	const char *error;
	long purged = -1;

	test_begin("Message-ID claims: per account, window, release, purge");
	test_assert(CLAIM("a@b.nl", "<1@x>", "Q1", 1000) == 1);
	test_assert(CLAIM("A@B.NL", "<1@x>", "Q2", 1050) == 0);
	test_assert(held.state == HTG_MSGID_PENDING && strcmp(held.queue_id, "Q1") == 0);
	test_assert(CLAIM("c@d.nl", "<1@x>", "Q3", 1050) == 1);
	test_assert(CLAIM("a@b.nl", "<2@x>", "Q4", 1050) == 1);
	/* after the window the id may be used again */
	test_assert(CLAIM("a@b.nl", "<1@x>", "Q5", 1101) == 1);
	/* released (deleted) only by the queue id that took it */
	test_assert(htg_dir_msgid_settle(dir, "a@b.nl", "<2@x>", "Q9", 0, &error) == 0);
	test_assert(htg_dir_msgid_settle(dir, "a@b.nl", "<2@x>", "Q4", 0, &error) == 1);
	test_assert(CLAIM("a@b.nl", "<2@x>", "Q6", 1102) == 1);
	/* at 1160: c@d.nl's <1@x> (expiry 1150) is purged, the rest stay */
	test_assert(htg_dir_msgid_purge(dir, 1160, &purged, &error) == 1);
	test_assert(purged == 1);
	test_assert(CLAIM("c@d.nl", "<1@x>", "Q7", 1160) == 1);
	test_assert(CLAIM("a@b.nl", "<1@x>", "Q8", 1160) == 0);
	test_end();

	test_begin("Message-ID claims: pending, ended, final; take-over by exact claim");
	test_assert(CLAIM("e@f.nl", "<3@x>", "QA", 2000) == 1);
	test_assert(htg_dir_msgid_get(dir, "e@f.nl", "<3@x>", 2001, &got, &error) == 1);
	test_assert(got.state == HTG_MSGID_PENDING && got.since == 2000 &&
		    got.expiry == 2100 && strcmp(got.queue_id, "QA") == 0);
	/* the end of QA's transaction, no proof of commit: ended */
	test_assert(htg_dir_msgid_settle(dir, "e@f.nl", "<3@x>", "QA",
					 HTG_MSGID_ENDED, &error) == 1);
	test_assert(CLAIM("e@f.nl", "<3@x>", "QB", 2010) == 0);
	test_assert(held.state == HTG_MSGID_ENDED && strcmp(held.queue_id, "QA") == 0);
	/* a retry takes it over only by naming exactly that claim */
	got = held;
	got.expiry++;
	test_assert(htg_dir_msgid_claim(dir, "e@f.nl", "<3@x>", "QB", 100, 2010,
					&got, &held, &error) == 0);
	got = held;
	test_assert(htg_dir_msgid_claim(dir, "e@f.nl", "<3@x>", "QB", 100, 2010,
					&got, &held, &error) == 1);
	/* the old queue id cannot settle the new claim any more */
	test_assert(htg_dir_msgid_settle(dir, "e@f.nl", "<3@x>", "QA",
					 HTG_MSGID_FINAL, &error) == 0);
	test_assert(htg_dir_msgid_settle(dir, "e@f.nl", "<3@x>", "QB",
					 HTG_MSGID_FINAL, &error) == 1);
	/* final stays final */
	test_assert(htg_dir_msgid_settle(dir, "e@f.nl", "<3@x>", "QB",
					 HTG_MSGID_ENDED, &error) == 1);
	test_assert(htg_dir_msgid_get(dir, "e@f.nl", "<3@x>", 2011, &got, &error) == 1);
	test_assert(got.state == HTG_MSGID_FINAL && strcmp(got.queue_id, "QB") == 0);
	test_assert(htg_dir_msgid_get(dir, "e@f.nl", "<4@x>", 2011, &got, &error) == 0);
	htg_dir_close(&dir);
	test_end();
}

static void deliver_event(struct htg_audit_event *ev, const char *account,
			  const char *msgid)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->event, sizeof(ev->event), "deliver");
	snprintf(ev->account, sizeof(ev->account), "%s", account);
	snprintf(ev->message_id, sizeof(ev->message_id), "%s", msgid);
}

static void test_deliveries(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_audit_event ev;
	char longid[HTG_USER_MAX + 8];
	const char *error;
	long purged = -1;

	test_begin("delivery records: pending, done, window, purge");
	/* first delivery: recorded pending; a retry before the deliver
	   event finds it pending */
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<1@x>", 100, 1000, &error) == HTG_DELIVERY_NEW);
	test_assert(htg_dir_delivery_begin(dir, "A@B.NL", "<1@x>", 100, 1010, &error) == HTG_DELIVERY_PENDING);
	/* the deliver audit event completes it in the same commit */
	deliver_event(&ev, "a@b.nl", "<1@x>");
	test_assert(htg_dir_pickup_commit(dir, NULL, 0, &ev, 1, &error) == 1);
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<1@x>", 100, 1020, &error) == HTG_DELIVERY_DONE);
	/* other account, other id: independent */
	test_assert(htg_dir_delivery_begin(dir, "c@d.nl", "<1@x>", 100, 1020, &error) == HTG_DELIVERY_NEW);
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<2@x>", 100, 1020, &error) == HTG_DELIVERY_NEW);
	/* a deliver event without a record writes none */
	deliver_event(&ev, "e@f.nl", "<9@x>");
	test_assert(htg_dir_pickup_commit(dir, NULL, 0, &ev, 1, &error) == 1);
	test_assert(htg_dir_delivery_begin(dir, "e@f.nl", "<9@x>", 100, 1020, &error) == HTG_DELIVERY_NEW);
	/* a pending one found in the mailbox is marked done */
	test_assert(htg_dir_delivery_mark(dir, "a@b.nl", "<2@x>", &error) == 1);
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<2@x>", 100, 1030, &error) == HTG_DELIVERY_DONE);
	/* after the window: new again */
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<1@x>", 100, 1100, &error) == HTG_DELIVERY_NEW);
	/* unusable keys: no de-duplication, no record */
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", longid, 100, 1000, &error) == 0);
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "", 100, 1000, &error) == 0);
	test_assert(htg_dir_delivery_begin(dir, "not an account", "<1@x>", 100, 1000, &error) == 0);
	/* at 1125: c@d.nl <1@x> (1120), a@b.nl <2@x> (1120), e@f.nl (1120)
	   expired; a@b.nl <1@x> (1200) stays */
	test_assert(htg_dir_delivery_purge(dir, 1125, &purged, &error) == 1);
	test_assert(purged == 3);
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<1@x>", 100, 1125, &error) == HTG_DELIVERY_PENDING);
	test_assert(htg_dir_delivery_begin(dir, "a@b.nl", "<2@x>", 100, 1125, &error) == HTG_DELIVERY_NEW);
	htg_dir_close(&dir);
	test_end();
}

static int count_retained_cb(const struct htg_retained *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static int count_any_cb(const struct htg_audit_event *ev, void *ctx)
{
	(void)ev;
	(*(int *)ctx)++;
	return 0;
}

static void test_pickup_undo(void)
{
	struct htg_dir *dir = test_open_dir(tmpdir, 0);
	struct htg_audit_event ev[3];
	struct htg_retained r;
	const char *error;
	int n;

	test_begin("pickup commit and its undo");
	memset(&r, 0, sizeof(r));
	strcpy(r.account, "undo@bedrijf.nl");
	strcpy(r.id, "1.2.3.4");
	strcpy(r.path, "/nonexistent/1.2.3.4.eml");
	r.deadline = 100;
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 3; i++) {
		strcpy(ev[i].account, "undo@bedrijf.nl");
		strcpy(ev[i].message_id, "<u@x>");
		ev[i].uid = 7;
		ev[i].time_us = 5000000;	/* one microsecond for all */
	}
	strcpy(ev[0].event, "retr");
	strcpy(ev[1].event, "dele");
	strcpy(ev[2].event, "dele");
	ev[2].uid = 8;
	test_assert(htg_dir_pickup_commit(dir, &r, 1, ev, 3, &error) == 1);
	n = 0;
	test_assert(htg_dir_audit_iter(dir, "undo@bedrijf.nl", count_any_cb, &n, &error) == 1);
	test_assert(n == 3);
	/* the mailbox commit failed: records and dele events go, the
	   retrieval stays (it happened) */
	test_assert(htg_dir_pickup_undo(dir, &r, 1, &ev[1], 2, &error) == 1);
	n = 0;
	test_assert(htg_dir_audit_iter(dir, "undo@bedrijf.nl", count_any_cb, &n, &error) == 1);
	test_assert(n == 1);
	n = 0;
	test_assert(htg_dir_retained_iter(dir, "undo@bedrijf.nl", count_retained_cb, &n, &error) == 1);
	test_assert(n == 0);
	/* twice, or events never written: nothing to delete, no error */
	test_assert(htg_dir_pickup_undo(dir, &r, 1, &ev[1], 2, &error) == 1);
	n = 0;
	test_assert(htg_dir_audit_iter(dir, "undo@bedrijf.nl", count_any_cb, &n, &error) == 1);
	test_assert(n == 1);
	htg_dir_close(&dir);
	test_end();
}

static void test_passwd(void)
{
	char hash[HTG_HASH_MAX], hash2[HTG_HASH_MAX];

	test_begin("password hashes");
	test_assert(htg_passwd_hash("s3cret pass", hash, sizeof(hash)) == 0);
	test_assert(strncmp(hash, "{SHA512-CRYPT}$6$", 17) == 0);
	test_assert(strstr(hash, "s3cret") == NULL);
	test_assert(htg_passwd_verify("s3cret pass", hash) == 1);
	test_assert(htg_passwd_verify("s3cret pasS", hash) == 0);
	test_assert(htg_passwd_verify("", hash) == 0);
	test_assert(htg_passwd_hash("s3cret pass", hash2, sizeof(hash2)) == 0);
	test_assert(strcmp(hash, hash2) != 0);	/* fresh salt */
	test_assert(htg_passwd_hash("x", hash, 10) == -1);
	test_end();
}

int main(void)
{
	int ret;

	/* HTG_TEST_DIRECTORY: a PostgreSQL directory to run the same tests
	   on (lib/test-dir-pg.sh); else a fresh LMDB folder */
	tmpdir = getenv("HTG_TEST_DIRECTORY");
	if (tmpdir == NULL || *tmpdir == '\0')
		tmpdir = test_tmpdir("dir");
	else
		migrate(tmpdir);
	test_normalise();
	test_accounts();
	test_addresses_flows_grants();
	test_logical_translate();
	test_respond();
	test_audit();
	if (!htg_dir_is_uri(tmpdir))	/* LMDB's flushes */
		test_commit_flushes();
	test_msgids();
	test_deliveries();
	test_pickup_undo();
	test_passwd();
	ret = test_exit();
	return ret;
}
