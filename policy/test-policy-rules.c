/*++
/* NAME
/*	test-policy-rules 1
/* SUMMARY
/*	unit tests for the policy rules and socketmap maps
/* SYNOPSIS
/*	test-policy-rules
/* DESCRIPTION
/*	Builds a temporary LMDB directory with the htg-dir writer API and
/*	checks each rule (HTG-SENDER, HTG-RCPT-FLOW, HTG-SIZE, HTG-AUTH) on
/*	its accepting and refusing side, the socketmap maps, and the
/*	temporary failure when the directory is not open.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-msg.h"
#include "htg-test.h"
#include "policy-proto.h"
#include "policy-audit.h"
#include "policy-rules.h"
#include "socketmap-maps.h"

#define SUBMIT "msa-smtp.htpoort.nl"

static const char *tmpdir;
static struct htg_dir *dir;

static void dir_setup(void)
{
	struct htg_account acct;
	const char *error = "";
	char path[TEST_TMPDIR_MAX + 16];

	tmpdir = test_tmpdir("policy-rules");
	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	if (htg_dir_open(path, HTG_DIR_CREATE, &dir, &error) < 0)
		msg_fatal("%s", error);
	memset(&acct, 0, sizeof(acct));
	strcpy(acct.user, "bedrijf@klant.nl");
	strcpy(acct.pwhash, "{PLAIN}x");
	acct.max_size = 1000;
	if (htg_dir_account_add(dir, &acct, &error) <= 0)
		msg_fatal("account add: %s", error);
	strcpy(acct.user, "ander@klant.nl");
	acct.max_size = 0;		/* default limit */
	if (htg_dir_account_add(dir, &acct, &error) <= 0 ||
	    htg_dir_address_add(dir, "Afzender@Klant.nl", "bedrijf@klant.nl",
				&error) <= 0 ||
	    htg_dir_address_add(dir, "ander@klant.nl", "ander@klant.nl",
				&error) <= 0 ||
	    htg_dir_flow_add(dir, "aangifte", "gov@douane.nl", &error) <= 0 ||
	    htg_dir_flow_add(dir, "manifest", "gov2@douane.nl", &error) <= 0 ||
	    htg_dir_grant_add(dir, "bedrijf@klant.nl", "aangifte",
			      &error) <= 0)
		msg_fatal("directory setup: %s", error);
}

static void dir_teardown(void)
{
	htg_dir_close(&dir);	/* test_tmpdir() removes the files */
}

/* Parse "a=b\n...\n\n" into a request (the parser is tested elsewhere). */
static const struct policy_request *request(struct policy_parser *p,
					    const char *text)
{
	char buf[1024];
	size_t used;

	snprintf(buf, sizeof(buf), "%s\n", text);
	if (policy_parser_feed(p, buf, strlen(buf), &used) != POLICY_READY)
		msg_panic("bad test request: %s", text);
	return policy_parser_request(p);
}

static const struct {
	const char *req;
	const char *action;	/* expected action prefix */
	const char *rule;
} cases[] = {
	/* HTG-SENDER */
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\n", "DUNNO", "-" },
	{ "protocol_state=MAIL\nsasl_username=BEDRIJF@klant.nl\n"
	  "sender=AFZENDER@KLANT.NL\n", "DUNNO", "-" },
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\n"
	  "sender=ander@klant.nl\n", "553 5.7.1 HTG-SENDER: ", "HTG-SENDER" },
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\n"
	  "sender=onbekend@klant.nl\n", "553 5.7.1 HTG-SENDER: ",
	  "HTG-SENDER" },
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\nsender=\n",
	  "553 5.7.1 HTG-SENDER: ", "HTG-SENDER" },
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender\n", "553 5.7.1 HTG-SENDER: ", "HTG-SENDER" },
	/* unauthenticated MAIL: Postfix answers HTG-AUTH itself */
	{ "protocol_state=MAIL\nsasl_username=\nsender=ander@klant.nl\n",
	  "DUNNO", "-" },
	/* sender rechecked at RCPT (smtpd_delay_reject) */
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=ander@klant.nl\nrecipient=aangifte@" SUBMIT "\n",
	  "553 5.7.1 HTG-SENDER: ", "HTG-SENDER" },
	/* HTG-AUTH backstop at RCPT */
	{ "protocol_state=RCPT\nsender=ander@klant.nl\n"
	  "recipient=aangifte@" SUBMIT "\n", "530 5.7.0 HTG-AUTH: ",
	  "HTG-AUTH" },
	/* HTG-RCPT-FLOW */
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=aangifte@" SUBMIT "\n",
	  "DUNNO", "-" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=Aangifte@MSA-SMTP.htpoort.nl\n",
	  "DUNNO", "-" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=onbekend@" SUBMIT "\n",
	  "550 5.1.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=aangifte@msa-smtp.preprod."
	  "htpoort.nl\n", "550 5.1.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=aangifte\n",
	  "550 5.1.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=@" SUBMIT "\n",
	  "550 5.1.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=gov@douane.nl\n",
	  "550 5.1.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	{ "protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nrecipient=manifest@" SUBMIT "\n",
	  "550 5.7.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	{ "protocol_state=RCPT\nsasl_username=ander@klant.nl\n"
	  "sender=ander@klant.nl\nrecipient=aangifte@" SUBMIT "\n",
	  "550 5.7.1 HTG-RCPT-FLOW: ", "HTG-RCPT-FLOW" },
	/* HTG-SIZE: bedrijf's own limit is 1000, ander has the default */
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nsize=1000\n", "DUNNO", "-" },
	{ "protocol_state=MAIL\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nsize=1001\n", "552 5.3.4 HTG-SIZE: ",
	  "HTG-SIZE" },
	{ "protocol_state=END-OF-MESSAGE\nsasl_username=bedrijf@klant.nl\n"
	  "sender=afzender@klant.nl\nsize=5000\n", "552 5.3.4 HTG-SIZE: ",
	  "HTG-SIZE" },
	{ "protocol_state=MAIL\nsasl_username=ander@klant.nl\n"
	  "sender=ander@klant.nl\nsize=52428800\n", "DUNNO", "-" },
	{ "protocol_state=MAIL\nsasl_username=ander@klant.nl\n"
	  "sender=ander@klant.nl\nsize=52428801\n", "552 5.3.4 HTG-SIZE: ",
	  "HTG-SIZE" },
	/* other states */
	{ "protocol_state=CONNECT\n", "DUNNO", "-" },
	{ "protocol_state=DATA\nsasl_username=bedrijf@klant.nl\n"
	  "sender=ander@klant.nl\n", "DUNNO", "-" },
};

static void test_rules(void)
{
	struct policy_ctx ctx = { .dir = dir, .submit_domain = SUBMIT };

	test_begin("rules: accept and refuse");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_parser *p = policy_parser_new();
		struct policy_decision dec;

		policy_decide(&ctx, request(p, cases[i].req), &dec);
		test_assert_idx(strncmp(dec.action, cases[i].action,
					strlen(cases[i].action)) == 0, i);
		test_assert_idx(strcmp(dec.rule, cases[i].rule) == 0, i);
		if (strncmp(dec.action, cases[i].action,
			    strlen(cases[i].action)) != 0)
			printf("  case %zu: got \"%s\"\n", i, dec.action);
		policy_parser_free(&p);
	}
	test_end();

	test_begin("rules: preproduction submit domain");
	{
		struct policy_ctx pre = { .dir = dir };
		struct policy_parser *p = policy_parser_new();
		struct policy_decision dec;

		pre.submit_domain = policy_env_submit_domain("preproduction");
		test_assert(pre.submit_domain != NULL &&
			    strcmp(pre.submit_domain,
				   "msa-smtp.preprod.htpoort.nl") == 0);
		test_assert(policy_env_submit_domain("test") == NULL);
		policy_decide(&pre, request(p, "protocol_state=RCPT\n"
					    "sasl_username=bedrijf@klant.nl\n"
					    "sender=afzender@klant.nl\n"
					    "recipient=aangifte@msa-smtp."
					    "preprod.htpoort.nl\n"), &dec);
		test_assert(strcmp(dec.action, "DUNNO") == 0);
		policy_decide(&pre, request(p, "protocol_state=RCPT\n"
					    "sasl_username=bedrijf@klant.nl\n"
					    "sender=afzender@klant.nl\n"
					    "recipient=aangifte@" SUBMIT "\n"),
			      &dec);
		test_assert(strncmp(dec.action, "550 5.1.1 HTG-RCPT-FLOW",
				    23) == 0);
		policy_parser_free(&p);
	}
	test_end();

	test_begin("rules: directory not open is a temporary failure");
	{
		struct policy_ctx none = { .submit_domain = SUBMIT };
		struct policy_parser *p = policy_parser_new();
		struct policy_decision dec;

		policy_decide(&none, request(p, "protocol_state=MAIL\n"
					     "sasl_username=bedrijf@klant.nl\n"
					     "sender=afzender@klant.nl\n"),
			      &dec);
		test_assert(strcmp(dec.action, POLICY_ACTION_TEMPFAIL) == 0);
		test_assert(dec.action[0] == '4');
		policy_parser_free(&p);
	}
	test_end();
}

static const struct {
	const char *map, *key, *status, *text;
} map_cases[] = {
	{ "mailbox", "afzender@klant.nl", "OK", "bedrijf@klant.nl" },
	{ "mailbox", "AFZENDER@klant.NL", "OK", "bedrijf@klant.nl" },
	{ "mailbox", "niemand@klant.nl", "NOTFOUND", "" },
	{ "mailbox", "@klant.nl", "NOTFOUND", "" },
	{ "mailbox", "afzender", "NOTFOUND", "" },
	{ "mailbox", "", "NOTFOUND", "" },
	{ "sender_login", "ander@klant.nl", "OK", "ander@klant.nl" },
	{ "domain", "klant.nl", "OK", "klant.nl" },
	{ "domain", "Klant.NL", "OK", "klant.nl" },
	{ "domain", "douane.nl", "NOTFOUND", "" },
	{ "domain", "x@klant.nl", "NOTFOUND", "" },
	{ "flow", "aangifte@" SUBMIT, "OK", "gov@douane.nl" },
	{ "flow", "AANGIFTE@MSA-SMTP.HTPOORT.NL", "OK", "gov@douane.nl" },
	{ "flow", "aangifte@msa-smtp.preprod.htpoort.nl", "NOTFOUND", "" },
	{ "flow", "onbekend@" SUBMIT, "NOTFOUND", "" },
	{ "flow", "@" SUBMIT, "NOTFOUND", "" },
	{ "flow", "gov@douane.nl", "NOTFOUND", "" },
	/* nobody translates here: test_audit() turns it on */
	{ "translate", "afzender@klant.nl", "NOTFOUND", "" },
	{ "bogus", "x", "PERM", "unknown map name" },
};

static void test_maps(void)
{
	struct policy_ctx ctx = { .dir = dir, .submit_domain = SUBMIT };
	struct policy_ctx none = { .submit_domain = SUBMIT };
	char text[256];

	test_begin("socketmap maps");
	for (size_t i = 0; i < sizeof(map_cases) / sizeof(map_cases[0]); i++) {
		const char *st = sockmap_lookup(&ctx, map_cases[i].map,
						map_cases[i].key, text,
						sizeof(text));

		test_assert_idx(strcmp(st, map_cases[i].status) == 0, i);
		test_assert_idx(strcmp(text, map_cases[i].text) == 0, i);
	}
	test_assert(strcmp(sockmap_lookup(&none, "mailbox", "a@b", text,
					  sizeof(text)), "TEMP") == 0);
	test_end();
}

struct audit_seen {
	unsigned int n;
	struct htg_audit_event last;
};

static int audit_count(const struct htg_audit_event *ev, void *ctx)
{
	struct audit_seen *seen = ctx;

	seen->n++;
	seen->last = *ev;
	return 0;
}

static unsigned int audit_of(const char *account, struct htg_audit_event *last)
{
	struct audit_seen seen = { 0 };
	const char *error;

	test_assert(htg_dir_audit_iter(dir, account, audit_count, &seen,
				       &error) >= 0);
	*last = seen.last;
	return seen.n;
}

/* policy_audit(): a refusal is audited; in report mode it is not made */
static void test_audit(void)
{
	static const char refused_rcpt[] =
		"protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
		"sender=afzender@klant.nl\nrecipient=manifest@" SUBMIT "\n"
		"client_address=192.0.2.7\nencryption_protocol=TLSv1.3\n"
		"queue_id=Q1\n";
	static const char accepted_rcpt[] =
		"protocol_state=RCPT\nsasl_username=bedrijf@klant.nl\n"
		"sender=afzender@klant.nl\nrecipient=aangifte@" SUBMIT "\n";
	struct policy_ctx ctx = { .dir = dir, .submit_domain = SUBMIT };
	struct policy_parser *p = policy_parser_new();
	struct policy_decision dec;
	struct htg_audit_event ev;
	const char *error;
	char line[POLICY_LOG_LINE_MAX];
	unsigned int n0 = audit_of("bedrijf@klant.nl", &ev);

	test_begin("audit: an accepted recipient writes nothing");
	policy_decide(&ctx, request(p, accepted_rcpt), &dec);
	policy_audit(dir, request(p, accepted_rcpt), &dec);
	test_assert(strcmp(dec.action, "DUNNO") == 0);
	test_assert(audit_of("bedrijf@klant.nl", &ev) == n0);
	test_end();

	test_begin("audit: a refusal is a refuse event with its rule");
	policy_decide(&ctx, request(p, refused_rcpt), &dec);
	policy_audit(dir, request(p, refused_rcpt), &dec);
	test_assert(strncmp(dec.action, "550 5.7.1 HTG-RCPT-FLOW", 23) == 0);
	test_assert(audit_of("bedrijf@klant.nl", &ev) == n0 + 1);
	test_assert(strcmp(ev.event, "refuse") == 0);
	test_assert(strcmp(ev.rule, dec.rule) == 0);
	test_assert(strcmp(ev.flow, "manifest") == 0);
	test_assert(strcmp(ev.stage, "RCPT") == 0);
	test_assert(strcmp(ev.detail, dec.action) == 0);
	test_assert(strcmp(ev.queue_id, "Q1") == 0);
	test_assert(strcmp(ev.remote, "192.0.2.7") == 0);
	test_assert(strcmp(ev.tls, "TLSv1.3") == 0);
	test_end();

	test_begin("audit: report mode answers DUNNO, audits report");
	test_assert(htg_dir_account_set_flags(dir, "bedrijf@klant.nl",
					      HTG_ACCOUNT_REPORT, 0,
					      &error) == 1);
	policy_decide(&ctx, request(p, refused_rcpt), &dec);
	policy_audit(dir, request(p, refused_rcpt), &dec);
	test_assert(strcmp(dec.action, "DUNNO") == 0 && dec.reported);
	test_assert(strncmp(dec.would, "550 5.7.1 HTG-RCPT-FLOW", 23) == 0);
	policy_decision_format(request(p, refused_rcpt), &dec, line,
			       sizeof(line));
	test_assert(strstr(line, "action=DUNNO report=\"550 5.7.1 "
			   "HTG-RCPT-FLOW") != NULL);
	test_assert(audit_of("bedrijf@klant.nl", &ev) == n0 + 2);
	test_assert(strcmp(ev.event, "report") == 0);
	test_assert(strncmp(ev.detail, "550 5.7.1 HTG-RCPT-FLOW", 23) == 0);
	/* back to enforce: refused again, live */
	test_assert(htg_dir_account_set_flags(dir, "bedrijf@klant.nl", 0,
					      HTG_ACCOUNT_REPORT,
					      &error) == 1);
	policy_decide(&ctx, request(p, refused_rcpt), &dec);
	policy_audit(dir, request(p, refused_rcpt), &dec);
	test_assert(dec.action[0] == '5' && !dec.reported);
	test_end();
	policy_parser_free(&p);

	test_begin("socketmap flow: a responding flow adds the respond recipient");
	{
		char text[256];

		test_assert(htg_dir_flow_respond_set(dir, "aangifte", "ack", 0,
						     &error) == 1);
		test_assert(strcmp(sockmap_lookup(&ctx, "flow",
						  "aangifte@" SUBMIT, text,
						  sizeof(text)), "OK") == 0 &&
			    strcmp(text, "gov@douane.nl,"
				   HTG_RESPOND_RECIPIENT) == 0);
		test_assert(htg_dir_flow_respond_set(dir, "aangifte", "off", 0,
						     &error) == 1);
		test_assert(strcmp(sockmap_lookup(&ctx, "flow",
						  "aangifte@" SUBMIT, text,
						  sizeof(text)), "OK") == 0 &&
			    strcmp(text, "gov@douane.nl") == 0);
	}
	test_end();

	test_begin("socketmap translate: real -> logical while on");
	{
		char text[256];

		test_assert(htg_dir_address_add(dir, "postbus1@logisch.nl",
						"bedrijf@klant.nl", &error) == 1);
		test_assert(htg_dir_logical_set(dir, "bedrijf@klant.nl",
						"postbus1@logisch.nl",
						&error) == 1);
		test_assert(strcmp(sockmap_lookup(&ctx, "translate",
						  "Afzender@klant.nl", text,
						  sizeof(text)), "NOTFOUND") == 0);
		test_assert(htg_dir_account_set_flags(dir, "bedrijf@klant.nl",
						      HTG_ACCOUNT_TRANSLATE, 0,
						      &error) == 1);
		test_assert(strcmp(sockmap_lookup(&ctx, "translate",
						  "Afzender@klant.nl", text,
						  sizeof(text)), "OK") == 0 &&
			    strcmp(text, "postbus1@logisch.nl") == 0);
		test_assert(strcmp(sockmap_lookup(&ctx, "translate",
						  "postbus1@logisch.nl", text,
						  sizeof(text)), "NOTFOUND") == 0);
		test_assert(strcmp(sockmap_lookup(&ctx, "translate",
						  "ander@klant.nl", text,
						  sizeof(text)), "NOTFOUND") == 0);
	}
	test_end();
}

int main(void)
{
	msg_init("test-policy-rules", "/dev/null");
	dir_setup();
	test_rules();
	test_maps();
	test_audit();
	dir_teardown();
	return test_exit();
}
