/*++
/* NAME
/*	policy-audit 3
/* SUMMARY
/*	submission audit and per-account report mode in the policy service
/* SYNOPSIS
/*	#include "policy-audit.h"
/*
/*	void	policy_audit(dir, req, dec)
/*	struct htg_dir *dir;
/*	const struct policy_request *req;
/*	struct policy_decision *dec;
/* DESCRIPTION
/*	policy_audit() runs after policy_decide(). A refusal made by a
/*	rule (not a tempfail) becomes a "refuse" audit event in the
/*	directory: account, flow (the recipient's local part), SMTP stage
/*	(protocol_state), rule id, reply text, queue id, client address,
/*	TLS version, size (DESIGN section 3), so that "why was my message
/*	refused?" has an answer in htgctl audit USER --event refuse.
/*
/*	For an account in report mode (htgctl account mode USER report,
/*	flag HTG_ACCOUNT_REPORT, read live) the refusal is not made: the
/*	answer becomes DUNNO, the log line keeps the would-be answer
/*	(report="..."), and the event is "report". Onboarding a business
/*	without breaking its traffic (issue 16).
/*
/*	The account is looked up only for a refusal, and each event is
/*	one commit: the accepted traffic costs nothing here. An event that
/*	cannot be written does not change the answer: it is kept in the
/*	audit spool of HTG_STATE_DIR and written once later
/*	(htg-audit-spool(3)); logged.
/* SEE ALSO
/*	htg-milter(8), which audits its own refusals and every accepted
/*	submission.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-audit-spool.h"
#include "htg-msg.h"
#include "policy-audit.h"

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

static int account_reports(struct htg_dir *dir, const char *account)
{
	struct htg_account a;
	const char *error;

	return *account != '\0' &&
		htg_dir_account_get(dir, account, &a, &error) == 1 &&
		(a.flags & HTG_ACCOUNT_REPORT) != 0;
}

void policy_audit(struct htg_dir *dir, const struct policy_request *req,
		  struct policy_decision *dec)
{
	const char *account = policy_request_get(req, "sasl_username");
	const char *rcpt = policy_request_get(req, "recipient");
	const char *at = strrchr(rcpt, '@');
	struct htg_audit_event ev;
	const char *error;
	int ret;

	if (!dec->refused || dir == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	if (account_reports(dir, account)) {
		dec->reported = 1;
		snprintf(dec->would, sizeof(dec->would), "%s", dec->action);
		snprintf(dec->action, sizeof(dec->action), "DUNNO");
	}
	copy(ev.event, sizeof(ev.event), dec->reported ? "report" : "refuse");
	copy(ev.account, sizeof(ev.account), *account != '\0' ? account : "-");
	ev.size = strtoull(policy_request_get(req, "size"), NULL, 10);
	copy(ev.queue_id, sizeof(ev.queue_id),
	     policy_request_get(req, "queue_id"));
	copy(ev.rule, sizeof(ev.rule), dec->rule);
	copy(ev.remote, sizeof(ev.remote),
	     policy_request_get(req, "client_address"));
	copy(ev.tls, sizeof(ev.tls),
	     policy_request_get(req, "encryption_protocol"));
	copy(ev.session, sizeof(ev.session), "htg-policyd");
	if (at != NULL)
		snprintf(ev.flow, sizeof(ev.flow), "%.*s", (int)(at - rcpt),
			 rcpt);
	copy(ev.stage, sizeof(ev.stage),
	     policy_request_get(req, "protocol_state"));
	copy(ev.detail, sizeof(ev.detail),
	     dec->reported ? dec->would : dec->action);
	ret = htg_audit_write(dir, &ev, 1, &error);
	if (ret == 0)
		msg_warn("account=%s audit %s kept in the audit spool, the "
			 "directory failed: %s", ev.account, ev.event, error);
	else if (ret < 0)
		msg_warn("account=%s audit %s not recorded: %s", ev.account,
			 ev.event, error);
}
