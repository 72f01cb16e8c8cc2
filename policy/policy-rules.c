/*++
/* NAME
/*	policy-rules 3
/* SUMMARY
/*	HTG envelope rules decided by the policy service
/* SYNOPSIS
/*	#include "policy-rules.h"
/* DESCRIPTION
/*	See policy-rules.h. Spec references are to the HTG SMTP-MSA/POP3
/*	interface description (004); rule ids, codes and texts come from
/*	the catalogue in lib/htg-rules.c (DESIGN.md section 2).
/*
/*	Postfix runs check_policy_service at MAIL and, because
/*	smtpd_delay_reject defers sender restrictions, often only at RCPT:
/*	so HTG-SENDER is checked in both states.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "htg-msg.h"
#include "htg-rules.h"
#include "policy-rules.h"

/* 004 table 3: <berichtsoort>@msa-smtp[.preprod].htpoort.nl */
const char *policy_env_submit_domain(const char *environment)
{
	if (strcmp(environment, "production") == 0)
		return "msa-smtp.htpoort.nl";
	if (strcmp(environment, "preproduction") == 0)
		return "msa-smtp.preprod.htpoort.nl";
	return NULL;
}

/* Client-supplied text goes into our log: printable ASCII only, bounded. */
static const char *log_safe(const char *in, char *buf, size_t size)
{
	size_t i;

	if (*in == '\0')
		return "";
	for (i = 0; in[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
	return buf;
}

static const char *or_dash(const char *s)
{
	return *s != '\0' ? s : "-";
}

static int decide_dunno(struct policy_decision *dec)
{
	dec->refused = dec->reported = 0;
	dec->rule = "-";
	snprintf(dec->action, sizeof(dec->action), "DUNNO");
	return 1;
}

static int decide_refuse(struct policy_decision *dec, enum htg_rule_id id,
			 const char *detail)
{
	dec->refused = 1;
	dec->reported = 0;
	dec->rule = htg_rule_get(id)->name;
	if (htg_rule_reply(id, detail, dec->action, sizeof(dec->action)) < 0)
		htg_rule_reply(id, NULL, dec->action, sizeof(dec->action));
	return 1;
}

static int decide_tempfail(struct policy_decision *dec, enum htg_rule_id id,
			   const char *what, const char *error)
{
	if (error != NULL)
		msg_warn("directory lookup (%s) failed: %s", what, error);
	dec->refused = dec->reported = 0;
	dec->rule = htg_rule_get(id)->name;
	snprintf(dec->action, sizeof(dec->action), "%s",
		 POLICY_ACTION_TEMPFAIL);
	return 1;
}

/*
 * HTG-AUTH backstop at RCPT. 004 3.3.2 / RFC 6409 4.3: nothing is
 * submitted without authentication. Postfix refuses MAIL before AUTH
 * itself; should its configuration ever let a recipient through
 * unauthenticated, this answer still refuses it, and no flow rule
 * below can run without an account anyway.
 */
int policy_rule_auth(const struct policy_ctx *ctx,
		     const struct policy_request *req,
		     struct policy_decision *dec)
{
	(void)ctx;
	if (*policy_request_get(req, "sasl_username") != '\0')
		return 0;
	return decide_refuse(dec, HTG_RULE_AUTH, NULL);
}

/*
 * HTG-SENDER. 004 3.3.2 (the client authenticates with the user name
 * and password it was issued) and 3.7 (the addresses are issued with the
 * account; the user name is the full mailbox name): an authenticated
 * account sends only from an address it owns. The null sender is refused:
 * DSNs go back to the sender, so it must be one of the account's own.
 * Unauthenticated requests pass here: Postfix answers them with HTG-AUTH.
 */
int policy_rule_sender(const struct policy_ctx *ctx,
		       const struct policy_request *req,
		       struct policy_decision *dec)
{
	const char *user = policy_request_get(req, "sasl_username");
	const char *sender = policy_request_get(req, "sender");
	char owner[HTG_USER_MAX];
	const char *error = NULL;
	int ret;

	if (*user == '\0')
		return 0;
	if (*sender == '\0')
		return decide_refuse(dec, HTG_RULE_SENDER,
				     "The null sender is not allowed, "
				     "use an address of the account");
	if (ctx->dir == NULL)
		return decide_tempfail(dec, HTG_RULE_SENDER, "sender",
				       "directory not open");
	ret = htg_dir_address_owner(ctx->dir, sender, owner, sizeof(owner),
				    &error);
	if (ret < 0)
		return decide_tempfail(dec, HTG_RULE_SENDER, "sender", error);
	if (ret == 0 || strcasecmp(owner, user) != 0)
		return decide_refuse(dec, HTG_RULE_SENDER, NULL);
	return 0;
}

/*
 * HTG-RCPT-FLOW. 004 table 3: the one recipient is
 * <berichtsoort>@msa-smtp.htpoort.nl (production) or
 * <berichtsoort>@msa-smtp.preprod.htpoort.nl (preproduction); 3.6: full
 * addresses, never rewritten. The berichtsoort must be a known flow
 * (550 5.1.1) that the account is granted (550 5.7.1).
 */
int policy_rule_rcpt_flow(const struct policy_ctx *ctx,
			  const struct policy_request *req,
			  struct policy_decision *dec)
{
	const char *user = policy_request_get(req, "sasl_username");
	const char *rcpt = policy_request_get(req, "recipient");
	const char *at = strrchr(rcpt, '@');
	char flow[HTG_USER_MAX], detail[300], deliver_to[HTG_USER_MAX];
	const char *error = NULL;
	size_t local_len;
	int ret;

	if (at == NULL || at == rcpt ||
	    strcasecmp(at + 1, ctx->submit_domain) != 0) {
		snprintf(detail, sizeof(detail),
			 "The recipient must be <message flow>@%s",
			 ctx->submit_domain);
		return decide_refuse(dec, HTG_RULE_RCPT_FLOW_UNKNOWN, detail);
	}
	local_len = (size_t)(at - rcpt);
	if (local_len >= sizeof(flow))
		return decide_refuse(dec, HTG_RULE_RCPT_FLOW_UNKNOWN, NULL);
	memcpy(flow, rcpt, local_len);
	flow[local_len] = '\0';
	if (!htg_dir_normalise(flow, flow, sizeof(flow)))
		return decide_refuse(dec, HTG_RULE_RCPT_FLOW_UNKNOWN, NULL);
	if (ctx->dir == NULL)
		return decide_tempfail(dec, HTG_RULE_RCPT_FLOW_UNKNOWN, "flow",
				       "directory not open");
	ret = htg_dir_flow_get(ctx->dir, flow, deliver_to, sizeof(deliver_to),
			       &error);
	if (ret < 0)
		return decide_tempfail(dec, HTG_RULE_RCPT_FLOW_UNKNOWN, "flow",
				       error);
	if (ret == 0)
		return decide_refuse(dec, HTG_RULE_RCPT_FLOW_UNKNOWN, NULL);
	ret = htg_dir_grant_check(ctx->dir, user, flow, &error);
	if (ret < 0)
		return decide_tempfail(dec, HTG_RULE_RCPT_FLOW_DENIED, "grant",
				       error);
	if (ret == 0)
		return decide_refuse(dec, HTG_RULE_RCPT_FLOW_DENIED, NULL);
	return 0;
}

/*
 * HTG-SIZE. 004 3.8 / 002: the size limit comes with the account
 * (default 52428800). Postfix's message_size_limit is one number for
 * everybody; the account's own limit lives in the directory. The "size"
 * attribute is the MAIL SIZE= estimate at MAIL/RCPT and the real size at
 * END-OF-MESSAGE (smtpd_end_of_data_restrictions).
 */
int policy_rule_size(const struct policy_ctx *ctx,
		     const struct policy_request *req,
		     struct policy_decision *dec)
{
	const char *user = policy_request_get(req, "sasl_username");
	const char *size_str = policy_request_get(req, "size");
	struct htg_account acct;
	const char *error = NULL;
	unsigned long long size, limit;
	char *end;
	int ret;

	if (*user == '\0' || *size_str == '\0')
		return 0;
	errno = 0;
	size = strtoull(size_str, &end, 10);
	if (errno != 0 || *end != '\0' || size == 0)
		return 0;
	if (ctx->dir == NULL)
		return decide_tempfail(dec, HTG_RULE_SIZE, "account",
				       "directory not open");
	ret = htg_dir_account_get(ctx->dir, user, &acct, &error);
	if (ret < 0)
		return decide_tempfail(dec, HTG_RULE_SIZE, "account", error);
	if (ret == 0)
		return 0;	/* HTG-SENDER already refuses a stranger */
	limit = acct.max_size != 0 ? acct.max_size : HTG_DEFAULT_MAX_SIZE;
	if (size > limit)
		return decide_refuse(dec, HTG_RULE_SIZE, NULL);
	return 0;
}

/* "TLSv1.3" -> 103 (OpenSSL's names, as Postfix passes them) */
int policy_tls_version(const char *protocol)
{
	unsigned major, minor;
	int pos = 0;

	if (sscanf(protocol, "TLSv%u.%u%n", &major, &minor, &pos) != 2 ||
	    protocol[pos] != '\0' || major > 9 || minor > 99)
		return -1;
	return (int)(major * 100 + minor);
}

/*
 * HTG-TLS, defence in depth. 004 3.3.3: STARTTLS before anything else;
 * 3.5 footnote 4: TLS 1.3 only since 12 January 2026. Postfix enforces
 * both on the submission service (smtpd_tls_security_level = encrypt,
 * smtpd_tls_protocols); this rule refuses should that configuration
 * ever be loosened. The inbound service from the government side is
 * plain SMTP by design, so the rule applies only to requests carrying
 * the configured policy_context (smtpd_policy_service_policy_context of
 * the submission service).
 */
int policy_rule_tls(const struct policy_ctx *ctx,
		    const struct policy_request *req,
		    struct policy_decision *dec)
{
	const char *proto = policy_request_get(req, "encryption_protocol");
	char detail[128];
	int want, have;

	if (ctx->tls_min == NULL || *ctx->tls_min == '\0')
		return 0;
	if (ctx->tls_context != NULL && *ctx->tls_context != '\0' &&
	    strcmp(policy_request_get(req, "policy_context"),
		   ctx->tls_context) != 0)
		return 0;
	if (*proto == '\0')
		return decide_refuse(dec, HTG_RULE_TLS, NULL);
	want = policy_tls_version(ctx->tls_min);
	have = policy_tls_version(proto);
	if (have < 0 || have < want) {
		snprintf(detail, sizeof(detail), "%s or later is required",
			 ctx->tls_min);
		return decide_refuse(dec, HTG_RULE_TLS, detail);
	}
	return 0;
}

/*
 * HTG-RCPT-ONE, defence in depth. 004 table 3: every message has exactly
 * one recipient. smtpd_recipient_limit and htg-milter refuse a second
 * RCPT; Postfix fills in recipient_count only at DATA and END-OF-MESSAGE,
 * so this is where a message with more recipients is stopped should both
 * be misconfigured.
 */
int policy_rule_rcpt_one(const struct policy_ctx *ctx,
			 const struct policy_request *req,
			 struct policy_decision *dec)
{
	const char *count = policy_request_get(req, "recipient_count");
	unsigned long n;
	char *end;

	(void)ctx;
	if (*count == '\0')
		return 0;
	errno = 0;
	n = strtoul(count, &end, 10);
	if (errno != 0 || *end != '\0' || n > 1)
		return decide_refuse(dec, HTG_RULE_RCPT_ONE, NULL);
	return 0;
}

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * HTG-RATE, optional. 004 1.3: SMTP-MSA is for low-frequency use (on
 * average at most one interaction per connection per minute), and "for
 * now the interface imposes no limit on the frequency": off by default
 * (rate_limit = 0). One message has one recipient, so a passing RCPT is
 * one message; it runs after every other RCPT rule so that refused
 * recipients cost nothing.
 */
int policy_rule_rate(const struct policy_ctx *ctx,
		     const struct policy_request *req,
		     struct policy_decision *dec)
{
	const char *user = policy_request_get(req, "sasl_username");

	if (ctx->rate == NULL || *user == '\0')
		return 0;
	if (policy_rate_take(ctx->rate, user,
			     ctx->now != 0 ? ctx->now : monotonic_now()))
		return 0;
	return decide_refuse(dec, HTG_RULE_RATE, NULL);
}

void policy_decide(const struct policy_ctx *ctx,
		   const struct policy_request *req,
		   struct policy_decision *dec)
{
	const char *state = policy_request_get(req, "protocol_state");

	if (strcasecmp(state, "MAIL") == 0) {
		if (policy_rule_tls(ctx, req, dec) ||
		    policy_rule_sender(ctx, req, dec) ||
		    policy_rule_size(ctx, req, dec))
			return;
	} else if (strcasecmp(state, "RCPT") == 0) {
		if (policy_rule_auth(ctx, req, dec) ||
		    policy_rule_tls(ctx, req, dec) ||
		    policy_rule_sender(ctx, req, dec) ||
		    policy_rule_rcpt_flow(ctx, req, dec) ||
		    policy_rule_size(ctx, req, dec) ||
		    policy_rule_rate(ctx, req, dec))
			return;
	} else if (strcasecmp(state, "DATA") == 0) {
		if (policy_rule_tls(ctx, req, dec) ||
		    policy_rule_rcpt_one(ctx, req, dec))
			return;
	} else if (strcasecmp(state, "END-OF-MESSAGE") == 0) {
		if (policy_rule_tls(ctx, req, dec) ||
		    policy_rule_rcpt_one(ctx, req, dec) ||
		    policy_rule_size(ctx, req, dec))
			return;
	}
	decide_dunno(dec);
}

void policy_decision_format(const struct policy_request *req,
			    const struct policy_decision *dec,
			    char *buf, size_t size)
{
	char qid[64], user[HTG_USER_MAX], client[64], state[32], tls[32];
	char from[HTG_USER_MAX], to[HTG_USER_MAX];
	const char *q = log_safe(policy_request_get(req, "queue_id"), qid,
				 sizeof(qid));

	snprintf(buf, size, "%s: account=%s client=%s state=%s from=<%s> "
		 "to=<%s> tls=%s rule=%s action=%s",
		 *q != '\0' ? q : "NOQUEUE",
		 or_dash(log_safe(policy_request_get(req, "sasl_username"),
				  user, sizeof(user))),
		 or_dash(log_safe(policy_request_get(req, "client_address"),
				  client, sizeof(client))),
		 or_dash(log_safe(policy_request_get(req, "protocol_state"),
				  state, sizeof(state))),
		 log_safe(policy_request_get(req, "sender"), from, sizeof(from)),
		 log_safe(policy_request_get(req, "recipient"), to, sizeof(to)),
		 or_dash(log_safe(policy_request_get(req, "encryption_protocol"),
				  tls, sizeof(tls))),
		 dec->rule, dec->action);
	if (dec->reported) {
		size_t n = strlen(buf);

		/* report mode: what the answer would have been */
		snprintf(buf + n, size - n, " report=\"%s\"", dec->would);
	}
}

void policy_decision_log(const struct policy_request *req,
			 const struct policy_decision *dec)
{
	char line[POLICY_LOG_LINE_MAX];

	policy_decision_format(req, dec, line, sizeof(line));
	msg_info("%s", line);
}
