/* test-check-report.c - report mode of the checker (htg_check_set_report):
   a rule on the header's shape is reported and the check goes on (the
   message is still renamed and gets its Message-ID); other refusals stop
   it as without report mode. */

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-check.h"
#include "htg-msg.h"
#include "htg-test.h"

#define RCPT "dms@msa-smtp.htpoort.nl"
#define XML_B64 "PGJlcmljaHQvPgo=\r\n"	/* "<bericht/>\n" */
#define PART "MIME-Version: 1.0\r\nContent-Type: application/xml\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"Content-Disposition: attachment; filename=\"a.xml\"\r\n\r\n" XML_B64

struct seen {
	unsigned int reports;
	enum htg_rule_id last;
};

static void on_report(void *ctx, enum htg_rule_id rule, const char *detail)
{
	struct seen *s = ctx;

	(void)detail;
	s->reports++;
	s->last = rule;
}

static int discard(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

/* refused (rule in *rule_r) or not; reports and renames counted */
static int run(const char *msg, int report, struct seen *s,
	       enum htg_rule_id *rule_r, unsigned int *renames_r,
	       int *msgid_added_r)
{
	struct htg_check_conf conf = { .header_domain = "htpoort.nl",
		.msgid_domain = "htpoort.nl", .max_depth = 8, .max_parts = 200 };
	struct htg_check *c = htg_check_new(&conf, discard, NULL);
	const struct htg_hdr_edit *e;
	unsigned int n, total;
	int refused;

	if (c == NULL)
		exit(1);
	memset(s, 0, sizeof(*s));
	htg_check_set_rcpt(c, RCPT);
	if (report)
		htg_check_set_report(c, on_report, s);
	htg_check_message(c, msg, strlen(msg), 0);
	refused = htg_check_verdict(c)->refused;
	*rule_r = htg_check_verdict(c)->rule;
	htg_check_renames(c, &n, &total);
	*renames_r = total;
	*msgid_added_r = 0;
	e = htg_check_edits(c, &n);
	for (unsigned int i = 0; i < n; i++)
		if (e[i].op == HTG_HDR_ADD && strcmp(e[i].name, "Message-ID") == 0)
			*msgid_added_r = 1;
	htg_check_free(&c);
	return refused;
}

int main(void)
{
	static const char cc[] = "From: <ik@mijnbedrijf.nl>\r\n"
		"To: <dms@htpoort.nl>\r\nCc: <x@y.nl>\r\nSubject: t\r\n" PART;
	static const char two_to[] = "From: <ik@mijnbedrijf.nl>\r\n"
		"To: <dms@htpoort.nl>, <x@y.nl>\r\nSubject: t\r\n" PART;
	static const char bad_ct[] = "From: <ik@mijnbedrijf.nl>\r\n"
		"To: <dms@htpoort.nl>\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
		"Content-Type: application/x-msdownload\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n" XML_B64;
	struct seen s;
	enum htg_rule_id rule;
	unsigned int renames;
	int added;

	msg_init("test-check-report", "/dev/null");
	test_begin("report mode: Cc is reported, the message renamed and given a Message-ID");
	test_assert(run(cc, 0, &s, &rule, &renames, &added) == 1 &&
		    rule == HTG_RULE_HDR_CC && s.reports == 0);
	test_assert(run(cc, 1, &s, &rule, &renames, &added) == 0);
	test_assert(s.reports == 1 && s.last == HTG_RULE_HDR_CC);
	test_assert(renames == 1 && added);
	test_end();

	test_begin("report mode: two To addresses reported, the rest checked");
	test_assert(run(two_to, 1, &s, &rule, &renames, &added) == 0);
	test_assert(s.reports == 1 && s.last == HTG_RULE_HDR_TO);
	test_assert(renames == 1 && added);
	test_end();

	test_begin("report mode: other rules still stop the check");
	test_assert(run(bad_ct, 1, &s, &rule, &renames, &added) == 1);
	test_assert(rule == HTG_RULE_CT && s.reports == 0);
	test_end();
	return test_exit();
}
