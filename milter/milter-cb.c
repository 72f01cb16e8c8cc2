/*++
/* NAME
/*	milter-cb 3
/* SUMMARY
/*	htg-milter's libmilter callbacks
/* DESCRIPTION
/*	Thin glue between libmilter and lib/htg-check: the envelope rules
/*	(HTG-RCPT-ONE, HTG-ENVID) at RCPT, the message rules as the header
/*	and body stream by, and at the end of the message the Message-ID
/*	uniqueness (HTG-MSGID, in the directory), the header edits and the
/*	rewritten body (HTG-FILENAME). Every decision is logged on one line
/*	with the queue id, the account, the rule id and the action.
/*
/*	Nothing is accepted that was not checked: an internal failure
/*	(spool, directory, libmilter) tempfails the message.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "htg-milter.h"
#include "htg-msg.h"
#include "milter-audit.h"
#include "milter-claim.h"
#include "milter-spool.h"

struct milter_priv {
	char account[256];
	int mail_has_envid;
	unsigned int rcpts;		/* recipients accepted */
	int reported;			/* report mode: a rule would refuse */
	struct htg_check *check;
	struct milter_spool *spool;
	int spool_failed;
	/* per connection: SMFIP_NR_HDR / SMFIP_NR_BODY negotiated */
	unsigned long no_reply;
	/* the stage where a no-reply callback found the refusal */
	const char *stopped_at;
	char rcpt[256];			/* the envelope recipient */
	struct milter_claim claim;	/* our Message-ID claim, pending */
	uint64_t size;			/* header and body bytes received */
	int account_mode;		/* 0 not looked up, 1 enforce, 2 report */
	SMFICTX *smfi;			/* of the callback running (reports) */
	const char *stage;		/* and its stage */
};

static const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v != NULL && *v != '\0' ? v : "-";
}

/* The end of a transaction (next MAIL, abort, close): Postfix has
   committed or removed the queue file by now, so our pending claim is
   settled (milter-claim.c). */
static void priv_reset(struct milter_priv *p, const char *why)
{
	milter_claim_end(&p->claim, why);
	htg_check_free(&p->check);
	milter_spool_close(&p->spool);
	p->spool_failed = 0;
	p->reported = 0;
	p->rcpts = 0;
	p->stopped_at = NULL;
	p->size = 0;
	p->account_mode = 0;
}

static struct milter_priv *priv_get(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p == NULL && (p = calloc(1, sizeof(*p))) != NULL)
		smfi_setpriv(ctx, p);
	return p;
}

/* --- submission audit (issue 16; DESIGN section 3) ----------------------- */

/* An audit event of this transaction: what is known of it so far. */
static void audit_fill(SMFICTX *ctx, const struct milter_priv *p,
		       const char *event, struct htg_audit_event *ev)
{
	const char *at = strrchr(p->rcpt, '@');
	const char *msgid = p->check != NULL ? htg_check_msgid(p->check) : "";
	const char *addr;

	memset(ev, 0, sizeof(*ev));
	snprintf(ev->event, sizeof(ev->event), "%s", event);
	snprintf(ev->account, sizeof(ev->account), "%s", p->account);
	snprintf(ev->message_id, sizeof(ev->message_id), "%s",
		 msgid != NULL ? msgid : "");
	ev->size = p->size;
	snprintf(ev->queue_id, sizeof(ev->queue_id), "%s", macro(ctx, "i"));
	/* Postfix writes an IPv6 client as the RFC 5321 literal
	   "IPv6:::1"; the audit holds the bare address, as htg-policyd's
	   and Dovecot's events do */
	addr = macro(ctx, "{client_addr}");
	if (strncasecmp(addr, "IPv6:", 5) == 0)
		addr += 5;
	snprintf(ev->remote, sizeof(ev->remote), "%s", addr);
	snprintf(ev->tls, sizeof(ev->tls), "%s", macro(ctx, "{tls_version}"));
	snprintf(ev->session, sizeof(ev->session), "htg-milter");
	if (at != NULL)
		snprintf(ev->flow, sizeof(ev->flow), "%.*s",
			 (int)(at - p->rcpt), p->rcpt);
}

/* A refusal (or would-be refusal) or an acceptance without a claim, as
   its own commit. An audit that cannot be written does not change the
   answer: it is kept in the audit spool (milter-audit.h). */
static void audit_note(SMFICTX *ctx, const struct milter_priv *p,
		       const char *event, const char *rule,
		       const char *stage, const char *detail)
{
	struct htg_audit_event ev;

	if (milter_settings.dir == NULL || !milter_settings.audit)
		return;
	audit_fill(ctx, p, event, &ev);
	snprintf(ev.rule, sizeof(ev.rule), "%s", rule);
	snprintf(ev.stage, sizeof(ev.stage), "%s", stage);
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	milter_audit_write(&ev, macro(ctx, "i"));
}

/* Is the account in report mode (htgctl account mode USER report)?
   Looked up once per transaction, and only when a rule would refuse. */
static int account_reports(struct milter_priv *p)
{
	struct htg_account a;
	const char *error;

	if (p->account_mode == 0) {
		p->account_mode = 1;
		if (milter_settings.dir != NULL &&
		    htg_dir_account_get(milter_settings.dir, p->account, &a,
					&error) == 1 &&
		    (a.flags & HTG_ACCOUNT_REPORT) != 0)
			p->account_mode = 2;
	}
	return p->account_mode == 2;
}

/* Refuse with the rule's reply, or in report mode log and go on. */
static sfsistat refuse(SMFICTX *ctx, struct milter_priv *p,
		       enum htg_rule_id id, const char *detail,
		       const char *stage)
{
	const struct htg_rule *r = htg_rule_get(id);
	/* the global mode read once (SIGHUP may change it meanwhile) */
	int report = milter_settings.report_only || account_reports(p);
	char code[8], text[400];

	msg_info("%s: account=%s rule=%s stage=%s action=%s detail=\"%s\"",
		 macro(ctx, "i"), p->account, r->name, stage,
		 report ? "report" : "refuse",
		 detail != NULL ? detail : r->text);
	snprintf(text, sizeof(text), "%s: %s", r->name,
		 detail != NULL && *detail != '\0' ? detail : r->text);
	audit_note(ctx, p, report ? "report" : "refuse", r->name, stage, text);
	if (report) {
		p->reported = 1;
		return SMFIS_CONTINUE;
	}
	snprintf(code, sizeof(code), "%d", r->code);
	if (smfi_setreply(ctx, code, (char *)r->dsn, text) != MI_SUCCESS)
		msg_warn("%s: smfi_setreply failed for %s", macro(ctx, "i"),
			 r->name);
	return r->code >= 500 ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/* Report mode, a rule on the header's shape (htg_check_set_report): the
   check goes on, so the message still leaves renamed and with its
   Message-ID; the would-be refusal is logged and audited. */
static void report_rule(void *ctx, enum htg_rule_id id, const char *detail)
{
	struct milter_priv *p = ctx;
	const struct htg_rule *r = htg_rule_get(id);
	char text[400];

	msg_info("%s: account=%s rule=%s stage=%s action=report detail=\"%s\"",
		 macro(p->smfi, "i"), p->account, r->name, p->stage, detail);
	snprintf(text, sizeof(text), "%s: %s", r->name, detail);
	audit_note(p->smfi, p, "report", r->name, p->stage, text);
}

/* Every callback that feeds the checker says where it is first. */
static void at(SMFICTX *ctx, struct milter_priv *p, const char *stage)
{
	p->smfi = ctx;
	p->stage = stage;
}

static sfsistat tempfail(SMFICTX *ctx, struct milter_priv *p,
			 const char *why)
{
	msg_warn("%s: account=%s rule=- action=tempfail detail=\"%s\"",
		 macro(ctx, "i"), p != NULL ? p->account : "-", why);
	smfi_setreply(ctx, "451", "4.3.0", "HTG gateway temporarily unable to "
		      "check the message, try again later");
	return SMFIS_TEMPFAIL;
}

/* The checker stopped: its verdict is a refusal or an internal error. */
static sfsistat verdict(SMFICTX *ctx, struct milter_priv *p, const char *stage)
{
	const struct htg_verdict *v = htg_check_verdict(p->check);

	if (p->spool_failed)
		return tempfail(ctx, p, "cannot write the body spool");
	if (!v->refused || v->rule == HTG_RULE_COUNT)
		return tempfail(ctx, p, v->refused ? v->detail : "checker failed");
	return refuse(ctx, p, v->rule, v->detail, stage);
}

/* A header or body chunk was taken: no reply when the MTA agreed to
   that (SMFIP_NR_*), else "continue". */
static sfsistat no_reply(const struct milter_priv *p, unsigned long flag)
{
	return (p->no_reply & flag) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* The checker stopped in a header or body chunk. Without a reply for
   this stage the verdict waits for the next one that has a reply (end
   of header, end of message); the checker keeps it and takes no more
   input. */
static sfsistat stop(SMFICTX *ctx, struct milter_priv *p, unsigned long flag,
		     const char *stage)
{
	if ((p->no_reply & flag) == 0)
		return verdict(ctx, p, stage);
	if (p->stopped_at == NULL)
		p->stopped_at = stage;
	return SMFIS_NOREPLY;
}

static int spool_output(void *ctx, const void *data, size_t len)
{
	struct milter_priv *p = ctx;
	const char *error;

	if (p->spool == NULL) {
		p->spool = milter_spool_open(milter_settings.temp_dir, &error);
		if (p->spool == NULL) {
			msg_warn("%s", error);
			p->spool_failed = 1;
			return -1;
		}
	}
	if (milter_spool_write(p->spool, data, len) < 0) {
		msg_warn("write body spool (temp_dir %s): %m",
			 milter_settings.temp_dir);
		p->spool_failed = 1;
		return -1;
	}
	return 0;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_priv *p = priv_get(ctx);
	const char *auth;

	if (p == NULL)
		return tempfail(ctx, NULL, "out of memory");
	priv_reset(p, "next MAIL");
	auth = smfi_getsymval(ctx, "{auth_authen}");
	snprintf(p->account, sizeof(p->account), "%s",
		 auth != NULL && *auth != '\0' ? auth : "-");
	p->mail_has_envid = htg_mail_has_envid(argv);
	p->check = htg_check_new(&milter_settings.check, spool_output, p);
	if (p->check == NULL)
		return tempfail(ctx, p, "out of memory");
	/* report mode, global or the account's (looked up once per
	   transaction): rules on the header's shape only report */
	if (milter_settings.report_only || account_reports(p))
		htg_check_set_report(p->check, report_rule, p);
	/* never a truncated name: no account has one this long */
	if (htg_check_set_account(p->check, auth != NULL ? auth : "") < 0)
		return refuse(ctx, p, HTG_RULE_SENDER, "account name too long",
			      "MAIL");
	return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_priv *p = smfi_getpriv(ctx);
	char rcpt[256];
	size_t n;

	if (p == NULL || p->check == NULL)
		return tempfail(ctx, p, "no transaction");
	if (htg_rule_rcpt_one(p->rcpts))
		return refuse(ctx, p, HTG_RULE_RCPT_ONE, NULL, "RCPT");
	if (htg_rule_envid(p->mail_has_envid, argv)) {
		sfsistat r = refuse(ctx, p, HTG_RULE_ENVID, NULL, "RCPT");
		if (r != SMFIS_CONTINUE)
			return r;
	}
	/* argv[0] is "<address>"; RFC 5321 4.5.3.1.3: a path is at most
	   256 octets, so a longer one is refused, never cut */
	if (strlen(argv[0]) >= sizeof(rcpt))
		return refuse(ctx, p, HTG_RULE_ADDR, "recipient address too "
			      "long", "RCPT");
	snprintf(rcpt, sizeof(rcpt), "%s", argv[0] + (argv[0][0] == '<'));
	n = strlen(rcpt);
	if (n > 0 && rcpt[n - 1] == '>')
		rcpt[n - 1] = '\0';
	if (htg_check_set_rcpt(p->check, rcpt) < 0)
		return refuse(ctx, p, HTG_RULE_ADDR, "recipient address too "
			      "long", "RCPT");
	snprintf(p->rcpt, sizeof(p->rcpt), "%s", rcpt);
	p->rcpts++;
	return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p == NULL || p->check == NULL)
		return tempfail(ctx, p, "no transaction");
	if (p->reported)
		return no_reply(p, SMFIP_NR_HDR);
	at(ctx, p, "HEADER");
	p->size += strlen(name) + strlen(value) + 4;	/* ": ", CRLF */
	if (htg_check_header(p->check, name, value) < 0)
		return stop(ctx, p, SMFIP_NR_HDR, "HEADER");
	return no_reply(p, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p == NULL || p->check == NULL)
		return tempfail(ctx, p, "no transaction");
	if (p->reported)
		return SMFIS_CONTINUE;
	at(ctx, p, "EOH");
	if (htg_check_eoh(p->check) < 0)
		return verdict(ctx, p, p->stopped_at ? p->stopped_at : "HEADER");
	return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p == NULL || p->check == NULL)
		return tempfail(ctx, p, "no transaction");
	at(ctx, p, "BODY");
	p->size += len;
	if (p->reported)
		return no_reply(p, SMFIP_NR_BODY);
	if (htg_check_body(p->check, data, len) < 0)
		return stop(ctx, p, SMFIP_NR_BODY, "BODY");
	return no_reply(p, SMFIP_NR_BODY);
}

/* HTG-MSGID uniqueness: milter_claim_take() in milter-claim.c decides
   (004 table 4); here its verdict becomes the reply. */
static sfsistat rule_msgid_unique(SMFICTX *ctx, struct milter_priv *p)
{
	struct htg_audit_event submit;
	char detail[200];

	if (milter_settings.dir == NULL)
		return SMFIS_CONTINUE;
	/* the claim keeps the "submit" event: written when it settles */
	audit_fill(ctx, p, "submit", &submit);
	switch (milter_claim_take(&p->claim, p->account,
				  htg_check_msgid(p->check), macro(ctx, "i"),
				  p->rcpt, milter_settings.audit ? &submit : NULL,
				  detail, sizeof(detail))) {
	case MILTER_CLAIM_OK:
		return SMFIS_CONTINUE;
	case MILTER_CLAIM_USED:
		return refuse(ctx, p, HTG_RULE_MSGID, detail, "EOM");
	case MILTER_CLAIM_BUSY: {
		char text[240];

		msg_info("%s: account=%s rule=HTG-MSGID action=tempfail "
			 "detail=\"%s\"", macro(ctx, "i"), p->account, detail);
		snprintf(text, sizeof(text), "HTG-MSGID: %s", detail);
		audit_note(ctx, p, "refuse", "HTG-MSGID", "EOM", text);
		smfi_setreply(ctx, "451", "4.7.1", text);
		return SMFIS_TEMPFAIL;
	}
	default:
		return tempfail(ctx, p, detail);
	}
}

static int replace_chunk(void *ctx, unsigned char *data, size_t len)
{
	return smfi_replacebody(ctx, data, (int)len) == MI_SUCCESS ? 0 : -1;
}

static int apply_edits(SMFICTX *ctx, struct milter_priv *p)
{
	const struct htg_hdr_edit *e;
	unsigned int n;
	int rc = MI_SUCCESS;

	e = htg_check_edits(p->check, &n);
	for (unsigned int i = 0; i < n && rc == MI_SUCCESS; i++) {
		switch (e[i].op) {
		case HTG_HDR_CHANGE:
			rc = smfi_chgheader(ctx, (char *)e[i].name, (int)e[i].index,
					    (char *)e[i].value);
			break;
		case HTG_HDR_ADD:
			rc = smfi_addheader(ctx, (char *)e[i].name,
					    (char *)e[i].value);
			break;
		case HTG_HDR_DELETE:
			rc = smfi_chgheader(ctx, (char *)e[i].name, (int)e[i].index,
					    NULL);
			break;
		}
	}
	if (rc != MI_SUCCESS)
		return -1;
	if (htg_check_body_rewritten(p->check) && p->spool != NULL &&
	    milter_spool_replay(p->spool, replace_chunk, ctx) < 0)
		return -1;
	return 0;
}

static void log_renames(SMFICTX *ctx, struct milter_priv *p)
{
	const struct htg_rename *r;
	unsigned int n, total;

	r = htg_check_renames(p->check, &n, &total);
	for (unsigned int i = 0; i < n; i++)
		msg_info("%s: account=%s rule=HTG-FILENAME action=rename "
			 "original=\"%s\" new=%s", macro(ctx, "i"), p->account,
			 r[i].original, r[i].renamed);
	if (total > n)
		msg_info("%s: account=%s rule=HTG-FILENAME action=rename "
			 "(%u more parts renamed, not listed)", macro(ctx, "i"),
			 p->account, total - n);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);
	const char *commit;
	sfsistat r;

	if (p == NULL || p->check == NULL)
		return tempfail(ctx, p, "no transaction");
	if (p->reported) {
		msg_info("%s: account=%s rule=- action=accept (report mode, "
			 "not rewritten)", macro(ctx, "i"), p->account);
		audit_note(ctx, p, "submit", "", "EOM", "report mode, not "
			   "rewritten");
		return SMFIS_CONTINUE;
	}
	at(ctx, p, "EOM");
	if (htg_check_eom(p->check) < 0)
		return verdict(ctx, p, p->stopped_at ? p->stopped_at : "EOM");
	/* our changes first, the claim last: nothing can fail after the
	   claim and its "submit" event are written (a refusal or a
	   tempfail makes Postfix discard the changes) */
	if (apply_edits(ctx, p) < 0)
		return tempfail(ctx, p, "cannot apply the header or body "
				"changes");
	if ((commit = milter_claim_commit_recipient(p->rcpt)) != NULL &&
	    smfi_addrcpt_par(ctx, (char *)commit, "NOTIFY=NEVER") !=
	    MI_SUCCESS)
		return tempfail(ctx, p, "cannot add the commit recipient");
	if ((r = rule_msgid_unique(ctx, p)) != SMFIS_CONTINUE)
		return r;
	if (p->reported) {
		/* HTG-MSGID reported (report mode): accepted as it is */
		audit_note(ctx, p, "submit", "", "EOM", "report mode");
		return SMFIS_CONTINUE;
	}
	log_renames(ctx, p);
	milter_claim_accepted(&p->claim);
	msg_info("%s: account=%s rule=- action=accept message_id=%s "
		 "body=%s", macro(ctx, "i"), p->account,
		 htg_check_msgid(p->check),
		 htg_check_body_rewritten(p->check) ? "rewritten" : "kept");
	return SMFIS_CONTINUE;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p != NULL)
		priv_reset(p, "abort");
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p != NULL) {
		priv_reset(p, "close");
		free(p);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

/* Protocol options (Sendmail 8.14 milter v6; Postfix since 2.6). The
   MTA sends every header and 64 KB body chunk and, by default, waits for
   a reply to each: a 50 MB message costs 800 round trips between two
   processes. We take SMFIP_NR_HDR and SMFIP_NR_BODY (no reply; a
   refusal found there is given at end of header / end of message, with
   the same rule id and text) and skip the events we have no callback
   for. libmilter answers for us when the MTA lacks a no-reply option. */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS |
		SMFIF_CHGBODY | SMFIF_ADDRCPT_PAR;
	const unsigned long want = SMFIP_NR_HDR | SMFIP_NR_BODY |
		SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOUNKNOWN |
		SMFIP_NODATA;
	struct milter_priv *p = priv_get(ctx);

	(void)f2;
	(void)f3;
	if (p == NULL)
		return SMFIS_REJECT;	/* out of memory: no filter */
	if ((f0 & actions) != actions) {
		msg_warn("the MTA cannot add/change headers, replace the "
			 "body and add recipients with parameters (actions "
			 "0x%lx): refusing the connection", f0);
		return SMFIS_REJECT;
	}
	*pf0 = actions;
	*pf1 = f1 & want;
	*pf2 = *pf3 = 0;
	p->no_reply = *pf1 & (SMFIP_NR_HDR | SMFIP_NR_BODY);
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
	.xxfi_name = "htg-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY |
		SMFIF_ADDRCPT_PAR,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};
