/*++
/* NAME
/*	htg-dir-pg-log 3
/* SUMMARY
/*	audit, retention and pickups on PostgreSQL
/* DESCRIPTION
/*	The PostgreSQL side of htg-dir-audit(3) and htg-dir-retention(3),
/*	htg_dir_pickup_commit() with them. Events and records of every
/*	node land in the same tables. An event the directory numbers gets its key (time,
/*	host name, process id, sequence number) before the first try, so
/*	that the statement's second run after a broken connection finds
/*	it there (ON CONFLICT DO NOTHING) instead of writing it twice.
/*	A pickup (retention records, events, delivery records made done)
/*	is one transaction, as in LMDB.
/*
/*	Text columns hold UTF-8: a byte sequence that is not (a hostile
/*	Message-ID, say) is stored with '?' for each byte that breaks it.
/*	Keys never are text: Message-IDs are keys only as bytes (msgids:
/*	SHA-256, deliveries: bytea).
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
#include "htg-dir-pg.h"

/* length of the valid UTF-8 sequence at s (1..4), 0 when invalid */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||
	    (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
	    (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* s as the database takes it: valid UTF-8 (with '?' for each byte that
   breaks it) unless the database is SQL_ASCII (raw: any byte but NUL,
   kept as it is); an audit field (line) on one line, with tab, CR and
   LF as spaces as LMDB stores them. s itself when it is so, else a copy
   in buf. */
static const char *clean_text(const char *s, int raw, int line, char *buf,
			      size_t size)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, o = 0, n;
	int clean = 1;

	for (i = 0; u[i] != '\0'; i += n ? n : 1)
		if ((n = raw ? 1 : utf8_len(u + i)) == 0 ||
		    (line && (u[i] == '\t' || u[i] == '\r' || u[i] == '\n')))
			clean = 0;
	if (clean)
		return s;
	for (i = 0; u[i] != '\0' && o + 5 < size; i += n ? n : 1) {
		if ((n = raw ? 1 : utf8_len(u + i)) == 0)
			buf[o++] = '?';
		else if (line && n == 1 && strchr("\t\r\n", u[i]) != NULL)
			buf[o++] = ' ';
		else {
			memcpy(buf + o, u + i, n);
			o += n;
		}
	}
	buf[o] = '\0';
	return buf;
}

#define utf8_text(dir, s, buf, size) \
	clean_text((s), dirpg_raw_text(dir), 0, (buf), (size))
#define field_text(dir, s, buf, size) \
	clean_text((s), dirpg_raw_text(dir), 1, (buf), (size))

/* --- audit ------------------------------------------------------------------ */

/* the 17 parameters of the audit statements; the directory numbers an
   event whose writer did not (key_pid 0), unless it is to be deleted
   (undo: sequence number 0, any of ours) */
void dirpg_audit_fill(struct htg_dir *dir, const struct htg_audit_event *ev,
		      int undo, struct dirpg_audit *a)
{
	int64_t t = ev->time_us;
	uint32_t pid = ev->key_pid, seq = ev->key_seq;
	const char *const f[9] = { ev->event, ev->message_id, ev->queue_id,
				   ev->rule, ev->remote, ev->tls, ev->session,
				   ev->flow, ev->stage };

	if (t == 0) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		t = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	}
	if (pid == 0) {
		pid = (uint32_t)getpid();
		seq = undo ? 0 : dirpg_next_seq(dir);
	}
	snprintf(a->num[0], sizeof(a->num[0]), "%" PRId64, t);
	snprintf(a->num[1], sizeof(a->num[1]), "%" PRIu32, pid);
	snprintf(a->num[2], sizeof(a->num[2]), "%" PRIu32, seq);
	snprintf(a->num[3], sizeof(a->num[3]), "%" PRIu64, ev->size);
	snprintf(a->num[4], sizeof(a->num[4]), "%" PRIu32, ev->uid);
	if (!htg_dir_normalise(ev->account, a->acct, sizeof(a->acct)))
		snprintf(a->acct, sizeof(a->acct), "%s",
			 field_text(dir, ev->account, a->text[0],
				    sizeof(a->text[0])));
	a->p[0] = a->num[0];
	a->p[1] = dirpg_host(dir);
	a->p[2] = a->num[1];
	a->p[3] = a->num[2];
	a->p[4] = field_text(dir, f[0], a->text[0], sizeof(a->text[0]));
	a->p[5] = a->acct;
	a->p[6] = field_text(dir, f[1], a->text[1], sizeof(a->text[1]));
	a->p[7] = a->num[3];
	a->p[8] = a->num[4];
	for (int i = 2; i < 9; i++)
		a->p[7 + i] = field_text(dir, f[i], a->text[i],
					 sizeof(a->text[i]));
	a->p[16] = field_text(dir, ev->detail, a->detail, sizeof(a->detail));
}

int dirpg_audit_append(struct htg_dir *dir, const struct htg_audit_event *ev,
		       const char **error_r)
{
	struct dirpg_audit a;

	dirpg_audit_fill(dir, ev, 0, &a);
	return dirpg_run_count(dir, PGS_AUDIT_PUT, 17, a.p, NULL, error_r) < 0 ?
		-1 : 1;
}

struct audit_iter {
	htg_audit_cb *cb;
	void *ctx;
};

static void copy_col(const PGresult *res, int col, char *buf, size_t size)
{
	snprintf(buf, size, "%s", dirpg_val(res, col));
}

static int audit_row(const PGresult *res, void *_c)
{
	struct audit_iter *c = _c;
	struct htg_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.time_us = strtoll(dirpg_val(res, 0), NULL, 10);
	/* the key (columns 1, 2): export writes it, so that an import
	   writes each event once however often it runs */
	ev.key_pid = (uint32_t)strtoul(dirpg_val(res, 1), NULL, 10);
	ev.key_seq = (uint32_t)strtoul(dirpg_val(res, 2), NULL, 10);
	copy_col(res, 3, ev.event, sizeof(ev.event));
	copy_col(res, 4, ev.account, sizeof(ev.account));
	copy_col(res, 5, ev.message_id, sizeof(ev.message_id));
	ev.size = strtoull(dirpg_val(res, 6), NULL, 10);
	ev.uid = (uint32_t)strtoul(dirpg_val(res, 7), NULL, 10);
	copy_col(res, 8, ev.queue_id, sizeof(ev.queue_id));
	copy_col(res, 9, ev.rule, sizeof(ev.rule));
	copy_col(res, 10, ev.remote, sizeof(ev.remote));
	copy_col(res, 11, ev.tls, sizeof(ev.tls));
	copy_col(res, 12, ev.session, sizeof(ev.session));
	copy_col(res, 13, ev.flow, sizeof(ev.flow));
	copy_col(res, 14, ev.stage, sizeof(ev.stage));
	copy_col(res, 15, ev.detail, sizeof(ev.detail));
	return c->cb(&ev, c->ctx);
}

int dirpg_audit_iter(struct htg_dir *dir, const char *account,
		     htg_audit_cb *cb, void *ctx, const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };
	struct audit_iter c = { cb, ctx };

	if (account == NULL)
		return dirpg_scan(dir, PGS_AUDIT_ITER, 0, NULL, audit_row, &c,
				  error_r);
	NORMALISE(account, key, "user");
	return dirpg_scan(dir, PGS_AUDIT_ITER_ACCT, 1, p, audit_row, &c,
			  error_r);
}

int dirpg_audit_expire(struct htg_dir *dir, int64_t before_us,
		       unsigned long *count_r, const char **error_r)
{
	char t[24];
	const char *p[1] = { t };
	long count;

	snprintf(t, sizeof(t), "%" PRId64, before_us);
	*count_r = 0;
	if ((count = dirpg_run_count(dir, PGS_AUDIT_EXPIRE, 1, p, NULL,
				     error_r)) < 0)
		return -1;
	*count_r = (unsigned long)count;
	return 1;
}

/* --- retention and pickups ------------------------------------------------ */

struct retained_params {
	const char *p[9];
	char acct[HTG_USER_MAX], num[4][24];
	char mid[HTG_USER_MAX + 4], path[HTG_PATH_MAX + 4];
	char restore[HTG_PATH_MAX + 4], id[HTG_RETAINED_ID_MAX + 4];
};

/* 1, or 0 with error_r: the checks of the LMDB encoding */
static int retained_params(struct htg_dir *dir, const struct htg_retained *r,
			   struct retained_params *a, const char **error_r)
{
	char key[DIRP_RETAINED_KEY_MAX], val[DIRP_RETAINED_VAL_MAX];
	int ret;

	if ((ret = dirp_retained_encode(r, key, sizeof(key), val, sizeof(val),
					error_r)) <= 0)
		return ret;
	(void)htg_dir_normalise(r->account, a->acct, sizeof(a->acct));
	snprintf(a->num[0], sizeof(a->num[0]), "%" PRId64, r->retained);
	snprintf(a->num[1], sizeof(a->num[1]), "%" PRId64, r->deadline);
	snprintf(a->num[2], sizeof(a->num[2]), "%" PRIu64, r->size);
	snprintf(a->num[3], sizeof(a->num[3]), "%" PRIu32, r->uid);
	a->p[0] = a->acct;
	a->p[1] = utf8_text(dir, r->id, a->id, sizeof(a->id));
	a->p[2] = a->num[0];
	a->p[3] = a->num[1];
	a->p[4] = field_text(dir, r->message_id, a->mid, sizeof(a->mid));
	a->p[5] = a->num[2];
	a->p[6] = a->num[3];
	a->p[7] = utf8_text(dir, r->path, a->path, sizeof(a->path));
	a->p[8] = utf8_text(dir, r->restore_to, a->restore, sizeof(a->restore));
	return 1;
}

/* write (undo 0) or delete (undo 1) in one transaction: 1 / 0 / -1 */
static int pickup_try(struct htg_dir *dir, struct dirpg_conn *c, int undo,
		      const struct htg_retained *r, unsigned int nr,
		      const struct htg_audit_event *ev, unsigned int nev,
		      const char **error_r)
{
	struct retained_params rp;
	struct dirpg_audit ap;
	PGresult *res;

	if (dirpg_cmd(c, "BEGIN", error_r) < 0)
		return -1;
	for (unsigned int i = 0; i < nr; i++) {
		if (retained_params(dir, &r[i], &rp, error_r) <= 0) {
			if (undo)
				continue;	/* never written */
			(void)dirpg_cmd(c, "ROLLBACK", error_r);
			return 0;
		}
		res = dirpg_exec(c, undo ? PGS_RETAINED_DEL : PGS_RETAINED_PUT,
				 undo ? 2 : 9, rp.p, NULL, error_r);
		if (res == NULL)
			return -1;
		dirpg_pq.clear(res);
	}
	for (unsigned int i = 0; i < nev; i++) {
		if (undo && ev[i].time_us == 0)
			continue;
		dirpg_audit_fill(dir, &ev[i], undo, &ap);
		res = dirpg_exec(c, undo ? PGS_AUDIT_DEL : PGS_AUDIT_PUT, 17,
				 ap.p, NULL, error_r);
		if (res == NULL)
			return -1;
		dirpg_pq.clear(res);
		if (!undo && strcmp(ev[i].event, "deliver") == 0) {
			char user[HTG_USER_MAX], hex[2 * HTG_USER_MAX];
			const char *p[2] = { user, hex };

			if (!dirpg_delivery_key(ev[i].account, ev[i].message_id,
					     user, hex))
				continue;
			if ((res = dirpg_exec(c, PGS_DELIVERY_MARK, 2, p, NULL,
					      error_r)) == NULL)
				return -1;
			dirpg_pq.clear(res);
		}
	}
	return dirpg_cmd(c, "COMMIT", error_r) < 0 ? -1 : 1;
}

static int pickup_apply(struct htg_dir *dir, int undo,
			const struct htg_retained *r, unsigned int nr,
			const struct htg_audit_event *ev, unsigned int nev,
			const char **error_r)
{
	if (nr == 0 && nev == 0)
		return 1;
	/* one event with nothing else to change (a "deliver" also marks
	   its delivery record): one statement, not BEGIN, INSERT and
	   COMMIT (htg-policyd's refusals, htg_audit_write(), are on its
	   hot path) */
	if (!undo && nr == 0 && nev == 1 && strcmp(ev->event, "deliver") != 0)
		return dirpg_audit_append(dir, ev, error_r);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct dirpg_conn *c = dirpg_get(dir, error_r);
		int ret, broken;

		if (c == NULL)
			return -1;
		ret = pickup_try(dir, c, undo, r, nr, ev, nev, error_r);
		broken = ret < 0 && dirpg_broken(c);
		if (ret < 0 && !broken) {
			const char *e;

			(void)dirpg_cmd(c, "ROLLBACK", &e);
		}
		dirpg_put(dir, c);
		/* a broken connection: the events have their keys (the
		   journal's, or none to write twice: ON CONFLICT) */
		if (!broken)
			return ret;
	}
	return -1;
}

int dirpg_pickup_commit(struct htg_dir *dir, const struct htg_retained *r,
			unsigned int nr, const struct htg_audit_event *ev,
			unsigned int nev, const char **error_r)
{
	return pickup_apply(dir, 0, r, nr, ev, nev, error_r);
}

int dirpg_pickup_undo(struct htg_dir *dir, const struct htg_retained *r,
		      unsigned int nr, const struct htg_audit_event *ev,
		      unsigned int nev, const char **error_r)
{
	return pickup_apply(dir, 1, r, nr, ev, nev, error_r);
}

int dirpg_retained_add(struct htg_dir *dir, const struct htg_retained *r,
		       unsigned int n, const char **error_r)
{
	return pickup_apply(dir, 0, r, n, NULL, 0, error_r);
}

int dirpg_retained_del(struct htg_dir *dir, const char *account,
		       const char *id, const char **error_r)
{
	char acct[HTG_USER_MAX];
	const char *p[2] = { acct, id };
	long count;

	NORMALISE(account, acct, "user");
	if ((count = dirpg_run_count(dir, PGS_RETAINED_DEL, 2, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = dirp_err("no retained copy %s for %s", id, acct);
		return 0;
	}
	return 1;
}

struct retained_iter {
	htg_retained_cb *cb;
	void *ctx;
};

static int retained_row(const PGresult *res, void *_c)
{
	struct retained_iter *c = _c;
	struct htg_retained r;

	memset(&r, 0, sizeof(r));
	if (!dirpg_copy(res, 0, r.account, sizeof(r.account)) ||
	    !dirpg_copy(res, 1, r.id, sizeof(r.id)) ||
	    !dirpg_copy(res, 4, r.message_id, sizeof(r.message_id)) ||
	    !dirpg_copy(res, 7, r.path, sizeof(r.path)) ||
	    !dirpg_copy(res, 8, r.restore_to, sizeof(r.restore_to)))
		return 0;	/* skip a row that does not fit */
	r.retained = strtoll(dirpg_val(res, 2), NULL, 10);
	r.deadline = strtoll(dirpg_val(res, 3), NULL, 10);
	r.size = strtoull(dirpg_val(res, 5), NULL, 10);
	r.uid = (uint32_t)strtoul(dirpg_val(res, 6), NULL, 10);
	return c->cb(&r, c->ctx);
}

int dirpg_retained_iter(struct htg_dir *dir, const char *account,
			htg_retained_cb *cb, void *ctx, const char **error_r)
{
	char acct[HTG_USER_MAX];
	const char *p[1] = { acct };
	struct retained_iter c = { cb, ctx };

	if (account == NULL)
		return dirpg_scan(dir, PGS_RETAINED_ITER, 0, NULL, retained_row,
				  &c, error_r);
	NORMALISE(account, acct, "user");
	return dirpg_scan(dir, PGS_RETAINED_ITER_ACCT, 1, p, retained_row, &c,
			  error_r);
}

/* --- stats ------------------------------------------------------------------ */

int dirpg_stats(struct htg_dir *dir, struct htg_dir_stats *st,
		const char **error_r)
{
	PGresult *res = dirpg_run(dir, PGS_STATS, 0, NULL, NULL, error_r);

	memset(st, 0, sizeof(*st));
	if (res == NULL)
		return -1;
	st->accounts = strtoull(dirpg_val(res, 0), NULL, 10);
	st->audit_events = strtoull(dirpg_val(res, 1), NULL, 10);
	st->msgids = strtoull(dirpg_val(res, 2), NULL, 10);
	st->deliveries = strtoull(dirpg_val(res, 3), NULL, 10);
	st->retained = strtoull(dirpg_val(res, 4), NULL, 10);
	/* no map: the database's size is what is in use */
	st->used = st->high_water = strtoull(dirpg_val(res, 5), NULL, 10);
	dirpg_pq.clear(res);
	return 1;
}
