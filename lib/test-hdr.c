/*++
/* NAME
/*	test-hdr 1
/* SUMMARY
/*	unit tests of the header field parsers
/* DESCRIPTION
/*	Table-driven: each rule with inputs it must accept and inputs it
/*	must refuse, hostile ones included (unbalanced quotes and
/*	comments, deep nesting, over-long values, malformed RFC 2231 and
/*	RFC 2047 forms).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-hdr.h"
#include "htg-test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- MIME parameters ---- */

struct param_case {
	const char *value;
	int ret;
	const char *main;
	/* expected parameters, "name=value" pairs, NULL-terminated */
	const char *params[6];
};

static const struct param_case param_cases[] = {
	{ "text/plain", 0, "text/plain", { NULL } },
	{ "Text/Plain; Charset=US-ASCII", 0, "text/plain",
	  { "charset", "US-ASCII", NULL } },
	{ "text/plain; charset=\"utf-8\"", 0, "text/plain",
	  { "charset", "utf-8", NULL } },
	{ " text / plain (comment) ; charset = utf-8 (c (nested) \\) ) ", 0,
	  "text/plain", { "charset", "utf-8", NULL } },
	{ "text/plain;", 0, "text/plain", { NULL } },
	{ "text/plain;; charset=x;", 0, "text/plain", { "charset", "x", NULL } },
	{ "attachment", 0, "attachment", { NULL } },
	{ "ATTACHMENT; FileName=a.pdf", 0, "attachment",
	  { "filename", "a.pdf", NULL } },
	{ "attachment; filename=\"a b.pdf\"; size=12", 0, "attachment",
	  { "filename", "a b.pdf", "size", "12", NULL } },
	{ "attachment; filename=\"a\\\"b\\\\c.pdf\"", 0, "attachment",
	  { "filename", "a\"b\\c.pdf", NULL } },
	{ "attachment; filename=\"\"", 0, "attachment",
	  { "filename", "", NULL } },
	{ "attachment;\r\n filename=\"a\r\n b.pdf\"", 0, "attachment",
	  { "filename", "a b.pdf", NULL } },
	{ "attachment; filename=\"r\xc3\xa9sum\xc3\xa9.pdf\"", 0, "attachment",
	  { "filename", "r\xc3\xa9sum\xc3\xa9.pdf", NULL } },
	{ "multipart/mixed; boundary=\"=_x?y\"", 0, "multipart/mixed",
	  { "boundary", "=_x?y", NULL } },
	/* RFC 2231 */
	{ "attachment; filename*=utf-8''%E2%82%AC.pdf", 0, "attachment",
	  { "filename", "\xe2\x82\xac.pdf", NULL } },
	{ "attachment; filename*=UTF-8'nl'a%20b%2epdf", 0, "attachment",
	  { "filename", "a b.pdf", NULL } },
	{ "attachment; filename*=''a.pdf", 0, "attachment",
	  { "filename", "a.pdf", NULL } },
	{ "attachment; filename*0=\"a\"; filename*1=\"b.pdf\"", 0, "attachment",
	  { "filename", "ab.pdf", NULL } },
	{ "attachment; filename*1=\"b.pdf\"; filename*0=\"a\"", 0, "attachment",
	  { "filename", "ab.pdf", NULL } },
	{ "attachment; filename*2=c.pdf; filename*0=a; x=y; filename*1=b", 0,
	  "attachment", { "filename", "abc.pdf", "x", "y", NULL } },
	{ "attachment; filename*0*=utf-8''%E2%82%AC; filename*1=\".pdf\"", 0,
	  "attachment", { "filename", "\xe2\x82\xac.pdf", NULL } },
	{ "attachment; filename*0*=utf-8''a; filename*1*=%20b; filename*2=c.pdf",
	  0, "attachment", { "filename", "a bc.pdf", NULL } },
	{ "attachment; filename*0=\"it's\"; filename*1*=%20x.pdf", 0,
	  "attachment", { "filename", "it's x.pdf", NULL } },
	/* both forms: the RFC 2231 one wins, either order */
	{ "attachment; filename=\"a.pdf\"; filename*=utf-8''b.zip", 0,
	  "attachment", { "filename", "b.zip", NULL } },
	{ "attachment; filename*0=b; filename*1=.zip; filename=a.pdf", 0,
	  "attachment", { "filename", "b.zip", NULL } },
	/* RFC 2047 inside quoted values */
	{ "attachment; filename=\"=?utf-8?B?4oKs?=.pdf\"", 0, "attachment",
	  { "filename", "\xe2\x82\xac.pdf", NULL } },
	{ "attachment; filename=\"=?iso-8859-1?Q?caf=E9_au_lait.pdf?=\"", 0,
	  "attachment", { "filename", "caf\xe9 au lait.pdf", NULL } },
	{ "attachment; filename=\"=?utf-8?Q?a?= =?utf-8?q?b?=.pdf\"", 0,
	  "attachment", { "filename", "ab.pdf", NULL } },
	{ "attachment; filename=\"=?utf-8?X?abc?=.pdf\"", 0, "attachment",
	  { "filename", "=?utf-8?X?abc?=.pdf", NULL } },
	{ "attachment; filename=\"=?utf-8?B?4oK?=.pdf\"", 0, "attachment",
	  { "filename", "=?utf-8?B?4oK?=.pdf", NULL } },
	{ "attachment; filename=\"=?utf-8?Q?a=00b?=\"", 0, "attachment",
	  { "filename", "=?utf-8?Q?a=00b?=", NULL } },
	/* syntax errors */
	{ "", -1, "", { NULL } },
	{ "  (only a comment) ", -1, "", { NULL } },
	{ "; charset=x", -1, "", { NULL } },
	{ "text/", -1, "", { NULL } },
	{ "/plain", -1, "", { NULL } },
	{ "\"text/plain\"", -1, "", { NULL } },
	{ "text/plain charset=x", -1, "", { NULL } },
	{ "text/plain; charset", -1, "", { NULL } },
	{ "text/plain; charset=", -1, "", { NULL } },
	{ "text/plain; charset=;", -1, "", { NULL } },
	{ "text/plain; =x", -1, "", { NULL } },
	{ "text/plain; charset=a b", -1, "", { NULL } },
	{ "text/plain; charset=caf\xc3\xa9", -1, "", { NULL } },
	{ "attachment; filename=\"a.pdf", -1, "", { NULL } },
	{ "attachment; filename=\"a.pdf\\\"", -1, "", { NULL } },
	{ "text/plain (x", -1, "", { NULL } },
	{ "text/plain; charset=x (a (b)", -1, "", { NULL } },
	{ "text/plain; charset=x )", -1, "", { NULL } },
	{ "text/plain; charset=a; charset=b", -1, "", { NULL } },
	{ "text/plain; charset=a; CHARSET=\"b\"", -1, "", { NULL } },
	{ "attachment; filename*=utf-8''a; filename*=utf-8''b", -1, "",
	  { NULL } },
	{ "attachment; filename*=utf-8''a; filename*0=b", -1, "", { NULL } },
	{ "attachment; filename*1=\"b\"", -1, "", { NULL } },	/* no *0 */
	{ "attachment; filename*0=a; filename*2=b", -1, "", { NULL } },
	{ "attachment; filename*0=a; filename*0=b", -1, "", { NULL } },
	{ "attachment; filename*0=a; filename*0*=''b", -1, "", { NULL } },
	{ "attachment; filename*0=a; filename*01=b", -1, "", { NULL } },
	{ "attachment; filename*00=a", -1, "", { NULL } },
	{ "attachment; filename*0=a; filename*1000=b", -1, "", { NULL } },
	{ "attachment; filename*x=a", -1, "", { NULL } },
	{ "attachment; filename**=a", -1, "", { NULL } },
	{ "attachment; *0=a", -1, "", { NULL } },
	{ "attachment; filename*=utf-8''%G1.pdf", -1, "", { NULL } },
	{ "attachment; filename*=utf-8''a%4", -1, "", { NULL } },
	{ "attachment; filename*=utf-8''a%", -1, "", { NULL } },
	{ "attachment; filename*=utf-8''a%00b", -1, "", { NULL } },
	{ "attachment; filename*=a.pdf", -1, "", { NULL } },
	{ "attachment; filename*=utf-8'a.pdf", -1, "", { NULL } },
	{ "attachment; filename*0*=a.pdf", -1, "", { NULL } },
};

static int check_params(const struct htg_params *p,
			const struct param_case *c)
{
	const struct htg_param *param;
	size_t i;

	if (strcmp(p->main, c->main) != 0)
		return 0;
	for (i = 0; c->params[i] != NULL; i += 2) {
		param = &p->param[i / 2];
		if (i / 2 >= p->count || strcmp(param->name, c->params[i]) != 0 ||
		    param->value_len != strlen(c->params[i + 1]) ||
		    memcmp(param->value, c->params[i + 1],
			   param->value_len + 1) != 0 || param->truncated)
			return 0;
	}
	return i / 2 == p->count;
}

static void test_params(void)
{
	static struct htg_params p;
	const char *error;
	size_t i;
	int ret;

	test_begin("MIME parameters: RFC 2045, 2231, 2047");
	for (i = 0; i < N(param_cases); i++) {
		error = NULL;
		ret = htg_hdr_params(param_cases[i].value, &p, &error);
		test_assert_idx(ret == param_cases[i].ret, i);
		if (ret == 0 && param_cases[i].ret == 0)
			test_assert_idx(check_params(&p, &param_cases[i]), i);
		if (ret < 0)
			test_assert_idx(error != NULL && *error != '\0', i);
	}
	test_end();
}

static void test_params_get(void)
{
	static struct htg_params p;
	const struct htg_param *param;
	const char *error;

	test_begin("MIME parameters: lookup by name");
	test_assert(htg_hdr_params("text/plain; Charset=x; name=\"y\"", &p,
				   &error) == 0);
	param = htg_hdr_param_get(&p, "charset");
	test_assert(param != NULL && strcmp(param->value, "x") == 0);
	param = htg_hdr_param_get(&p, "NAME");
	test_assert(param != NULL && strcmp(param->value, "y") == 0);
	test_assert(htg_hdr_param_get(&p, "filename") == NULL);
	test_assert(htg_hdr_param_get(&p, "") == NULL);
	test_end();
}

/* A value longer than the buffer keeps its last bytes. */
static void test_params_long(void)
{
	static struct htg_params p;
	static char value[8192], name[128];
	const struct htg_param *param;
	const char *error;
	size_t i, n;

	test_begin("MIME parameters: over-long values keep their end");
	n = (size_t)snprintf(value, sizeof(value), "attachment; filename=\"");
	for (i = 0; i < 2000; i++)
		value[n++] = (char)('a' + i % 26);
	snprintf(value + n, sizeof(value) - n, ".pdf\"");
	test_assert(htg_hdr_params(value, &p, &error) == 0);
	param = htg_hdr_param_get(&p, "filename");
	test_assert(param != NULL && param->truncated &&
		    param->value_len == HTG_PARAM_VALUE_MAX - 1 &&
		    strlen(param->value) == param->value_len &&
		    strcmp(param->value + param->value_len - 4, ".pdf") == 0);
	/* exactly filling the buffer is not truncated */
	n = (size_t)snprintf(value, sizeof(value), "attachment; filename=");
	memset(value + n, 'x', HTG_PARAM_VALUE_MAX - 1);
	value[n + HTG_PARAM_VALUE_MAX - 1] = '\0';
	test_assert(htg_hdr_params(value, &p, &error) == 0 &&
		    !p.param[0].truncated &&
		    p.param[0].value_len == HTG_PARAM_VALUE_MAX - 1);
	value[n + HTG_PARAM_VALUE_MAX - 1] = 'y';
	value[n + HTG_PARAM_VALUE_MAX] = '\0';
	test_assert(htg_hdr_params(value, &p, &error) == 0 &&
		    p.param[0].truncated &&
		    p.param[0].value_len == HTG_PARAM_VALUE_MAX - 1 &&
		    p.param[0].value[0] == 'x' &&
		    p.param[0].value[HTG_PARAM_VALUE_MAX - 2] == 'y');
	/* 40 RFC 2231 sections of 40 bytes, shuffled: the end survives */
	n = (size_t)snprintf(value, sizeof(value), "attachment");
	for (i = 0; i < 40; i++) {
		size_t s = (i * 7) % 40;	/* 7 is prime to 40 */

		n += (size_t)snprintf(value + n, sizeof(value) - n,
				      "; filename*%zu*=%s%039zu", s,
				      s == 0 ? "utf-8''" : "", s);
	}
	snprintf(value + n, sizeof(value) - n, "; filename*40=\".pdf\"");
	test_assert(htg_hdr_params(value, &p, &error) == 0);
	param = htg_hdr_param_get(&p, "filename");
	test_assert(param != NULL && param->truncated &&
		    param->value_len == HTG_PARAM_VALUE_MAX - 1 &&
		    strcmp(param->value + param->value_len - 44,
			   "000000000000000000000000000000000000039.pdf") != 0 &&
		    strcmp(param->value + param->value_len - 43,
			   "000000000000000000000000000000000000039.pdf") == 0);
	/* a main value and a name that do not fit are errors */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(value, sizeof(value), "text/%s", name);
	test_assert(htg_hdr_params(value, &p, &error) == -1);
	snprintf(value, sizeof(value), "text/plain; %.*s=x",
		 HTG_PARAM_NAME_MAX, name);
	test_assert(htg_hdr_params(value, &p, &error) == -1);
	snprintf(value, sizeof(value), "text/plain; %.*s=x",
		 HTG_PARAM_NAME_MAX - 1, name);
	test_assert(htg_hdr_params(value, &p, &error) == 0);
	test_end();
}

static void test_params_limits(void)
{
	static struct htg_params p;
	static char value[16384];
	const char *error;
	size_t i, n;

	test_begin("MIME parameters: counts and nesting are bounded");
	n = (size_t)snprintf(value, sizeof(value), "text/plain");
	for (i = 0; i < HTG_PARAMS_MAX; i++)
		n += (size_t)snprintf(value + n, sizeof(value) - n,
				      "; p%zu=v", i);
	test_assert(htg_hdr_params(value, &p, &error) == 0 &&
		    p.count == HTG_PARAMS_MAX);
	snprintf(value + n, sizeof(value) - n, "; one=more");
	test_assert(htg_hdr_params(value, &p, &error) == -1);
	/* thousands of sections of one parameter: bounded, refused */
	n = (size_t)snprintf(value, sizeof(value), "attachment");
	for (i = 0; i < 1000 && n < sizeof(value) - 32; i++)
		n += (size_t)snprintf(value + n, sizeof(value) - n,
				      "; f*%zu=x", i);
	test_assert(htg_hdr_params(value, &p, &error) == -1);
	/* nested comments: some fine, too deep refused, no recursion */
	n = (size_t)snprintf(value, sizeof(value), "text/plain ");
	for (i = 0; i < 8; i++)
		value[n++] = '(';
	for (i = 0; i < 8; i++)
		value[n++] = ')';
	value[n] = '\0';
	test_assert(htg_hdr_params(value, &p, &error) == 0);
	n = (size_t)snprintf(value, sizeof(value), "text/plain ");
	for (i = 0; i < 5000; i++)
		value[n++] = '(';
	for (i = 0; i < 5000; i++)
		value[n++] = ')';
	value[n] = '\0';
	test_assert(htg_hdr_params(value, &p, &error) == -1);
	test_end();
}

/* ---- file name extension ---- */

static void test_filename_ext(void)
{
	static const struct {
		const char *name;
		size_t len;		/* 0: strlen */
		const char *ext;
	} tests[] = {
		{ "a.pdf", 0, "pdf" },
		{ "report.final.XML", 0, "XML" },
		{ "a.tar.gz", 0, "gz" },
		{ "a.7z", 0, "7z" },
		{ "a.abcdefghij", 0, "abcdefghij" },	/* 10: the limit */
		{ "a.verylongext11", 0, "txt" },
		{ "a.abcdefghijk", 0, "txt" },
		{ "a.", 0, "txt" },
		{ "a", 0, "txt" },
		{ "", 0, "txt" },
		{ ".", 0, "txt" },
		{ "..", 0, "txt" },
		{ ".bashrc", 0, "txt" },		/* a hidden file */
		{ "..bashrc", 0, "txt" },
		{ ".config.xml", 0, "xml" },
		{ "..a.pdf", 0, "pdf" },
		{ "dir/.bashrc", 0, "txt" },
		{ "dir.d/file", 0, "txt" },
		{ "C:\\docs.d\\file", 0, "txt" },
		{ "C:\\docs\\a.pdf", 0, "pdf" },
		{ "a.p-d", 0, "txt" },
		{ "a.p d", 0, "txt" },
		{ "a.p_d", 0, "txt" },
		{ "a.pdf ", 0, "txt" },
		{ "a.pdf\r\n", 0, "txt" },
		{ "a.p\rdf", 0, "txt" },
		{ "a.p\"df", 0, "txt" },
		{ "a.\"pdf\"", 0, "txt" },
		{ "a.p\xc3\xa9", 0, "txt" },
		{ "a.pdf\0.exe", 10, "exe" },
		{ "a.p\0df", 6, "txt" },
		{ "a.pdf\0", 6, "txt" },
		{ "a.pdf", 3, "p" },		/* only len bytes count */
	};
	char ext[11], small[3];
	size_t i;

	test_begin("file name extension (HTG-FILENAME)");
	for (i = 0; i < N(tests); i++) {
		memset(ext, 'X', sizeof(ext));
		htg_filename_ext(tests[i].name, tests[i].len != 0 ?
				 tests[i].len : strlen(tests[i].name),
				 ext, sizeof(ext));
		test_assert_idx(strcmp(ext, tests[i].ext) == 0, i);
	}
	htg_filename_ext(NULL, 5, ext, sizeof(ext));
	test_assert(strcmp(ext, "txt") == 0);
	/* a too small buffer never overflows */
	htg_filename_ext("a.pdf", 5, small, sizeof(small));
	test_assert(strlen(small) < sizeof(small));
	test_end();
}

/* ---- addresses ---- */

static void test_addresses(void)
{
	static const struct {
		const char *value;
		int ret;
		const char *first;
	} tests[] = {
		{ "", 0, "" },
		{ "  \r\n\t", 0, "" },
		{ " (nobody) ", 0, "" },
		{ "a@b.nl", 1, "a@b.nl" },
		{ "<a@b.nl>", 1, "a@b.nl" },
		{ " < a@b.nl > ", 1, "a@b.nl" },
		{ "\"Doe, J\" <a@b.nl>", 1, "a@b.nl" },
		{ "John Q. Doe <a@b.nl>", 1, "a@b.nl" },
		{ "=?utf-8?Q?J=C3=B6rg?= <a@b.nl>", 1, "a@b.nl" },
		{ "J\xc3\xb6rg <a@b.nl>", 1, "a@b.nl" },
		{ "a@b.nl (comment)", 1, "a@b.nl" },
		{ "(c) a(c)@(c)b.nl (c (nested))", 1, "a@b.nl" },
		{ "first.last@sub.b.nl", 1, "first.last@sub.b.nl" },
		{ "\"john doe\"@b.nl", 1, "\"john doe\"@b.nl" },
		{ "\"a\\\"b\"@b.nl", 1, "\"a\\\"b\"@b.nl" },
		{ "a@[192.0.2.1]", 1, "a@[192.0.2.1]" },
		{ "Name\r\n <a@b.nl>", 1, "a@b.nl" },
		{ "a@b.nl, c@d.nl", 2, "a@b.nl" },
		{ "A <a@b.nl>, \"C\" <c@d.nl>, e@f.nl", 3, "a@b.nl" },
		{ "grp: a@b.nl;", -1, "" },
		{ "grp:;", -1, "" },
		{ "<a@b@c>", -1, "" },
		{ "a@b@c", -1, "" },
		{ "\"\"@b.nl", -1, "" },
		{ "<\"\"@b.nl>", -1, "" },
		{ "@b.nl", -1, "" },
		{ "a@", -1, "" },
		{ "a", -1, "" },
		{ "<a>", -1, "" },
		{ "<>", -1, "" },
		{ "a.@b.nl", -1, "" },
		{ ".a@b.nl", -1, "" },
		{ "a..b@b.nl", -1, "" },
		{ "a@b..nl", -1, "" },
		{ "a@.b.nl", -1, "" },
		{ "a@b.nl.", -1, "" },
		{ "a@\"b\".nl", -1, "" },
		{ "<a@b.nl", -1, "" },
		{ "a@b.nl>", -1, "" },
		{ "<<a@b.nl>>", -1, "" },
		{ "<a@b.nl> <c@d.nl>", -1, "" },
		{ "a@b.nl <c@d.nl>", -1, "" },
		{ "<@x.nl:a@b.nl>", -1, "" },		/* obs-route */
		{ "\"Doe <a@b.nl>", -1, "" },
		{ "Doe\" <a@b.nl>", -1, "" },
		{ "a@b.nl (comment", -1, "" },
		{ "a@b.nl comment)", -1, "" },
		{ "a@[1.2.3.4", -1, "" },
		{ "a@b.nl,", -1, "" },
		{ ",a@b.nl", -1, "" },
		{ "a@b.nl,,c@d.nl", -1, "" },
		{ ". <a@b.nl>", -1, "" },
		{ "a@b.nl; c@d.nl", -1, "" },
		{ "a\\b@c.nl", -1, "" },
	};
	char first[64];
	size_t i;
	int ret;

	test_begin("address lists (HTG-HDR-FROM/TO)");
	for (i = 0; i < N(tests); i++) {
		memset(first, 'X', sizeof(first));
		ret = htg_hdr_addresses(tests[i].value, first, sizeof(first));
		test_assert_idx(ret == tests[i].ret, i);
		if (ret > 0)
			test_assert_idx(strcmp(first, tests[i].first) == 0, i);
	}
	/* the first address must fit, or the list is not accepted */
	test_assert(htg_hdr_addresses("abcdef@b.nl", first, 12) == 1 &&
		    strcmp(first, "abcdef@b.nl") == 0);
	test_assert(htg_hdr_addresses("abcdefg@b.nl", first, 12) == -1);
	test_assert(htg_hdr_addresses("a@b.nl, c@d.nl", NULL, 0) == 2);
	test_assert(htg_hdr_addresses(NULL, first, sizeof(first)) == 0);
	test_end();
}

/* ---- Message-ID ---- */

static void test_msgid(void)
{
	static const struct {
		const char *value;
		int ret;
		const char *id;
	} tests[] = {
		{ "<x@y>", 1, "<x@y>" },
		{ " <x@y> (c)", 1, "<x@y>" },
		{ "(c (d)) <x@y>\r\n ", 1, "<x@y>" },
		{ "<a.b.c$1=2@host.example.nl>", 1, "<a.b.c$1=2@host.example.nl>" },
		{ "<x@[1.2.3.4]>", 1, "<x@[1.2.3.4]>" },
		{ "<x@[]>", 1, "<x@[]>" },
		{ "<x@y> <z@w>", 0, "" },
		{ "x@y", 0, "" },
		{ "<x>", 0, "" },
		{ "<x@y", 0, "" },
		{ "x@y>", 0, "" },
		{ "<@y>", 0, "" },
		{ "<x@>", 0, "" },
		{ "<x@y@z>", 0, "" },
		{ "< x@y>", 0, "" },
		{ "<x @y>", 0, "" },
		{ "<x@y >", 0, "" },
		{ "<x(c)@y>", 0, "" },
		{ "<x..y@z>", 0, "" },
		{ "<.x@y>", 0, "" },
		{ "<x.@y>", 0, "" },
		{ "<x@y.>", 0, "" },
		{ "<\"x\"@y>", 0, "" },
		{ "<x@[1.2\\.3]>", 0, "" },
		{ "<x@[a[b]>", 0, "" },
		{ "<x@[1.2.3.4>", 0, "" },
		{ "<x@y>z", 0, "" },
		{ "<x@y> (c", 0, "" },
		{ "<x\xc3\xa9@y>", 0, "" },
		{ "<x@y\r\n>", 0, "" },
		{ "", 0, "" },
		{ "<>", 0, "" },
	};
	char id[32];
	size_t i;
	int ret;

	test_begin("Message-ID (HTG-MSGID)");
	for (i = 0; i < N(tests); i++) {
		memset(id, 'X', sizeof(id));
		ret = htg_hdr_msgid(tests[i].value, id, sizeof(id));
		test_assert_idx(ret == tests[i].ret, i);
		if (ret == 1)
			test_assert_idx(strcmp(id, tests[i].id) == 0, i);
	}
	test_assert(htg_hdr_msgid("<abc@d>", id, 8) == 1);
	test_assert(htg_hdr_msgid("<abcd@e>", id, 8) == 0);
	test_assert(htg_hdr_msgid(NULL, id, sizeof(id)) == 0);
	test_end();
}

/* ---- RFC 2047 ---- */

static void test_rfc2047(void)
{
	static const struct {
		const char *in, *out;
	} tests[] = {
		{ "", "" },
		{ "plain text", "plain text" },
		{ "=?utf-8?B?4oKs?=", "\xe2\x82\xac" },
		{ "=?UTF-8?b?4oKs?=", "\xe2\x82\xac" },
		{ "=?iso-8859-1?Q?caf=E9_au_lait?=", "caf\xe9 au lait" },
		{ "=?iso-8859-1?q?a=3f=3F?=", "a??" },
		{ "=?utf-8*nl?Q?x?=", "x" },			/* RFC 2231 5 */
		{ "a =?utf-8?Q?b?= c", "a b c" },
		{ "=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab" },
		{ "=?utf-8?Q?a?=\r\n =?utf-8?Q?b?=", "ab" },
		{ "=?utf-8?Q?a?=  \t=?utf-8?B?Yg==?= c", "ab c" },
		{ "=?utf-8?Q?a?= b =?utf-8?Q?c?=", "a b c" },
		{ "x=?utf-8?Q?a?=y", "xay" },
		/* malformed words are copied as they are */
		{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
		{ "=?utf-8?Q?abc", "=?utf-8?Q?abc" },
		{ "=?utf-8?Q?a b?=", "=?utf-8?Q?a b?=" },
		{ "=?utf-8?Q?" "?=", "=?utf-8?Q?" "?=" },
		{ "=??Q?a?=", "=??Q?a?=" },
		{ "=?utf-8?Q?=G1?=", "=?utf-8?Q?=G1?=" },
		{ "=?utf-8?Q?=4?=", "=?utf-8?Q?=4?=" },
		{ "=?utf-8?Q?a=00?=", "=?utf-8?Q?a=00?=" },
		{ "=?utf-8?B?4oK?=", "=?utf-8?B?4oK?=" },
		{ "=?utf-8?B?4o*s?=", "=?utf-8?B?4o*s?=" },
		{ "=?utf-8?B?AA==?=", "=?utf-8?B?AA==?=" },
		{ "=?utf-8?B?YQ==YQ==?=", "=?utf-8?B?YQ==YQ==?=" },
		{ "=?utf 8?Q?a?=", "=?utf 8?Q?a?=" },
		{ "=?utf-8?Q?a?= =?bad", "a =?bad" },
		{ "=?=?utf-8?Q?a?=", "=?a" },
		{ "=?", "=?" },
		{ "?=", "?=" },
	};
	char out[64], small[4];
	size_t i, n;

	test_begin("RFC 2047 decoding");
	for (i = 0; i < N(tests); i++) {
		memset(out, 'X', sizeof(out));
		n = htg_rfc2047_decode(tests[i].in, strlen(tests[i].in), out,
				       sizeof(out));
		test_assert_idx(n == strlen(tests[i].out) &&
				strcmp(out, tests[i].out) == 0, i);
	}
	/* truncated to size - 1, NUL terminated */
	n = htg_rfc2047_decode("=?utf-8?Q?abcdef?=", 18, small, sizeof(small));
	test_assert(n == 3 && strcmp(small, "abc") == 0);
	n = htg_rfc2047_decode("abcdef", 6, small, sizeof(small));
	test_assert(n == 3 && strcmp(small, "abc") == 0);
	n = htg_rfc2047_decode("abc", 3, small, 0);
	test_assert(n == 0);
	/* only len bytes are read */
	n = htg_rfc2047_decode("=?utf-8?Q?a?=", 12, out, sizeof(out));
	test_assert(n == 12 && strcmp(out, "=?utf-8?Q?a?") == 0);
	test_end();
}

int main(void)
{
	test_params();
	test_params_get();
	test_params_long();
	test_params_limits();
	test_filename_ext();
	test_addresses();
	test_msgid();
	test_rfc2047();
	return test_exit();
}
