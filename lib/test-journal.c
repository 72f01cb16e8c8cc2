/*++
/* NAME
/*	test-journal 1
/* SUMMARY
/*	unit tests of the pickup journal
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "htg-dir.h"
#include "htg-journal.h"
#include "htg-journal-private.h"
#include "htg-test.h"

static const char *tmpdir;
static char keptdir[TEST_TMPDIR_MAX + 8];
static uint32_t seq;

#define ACCT "jnl@bedrijf.nl"

static struct htg_dir *dir;

/* A kept copy of size bytes (filled with c) and its record. */
static struct htg_retained kept(const char *id, size_t size, char c)
{
	struct htg_retained r;
	char *buf = malloc(size + 1);
	FILE *f;

	memset(&r, 0, sizeof(r));
	snprintf(r.account, sizeof(r.account), ACCT);
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.message_id, sizeof(r.message_id), "<%s@test>", id);
	snprintf(r.path, sizeof(r.path), "%s/%s.eml", keptdir, id);
	r.retained = 1000;
	r.deadline = 2000;
	r.size = size;
	r.uid = 7;
	memset(buf, c, size);
	f = fopen(r.path, "w");
	if (f == NULL || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
		exit(1);
	free(buf);
	return r;
}

static struct htg_audit_event event(const char *name, const char *id)
{
	struct htg_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "%s", name);
	snprintf(ev.account, sizeof(ev.account), ACCT);
	snprintf(ev.message_id, sizeof(ev.message_id), "<%s@test>", id);
	ev.time_us = 1000000 + seq;
	ev.key_pid = (uint32_t)getpid();
	ev.key_seq = 0x80000000u | ++seq;
	return ev;
}

static int count_record(const struct htg_retained *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static int count_event(const struct htg_audit_event *ev, void *ctx)
{
	(void)ev;
	(*(int *)ctx)++;
	return 0;
}

static int dele_cb(const struct htg_audit_event *ev, void *ctx)
{
	if (strcmp(ev->event, "dele") == 0)
		(*(int *)ctx)++;
	return 0;
}

static int records(void)
{
	const char *error;
	int n = 0;

	if (htg_dir_retained_iter(dir, ACCT, count_record, &n,
				  &error) < 0)
		return -1;
	return n;
}

static int events(void)
{
	const char *error;
	int n = 0;

	if (htg_dir_audit_iter(dir, ACCT, count_event, &n,
			       &error) < 0)
		return -1;
	return n;
}

static int deles(void)
{
	const char *error;
	int n = 0;

	if (htg_dir_audit_iter(dir, ACCT, dele_cb, &n, &error) < 0)
		return -1;
	return n;
}

static int file_is(const char *path, size_t size, char c)
{
	struct stat st;
	char buf[64];
	FILE *f = fopen(path, "r");
	int ok;

	if (f == NULL)
		return 0;
	ok = fstat(fileno(f), &st) == 0 && (size_t)st.st_size == size &&
	    fread(buf, 1, 1, f) == 1 && buf[0] == c;
	fclose(f);
	return ok;
}

static int append(const struct htg_retained *r, unsigned int nr,
		  const struct htg_audit_event *ev, unsigned int nev,
		  struct htg_journal_pos *pos)
{
	const char *error = NULL;
	int ret = htg_journal_append(dir, r, nr, ev, nev, pos, &error);

	if (ret < 0)
		printf("append: %s\n", error);
	return ret;
}

static int checkpoint(void)
{
	const char *error = NULL;
	int ret = htg_journal_checkpoint(dir, &error);

	if (ret < 0)
		printf("checkpoint: %s\n", error);
	return ret;
}

static void test_append_apply(void)
{
	struct htg_retained r = kept("a", 10240, 'a');
	struct htg_audit_event ev[2] = { event("retr", "a"), event("dele", "a") };
	struct htg_journal_pos pos;

	test_begin("journal: an entry is applied by a checkpoint, twice is once");
	test_assert(append(&r, 1, ev, 2, &pos) == 1);
	test_assert(records() == 0);	/* in the journal only */
	test_assert(checkpoint() == 3);
	test_assert(records() == 1);
	test_assert(events() == 2);
	test_assert(file_is(r.path, 10240, 'a'));
	test_assert(checkpoint() == 0);	/* emptied */
	/* the same entry applied again (a crash before the journal was
	   emptied) changes nothing: fixed keys */
	test_assert(append(&r, 1, ev, 2, &pos) == 1);
	test_assert(checkpoint() == 3);
	test_assert(records() == 1);
	test_assert(events() == 2);
	test_end();
}

static void test_lost_link(void)
{
	struct htg_retained r = kept("b", 5000, 'b');
	struct htg_audit_event ev = event("dele", "b");
	struct htg_journal_pos pos;

	test_begin("journal: a copy lost before the checkpoint is rewritten");
	test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	test_assert(unlink(r.path) == 0);
	test_assert(checkpoint() == 2);
	test_assert(file_is(r.path, 5000, 'b'));
	test_end();
}

/* A lost copy whose folder is now a symbolic link (to a folder of the
   same owner) is not written through the link: copy_rewrite() opens the
   folder with O_NOFOLLOW and works on that fd (issue 13: stat, then
   open by path, followed the link). The record still goes in. */
static void test_lost_link_through_symlink(void)
{
	struct htg_retained r = kept("s", 100, 's');
	struct htg_audit_event ev = event("dele", "s");
	struct htg_journal_pos pos;
	char elsewhere[TEST_TMPDIR_MAX + 16], link[TEST_TMPDIR_MAX + 16];
	char target[TEST_TMPDIR_MAX + 32];
	int rec0 = records();

	test_begin("journal: a lost copy is not rewritten through a link");
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", tmpdir);
	snprintf(link, sizeof(link), "%s/kept-link", tmpdir);
	snprintf(target, sizeof(target), "%s/s.eml", elsewhere);
	test_assert(mkdir(elsewhere, 0700) == 0 && symlink(elsewhere, link) == 0);
	/* the copy as the plugin made it, in a real folder */
	test_assert(rename(r.path, target) == 0);
	snprintf(r.path, sizeof(r.path), "%s/s.eml", link);
	test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	/* lost before the checkpoint */
	test_assert(unlink(target) == 0);
	test_assert(checkpoint() == 2);
	test_assert(access(target, F_OK) < 0);
	test_assert(records() == rec0 + 1);
	test_end();
}

static void test_cancel(void)
{
	struct htg_retained r = kept("c", 100, 'c');
	struct htg_audit_event ev[2] = { event("retr", "c"), event("dele", "c") };
	struct htg_journal_pos pos;
	const char *error;
	int rec0 = records(), ev0 = events(), dele0 = deles();

	test_begin("journal: a cancelled entry gives its retrievals only");
	test_assert(append(&r, 1, ev, 2, &pos) == 1);
	test_assert(htg_journal_cancel(dir, &pos, &error) == 1);
	test_assert(checkpoint() == 1);
	test_assert(records() == rec0);
	test_assert(events() == ev0 + 1);
	test_assert(deles() == dele0);
	/* applied already: the caller undoes it in the directory */
	test_assert(htg_journal_cancel(dir, &pos, &error) == 0);
	test_end();
}

static void test_torn(void)
{
	struct htg_retained r = kept("d", 300, 'd');
	struct htg_audit_event ev = event("dele", "d");
	struct htg_journal_pos pos;
	char path[TEST_TMPDIR_MAX + 32];
	int rec0 = records(), fd;

	test_begin("journal: a torn entry is skipped");
	test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	snprintf(path, sizeof(path), "%s/journal/%u", tmpdir, pos.slot);
	fd = open(path, O_WRONLY);
	test_assert(fd >= 0 && pwrite(fd, "X", 1, 4096 + 100) == 1);
	if (fd >= 0)
		close(fd);
	test_assert(checkpoint() == 0);
	test_assert(records() == rec0);
	test_end();
}

/* The head's count reaches the disk, the new end offset does not: the
   stale offset left from before an apply must not let the next entry
   overwrite an older one. */
static void test_torn_head(void)
{
	struct htg_audit_event ev = event("dele", "h");
	struct htg_journal_pos pos;
	struct htg_retained r;
	char path[TEST_TMPDIR_MAX + 32];
	uint32_t count = 2;
	int rec0, fd;

	test_begin("journal: a torn head does not let an entry overwrite another");
	for (int i = 0; i < 3; i++) {	/* leaves small end offsets behind */
		char id[16];

		snprintf(id, sizeof(id), "h%d", i);
		r = kept(id, 1000, 'h');
		test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	}
	test_assert(checkpoint() > 0);
	rec0 = records();
	r = kept("h-big", 60000, 'i');	/* ends past the stale offsets */
	test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	snprintf(path, sizeof(path), "%s/journal/%u", tmpdir, pos.slot);
	fd = open(path, O_WRONLY);
	test_assert(fd >= 0 && pwrite(fd, &count, 4, 16) == 4);
	if (fd >= 0)
		close(fd);
	r = kept("h-next", 1000, 'j');
	test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	test_assert(checkpoint() > 0);
	test_assert(records() == rec0 + 2);
	test_assert(file_is(r.path, 1000, 'j'));
	test_end();
}

static char *slot_path(unsigned int slot)
{
	static char path[TEST_TMPDIR_MAX + 32];

	snprintf(path, sizeof(path), "%s/journal/%u", tmpdir, slot);
	return path;
}

static int file_copy(const char *from, const char *to)
{
	char cmd[3 * (TEST_TMPDIR_MAX + 32)];

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	return system(cmd);
}

/* After an apply, the entries' bytes stay in the file: a head whose
   count and old end offset reach the disk without the new entry must
   not bring an applied (and since purged) entry back. */
static void test_stale_entry(void)
{
	struct htg_retained r = kept("s", 2000, 's');
	struct htg_audit_event ev = event("dele", "s");
	struct htg_journal_pos pos;
	const char *error;
	uint32_t count = 1;
	uint64_t end;
	int rec0, fd;

	test_begin("journal: an entry of an earlier generation is not applied");
	test_assert(append(&r, 1, &ev, 1, &pos) == 1);
	fd = open(slot_path(pos.slot), O_RDWR);
	test_assert(fd >= 0 && pread(fd, &end, 8, 24) == 8);
	test_assert(checkpoint() == 2);
	test_assert(htg_dir_retained_del(dir, ACCT, "s", &error) == 1);
	rec0 = records();
	test_assert(pwrite(fd, &count, 4, 16) == 4 &&
		    pwrite(fd, &end, 8, 24) == 8);
	if (fd >= 0)
		close(fd);
	test_assert(checkpoint() == 0);
	test_assert(records() == rec0);
	test_end();
}

/* An apply killed after its commit, before it emptied the journal, and
   then the QUIT's mailbox commit fails: the cancel finds the entry and
   the next apply undoes what the first one wrote. */
static void test_cancel_after_commit(void)
{
	struct htg_retained r = kept("u", 100, 'u');
	struct htg_audit_event ev[2] = { event("retr", "u"), event("dele", "u") };
	struct htg_journal_pos pos;
	char saved[TEST_TMPDIR_MAX + 32];
	const char *error;
	int rec0 = records(), dele0 = deles(), ev0 = events();

	test_begin("journal: a cancel after an interrupted apply undoes it");
	test_assert(append(&r, 1, ev, 2, &pos) == 1);
	snprintf(saved, sizeof(saved), "%s/saved", tmpdir);
	test_assert(file_copy(slot_path(pos.slot), saved) == 0);
	test_assert(checkpoint() == 3);
	test_assert(records() == rec0 + 1);
	/* as if the journal had not been emptied */
	test_assert(file_copy(saved, slot_path(pos.slot)) == 0);
	test_assert(htg_journal_cancel(dir, &pos, &error) == 1);
	test_assert(checkpoint() >= 1);
	test_assert(records() == rec0);
	test_assert(deles() == dele0);
	test_assert(events() == ev0 + 1);	/* the retrieval stays */
	test_end();
}

static void test_sizes(void)
{
	struct htg_retained big = kept("big", HTG_JOURNAL_SIZE, 'e');
	struct htg_audit_event ev = event("dele", "big");
	struct htg_journal_pos pos;
	int rec0 = records(), applied = 0;

	test_begin("journal: too big for it is 0; a full journal applies itself");
	test_assert(append(&big, 1, &ev, 1, &pos) == 0);
	for (int i = 0; i < 120; i++) {
		char id[16];
		struct htg_retained r;
		struct htg_audit_event e;

		snprintf(id, sizeof(id), "f%d", i);
		r = kept(id, 20000, 'f');
		e = event("dele", id);
		test_assert_idx(append(&r, 1, &e, 1, &pos) == 1, i);
	}
	/* 120 entries of ~23 KB do not fit one 1 MB journal: the writer
	   applied the full ones itself */
	test_assert(records() > rec0);
	applied = checkpoint();
	test_assert(applied > 0);
	test_assert(records() == rec0 + 120);
	test_end();
}

/* A part whose sizes, padded to 8, wrap past 2^64 must not pass the
   bounds check (issue 13: pad8(part.size) near 2^64 is 0). */
static void test_part_bounds(void)
{
	static const uint64_t sizes[] = {
		UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 6, UINT64_MAX - 7,
		(uint64_t)1 << 63, 41, 48,
	};
	uint64_t buf[8];
	const unsigned char *p = (const unsigned char *)buf, *data, *next;
	struct jnl_part part;
	uint64_t size;
	MDB_val k, v;

	test_begin("journal part: sizes near 2^64 do not wrap the check");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		part.klen = 1;
		part.vlen = 1;
		part.size = sizes[i];
		memcpy(buf, &part, sizeof(part));
		/* 16 bytes of part, 8 of key and value, 40 left */
		next = jnl_part_next(p, p + sizeof(buf), &k, &v, &data, &size);
		test_assert_idx(next == NULL, i);
	}
	/* what fits is read: 40 bytes of data exactly */
	part.size = 40;
	memcpy(buf, &part, sizeof(part));
	next = jnl_part_next(p, p + sizeof(buf), &k, &v, &data, &size);
	test_assert(next == p + sizeof(buf) && size == 40 &&
		    k.mv_size == 1 && v.mv_size == 1);
	/* key and value lengths too */
	part.klen = UINT32_MAX;
	part.vlen = UINT32_MAX;
	part.size = 0;
	memcpy(buf, &part, sizeof(part));
	test_assert(jnl_part_next(p, p + sizeof(buf), &k, &v, &data,
				  &size) == NULL);
	test_end();
}

int main(void)
{
	const char *error;
	int ret;

	const char *uri = getenv("HTG_TEST_DIRECTORY");
	int from, to;

	tmpdir = test_tmpdir("journal");
	snprintf(keptdir, sizeof(keptdir), "%s/kept", tmpdir);
	if (mkdir(keptdir, 0700) < 0)
		return 1;
	if (uri != NULL && *uri != '\0') {
		/* a PostgreSQL directory (test-dir-pg.sh): the journal in
		   this machine's state folder, here the test's folder */
		if (htg_dir_open(uri, HTG_DIR_NOSCHEMA, &dir, &error) != 1 ||
		    htg_dir_migrate(dir, &from, &to, &error) != 1 ||
		    htg_dir_set_state_path(dir, tmpdir) != 1) {
			printf("%s: %s\n", uri, error);
			return 1;
		}
	} else if (htg_dir_open(tmpdir, HTG_DIR_CREATE, &dir, &error) != 1)
		return 1;
	test_append_apply();
	test_lost_link();
	test_lost_link_through_symlink();
	test_cancel();
	test_torn();
	test_torn_head();
	test_stale_entry();
	test_cancel_after_commit();
	test_sizes();
	test_part_bounds();
	htg_dir_close(&dir);
	ret = test_exit();
	return ret;
}
