/*++
/* NAME
/*	test-htg-pre-tls 1
/* SUMMARY
/*	unit test of the POP3 pre-TLS command allow-list (HTG-TLS)
/* SYNOPSIS
/*	test-htg-pre-tls
/* DESCRIPTION
/*	Table-driven: each row is a raw command line as a client sends it
/*	and whether it may run before STLS.
/*--*/

#include <string.h>

#include "htg-test.h"
#include "htg-pre-tls.h"

struct line_case {
	const char *line;	/* raw bytes up to (not including) LF */
	size_t len;		/* 0 = strlen(line) */
	const char *word;	/* expected command word */
	int allowed;
};

static const struct line_case line_cases[] = {
	{ "CAPA", 0, "CAPA", 1 },
	{ "capa\r", 0, "CAPA", 1 },
	{ "Stls\r", 0, "STLS", 1 },
	{ "QUIT", 0, "QUIT", 1 },
	{ "QUIT now\r", 0, "QUIT", 1 },
	{ "CA\rPA\r", 0, "CAPA", 1 },	/* pop3-login skips CR too */
	{ "USER bob@example.nl\r", 0, "USER", 0 },
	{ "PASS secret\r", 0, "PASS", 0 },
	{ "AUTH PLAIN AGJvYgBzZWNyZXQ=\r", 0, "AUTH", 0 },
	{ "AUTH\r", 0, "AUTH", 0 },
	{ "APOP bob 0123456789abcdef\r", 0, "APOP", 0 },
	{ "NOOP\r", 0, "NOOP", 0 },
	{ "XCLIENT ADDR=1.2.3.4\r", 0, "XCLIENT", 0 },
	{ "\r", 0, "", 0 },
	{ "", 0, "", 0 },
	{ " CAPA\r", 0, "", 0 },
	{ "CAPAX\r", 0, "CAPAX", 0 },
	{ "CAP\r", 0, "CAP", 0 },
	{ "CAPA\0USER bob", 13, "CAPA", 1 },	/* NUL ends the word */
	{ "USER\0CAPA", 9, "USER", 0 },
	{ "STLSSTLSSTLSSTLSSTLS\r", 0, NULL, 0 },	/* overlong */
};

static void test_cmd_name(void)
{
	char buf[HTG_POP3_CMD_MAX];
	size_t i, len, n;

	test_begin("htg_pop3_cmd_name + htg_pop3_pre_tls_allowed");
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];

		len = c->len != 0 ? c->len : strlen(c->line);
		n = htg_pop3_cmd_name((const unsigned char *)c->line, len,
				      buf, sizeof(buf));
		if (c->word != NULL) {
			test_assert_idx(n == strlen(c->word), i);
			test_assert_idx(strcmp(buf, c->word) == 0, i);
		} else {
			test_assert_idx(n == sizeof(buf), i);
		}
		test_assert_idx(htg_pop3_pre_tls_allowed(buf) == c->allowed,
				i);
	}
	test_end();
}

static void test_allowed_words(void)
{
	test_begin("htg_pop3_pre_tls_allowed words");
	test_assert(htg_pop3_pre_tls_allowed("CAPA") == 1);
	test_assert(htg_pop3_pre_tls_allowed("stls") == 1);
	test_assert(htg_pop3_pre_tls_allowed("Quit") == 1);
	test_assert(htg_pop3_pre_tls_allowed("USER") == 0);
	test_assert(htg_pop3_pre_tls_allowed("PASS") == 0);
	test_assert(htg_pop3_pre_tls_allowed("AUTH") == 0);
	test_assert(htg_pop3_pre_tls_allowed("APOP") == 0);
	test_assert(htg_pop3_pre_tls_allowed("NOOP") == 0);
	test_assert(htg_pop3_pre_tls_allowed("") == 0);
	test_assert(htg_pop3_pre_tls_allowed(NULL) == 0);
	test_end();
}

static void test_small_buffer(void)
{
	char buf[4];
	char one[1];

	test_begin("htg_pop3_cmd_name small buffers");
	/* "CAPA" needs 5 bytes: a 4-byte buffer reports overlong */
	test_assert(htg_pop3_cmd_name((const unsigned char *)"CAPA", 4,
				      buf, sizeof(buf)) == sizeof(buf));
	test_assert(htg_pop3_pre_tls_allowed(buf) == 0);
	test_assert(htg_pop3_cmd_name((const unsigned char *)"", 0,
				      one, sizeof(one)) == 0);
	test_assert(one[0] == '\0');
	test_assert(htg_pop3_cmd_name((const unsigned char *)"X", 1,
				      one, 0) == 0);
	test_end();
}

int main(void)
{
	test_cmd_name();
	test_allowed_words();
	test_small_buffer();
	return test_exit();
}
