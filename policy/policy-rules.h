#ifndef POLICY_RULES_H
#define POLICY_RULES_H

/*++
/* NAME
/*	policy-rules 3h
/* SUMMARY
/*	HTG envelope rules decided by the policy service
/* SYNOPSIS
/*	#include "policy-rules.h"
/*
/*	const char *policy_env_submit_domain(const char *environment);
/*	void	policy_decide(const struct policy_ctx *ctx,
/*			const struct policy_request *req,
/*			struct policy_decision *dec);
/*	void	policy_decision_log(const struct policy_request *req,
/*			const struct policy_decision *dec);
/*	void	policy_decision_format(const struct policy_request *req,
/*			const struct policy_decision *dec,
/*			char *buf, size_t size);
/*
/*	int	policy_rule_auth(...);		HTG-AUTH (RCPT, backstop)
/*	int	policy_rule_sender(...);	HTG-SENDER
/*	int	policy_rule_rcpt_flow(...);	HTG-RCPT-FLOW
/*	int	policy_rule_size(...);		HTG-SIZE
/*	int	policy_rule_tls(...);		HTG-TLS (defence in depth)
/*	int	policy_rule_rcpt_one(...);	HTG-RCPT-ONE (defence in depth)
/*	int	policy_rule_rate(...);		HTG-RATE (optional, off)
/* DESCRIPTION
/*	policy_decide() turns one policy delegation request into one action
/*	(SMTPD_POLICY_README): "DUNNO", a refusal formatted by
/*	htg_rule_reply(), or a temporary failure when the directory cannot
/*	answer. It never answers with a permit: Postfix's own restrictions
/*	still run after us.
/*
/*	Each policy_rule_*() function holds one rule: it returns 1 when it
/*	decided (dec filled in), 0 when the request passes it.
/*
/*	ctx->dir may be NULL (directory not open yet): every rule that
/*	needs it then answers the temporary failure.
/*
/*	ctx->tls_min, ctx->tls_context, ctx->rate and ctx->now configure
/*	the defence-in-depth and optional rules; zero means off / "now".
/*
/*	policy_env_submit_domain() maps "production" / "preproduction" to
/*	the submission domain of 004 table 3, NULL for anything else.
/*--*/

#include "htg-dir.h"
#include "policy-proto.h"
#include "policy-rate.h"

#define POLICY_ACTION_MAX 512

/* The answer to a request we could not read: a 4xx, never a permit. */
#define POLICY_ACTION_BROKEN "DEFER_IF_PERMIT Service temporarily unavailable"
/* The answer when the directory cannot be read. */
#define POLICY_ACTION_TEMPFAIL "451 4.3.0 Directory temporarily unavailable"

struct policy_ctx {
	struct htg_dir *dir;		/* NULL: not open */
	const char *submit_domain;	/* e.g. msa-smtp.htpoort.nl */
	const char *tls_min;		/* "TLSv1.3"; NULL/"": HTG-TLS off */
	const char *tls_context;	/* policy_context HTG-TLS applies to;
					   NULL/"": every request */
	struct policy_rate *rate;	/* NULL: no rate limit */
	double now;			/* monotonic seconds; 0: the clock */
};

struct policy_decision {
	const char *rule;		/* "HTG-SENDER", or "-" */
	char action[POLICY_ACTION_MAX];
	int refused;			/* a rule refused (not a tempfail) */
	/* report mode (policy-audit.c): the refusal not made, action DUNNO */
	int reported;
	char would[POLICY_ACTION_MAX];
};

const char *policy_env_submit_domain(const char *environment);

void policy_decide(const struct policy_ctx *ctx,
		   const struct policy_request *req,
		   struct policy_decision *dec);
/* The one log line of a decision: queue id, account, client, state,
   sender, recipient, TLS, rule id, action. _log() writes it with
   msg_info(); _format() only formats it (for a batching writer). */
#define POLICY_LOG_LINE_MAX 1536
void policy_decision_log(const struct policy_request *req,
			 const struct policy_decision *dec);
void policy_decision_format(const struct policy_request *req,
			    const struct policy_decision *dec,
			    char *buf, size_t size);

int policy_rule_auth(const struct policy_ctx *ctx,
		     const struct policy_request *req,
		     struct policy_decision *dec);
int policy_rule_sender(const struct policy_ctx *ctx,
		       const struct policy_request *req,
		       struct policy_decision *dec);
int policy_rule_rcpt_flow(const struct policy_ctx *ctx,
			  const struct policy_request *req,
			  struct policy_decision *dec);
int policy_rule_size(const struct policy_ctx *ctx,
		     const struct policy_request *req,
		     struct policy_decision *dec);
int policy_rule_tls(const struct policy_ctx *ctx,
		    const struct policy_request *req,
		    struct policy_decision *dec);
int policy_rule_rcpt_one(const struct policy_ctx *ctx,
			 const struct policy_request *req,
			 struct policy_decision *dec);
int policy_rule_rate(const struct policy_ctx *ctx,
		     const struct policy_request *req,
		     struct policy_decision *dec);

/* "TLSv1.3" -> 103; -1 when not of the form TLSv<major>.<minor> */
int policy_tls_version(const char *protocol);

#endif
