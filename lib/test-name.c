/*++
/* NAME
/*	test-name 1
/* SUMMARY
/*	unit tests of name validation, output escaping and paths under
/*	the mail root
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-name.h"
#include "htg-path.h"
#include "htg-test.h"

static const struct {
	const char *name;
	int ok;
} mailboxes[] = {
	{ "demo@mijnbedrijf.nl", 1 },
	{ "Demo@Bedrijf.NL", 1 },
	{ "a.b+c_d-e@x-y.example.nl", 1 },
	{ "o'neil@bedrijf.nl", 1 },		/* atext */
	{ "x@y.nl", 1 },
	{ "x@1.nl", 1 },			/* RFC 1123: a digit first */
	{ "../../etc/x@y.nl", 0 },		/* the review's example */
	{ "x@y.nl;rm", 0 },			/* the review's example */
	{ "etc/passwd@y.nl", 0 },		/* '/' in atext: refused */
	{ "\"a b\"@y.nl", 0 },			/* quoted local part */
	{ "\"../x\"@y.nl", 0 },
	{ "x@[127.0.0.1]", 0 },			/* address literal */
	{ "demo", 0 },
	{ "@y.nl", 0 },
	{ "x@", 0 },
	{ "x@localhost", 0 },			/* not fully qualified */
	{ ".x@y.nl", 0 },
	{ "x.@y.nl", 0 },
	{ "x..y@y.nl", 0 },
	{ "x@y..nl", 0 },
	{ "x@-y.nl", 0 },
	{ "x@y-.nl", 0 },
	{ "x@y.nl.", 0 },
	{ "x@y_z.nl", 0 },
	{ "x y@y.nl", 0 },
	{ "x\t@y.nl", 0 },
	{ "x\x1b[2J@y.nl", 0 },
	{ "j\xc3\xa9@y.nl", 0 },		/* 8-bit (no SMTPUTF8) */
	{ "x@y.nl\n", 0 },
	{ "a@b@y.nl", 0 },
};

static void test_mailbox(void)
{
	char local[80], label[80], buf[400];
	const char *why = NULL;

	test_begin("account and address names (RFC 5321, no quoted parts)");
	for (size_t i = 0; i < sizeof(mailboxes) / sizeof(mailboxes[0]); i++) {
		why = NULL;
		test_assert_idx(htg_name_mailbox(mailboxes[i].name, &why) ==
				mailboxes[i].ok, i);
		test_assert_idx(mailboxes[i].ok || why != NULL, i);
	}
	/* lengths: local part 64, label 63, whole 254 */
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(buf, sizeof(buf), "%s@y.nl", local);
	test_assert(htg_name_mailbox(buf, &why) == 1);
	snprintf(buf, sizeof(buf), "%sa@y.nl", local);
	test_assert(htg_name_mailbox(buf, &why) == 0);
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(buf, sizeof(buf), "x@%s.nl", label);
	test_assert(htg_name_mailbox(buf, &why) == 1);
	snprintf(buf, sizeof(buf), "x@%sb.nl", label);
	test_assert(htg_name_mailbox(buf, &why) == 0);
	snprintf(buf, sizeof(buf), "%s@%s.%s.%s.nl", local, label, label,
		 label);
	test_assert(strlen(buf) > 254 && htg_name_mailbox(buf, &why) == 0);
	test_end();
}

static void test_flow(void)
{
	static const struct {
		const char *name;
		int ok;
	} flows[] = {
		{ "dms", 1 }, { "DMS", 1 }, { "douaneproces", 1 },
		{ "aangifte-ib.2024_v1", 1 }, { "a", 1 }, { "9", 1 },
		{ "", 0 }, { "dms@x", 0 }, { "d\"ms", 0 }, { "d'ms", 0 },
		{ "dms\xc3\xa9", 0 }, { "\xff", 0 }, { "-dms", 0 },
		{ "dms-", 0 }, { ".dms", 0 }, { "d..ms", 0 }, { "d/ms", 0 },
		{ "d ms", 0 }, { "d\tms", 0 }, { "../x", 0 },
	};
	char buf[80];
	const char *why;

	test_begin("flow names ([a-z0-9._-], alnum at both ends)");
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++)
		test_assert_idx(htg_name_flow(flows[i].name, &why) ==
				flows[i].ok, i);
	memset(buf, 'f', 64);
	buf[64] = '\0';
	test_assert(htg_name_flow(buf, &why) == 1);
	buf[64] = 'f';
	buf[65] = '\0';
	test_assert(htg_name_flow(buf, &why) == 0);
	test_end();
}

/* What the escaper writes for s, in buf. */
static const char *esc(int json, const char *s)
{
	static char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	if (json)
		htg_esc_json(f, s);
	else
		htg_esc_text(f, s);
	fclose(f);
	return buf;
}

/* 1 when s is valid UTF-8 (by an independent, table-free check of
   what the escaper must produce: every byte sequence decodes). */
static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		int n = htg_utf8_len(p);

		if (n == 0)
			return 0;
		p += n;
	}
	return 1;
}

static void test_escape(void)
{
	static const struct {
		const char *in, *text, *json;
	} cases[] = {
		{ "<a@b.nl>", "<a@b.nl>", "\"<a@b.nl>\"" },
		/* a terminal escape: clear screen, retitle */
		{ "<\x1b[2J\x1b]0;pwned\x07@x>",
		  "<\\x1b[2J\\x1b]0;pwned\\x07@x>",
		  "\"<\\u001b[2J\\u001b]0;pwned\\u0007@x>\"" },
		{ "a\tb\r\n", "a\\x09b\\x0d\\x0a", "\"a\\u0009b\\u000d\\u000a\"" },
		{ "back\\slash\"q", "back\\x5cslash\"q",
		  "\"back\\\\slash\\\"q\"" },
		{ "\x7f", "\\x7f", "\"\\u007f\"" },
		/* valid UTF-8 stays */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\"" },
		/* C1 control CSI (U+009B) */
		{ "x\xc2\x9b" "31m", "x\\xc2\\x9b31m", "\"x\\u009b31m\"" },
		/* not UTF-8: a raw CSI byte, Latin-1, stray continuation,
		   overlong '/', surrogate, beyond U+10FFFF, truncated */
		{ "\x9b", "\\x9b", "\"\\ufffd\"" },
		{ "caf\xe9", "caf\\xe9", "\"caf\\ufffd\"" },
		{ "\x80\xbf", "\\x80\\xbf", "\"\\ufffd\\ufffd\"" },
		{ "\xc0\xaf", "\\xc0\\xaf", "\"\\ufffd\\ufffd\"" },
		{ "\xe0\x80\xaf", "\\xe0\\x80\\xaf",
		  "\"\\ufffd\\ufffd\\ufffd\"" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80",
		  "\"\\ufffd\\ufffd\\ufffd\"" },
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80",
		  "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
		{ "\xe2\x82", "\\xe2\\x82", "\"\\ufffd\\ufffd\"" },
		{ "\xff\xfe", "\\xff\\xfe", "\"\\ufffd\\ufffd\"" },
	};

	test_begin("output escaping: text has no controls, JSON is UTF-8");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = esc(0, cases[i].in), *j;

		test_assert_idx(strcmp(t, cases[i].text) == 0, i);
		for (const char *p = t; *p != '\0'; p++)
			test_assert_idx((unsigned char)*p >= 0x20 &&
					*p != 0x7f, i);
		j = esc(1, cases[i].in);
		test_assert_idx(strcmp(j, cases[i].json) == 0, i);
		test_assert_idx(utf8_valid(j), i);
	}
	/* every single byte and every pair of bytes: JSON output valid */
	for (unsigned int a = 1; a < 256; a++) {
		for (unsigned int b = 0; b < 256; b += (a < 0x80 ? 255 : 1)) {
			char in[3] = { (char)a, (char)b, '\0' };

			if (!utf8_valid(esc(1, in)))
				test_assert_idx(0, a * 256 + b);
			for (const char *p = esc(0, in); *p != '\0'; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					test_assert_idx(0, a * 256 + b);
		}
	}
	test_end();
}

static void test_path_under(void)
{
	test_begin("paths under the mail root");
	test_assert(htg_path_under("/m", "/m/a/b.eml") == 1);
	test_assert(htg_path_under("/m/", "/m/a/b.eml") == 1);
	test_assert(htg_path_under("/m", "/m//a") == 1);
	test_assert(htg_path_under("/m", "/m") == 0);
	test_assert(htg_path_under("/m", "/m/") == 0);
	test_assert(htg_path_under("/m", "/mx/a") == 0);
	test_assert(htg_path_under("/m", "/etc/shadow") == 0);
	test_assert(htg_path_under("/m", "/m/../etc/shadow") == 0);
	test_assert(htg_path_under("/m", "/m/a/./b") == 0);
	test_assert(htg_path_under("/m", "/m/a/..") == 0);
	test_assert(htg_path_under("/m", "m/a") == 0);
	test_assert(htg_path_under("/m", "/m/a..b/c") == 1);
	test_end();
}

static void test_path_open(void)
{
	char root[] = "/tmp/htg-test-path.XXXXXX", p[256], q[256];
	const char *error, *name;
	int fd;

	test_begin("paths opened without following symbolic links");
	test_assert(mkdtemp(root) != NULL);
	snprintf(p, sizeof(p), "%s/u", root);
	test_assert(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/u/kept", root);
	test_assert(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/outside", root);
	test_assert(mkdir(p, 0700) == 0);
	/* a real folder */
	snprintf(p, sizeof(p), "%s/u/kept/a.eml", root);
	fd = htg_path_open_parent(root, p, &name, &error);
	test_assert(fd >= 0 && strcmp(name, "a.eml") == 0);
	if (fd >= 0)
		close(fd);
	fd = htg_path_open_dir(root, p, &error);	/* no such dir */
	test_assert(fd < 0 && errno == ENOENT);
	/* a folder replaced by a link: refused, however deep */
	snprintf(p, sizeof(p), "%s/outside", root);
	snprintf(q, sizeof(q), "%s/u/link", root);
	test_assert(symlink(p, q) == 0);
	snprintf(p, sizeof(p), "%s/u/link/a.eml", root);
	fd = htg_path_open_parent(root, p, &name, &error);
	test_assert(fd < 0 && errno == ELOOP);
	test_assert(fd < 0 && strstr(error, "symbolic link") != NULL);
	snprintf(p, sizeof(p), "%s/u/link", root);
	fd = htg_path_open_dir(root, p, &error);
	test_assert(fd < 0 && errno == ELOOP);
	/* the last component of a parent walk is not opened: the caller
	   does that with O_NOFOLLOW */
	fd = htg_path_open_parent(root, p, &name, &error);
	test_assert(fd >= 0 && strcmp(name, "link") == 0);
	if (fd >= 0)
		close(fd);
	/* outside the root */
	fd = htg_path_open_parent(root, "/etc/passwd", &name, &error);
	test_assert(fd < 0 && errno == EPERM &&
		    strstr(error, "not under the mail root") != NULL);
	snprintf(p, sizeof(p), "%s/u/../../etc/passwd", root);
	fd = htg_path_open_parent(root, p, &name, &error);
	test_assert(fd < 0 && errno == EPERM);
	snprintf(p, sizeof(p), "rm -rf %s", root);
	test_assert(system(p) == 0);
	test_end();
}

int main(void)
{
	test_mailbox();
	test_flow();
	test_escape();
	test_path_under();
	test_path_open();
	return test_exit();
}
