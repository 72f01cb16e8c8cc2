/*++
/* NAME
/*	test-audit-spool 1
/* SUMMARY
/*	unit tests of the audit spool: events the directory did not take
/* DESCRIPTION
/*	On LMDB, or on PostgreSQL when HTG_TEST_DIRECTORY names a database
/*	(test-dir-pg.sh). A directory that refuses writes is the same
/*	directory opened read-only.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-journal.h"
#include "htg-audit-spool.h"
#include "htg-test.h"

static const char *tmpdir, *uri;
static struct htg_dir *dir;

#define ACCT "spool@bedrijf.nl"

static int open_dir(int flags)
{
	const char *error;
	int from, to;

	if (uri != NULL) {
		if (htg_dir_open(uri, flags | HTG_DIR_NOSCHEMA, &dir,
				 &error) != 1 ||
		    ((flags & HTG_DIR_RDONLY) == 0 &&
		     htg_dir_migrate(dir, &from, &to, &error) != 1) ||
		    htg_dir_set_state_path(dir, tmpdir) != 1) {
			printf("%s: %s\n", uri, error);
			return -1;
		}
		return 0;
	}
	if (htg_dir_open(tmpdir, flags, &dir, &error) != 1) {
		printf("%s: %s\n", tmpdir, error);
		return -1;
	}
	return 0;
}

/* the directory, read-only (every write fails) or writable again */
static void reopen(int flags)
{
	htg_dir_close(&dir);
	if (open_dir(flags) < 0)
		exit(1);
}

static struct htg_audit_event event(const char *name, const char *id)
{
	struct htg_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "%s", name);
	snprintf(ev.account, sizeof(ev.account), ACCT);
	snprintf(ev.message_id, sizeof(ev.message_id), "<%s@test>", id);
	return ev;
}

struct count {
	const char *msgid;
	int n;
};

static int count_cb(const struct htg_audit_event *ev, void *ctx)
{
	struct count *c = ctx;

	if (strcmp(ev->message_id, c->msgid) == 0)
		c->n++;
	return 0;
}

/* how often the directory holds the event with this Message-ID */
static int count(const char *id)
{
	char msgid[128];
	struct count c = { msgid, 0 };
	const char *error;

	snprintf(msgid, sizeof(msgid), "<%s@test>", id);
	if (htg_dir_audit_iter(dir, ACCT, count_cb, &c, &error) < 0)
		return -1;
	return c.n;
}

static int marker(void)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/journal/%s", tmpdir,
		 HTG_AUDIT_SPOOL_MARKER);
	return lstat(path, &st) == 0;
}

static void test_key(void)
{
	struct htg_audit_event ev[2] = { event("submit", "k1"),
					 event("submit", "k2") };

	test_begin("htg_audit_key fixes time, pid and sequence once");
	ev[1].time_us = 42;
	htg_audit_key(ev, 2);
	test_assert(ev[0].time_us > 42 && ev[1].time_us == 42);
	test_assert(ev[0].key_pid == (uint32_t)getpid());
	test_assert(ev[0].key_seq >= HTG_AUDIT_SEQ_BASE &&
		    ev[1].key_seq != ev[0].key_seq);
	{
		struct htg_audit_event again = ev[0];

		htg_audit_key(&again, 1);
		test_assert(memcmp(&again, &ev[0], sizeof(again)) == 0);
	}
	test_end();
}

static void test_write(void)
{
	struct htg_audit_event ev = event("submit", "w1");
	const char *error = NULL;

	test_begin("a write the directory takes: written, nothing spooled");
	test_assert(htg_audit_write(dir, &ev, 1, &error) == 1);
	test_assert(ev.key_pid == (uint32_t)getpid());
	test_assert(count("w1") == 1);
	test_assert(!marker());
	test_end();
}

static void test_spool_then_write(void)
{
	struct htg_audit_event ev = event("deliver", "s1"),
		next = event("submit", "s2");
	const char *error = NULL;

	test_begin("a refused write is spooled; the next write drains it");
	reopen(HTG_DIR_RDONLY);
	test_assert(htg_audit_write(dir, &ev, 1, &error) == 0);
	test_assert(error != NULL && *error != '\0');
	test_assert(marker());
	/* still refused: the marker stays for the next try */
	test_assert(htg_audit_drain(dir, &error) < 0);
	test_assert(marker());
	reopen(0);
	test_assert(count("s1") == 0);
	test_assert(htg_audit_write(dir, &next, 1, &error) == 1);
	test_assert(count("s1") == 1 && count("s2") == 1);
	test_assert(!marker());
	test_end();
}

static void test_spool_idempotent(void)
{
	struct htg_audit_event ev = event("submit", "i1");
	const char *error = NULL;

	test_begin("a spooled event whose write went through: once");
	htg_audit_key(&ev, 1);
	/* the commit landed, its writer saw an error and spooled it */
	test_assert(htg_dir_pickup_commit(dir, NULL, 0, &ev, 1, &error) == 1);
	test_assert(htg_audit_spool(dir, &ev, 1, &error) == 1);
	test_assert(htg_audit_drain(dir, &error) == 1);
	test_assert(count("i1") == 1);
	/* applied again (a crash before the journal was emptied) */
	test_assert(htg_audit_spool(dir, &ev, 1, &error) == 1);
	test_assert(htg_journal_checkpoint(dir, &error) == 1);
	test_assert(count("i1") == 1);
	test_end();
}

static void test_no_marker(void)
{
	struct htg_audit_event ev = event("submit", "n1");
	const char *error = NULL;
	char path[1024];

	test_begin("no marker: a write does not apply; htgctl's checkpoint does");
	htg_audit_key(&ev, 1);
	test_assert(htg_audit_spool(dir, &ev, 1, &error) == 1);
	snprintf(path, sizeof(path), "%s/journal/%s", tmpdir,
		 HTG_AUDIT_SPOOL_MARKER);
	test_assert(unlink(path) == 0);
	test_assert(htg_audit_drain(dir, &error) == 0);
	test_assert(count("n1") == 0);
	test_assert(htg_journal_checkpoint(dir, &error) == 1);
	test_assert(count("n1") == 1);
	test_end();
}

int main(void)
{
	uri = getenv("HTG_TEST_DIRECTORY");
	if (uri != NULL && *uri == '\0')
		uri = NULL;
	tmpdir = test_tmpdir("audit-spool");
	if (open_dir(uri != NULL ? 0 : HTG_DIR_CREATE) < 0)
		return 1;
	test_key();
	test_write();
	test_spool_then_write();
	test_spool_idempotent();
	test_no_marker();
	htg_dir_close(&dir);
	return test_exit();
}
