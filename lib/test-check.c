/*++
/* NAME
/*	test-check 1
/* SUMMARY
/*	unit tests of every message rule, the accept and the refuse side
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-check.h"
#include "htg-test.h"

#define RCPT "dms@msa-smtp.htpoort.nl"
#define HEAD "From: <ik@mijnbedrijf.nl>\r\nTo: <dms@htpoort.nl>\r\n" \
	"Subject: test\r\nMessage-ID: <1@mijnbedrijf.nl>\r\n"
#define XML_B64 "PGJlcmljaHQvPgo=\r\n"	/* "<bericht/>\n" */

struct result {
	int refused;
	enum htg_rule_id rule;
	char detail[240];
	char out[16384];
	size_t outlen;
	char edits[4096];
	unsigned int renames;
};

static int collect(void *ctx, const void *data, size_t len)
{
	struct result *r = ctx;

	if (r->outlen + len < sizeof(r->out)) {
		memcpy(r->out + r->outlen, data, len);
		r->outlen += len;
		r->out[r->outlen] = '\0';
	}
	return 0;
}

static void check_msg(const char *msg, struct result *r, size_t chunk)
{
	struct htg_check_conf conf = { .header_domain = "htpoort.nl", .msgid_domain = "htpoort.nl", .max_depth = 8, .max_parts = 200 };
	struct htg_check *c;
	const struct htg_hdr_edit *e;
	unsigned int n, total;

	memset(r, 0, sizeof(*r));
	c = htg_check_new(&conf, collect, r);
	if (c == NULL)
		exit(1);
	htg_check_set_rcpt(c, RCPT);
	htg_check_message(c, msg, strlen(msg), chunk);
	r->refused = htg_check_verdict(c)->refused;
	r->rule = htg_check_verdict(c)->rule;
	snprintf(r->detail, sizeof(r->detail), "%s", htg_check_verdict(c)->detail);
	e = htg_check_edits(c, &n);
	for (unsigned int i = 0; i < n; i++) {
		size_t l = strlen(r->edits);
		snprintf(r->edits + l, sizeof(r->edits) - l, "%c %s[%u]: %s\n",
			 e[i].op == HTG_HDR_CHANGE ? 'C' :
			 e[i].op == HTG_HDR_ADD ? 'A' : 'D',
			 e[i].name, e[i].index, e[i].value);
	}
	htg_check_renames(c, &n, &total);
	r->renames = total;
	htg_check_free(&c);
}

/* -1: accepted, else the refusing rule */
static int verdict(const char *msg)
{
	struct result r, r7;

	check_msg(msg, &r, 0);
	check_msg(msg, &r7, 7);		/* chunking must not matter */
	if (r.refused != r7.refused || (r.refused && r.rule != r7.rule)) {
		printf("  chunking changed the verdict\n");
		return -2;
	}
	if (r.refused && r.rule == HTG_RULE_COUNT)
		printf("  internal error: %s\n", r.detail);
	return r.refused ? (int)r.rule : -1;
}

struct rule_case {
	const char *name;
	int expect;		/* -1 accept, else enum htg_rule_id */
	const char *msg;
};

#define SINGLE(ct, cte, body) HEAD "Content-Type: " ct "\r\n" \
	"Content-Transfer-Encoding: " cte "\r\n" \
	"Content-Disposition: attachment; filename=\"a.xml\"\r\n\r\n" body
#define MP(parts) HEAD "MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" parts "--b1--\r\n"
#define PART(hdrs, body) "--b1\r\n" hdrs "\r\n" body

static const struct rule_case cases[] = {
	/* accepted messages, one per allowed type */
	{ "accept application/xml base64", -1,
	  SINGLE("application/xml", "base64", XML_B64) },
	{ "accept text/plain us-ascii 7bit", -1,
	  SINGLE("text/plain; charset=us-ascii", "7bit", "hallo\r\n") },
	{ "accept text/plain utf-8 quoted-printable", -1,
	  SINGLE("text/plain; charset=UTF-8", "quoted-printable", "caf=C3=A9\r\n") },
	{ "accept text/plain iso-8859-15 base64", -1,
	  SINGLE("text/plain; charset=iso-8859-15", "base64", "pA==\r\n") },
	{ "accept application/edifact", -1,
	  SINGLE("application/edifact", "base64", "VU5BOg==\r\n") },
	{ "accept application/pdf", -1,
	  SINGLE("application/pdf", "base64", "JVBERi0=\r\n") },
	{ "accept application/zip", -1,
	  SINGLE("application/zip", "base64", "UEsDBA==\r\n") },
	{ "accept application/octet-stream with any bytes", -1,
	  SINGLE("application/octet-stream", "base64", "AP8AgJ8=\r\n") },
	{ "accept no Content-Type: text/plain us-ascii 7bit", -1,
	  HEAD "\r\nplain text\r\n" },
	{ "accept multipart/mixed with extra attachments", -1,
	  MP(PART("Content-Type: application/xml\r\n"
		  "Content-Transfer-Encoding: base64\r\n", XML_B64)
	     PART("Content-Type: application/pdf; name=\"scan.pdf\"\r\n"
		  "Content-Transfer-Encoding: base64\r\n"
		  "Content-Disposition: attachment; filename=\"scan.pdf\"\r\n",
		  "JVBERi0=\r\n")) },

	/* HTG-HDR-FROM */
	{ "From missing", HTG_RULE_HDR_FROM,
	  "To: <dms@htpoort.nl>\r\nMessage-ID: <1@x>\r\n\r\nx\r\n" },
	{ "two From headers", HTG_RULE_HDR_FROM,
	  "From: <a@b.nl>\r\n" HEAD "\r\nx\r\n" },
	{ "From with two addresses", HTG_RULE_HDR_FROM,
	  "From: <a@b.nl>, <c@d.nl>\r\nTo: <dms@htpoort.nl>\r\n\r\nx\r\n" },
	{ "From as a group", HTG_RULE_HDR_FROM,
	  "From: team: a@b.nl;\r\nTo: <dms@htpoort.nl>\r\n\r\nx\r\n" },

	/* HTG-HDR-TO */
	{ "To missing", HTG_RULE_HDR_TO, "From: <a@b.nl>\r\n\r\nx\r\n" },
	{ "two To headers", HTG_RULE_HDR_TO,
	  "To: <dms@htpoort.nl>\r\n" HEAD "\r\nx\r\n" },
	{ "To with two addresses", HTG_RULE_HDR_TO,
	  "From: <a@b.nl>\r\nTo: <dms@htpoort.nl>, <ags@htpoort.nl>\r\n\r\nx\r\n" },
	{ "To in the wrong environment", HTG_RULE_HDR_TO,
	  "From: <a@b.nl>\r\nTo: <dms@preprod.htpoort.nl>\r\n\r\nx\r\n" },
	{ "To names another flow than RCPT", HTG_RULE_HDR_TO,
	  "From: <a@b.nl>\r\nTo: <ags@htpoort.nl>\r\n\r\nx\r\n" },
	{ "To with display name accepted", -1,
	  "From: Ik <ik@mijnbedrijf.nl>\r\nTo: \"Douane DMS\" <DMS@HTPOORT.NL>\r\n"
	  "\r\nx\r\n" },

	/* HTG-HDR-CC */
	{ "Cc refused", HTG_RULE_HDR_CC, "Cc: <x@htpoort.nl>\r\n" HEAD "\r\nx\r\n" },
	{ "Bcc refused (backstop)", HTG_RULE_HDR_CC, HEAD "bcc: <x@y.nl>\r\n\r\nx\r\n" },

	/* HTG-MSGID */
	{ "Message-ID malformed", HTG_RULE_MSGID,
	  "From: <a@b.nl>\r\nTo: <dms@htpoort.nl>\r\nMessage-ID: no-brackets\r\n"
	  "\r\nx\r\n" },
	{ "two Message-IDs", HTG_RULE_MSGID,
	  "Message-ID: <2@x>\r\n" HEAD "\r\nx\r\n" },

	/* HTG-CT */
	{ "text/html refused", HTG_RULE_CT, SINGLE("text/html", "7bit", "x\r\n") },
	{ "application/msword refused", HTG_RULE_CT,
	  SINGLE("application/msword", "base64", "AA==\r\n") },
	{ "multipart/alternative refused", HTG_RULE_CT,
	  HEAD "Content-Type: multipart/alternative; boundary=b1\r\n\r\n"
	  "--b1\r\n\r\nx\r\n--b1--\r\n" },
	{ "message/rfc822 part refused", HTG_RULE_CT,
	  MP(PART("Content-Type: message/rfc822\r\n", "From: a@b\r\n\r\nx\r\n")) },

	/* HTG-CHARSET */
	{ "windows-1252 refused", HTG_RULE_CHARSET,
	  SINGLE("text/plain; charset=windows-1252", "7bit", "x\r\n") },
	{ "cp1252 refused", HTG_RULE_CHARSET,
	  SINGLE("text/plain; charset=CP1252", "7bit", "x\r\n") },
	{ "koi8-r not allowed", HTG_RULE_CHARSET,
	  SINGLE("text/plain; charset=koi8-r", "7bit", "x\r\n") },
	{ "UTF-8 overlong refused", HTG_RULE_CHARSET,
	  SINGLE("text/plain; charset=utf-8", "base64", "wIA=\r\n") },
	{ "ISO-8859-1 with a C1 byte refused", HTG_RULE_CHARSET,
	  SINGLE("text/plain; charset=iso-8859-1", "quoted-printable",
		 "=93quoted=94\r\n") },
	{ "us-ascii with 8-bit bytes after decoding refused", HTG_RULE_CHARSET,
	  SINGLE("text/plain", "base64", "6Q==\r\n") },
	{ "Windows charset on a non-text part refused", HTG_RULE_CHARSET,
	  SINGLE("application/xml; charset=windows-1252", "base64", XML_B64) },

	/* HTG-CTE */
	{ "8bit refused", HTG_RULE_CTE, SINGLE("text/plain", "8bit", "x\r\n") },
	{ "binary refused", HTG_RULE_CTE,
	  SINGLE("application/pdf", "binary", "x\r\n") },
	{ "x-uuencode refused", HTG_RULE_CTE,
	  SINGLE("application/pdf", "x-uuencode", "x\r\n") },
	{ "8-bit byte under 7bit refused", HTG_RULE_CTE,
	  SINGLE("text/plain; charset=iso-8859-1", "7bit", "caf\xe9\r\n") },
	{ "broken base64 refused", HTG_RULE_CTE,
	  SINGLE("application/pdf", "base64", "JV*ERi0=\r\n") },
	{ "truncated base64 refused", HTG_RULE_CTE,
	  SINGLE("application/pdf", "base64", "JVBER\r\n") },
	{ "broken quoted-printable refused", HTG_RULE_CTE,
	  SINGLE("text/plain", "quoted-printable", "a=ZZb\r\n") },
	{ "encoded multipart refused", HTG_RULE_CTE,
	  HEAD "Content-Type: multipart/mixed; boundary=b1\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n--b1\r\n\r\nx\r\n--b1--\r\n" },

	/* HTG-MIME */
	{ "8-bit byte in a header refused", HTG_RULE_MIME,
	  HEAD "Subject: caf\xe9\r\n\r\nx\r\n" },
	{ "header line over 998 characters refused", HTG_RULE_MIME, NULL },
	{ "unterminated multipart refused", HTG_RULE_MIME,
	  HEAD "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
	  "--b1\r\n\r\nx\r\n" },
	{ "multipart without boundary refused", HTG_RULE_MIME,
	  HEAD "Content-Type: multipart/mixed\r\n\r\nx\r\n" },
	{ "two Content-Type headers refused", HTG_RULE_MIME,
	  HEAD "Content-Type: text/plain\r\nContent-Type: application/pdf\r\n"
	  "\r\nx\r\n" },
	{ "NUL in the body refused", HTG_RULE_MIME, NULL },
};

static void test_rules(void)
{
	char *longhdr, *nul;

	longhdr = malloc(1200);
	snprintf(longhdr, 1200, HEAD "X-Long: ");
	memset(longhdr + strlen(longhdr), 'a', 1000);
	strcpy(longhdr + strlen(HEAD "X-Long: ") + 1000, "\r\n\r\nx\r\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *msg = cases[i].msg;

		if (msg == NULL && strstr(cases[i].name, "998") != NULL)
			msg = longhdr;
		if (msg == NULL)
			continue;	/* NUL: below */
		test_begin(cases[i].name);
		test_assert_idx(verdict(msg) == cases[i].expect, i);
		test_end();
	}
	free(longhdr);

	test_begin("NUL in the body refused");
	{
		static const char m[] = HEAD "\r\nab\0cd\r\n";
		struct htg_check_conf conf = { .header_domain = "htpoort.nl", .msgid_domain = "htpoort.nl", .max_depth = 8, .max_parts = 200 };
		struct htg_check *c = htg_check_new(&conf, NULL, NULL);

		htg_check_set_rcpt(c, RCPT);
		nul = (char *)m;
		test_assert(htg_check_message(c, nul, sizeof(m) - 1, 0) < 0);
		test_assert(htg_check_verdict(c)->rule == HTG_RULE_MIME);
		htg_check_free(&c);
	}
	test_end();
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_rewrites(void)
{
	struct result r;

	test_begin("single part: headers replaced, name gone, extension kept");
	check_msg(HEAD "Content-Type: application/xml; name=\"geheim-bestand.xml\"\r\n"
		  "Content-Transfer-Encoding: base64\r\n"
		  "Content-Description: geheim-bestand.xml\r\n"
		  "Content-Disposition: inline; filename=\"geheim-bestand.xml\"\r\n"
		  "\r\n" XML_B64, &r, 0);
	test_assert(!r.refused);
	test_assert(strstr(r.edits, "geheim") == NULL);
	test_assert(count(r.edits, ".xml\"") == 2);
	test_assert(strstr(r.edits, "C Content-Disposition[1]: attachment; filename=\"") != NULL);
	test_assert(strstr(r.edits, "C Content-Type[1]: application/xml; name=\"") != NULL);
	test_assert(strstr(r.edits, "D Content-Description[1]") != NULL);
	test_assert(strstr(r.edits, "A MIME-Version[0]: 1.0") != NULL);
	test_assert(r.outlen == 0);	/* one part: the body stays */
	test_assert(r.renames == 1);
	test_end();

	test_begin("missing Message-ID is inserted as <UUID@domain>");
	check_msg("From: <a@b.nl>\r\nTo: <dms@htpoort.nl>\r\n\r\nx\r\n", &r, 0);
	test_assert(!r.refused);
	test_assert(strstr(r.edits, "A Message-ID[0]: <") != NULL);
	test_assert(strstr(r.edits, "@htpoort.nl>\n") != NULL);
	test_assert(strstr(r.edits, "A Content-Disposition[1]: attachment; filename=\"") != NULL);
	test_assert(strstr(r.edits, ".txt\"") != NULL);
	test_end();

	test_begin("multipart: every leaf renamed in the body, originals gone");
	check_msg(MP(PART("Content-Type: application/xml\r\n"
			  "Content-Transfer-Encoding: base64\r\n"
			  "Content-Disposition: attachment; filename=\"aangifte-0001.xml\"\r\n",
			  XML_B64)
		     PART("Content-Type: application/pdf\r\n"
			  "Content-Transfer-Encoding: base64\r\n"
			  "Content-Disposition: attachment;\r\n"
			  " filename*0*=utf-8''factuur%20;\r\n filename*1=\"maart.PDF\"\r\n",
			  "JVBERi0=\r\n")
		     PART("Content-Type: text/plain; charset=us-ascii\r\n"
			  "Content-Disposition: attachment; filename=\"\\\"x\\r\\nBcc: evil@x\\\".exe.verylongext\"\r\n",
			  "hi\r\n")
		     PART("Content-Type: application/zip; name=\"=?utf-8?B?ZGF0YS56aXA=?=\"\r\n"
			  "Content-Transfer-Encoding: base64\r\n", "UEsDBA==\r\n")),
		  &r, 5);
	test_assert(!r.refused);
	test_assert(r.renames == 4);
	test_assert(strstr(r.out, "aangifte") == NULL);
	test_assert(strstr(r.out, "factuur") == NULL);
	test_assert(strstr(r.out, "maart") == NULL);
	test_assert(strstr(r.out, "evil") == NULL);
	test_assert(strstr(r.out, "ZGF0YS56aXA") == NULL);
	test_assert(count(r.out, "Content-Disposition: attachment; filename=\"") == 4);
	test_assert(count(r.out, ".xml\"\r\n") == 1);
	test_assert(count(r.out, ".PDF\"\r\n") == 1);
	test_assert(count(r.out, ".txt\"\r\n") == 1);
	test_assert(count(r.out, ".zip\"\r\n") == 2);	/* name= and filename= */
	test_assert(count(r.out, "--b1\r\n") == 4 && count(r.out, "--b1--\r\n") == 1);
	test_assert(strstr(r.edits, "C Content-Type[1]: multipart/mixed; boundary=\"b1\"") != NULL);
	test_end();

	test_begin("nesting limit: 8 levels accepted, 9 refused");
	{
		char msg[8192];
		for (int levels = 8; levels <= 9; levels++) {
			int n = snprintf(msg, sizeof(msg), HEAD
					 "Content-Type: multipart/mixed; boundary=L0\r\n\r\n");
			for (int i = 1; i < levels; i++)
				n += snprintf(msg + n, sizeof(msg) - (size_t)n,
					      "--L%d\r\nContent-Type: multipart/mixed; "
					      "boundary=L%d\r\n\r\n", (i - 1) * 10, i * 10);
			n += snprintf(msg + n, sizeof(msg) - (size_t)n,
				      "--L%d\r\n\r\nx\r\n", levels > 1 ? (levels - 1) * 10 : 0);
			for (int i = levels - 1; i >= 0; i--)
				n += snprintf(msg + n, sizeof(msg) - (size_t)n,
					      "--L%d--\r\n", i * 10);
			test_assert_idx(verdict(msg) == (levels == 8 ? -1 :
						       (int)HTG_RULE_MIME), levels);
		}
	}
	test_end();
}

static void test_conf_lists(void)
{
	struct htg_check_conf conf = { "htpoort.nl", "htpoort.nl", 8, 200,
				       "application/xml, text/csv",
				       "koi8-r windows-1252", 0, NULL, NULL };
	const char *csv = SINGLE("text/csv; charset=koi8-r", "7bit", "a,b\r\n");
	const char *pdf = SINGLE("application/pdf", "base64", "JVBERi0=\r\n");
	const char *win = SINGLE("text/csv; charset=windows-1252", "7bit", "x\r\n");
	struct htg_check *c;

	test_begin("allowed_types and extra_charsets from the configuration");
	c = htg_check_new(&conf, NULL, NULL);
	htg_check_set_rcpt(c, RCPT);
	test_assert(htg_check_message(c, csv, strlen(csv), 0) == 0);
	htg_check_free(&c);
	c = htg_check_new(&conf, NULL, NULL);
	htg_check_set_rcpt(c, RCPT);
	test_assert(htg_check_message(c, pdf, strlen(pdf), 0) < 0);
	test_assert(htg_check_verdict(c)->rule == HTG_RULE_CT);
	htg_check_free(&c);
	/* Windows code pages stay refused even when listed */
	c = htg_check_new(&conf, NULL, NULL);
	htg_check_set_rcpt(c, RCPT);
	test_assert(htg_check_message(c, win, strlen(win), 0) < 0);
	test_assert(htg_check_verdict(c)->rule == HTG_RULE_CHARSET);
	htg_check_free(&c);
	test_end();
}

static void test_envelope(void)
{
	char *mail_envid[] = { "<a@b.nl>", "SIZE=10", "ENVID=abc", NULL };
	char *mail_plain[] = { "<a@b.nl>", "BODY=8BITMIME", NULL };
	char *rcpt_success[] = { "<dms@x>", "NOTIFY=FAILURE,SUCCESS", NULL };
	char *rcpt_failure[] = { "<dms@x>", "NOTIFY=FAILURE", "ORCPT=rfc822;x", NULL };
	char *rcpt_plain[] = { "<dms@x>", NULL };
	char *rcpt_successes[] = { "<dms@x>", "NOTIFY=SUCCESSES", NULL };

	test_begin("HTG-ENVID: NOTIFY=SUCCESS needs ENVID");
	test_assert(htg_mail_has_envid(mail_envid) == 1);
	test_assert(htg_mail_has_envid(mail_plain) == 0);
	test_assert(htg_rule_envid(0, rcpt_success) == 1);
	test_assert(htg_rule_envid(1, rcpt_success) == 0);
	test_assert(htg_rule_envid(0, rcpt_failure) == 0);
	test_assert(htg_rule_envid(0, rcpt_plain) == 0);
	test_assert(htg_rule_envid(0, rcpt_successes) == 0);
	test_end();

	test_begin("HTG-RCPT-ONE: only the first recipient");
	test_assert(htg_rule_rcpt_one(0) == 0);
	test_assert(htg_rule_rcpt_one(1) == 1);
	test_assert(htg_rule_rcpt_one(7) == 1);
	test_end();
}

/* --- whole fields (issue 13 finding 3) and the From owner (finding 7) --- */

/* n bytes of folding white space: "\n " folds (as a milter is given
   them: the value's size is then the field's), each line short */
static size_t put_fws(char *p, size_t n)
{
	size_t o = 0;

	while (o + 2 <= n) {
		memcpy(p + o, "\n ", 2);
		o += 2;
	}
	while (o < n)
		p[o++] = ' ';
	return o;
}

/* HEAD-like message with field "name: first<fws>rest"; other fields of
   HEAD kept unless replaced */
static char *msg_with_field(const char *name, const char *first, size_t fws,
			    const char *rest, const char *body_hdrs)
{
	char *m = malloc(fws + 4096);
	size_t o = 0;
	const char *from = "From: <ik@mijnbedrijf.nl>\r\n";
	const char *to = "To: <dms@htpoort.nl>\r\n";
	const char *id = "Message-ID: <1@mijnbedrijf.nl>\r\n";

	if (m == NULL)
		exit(1);
	if (strcmp(name, "From") != 0)
		o += (size_t)sprintf(m + o, "%s", from);
	if (strcmp(name, "To") != 0)
		o += (size_t)sprintf(m + o, "%s", to);
	if (strcmp(name, "Message-ID") != 0)
		o += (size_t)sprintf(m + o, "%s", id);
	o += (size_t)sprintf(m + o, "%s: %s", name, first);
	o += put_fws(m + o, fws);
	o += (size_t)sprintf(m + o, "%s\r\n%s\r\nhallo\r\n", rest, body_hdrs);
	return m;
}

static int field_verdict(const char *name, const char *first, size_t fws,
			 const char *rest, const char *body_hdrs)
{
	char *m = msg_with_field(name, first, fws, rest, body_hdrs);
	int v = verdict(m);

	free(m);
	return v;
}

static void test_whole_fields(void)
{
	test_begin("To: one address then 1,200 bytes of FWS and a second: HTG-HDR-TO");
	test_assert(field_verdict("To", "<dms@htpoort.nl>", 1200,
				  ", evil@example.org", "") == HTG_RULE_HDR_TO);
	test_assert(field_verdict("To", "<dms@htpoort.nl>", 1200, "", "") == -1);
	test_end();

	test_begin("From: a second address past 1,200 bytes: HTG-HDR-FROM");
	test_assert(field_verdict("From", "<ik@mijnbedrijf.nl>", 1200,
				  ", <ander@example.org>", "") == HTG_RULE_HDR_FROM);
	test_end();

	test_begin("Message-ID: a second id past 1,200 bytes: HTG-MSGID");
	test_assert(field_verdict("Message-ID", "<1@mijnbedrijf.nl>", 1200,
				  "<2@mijnbedrijf.nl>", "") == HTG_RULE_MSGID);
	test_end();

	test_begin("Content-Type: charset past 1,200 bytes is read: HTG-CHARSET");
	test_assert(field_verdict("Content-Type", "text/plain;", 1200,
				  "charset=windows-1252", "") == HTG_RULE_CHARSET);
	test_assert(field_verdict("Content-Type", "application/xml;", 1200,
				  "name=\"a.xml\"", "") == -1);
	test_end();

	/* one word and white space, nothing else: not even a comment (RFC
	   2045 6.1 allows one; we refuse what we do not read, and the
	   field leaves with the word we read) */
	test_begin("Content-Transfer-Encoding: one token, nothing after it");
	test_assert(verdict(HEAD "Content-Transfer-Encoding: base64 x\r\n\r\n"
			    XML_B64) == HTG_RULE_CTE);
	test_assert(verdict(HEAD "Content-Transfer-Encoding: base64 (c)\r\n\r\n"
			    XML_B64) == HTG_RULE_CTE);
	test_assert(verdict(HEAD "Content-Transfer-Encoding:  base64 \r\n\r\n"
			    XML_B64) == -1);
	test_end();

	test_begin("a field under 60,000 bytes is read whole, one reaching it refused (HTG-MIME)");
	{
		/* "To: " + "<dms@htpoort.nl>" + FWS: one byte under the limit */
		size_t fixed = strlen("To: <dms@htpoort.nl>");

		test_assert(field_verdict("To", "<dms@htpoort.nl>",
					  HTG_HEADER_FIELD_MAX - fixed - 1, "", "") == -1);
		test_assert(field_verdict("To", "<dms@htpoort.nl>",
					  HTG_HEADER_FIELD_MAX - fixed, "", "") ==
			    HTG_RULE_MIME);
		test_assert(field_verdict("Subject", "x", 200000, "", "") ==
			    HTG_RULE_MIME);
	}
	test_end();

	test_begin("an envelope recipient or account longer than a path is refused, not cut");
	{
		struct htg_check_conf conf = { .header_domain = "htpoort.nl",
					       .msgid_domain = "htpoort.nl",
					       .max_depth = 8, .max_parts = 200 };
		struct htg_check *c = htg_check_new(&conf, NULL, NULL);
		char big[400];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		test_assert(htg_check_set_rcpt(c, big) < 0);
		test_assert(htg_check_set_account(c, big) < 0);
		test_assert(htg_check_set_rcpt(c, RCPT) == 0);
		htg_check_free(&c);
	}
	test_end();
}

/* the directory as the test knows it: ik@mijnbedrijf.nl is demo's */
static int fake_owner(void *ctx, const char *address, char *user_r,
		      size_t size)
{
	(void)ctx;
	if (strcmp(address, "fail@mijnbedrijf.nl") == 0)
		return -1;
	if (strcmp(address, "ik@mijnbedrijf.nl") == 0) {
		snprintf(user_r, size, "demo");
		return 1;
	}
	if (strcmp(address, "ander@bedrijf.nl") == 0) {
		snprintf(user_r, size, "other");
		return 1;
	}
	return 0;
}

static int from_verdict(const char *from, const char *account, int check)
{
	struct htg_check_conf conf = { .header_domain = "htpoort.nl",
				       .msgid_domain = "htpoort.nl",
				       .max_depth = 8, .max_parts = 200 };
	char msg[512];
	struct htg_check *c;
	int v;

	if (check)
		conf.from_owner = fake_owner;
	snprintf(msg, sizeof(msg), "From: %s\r\nTo: <dms@htpoort.nl>\r\n"
		 "Message-ID: <1@mijnbedrijf.nl>\r\n\r\nhallo\r\n", from);
	c = htg_check_new(&conf, NULL, NULL);
	htg_check_set_rcpt(c, RCPT);
	if (account != NULL)
		htg_check_set_account(c, account);
	htg_check_message(c, msg, strlen(msg), 0);
	v = htg_check_verdict(c)->refused ? (int)htg_check_verdict(c)->rule : -1;
	htg_check_free(&c);
	return v;
}

static void test_from_owner(void)
{
	test_begin("HTG-HDR-FROM: the From address is owned by the account");
	test_assert(from_verdict("<ik@mijnbedrijf.nl>", "demo", 1) == -1);
	test_assert(from_verdict("Ik <ik@mijnbedrijf.nl>", "DEMO", 1) == -1);
	test_end();

	test_begin("HTG-HDR-FROM: another account's or nobody's address refused");
	test_assert(from_verdict("<ander@bedrijf.nl>", "demo", 1) == HTG_RULE_HDR_FROM);
	test_assert(from_verdict("<ceo@overheid.nl>", "demo", 1) == HTG_RULE_HDR_FROM);
	test_assert(from_verdict("<ik@mijnbedrijf.nl>", NULL, 1) == HTG_RULE_HDR_FROM);
	test_assert(from_verdict("<ik@mijnbedrijf.nl>", "other", 1) == HTG_RULE_HDR_FROM);
	test_end();

	test_begin("HTG-HDR-FROM: a failed lookup is internal (tempfail)");
	test_assert(from_verdict("<fail@mijnbedrijf.nl>", "demo", 1) == HTG_RULE_COUNT);
	test_end();

	test_begin("HTG-HDR-FROM: relaxed (no owner lookup) accepts any one address");
	test_assert(from_verdict("<ander@bedrijf.nl>", "demo", 0) == -1);
	test_assert(from_verdict("<ceo@overheid.nl>", NULL, 0) == -1);
	test_end();
}

int main(void)
{
	test_rules();
	test_rewrites();
	test_conf_lists();
	test_envelope();
	test_whole_fields();
	test_from_owner();
	return test_exit();
}
