/*++
/* NAME
/*	test-policy-defence 1
/* SUMMARY
/*	unit tests for HTG-TLS, HTG-RCPT-ONE and HTG-RATE in the policy
/* SYNOPSIS
/*	test-policy-defence
/* DESCRIPTION
/*	The defence-in-depth rules (HTG-TLS, HTG-RCPT-ONE) and the optional
/*	rate limit, each on its accepting and refusing side, by themselves
/*	and through policy_decide(). None needs the directory.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-msg.h"
#include "htg-test.h"
#include "policy-proto.h"
#include "policy-rate.h"
#include "policy-rules.h"

#define SUBMIT "msa-smtp.htpoort.nl"

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

/* 1 when the rule decided, with the action's first bytes checked */
static int run(int (*rule)(const struct policy_ctx *,
			   const struct policy_request *,
			   struct policy_decision *),
	       const struct policy_ctx *ctx, const char *text,
	       const char *want_prefix)
{
	struct policy_parser *p = policy_parser_new();
	struct policy_decision dec;
	int ret;

	memset(&dec, 0, sizeof(dec));
	ret = rule(ctx, request(p, text), &dec);
	if (ret && want_prefix != NULL &&
	    strncmp(dec.action, want_prefix, strlen(want_prefix)) != 0) {
		printf("  got \"%s\"\n", dec.action);
		ret = -1;
	}
	policy_parser_free(&p);
	return ret;
}

static void decide(const struct policy_ctx *ctx, const char *text,
		   struct policy_decision *dec)
{
	struct policy_parser *p = policy_parser_new();

	policy_decide(ctx, request(p, text), dec);
	policy_parser_free(&p);
}

static void test_tls_version(void)
{
	test_begin("HTG-TLS: protocol names");
	test_assert(policy_tls_version("TLSv1.3") == 103);
	test_assert(policy_tls_version("TLSv1.2") == 102);
	test_assert(policy_tls_version("TLSv1") == -1);
	test_assert(policy_tls_version("SSLv3") == -1);
	test_assert(policy_tls_version("TLSv1.3x") == -1);
	test_assert(policy_tls_version("") == -1);
	test_end();
}

static void test_tls(void)
{
	struct policy_ctx ctx = { .submit_domain = SUBMIT,
		.tls_min = "TLSv1.3", .tls_context = "submission" };
	struct policy_ctx any = { .submit_domain = SUBMIT,
		.tls_min = "TLSv1.3" };
	struct policy_ctx off = { .submit_domain = SUBMIT };
	struct policy_decision dec;

	test_begin("HTG-TLS: TLS 1.3 on the submission service passes");
	test_assert(run(policy_rule_tls, &ctx, "protocol_state=MAIL\n"
			"policy_context=submission\n"
			"encryption_protocol=TLSv1.3\n", NULL) == 0);
	test_assert(run(policy_rule_tls, &any, "protocol_state=RCPT\n"
			"encryption_protocol=TLSv1.3\n", NULL) == 0);
	test_end();

	test_begin("HTG-TLS: TLS 1.2 or no TLS on submission is refused");
	test_assert(run(policy_rule_tls, &ctx, "protocol_state=MAIL\n"
			"policy_context=submission\n"
			"encryption_protocol=TLSv1.2\n",
			"530 5.7.0 HTG-TLS: TLSv1.3 or later") == 1);
	test_assert(run(policy_rule_tls, &ctx, "protocol_state=RCPT\n"
			"policy_context=submission\n"
			"encryption_protocol=\n", "530 5.7.0 HTG-TLS: ") == 1);
	test_assert(run(policy_rule_tls, &ctx, "protocol_state=RCPT\n"
			"policy_context=submission\n"
			"encryption_protocol=SSLv3\n", "530 5.7.0 HTG-TLS: ") == 1);
	test_assert(run(policy_rule_tls, &any, "protocol_state=RCPT\n"
			"encryption_protocol=TLSv1.2\n", "530 5.7.0 HTG-TLS: ")
		    == 1);
	test_end();

	test_begin("HTG-TLS: other services (inbound) are not refused");
	test_assert(run(policy_rule_tls, &ctx, "protocol_state=RCPT\n"
			"policy_context=inbound\n"
			"encryption_protocol=\n", NULL) == 0);
	test_assert(run(policy_rule_tls, &ctx, "protocol_state=RCPT\n"
			"encryption_protocol=\n", NULL) == 0);
	test_assert(run(policy_rule_tls, &off, "protocol_state=RCPT\n"
			"encryption_protocol=\n", NULL) == 0);
	test_end();

	test_begin("HTG-TLS: through policy_decide, before the directory");
	decide(&ctx, "protocol_state=MAIL\npolicy_context=submission\n"
	       "sasl_username=a@b.nl\nsender=a@b.nl\n"
	       "encryption_protocol=TLSv1.2\n", &dec);
	test_assert(strcmp(dec.rule, "HTG-TLS") == 0);
	decide(&ctx, "protocol_state=END-OF-MESSAGE\n"
	       "policy_context=submission\nsasl_username=a@b.nl\n"
	       "encryption_protocol=\nrecipient_count=1\n", &dec);
	test_assert(strcmp(dec.rule, "HTG-TLS") == 0);
	/* TLS 1.3: the next rule (HTG-SENDER, no directory) answers 4xx */
	decide(&ctx, "protocol_state=MAIL\npolicy_context=submission\n"
	       "sasl_username=a@b.nl\nsender=a@b.nl\n"
	       "encryption_protocol=TLSv1.3\n", &dec);
	test_assert(strcmp(dec.rule, "HTG-SENDER") == 0 &&
		    dec.action[0] == '4');
	test_end();
}

static void test_rcpt_one(void)
{
	struct policy_ctx ctx = { .submit_domain = SUBMIT };
	struct policy_decision dec;

	test_begin("HTG-RCPT-ONE: one recipient passes");
	test_assert(run(policy_rule_rcpt_one, &ctx, "protocol_state=DATA\n"
			"recipient_count=1\n", NULL) == 0);
	test_assert(run(policy_rule_rcpt_one, &ctx, "protocol_state=RCPT\n"
			"recipient_count=0\n", NULL) == 0);
	test_assert(run(policy_rule_rcpt_one, &ctx, "protocol_state=RCPT\n",
			NULL) == 0);
	decide(&ctx, "protocol_state=DATA\nsasl_username=a@b.nl\n"
	       "recipient_count=1\n", &dec);
	test_assert(strcmp(dec.action, "DUNNO") == 0);
	test_end();

	test_begin("HTG-RCPT-ONE: more recipients are refused");
	test_assert(run(policy_rule_rcpt_one, &ctx, "protocol_state=DATA\n"
			"recipient_count=2\n", "452 4.5.3 HTG-RCPT-ONE: ")
		    == 1);
	test_assert(run(policy_rule_rcpt_one, &ctx, "protocol_state=DATA\n"
			"recipient_count=x\n", "452 4.5.3 HTG-RCPT-ONE: ")
		    == 1);
	decide(&ctx, "protocol_state=DATA\nsasl_username=a@b.nl\n"
	       "recipient_count=3\n", &dec);
	test_assert(strcmp(dec.rule, "HTG-RCPT-ONE") == 0);
	decide(&ctx, "protocol_state=END-OF-MESSAGE\nsasl_username=a@b.nl\n"
	       "recipient_count=2\nsize=10\n", &dec);
	test_assert(strcmp(dec.rule, "HTG-RCPT-ONE") == 0);
	test_end();
}

#define RCPT_OF(user) "protocol_state=RCPT\nsasl_username=" user "\n"

static void test_rate(void)
{
	struct policy_ctx ctx = { .submit_domain = SUBMIT };
	struct policy_rate *small;

	test_begin("HTG-RATE: off by default");
	for (int i = 0; i < 100; i++)
		test_assert(run(policy_rule_rate, &ctx, RCPT_OF("a@b.nl"),
				NULL) == 0);
	test_end();

	test_begin("HTG-RATE: limit per account, refills with time");
	ctx.rate = policy_rate_new(2, 60, 16);
	ctx.now = 1000;
	test_assert(run(policy_rule_rate, &ctx, RCPT_OF("a@b.nl"), NULL) == 0);
	test_assert(run(policy_rule_rate, &ctx, RCPT_OF("A@B.NL"), NULL) == 0);
	test_assert(run(policy_rule_rate, &ctx, RCPT_OF("a@b.nl"),
			"450 4.7.1 HTG-RATE: ") == 1);
	/* another account has its own bucket */
	test_assert(run(policy_rule_rate, &ctx, RCPT_OF("c@b.nl"), NULL) == 0);
	/* 30 s = one token back (2 per 60 s) */
	ctx.now = 1030;
	test_assert(run(policy_rule_rate, &ctx, RCPT_OF("a@b.nl"), NULL) == 0);
	test_assert(run(policy_rule_rate, &ctx, RCPT_OF("a@b.nl"),
			"450 4.7.1 HTG-RATE: ") == 1);
	/* unauthenticated: not ours to count */
	test_assert(run(policy_rule_rate, &ctx, "protocol_state=RCPT\n",
			NULL) == 0);
	policy_rate_free(&ctx.rate);
	test_assert(ctx.rate == NULL);
	test_end();

	test_begin("HTG-RATE: a full table forgets, never refuses a newcomer");
	small = policy_rate_new(1, 3600, 8);
	for (int i = 0; i < 1000; i++) {
		char user[64];

		snprintf(user, sizeof(user), "u%d@b.nl", i);
		test_assert_idx(policy_rate_take(small, user, 1.0 + i) == 1, i);
	}
	/* the most recent account is still remembered */
	test_assert(policy_rate_take(small, "u999@b.nl", 1000.0) == 0);
	policy_rate_free(&small);
	test_end();
}

int main(void)
{
	msg_init("test-policy-defence", "/dev/null");
	test_tls_version();
	test_tls();
	test_rcpt_one();
	test_rate();
	return test_exit();
}
