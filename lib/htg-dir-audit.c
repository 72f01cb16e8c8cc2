/*++
/* NAME
/*	htg-dir-audit 3
/* SUMMARY
/*	audit events in the HTG directory
/* DESCRIPTION
/*	Append-only table "audit": events come one per commit from
/*	htg_dir_audit_append() or batched with retention records by
/*	htg_dir_pickup_commit(); htgctl lists and expires them. The key
/*	starts with the event time in microseconds, big endian, so a
/*	cursor walks the events oldest first; process id and a per-handle
/*	sequence number keep apart the events of one microsecond.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "htg-dir-private.h"

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

/* The 16-byte key (time, pid, sequence) and the record of an event. */
static void audit_key(unsigned char *kb, int64_t t, uint32_t pid, uint32_t seq)
{
	for (int i = 0; i < 8; i++)
		kb[i] = (unsigned char)((uint64_t)t >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		kb[8 + i] = (unsigned char)(pid >> (24 - 8 * i));
		kb[12 + i] = (unsigned char)(seq >> (24 - 8 * i));
	}
}

static MDB_val audit_record(const struct htg_audit_event *ev, char *rec,
			    size_t size)
{
	char num[64];
	size_t pos = 0;
	MDB_val v;

	audit_field(rec, &pos, size, ev->event);
	audit_field(rec, &pos, size, ev->account);
	audit_field(rec, &pos, size, ev->message_id);
	snprintf(num, sizeof(num), "%" PRIu64, ev->size);
	audit_field(rec, &pos, size, num);
	snprintf(num, sizeof(num), "%" PRIu32, ev->uid);
	audit_field(rec, &pos, size, num);
	audit_field(rec, &pos, size, ev->queue_id);
	audit_field(rec, &pos, size, ev->rule);
	audit_field(rec, &pos, size, ev->remote);
	audit_field(rec, &pos, size, ev->tls);
	audit_field(rec, &pos, size, ev->session);
	audit_field(rec, &pos, size, ev->flow);
	audit_field(rec, &pos, size, ev->stage);
	audit_field(rec, &pos, size, ev->detail);
	v.mv_size = pos > 0 ? pos - 1 : 0;	/* drop the last tab */
	v.mv_data = rec;
	return v;
}

/* Key and record of an event whose key the writer fixed (key_pid), as
   dirp_audit_put() would store them: the pickup journal keeps these. */
MDB_val dirp_audit_encode(const struct htg_audit_event *ev,
			  unsigned char kb[16], char *rec, size_t size)
{
	audit_key(kb, ev->time_us, ev->key_pid, ev->key_seq);
	return audit_record(ev, rec, size);
}

/* One event inside the caller's write transaction: for
   htg_dir_audit_append() and htg_dir_pickup_commit(). */
int dirp_audit_put(struct htg_dir *dir, MDB_txn *txn,
		   const struct htg_audit_event *ev, const char **error_r)
{
	unsigned char kb[16];
	char rec[DIRP_AUDIT_REC_MAX];
	int64_t t = ev->time_us;
	uint32_t seq;
	MDB_val k = { sizeof(kb), kb }, v;
	int rc;

	if (t == 0) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		t = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	}
	if (ev->key_pid != 0) {
		/* fixed by the writer: writing it again replaces it */
		audit_key(kb, t, ev->key_pid, ev->key_seq);
	} else {
		seq = __atomic_add_fetch(&dir->audit_seq, 1, __ATOMIC_RELAXED);
		audit_key(kb, t, (uint32_t)getpid(), seq);
	}
	v = audit_record(ev, rec, sizeof(rec));
	if ((rc = mdb_put(txn, dir->dbi[DB_AUDIT], &k, &v, 0)) != 0)
		return dirp_fail(error_r, "audit put", rc);
	return 0;
}

/* Delete the event this process wrote with dirp_audit_put() and an
   explicit ev->time_us: the first record under (time, pid) equal to
   ev's. 1 deleted, 0 not found, -1 error. */
int dirp_audit_del(struct htg_dir *dir, MDB_txn *txn,
		   const struct htg_audit_event *ev, const char **error_r)
{
	unsigned char kb[16];
	char rec[DIRP_AUDIT_REC_MAX];
	MDB_val k = { sizeof(kb), kb }, v, want;
	MDB_cursor *cur;
	int rc, found = 0;

	if (ev->time_us == 0)
		return 0;
	audit_key(kb, ev->time_us,
		  ev->key_pid != 0 ? ev->key_pid : (uint32_t)getpid(), 0);
	want = audit_record(ev, rec, sizeof(rec));
	if ((rc = mdb_cursor_open(txn, dir->dbi[DB_AUDIT], &cur)) != 0)
		return dirp_fail(error_r, "cursor", rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == 16 && memcmp(k.mv_data, kb, 12) == 0) {
		if (v.mv_size == want.mv_size &&
		    memcmp(v.mv_data, want.mv_data, v.mv_size) == 0) {
			rc = mdb_cursor_del(cur, 0);
			found = rc == 0;
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return dirp_fail(error_r, "audit delete", rc);
	return found;
}

static int audit_append(struct htg_dir *dir, const struct htg_audit_event *ev,
			const char **error_r)
{
	MDB_txn *txn;

	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if (dirp_audit_put(dir, txn, ev, error_r) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return dirp_commit(txn, error_r);
}

int htg_dir_audit_append(struct htg_dir *dir, const struct htg_audit_event *ev,
			 const char **error_r)
{
	DIRP_PG(dir, dirpg_audit_append(dir, ev, error_r));
	int ret;

	DIRP_RETRY(dir, ret, audit_append(dir, ev, error_r));
	return ret;
}

static void audit_copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

/* The event of a key and record as dirp_audit_encode() made them, its
   key's process id and sequence number included. -1 if the key is not
   an event's. */
int dirp_audit_decode(const MDB_val *k, const MDB_val *v,
		      struct htg_audit_event *evp)
{
	struct htg_audit_event ev;
	const unsigned char *kb = k->mv_data;
	const char *p = v->mv_data, *end = p + v->mv_size;
	char num[32];
	int field = 0;

	if (k->mv_size != 16)
		return -1;
	memset(&ev, 0, sizeof(ev));
	for (int i = 0; i < 8; i++)
		ev.time_us = (int64_t)(((uint64_t)ev.time_us << 8) | kb[i]);
	for (int i = 8; i < 12; i++)
		ev.key_pid = (ev.key_pid << 8) | kb[i];
	for (int i = 12; i < 16; i++)
		ev.key_seq = (ev.key_seq << 8) | kb[i];
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
		/* records written before issue 16 end here */
		case 10: audit_copy(ev.flow, sizeof(ev.flow), p, len); break;
		case 11: audit_copy(ev.stage, sizeof(ev.stage), p, len); break;
		case 12: audit_copy(ev.detail, sizeof(ev.detail), p, len); break;
		default: break;
		}
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	*evp = ev;
	return 0;
}

static int audit_row(const MDB_val *k, const MDB_val *v, void *_c)
{
	struct dirp_iter_ctx *c = _c;
	struct htg_audit_event ev;

	/* the event with its key (key_pid, key_seq): written again under
	   it, an exported event replaces itself (htgctl import) */
	if (dirp_audit_decode(k, v, &ev) < 0)
		return 0;
	if (c->filter != NULL && strcmp(c->filter, ev.account) != 0)
		return 0;
	return c->ecb(&ev, c->ctx);
}

int htg_dir_audit_iter(struct htg_dir *dir, const char *account,
		       htg_audit_cb *cb, void *ctx, const char **error_r)
{
	DIRP_PG(dir, dirpg_audit_iter(dir, account, cb, ctx, error_r));
	char key[HTG_USER_MAX];
	struct dirp_iter_ctx c = { .ecb = cb, .ctx = ctx };

	if (account != NULL) {
		NORMALISE(account, key, "user");
		c.filter = key;
	}
	return dirp_scan(dir, DB_AUDIT, audit_row, &c, error_r);
}

/* --- expiry ------------------------------------------------------------ */

static int audit_expire(struct htg_dir *dir, int64_t before_us,
			unsigned long *count_r, const char **error_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	*count_r = 0;
	if (dirp_wtxn(dir, &txn, error_r) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, dir->dbi[DB_AUDIT], &cur)) != 0) {
		mdb_txn_abort(txn);
		return dirp_fail(error_r, "cursor", rc);
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
		return dirp_fail(error_r, "audit expire", rc);
	}
	return dirp_commit(txn, error_r);
}

/* Expiry must work on a full directory: it may use the reserve. */
int htg_dir_audit_expire(struct htg_dir *dir, int64_t before_us,
			 unsigned long *count_r, const char **error_r)
{
	DIRP_PG(dir, dirpg_audit_expire(dir, before_us, count_r, error_r));
	int ret;

	dirp_map_reserve(dir, 1);
	DIRP_RETRY(dir, ret, audit_expire(dir, before_us, count_r, error_r));
	dirp_map_reserve(dir, 0);
	return ret;
}
