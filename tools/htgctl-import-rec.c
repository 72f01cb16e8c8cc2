/*++
/* NAME
/*	htgctl-import-rec 3
/* SUMMARY
/*	htgctl import: the records of an export, one kind each
/* DESCRIPTION
/*	One function per kind of line (htgctl-export(3) lists them), each
/*	making the directory hold the record:
/* .IP "node, address, flow, grant, account-record, logical, respond"
/*	added when missing; already there with the same values: nothing
/*	to do (an import may run twice); there with other values:
/*	refused, naming what differs (the directory is not overwritten).
/*	An account-record's password hash must be a SHA512-CRYPT hash as
/*	htgctl makes them: an import never brings a clear password or a
/*	weaker scheme that Dovecot would also accept.
/* .IP "audit, retained"
/*	written under their own keys (an event's time, process id and
/*	sequence number; a record's account and id), replacing what is
/*	there under that key, in batches of many per commit
/*	(htg_dir_pickup_commit(); like a pickup's, a "deliver" event
/*	marks its delivery record done: the delivery lines come after
/*	and restore the exported state).
/* .IP "msgid, delivery"
/*	rows of the expiring tables, added or replaced
/*	(htg_dir_table_put(), which checks them).
/* .PP
/*	The directory has no lookup by key for the last four kinds, so a
/*	different record under the same key replaces the one there
/*	instead of being refused.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "htg-dir.h"
#include "htg-passwd.h"
#include "htgctl.h"
#include "htgctl-import.h"

static char why[1024];

static int refuse(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	*error_r = why;
	return 0;
}

/* decimal digits only, at most max: 1, else 0 */
static int num_u64(const char *s, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (*s < '0' || *s > '9' || n > (max - d) / 10)
			return 0;
		n = n * 10 + d;
	}
	*n_r = n;
	return 1;
}

static int num_u32(const char *s, uint32_t *n_r)
{
	uint64_t n;

	if (!num_u64(s, UINT32_MAX, &n))
		return 0;
	*n_r = (uint32_t)n;
	return 1;
}

static int num_i64(const char *s, int64_t *n_r)
{
	uint64_t n;
	int neg = *s == '-';

	if (!num_u64(s + neg, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &n))
		return 0;
	*n_r = neg ? (int64_t)(0 - n) : (int64_t)n;
	return 1;
}

/* copy a field into a struct's buffer: 1, 0 too long */
static int field_copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len >= size)
		return 0;
	memcpy(dst, src, len + 1);
	return 1;
}

/* --- the records of the directory's tables ------------------------------ */

int imp_address(struct import *im, char **f, const char **error_r)
{
	char owner[HTG_USER_MAX];
	int ret;

	if (!name_ok(NAME_ADDRESS, f[0], error_r) ||
	    !name_ok(NAME_ACCOUNT, f[1], error_r))
		return 0;
	ret = htg_dir_address_owner(im->dir, f[0], owner, sizeof(owner),
				    error_r);
	if (ret == 0)
		return htg_dir_address_add(im->dir, f[0], f[1], error_r);
	if (ret == 1 && strcasecmp(owner, f[1]) != 0)
		return refuse(error_r, "address %s belongs to %s", f[0],
			      owner);
	return ret;
}

int imp_flow(struct import *im, char **f, const char **error_r)
{
	char to[HTG_USER_MAX];
	int ret;

	if (!name_ok(NAME_FLOW, f[0], error_r) ||
	    !name_ok(NAME_ADDRESS, f[1], error_r))
		return 0;
	ret = htg_dir_flow_get(im->dir, f[0], to, sizeof(to), error_r);
	if (ret == 0)
		return htg_dir_flow_add(im->dir, f[0], f[1], error_r);
	if (ret == 1 && strcasecmp(to, f[1]) != 0)
		return refuse(error_r, "flow %s delivers to %s", f[0], to);
	return ret;
}

int imp_grant(struct import *im, char **f, const char **error_r)
{
	int ret;

	if (!name_ok(NAME_ACCOUNT, f[0], error_r) ||
	    !name_ok(NAME_FLOW, f[1], error_r))
		return 0;
	ret = htg_dir_grant_check(im->dir, f[0], f[1], error_r);
	return ret == 0 ? htg_dir_grant_add(im->dir, f[0], f[1], error_r) :
		ret;
}

int imp_node(struct import *im, char **f, const char **error_r)
{
	return import_node(im->dir, f[0], f[1], error_r);
}

/* the first field in which two accounts differ, NULL if none (the home
   node apart) */
static const char *account_diff(const struct htg_account *a,
				const struct htg_account *b)
{
	if (strcmp(a->pwhash, b->pwhash) != 0)
		return "password hash";
	if (a->flags != b->flags)
		return "flags";
	if (a->retention_days != b->retention_days)
		return "retention";
	if (a->max_size != b->max_size)
		return "maximum size";
	if (a->created != b->created)
		return "creation time";
	return NULL;
}

/* USER HASH FLAGS RETENTION-DAYS MAX-SIZE CREATED HOME */
int imp_account_record(struct import *im, char **f, const char **error_r)
{
	struct htg_account a, old;
	const char *diff;
	int ret;

	memset(&a, 0, sizeof(a));
	if (!name_ok(NAME_ACCOUNT, f[0], error_r))
		return 0;
	(void)field_copy(a.user, sizeof(a.user), f[0]);	/* name_ok bounds it */
	if (strncmp(f[1], HTG_PASSWD_SCHEME "$6$",
		    strlen(HTG_PASSWD_SCHEME "$6$")) != 0 ||
	    !field_copy(a.pwhash, sizeof(a.pwhash), f[1]))
		return refuse(error_r, "account %s: the password hash is not "
			      "%s$6$... (the only scheme htgctl writes)",
			      f[0], HTG_PASSWD_SCHEME);
	if (!num_u32(f[2], &a.flags) || !num_u32(f[3], &a.retention_days) ||
	    !num_u64(f[4], UINT64_MAX, &a.max_size) ||
	    !num_i64(f[5], &a.created) || a.created == 0)
		return refuse(error_r, "account %s: a bad number", f[0]);
	if (!field_copy(a.home, sizeof(a.home), f[6]))
		return refuse(error_r, "account %s: home node name too long",
			      f[0]);
	ret = htg_dir_account_get(im->dir, a.user, &old, error_r);
	if (ret == 0) {
		ret = htg_dir_account_add(im->dir, &a, error_r);
		if (ret == 1 && a.home[0] != '\0')
			ret = import_home(im->dir, a.user, a.home, error_r);
	} else if (ret == 1 && (diff = account_diff(&a, &old)) != NULL) {
		ret = refuse(error_r, "account %s exists with another %s",
			     a.user, diff);
	} else if (ret == 1 && strcmp(a.home, old.home) != 0) {
		/* an import stopped between the two commits above */
		if (old.home[0] == '\0')
			ret = import_home(im->dir, a.user, a.home, error_r);
		else
			ret = refuse(error_r, "account %s exists with home "
				     "node %s", a.user, old.home);
	}
	explicit_bzero(&a, sizeof(a));
	explicit_bzero(&old, sizeof(old));
	return ret;
}

/* USER ADDRESS */
int imp_logical(struct import *im, char **f, const char **error_r)
{
	char cur[HTG_USER_MAX];
	int ret;

	if (!name_ok(NAME_ACCOUNT, f[0], error_r) ||
	    !name_ok(NAME_ADDRESS, f[1], error_r))
		return 0;
	ret = htg_dir_logical_get(im->dir, f[0], cur, sizeof(cur), error_r);
	if (ret == 0)
		return htg_dir_logical_set(im->dir, f[0], f[1], error_r);
	if (ret == 1 && strcasecmp(cur, f[1]) != 0)
		return refuse(error_r, "account %s has the logical address %s",
			      f[0], cur);
	return ret;
}

/* FLOW MODE DELAY */
int imp_respond(struct import *im, char **f, const char **error_r)
{
	char mode[16];
	unsigned int cur_delay;
	uint32_t delay;
	int ret;

	if (!name_ok(NAME_FLOW, f[0], error_r))
		return 0;
	if (!htg_dir_respond_mode_ok(f[1]) || !num_u32(f[2], &delay))
		return refuse(error_r, "flow %s: bad respond mode or delay",
			      f[0]);
	ret = htg_dir_flow_respond_get(im->dir, f[0], mode, sizeof(mode),
				       &cur_delay, error_r);
	if (ret == 0)
		return htg_dir_flow_respond_set(im->dir, f[0], f[1], delay,
						error_r);
	if (ret == 1 && (strcmp(mode, f[1]) != 0 || cur_delay != delay))
		return refuse(error_r, "flow %s responds %s with delay %u",
			      f[0], mode, cur_delay);
	return ret;
}

/* --- audit events and retention records, in batches ---------------------- */

int import_flush(struct import *im, const char **error_r)
{
	unsigned int n = im->nev + im->nkept;
	int ret;

	if (n == 0)
		return 1;
	ret = htg_dir_pickup_commit(im->dir, im->kept, im->nkept, im->ev,
				    im->nev, error_r);
	if (ret != 1)
		return ret < 0 ? -1 : 0;
	*im->done += n;
	im->nev = im->nkept = 0;
	return 1;
}

/* Room for one more record in the batch: a full one is written first
   (a failure there is the batch's: im->flush_failed). */
static int batch_room(struct import *im, const char **error_r)
{
	int ret;

	if (im->nev == IMPORT_BATCH_EVENTS ||
	    im->nkept == IMPORT_BATCH_RETAINED) {
		if ((ret = import_flush(im, error_r)) != 1) {
			im->flush_failed = 1;
			return ret;
		}
	}
	if (im->nev == 0 && im->nkept == 0)
		im->batch_line = im->line;
	return 1;
}

/* TIME-US KEY-PID KEY-SEQ EVENT ACCOUNT MESSAGE-ID SIZE UID QUEUE-ID
   RULE REMOTE TLS SESSION FLOW STAGE DETAIL */
int imp_audit(struct import *im, char **f, const char **error_r)
{
	struct htg_audit_event ev;
	int ret;

	memset(&ev, 0, sizeof(ev));
	if (!num_i64(f[0], &ev.time_us) || ev.time_us == 0 ||
	    !num_u32(f[1], &ev.key_pid) || ev.key_pid == 0 ||
	    !num_u32(f[2], &ev.key_seq))
		return refuse(error_r, "audit event: bad time or key (an "
			      "event keeps its own, never 0)");
	if (!field_copy(ev.event, sizeof(ev.event), f[3]) ||
	    !field_copy(ev.account, sizeof(ev.account), f[4]) ||
	    !field_copy(ev.message_id, sizeof(ev.message_id), f[5]) ||
	    !num_u64(f[6], UINT64_MAX, &ev.size) || !num_u32(f[7], &ev.uid) ||
	    !field_copy(ev.queue_id, sizeof(ev.queue_id), f[8]) ||
	    !field_copy(ev.rule, sizeof(ev.rule), f[9]) ||
	    !field_copy(ev.remote, sizeof(ev.remote), f[10]) ||
	    !field_copy(ev.tls, sizeof(ev.tls), f[11]) ||
	    !field_copy(ev.session, sizeof(ev.session), f[12]) ||
	    !field_copy(ev.flow, sizeof(ev.flow), f[13]) ||
	    !field_copy(ev.stage, sizeof(ev.stage), f[14]) ||
	    !field_copy(ev.detail, sizeof(ev.detail), f[15]))
		return refuse(error_r, "audit event: a field too long or a "
			      "bad number");
	if ((ret = batch_room(im, error_r)) != 1)
		return ret;
	im->ev[im->nev++] = ev;
	return 1;
}

/* a retention record's text field: no tab or line break (they separate
   the stored record's fields) */
static int kept_text(char *dst, size_t size, const char *src)
{
	return strpbrk(src, "\t\r\n") == NULL && field_copy(dst, size, src);
}

/* ACCOUNT ID RETAINED DEADLINE MESSAGE-ID SIZE UID PATH RESTORE-TO */
int imp_retained(struct import *im, char **f, const char **error_r)
{
	struct htg_retained r;
	char acct[HTG_USER_MAX];
	int ret;

	memset(&r, 0, sizeof(r));
	if (!htg_dir_normalise(f[0], acct, sizeof(acct)) ||
	    !field_copy(r.account, sizeof(r.account), f[0]) ||
	    f[1][0] == '\0' || !kept_text(r.id, sizeof(r.id), f[1]) ||
	    !num_i64(f[2], &r.retained) || !num_i64(f[3], &r.deadline) ||
	    !kept_text(r.message_id, sizeof(r.message_id), f[4]) ||
	    !num_u64(f[5], UINT64_MAX, &r.size) || !num_u32(f[6], &r.uid) ||
	    !kept_text(r.path, sizeof(r.path), f[7]) ||
	    !kept_text(r.restore_to, sizeof(r.restore_to), f[8]))
		return refuse(error_r, "retention record: a bad account, id, "
			      "number or path");
	if ((ret = batch_room(im, error_r)) != 1)
		return ret;
	im->kept[im->nkept++] = r;
	return 1;
}

/* --- the expiring tables, row by row ------------------------------------- */

int imp_msgid(struct import *im, char **f, const char **error_r)
{
	return htg_dir_table_put(im->dir, "msgids", f[0], f[1], error_r);
}

int imp_delivery(struct import *im, char **f, const char **error_r)
{
	return htg_dir_table_put(im->dir, "deliveries", f[0], f[1], error_r);
}
