/*++
/* NAME
/*	htgctl-export 3
/* SUMMARY
/*	htgctl export: the whole directory as lines, for htgctl import
/* SYNOPSIS
/*	htgctl [-d DIR] export > FILE
/* DESCRIPTION
/*	Writes every record of the directory to standard output, one per
/*	line, in the format that htgctl import reads (htgctl-import(3)):
/*	a kind, then its fields, each after one tab, escaped as
/*	htg-field(3) says (a backslash, tab, line break or other control
/*	byte in a value cannot break the line). In this order, so that
/*	each record finds what it refers to:
/* .nf
/*	htg-export	1		the format's version
/*	node	NAME	ADDRESS
/*	account-record	USER	HASH	FLAGS	RETENTION-DAYS	MAX-SIZE
/*		CREATED	HOME
/*	address	ADDRESS	USER
/*	logical	USER	ADDRESS
/*	flow	FLOW	DELIVER-TO
/*	respond	FLOW	MODE	DELAY
/*	grant	USER	FLOW
/*	audit	TIME-US	KEY-PID	KEY-SEQ	EVENT	ACCOUNT	MESSAGE-ID	SIZE
/*		UID	QUEUE-ID	RULE	REMOTE	TLS	SESSION	FLOW
/*		STAGE	DETAIL
/*	retained	ACCOUNT	ID	RETAINED	DEADLINE	MESSAGE-ID
/*		SIZE	UID	PATH	RESTORE-TO
/*	msgid	KEY-HEX	RECORD
/*	delivery	KEY-HEX	RECORD
/*	end	RECORDS		how many records came before it
/* .fi
/*	Numbers are decimal; times are unix seconds, TIME-US microseconds.
/*	HASH is the stored one-way hash ("{SHA512-CRYPT}$6$..."): the
/*	output holds every account's hash and the audit trail, so it must
/*	be kept like the directory itself (umask 077).
/*
/*	The output is the same for the same records whatever the backend
/*	(no time stamp, no path): an export of a copy made by import is
/*	byte for byte the export it was made from.
/*
/*	Memory stays bounded whatever the size of the directory: every
/*	table is streamed from its iterator straight to the output, and
/*	the names that a second lookup needs (logical addresses per
/*	account, responding flows) wait in a temporary file, not in
/*	memory.
/*
/*	Consistency: the pickup journal is applied first (as for htgctl
/*	audit), so every answered POP3 QUIT is in. Then each table is
/*	read in one read transaction (LMDB), i.e. as it was at one
/*	moment, but the tables one after the other: a change made while
/*	export runs may be in a later table and missing from an earlier
/*	one (an audit event written after the audit table was read is
/*	missing; an address added for an account created during the
/*	export makes the import refuse that line). For an exact copy,
/*	stop the gateway's writers (Postfix, Dovecot, htg-milter) and
/*	htgctl first. On LMDB a long export also holds back the reuse of
/*	freed pages, so the data file may grow while it runs.
/*
/*	A directory error stops the export with exit 1 and no "end" line,
/*	so that htgctl import knows the copy is incomplete.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir.h"
#include "htg-field.h"
#include "htgctl.h"

struct export {
	struct htg_dir *dir;
	FILE *out;
	FILE *spool;		/* names for a second lookup */
	unsigned long records;
};

/* "kind<TAB>field<TAB>field...\n": one record; fields NULL-terminated */
static void put_record(struct export *e, const char *kind, ...)
{
	va_list ap;
	const char *s;

	fputs(kind, e->out);
	va_start(ap, kind);
	while ((s = va_arg(ap, const char *)) != NULL) {
		fputc('\t', e->out);
		htg_field_write(e->out, s);
	}
	va_end(ap);
	fputc('\n', e->out);
	e->records++;
}

/* a callback's answer: stop when the output failed (a closed pipe) */
static int put_ok(struct export *e)
{
	return ferror(e->out) ? 1 : 0;
}

/* a name for the second pass; names hold no line break (htg_dir_normalise) */
static int spool_name(struct export *e, const char *name)
{
	fprintf(e->spool, "%s\n", name);
	return ferror(e->spool) ? 1 : put_ok(e);
}

static int account_cb(const struct htg_account *a, void *ctx)
{
	struct export *e = ctx;
	char flags[16], days[16], max[24], created[24];

	snprintf(flags, sizeof(flags), "%" PRIu32, a->flags);
	snprintf(days, sizeof(days), "%" PRIu32, a->retention_days);
	snprintf(max, sizeof(max), "%" PRIu64, a->max_size);
	snprintf(created, sizeof(created), "%" PRId64, a->created);
	put_record(e, "account-record", a->user, a->pwhash, flags, days, max,
		   created, a->home, (char *)NULL);
	return spool_name(e, a->user);
}

static int address_cb(const char *address, const char *user, void *ctx)
{
	put_record(ctx, "address", address, user, (char *)NULL);
	return put_ok(ctx);
}

static int flow_cb(const char *flow, const char *deliver_to, void *ctx)
{
	put_record(ctx, "flow", flow, deliver_to, (char *)NULL);
	return spool_name(ctx, flow);
}

static int grant_cb(const char *user, const char *flow, void *ctx)
{
	put_record(ctx, "grant", user, flow, (char *)NULL);
	return put_ok(ctx);
}

static int audit_cb(const struct htg_audit_event *ev, void *ctx)
{
	char t[24], pid[16], seq[16], size[24], uid[16];

	snprintf(t, sizeof(t), "%" PRId64, ev->time_us);
	snprintf(pid, sizeof(pid), "%" PRIu32, ev->key_pid);
	snprintf(seq, sizeof(seq), "%" PRIu32, ev->key_seq);
	snprintf(size, sizeof(size), "%" PRIu64, ev->size);
	snprintf(uid, sizeof(uid), "%" PRIu32, ev->uid);
	put_record(ctx, "audit", t, pid, seq, ev->event, ev->account,
		   ev->message_id, size, uid, ev->queue_id, ev->rule,
		   ev->remote, ev->tls, ev->session, ev->flow, ev->stage,
		   ev->detail, (char *)NULL);
	return put_ok(ctx);
}

static int retained_cb(const struct htg_retained *r, void *ctx)
{
	char kept[24], deadline[24], size[24], uid[16];

	snprintf(kept, sizeof(kept), "%" PRId64, r->retained);
	snprintf(deadline, sizeof(deadline), "%" PRId64, r->deadline);
	snprintf(size, sizeof(size), "%" PRIu64, r->size);
	snprintf(uid, sizeof(uid), "%" PRIu32, r->uid);
	put_record(ctx, "retained", r->account, r->id, kept, deadline,
		   r->message_id, size, uid, r->path, r->restore_to,
		   (char *)NULL);
	return put_ok(ctx);
}

static int msgid_cb(const char *key, const char *rec, void *ctx)
{
	put_record(ctx, "msgid", key, rec, (char *)NULL);
	return put_ok(ctx);
}

static int delivery_cb(const char *key, const char *rec, void *ctx)
{
	put_record(ctx, "delivery", key, rec, (char *)NULL);
	return put_ok(ctx);
}

/* The second pass over the spooled names: each account's logical
   address (which = 0) or each flow's answer mode (which = 1). Lookups
   run here, outside any iteration: a backend may hold one cursor at a
   time. */
static int node_cb(const char *name, const char *address, void *ctx)
{
	put_record(ctx, "node", name, address, (char *)NULL);
	return put_ok(ctx);
}

static int second_pass(struct export *e, int which, const char **error_r)
{
	char name[HTG_USER_MAX + 2], buf[HTG_USER_MAX], delay[16];
	unsigned int secs;
	int ret = 1;

	if (fflush(e->spool) != 0 || fseek(e->spool, 0, SEEK_SET) != 0) {
		*error_r = "temporary file: write error";
		return -1;
	}
	while (ret == 1 && fgets(name, sizeof(name), e->spool) != NULL) {
		name[strcspn(name, "\n")] = '\0';
		if (which == 0)
			ret = htg_dir_logical_get(e->dir, name, buf,
						  sizeof(buf), error_r);
		else
			ret = htg_dir_flow_respond_get(e->dir, name, buf,
						       sizeof(buf), &secs,
						       error_r);
		if (ret == 1 && which == 0) {
			put_record(e, "logical", name, buf, (char *)NULL);
		} else if (ret == 1) {
			snprintf(delay, sizeof(delay), "%u", secs);
			put_record(e, "respond", name, buf, delay,
				   (char *)NULL);
		}
		if (ret >= 0 && put_ok(e)) {
			*error_r = "write error on standard output";
			ret = -1;
		}
		ret = ret < 0 ? -1 : 1;
	}
	if (ret == 1 && ferror(e->spool)) {
		*error_r = "temporary file: read error";
		ret = -1;
	}
	fclose(e->spool);
	e->spool = NULL;
	return ret;
}

static int spool_open(struct export *e, const char **error_r)
{
	if ((e->spool = tmpfile()) == NULL) {
		*error_r = "cannot make a temporary file";
		return -1;
	}
	return 1;
}

static int export_all(struct export *e, const char **error_r)
{
	struct htg_dir *d = e->dir;
	int ret;

	fprintf(e->out, "htg-export\t%d\n", CTL_EXPORT_VERSION);
	ret = export_nodes(d, node_cb, e, error_r);
	if (ret == 1 && (ret = spool_open(e, error_r)) == 1 &&
	    (ret = htg_dir_account_iter(d, account_cb, e, error_r)) == 1 &&
	    (ret = htg_dir_address_iter(d, address_cb, e, error_r)) == 1)
		ret = second_pass(e, 0, error_r);
	if (ret == 1 && (ret = spool_open(e, error_r)) == 1 &&
	    (ret = htg_dir_flow_iter(d, flow_cb, e, error_r)) == 1)
		ret = second_pass(e, 1, error_r);
	if (ret == 1 &&
	    (ret = htg_dir_grant_iter(d, grant_cb, e, error_r)) == 1 &&
	    (ret = htg_dir_audit_iter(d, NULL, audit_cb, e, error_r)) == 1 &&
	    (ret = htg_dir_retained_iter(d, NULL, retained_cb, e,
					 error_r)) == 1 &&
	    (ret = htg_dir_table_iter(d, "msgids", msgid_cb, e,
				      error_r)) == 1)
		ret = htg_dir_table_iter(d, "deliveries", delivery_cb, e,
					 error_r);
	if (ret == 1 && ferror(e->out)) {
		*error_r = "write error on standard output";
		ret = -1;
	}
	if (ret == 1)
		fprintf(e->out, "end\t%lu\n", e->records);
	return ret;
}

int cmd_export(int argc, char **argv)
{
	struct export e;
	const char *error = NULL;
	int ret;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	memset(&e, 0, sizeof(e));
	e.out = stdout;
	/* the journal first: every answered QUIT is in the export */
	e.dir = ctl_open_dir_pickup(0);
	ret = export_all(&e, &error);
	if (e.spool != NULL)
		fclose(e.spool);
	htg_dir_close(&e.dir);
	if (fflush(stdout) != 0 && ret == 1) {
		error = "write error on standard output";
		ret = -1;
	}
	if (ret != 1) {
		ctl_say("export: %s (the output is incomplete: no end line)",
			error != NULL ? error : "failed");
		return EXIT_REFUSED;
	}
	fprintf(stderr, "htgctl: export: %lu records\n", e.records);
	return 0;
}
