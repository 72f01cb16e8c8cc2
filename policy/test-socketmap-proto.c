/*++
/* NAME
/*	test-socketmap-proto 1
/* SUMMARY
/*	unit tests for the socketmap netstring parser
/* SYNOPSIS
/*	test-socketmap-proto
/* DESCRIPTION
/*	Valid queries, every split point, bad length, too long, missing
/*	comma, and reply formatting (socketmap-proto.h).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-test.h"
#include "socketmap-proto.h"

#define Q1 "27:mailbox user@example.nl X.Y,"
#define Q2 "19:domain example.nl Z,"

static int collect(struct sockmap_parser *p, const char *data, size_t len,
		   size_t chunk, char out[][64], enum sockmap_status *last)
{
	size_t off = 0;
	int n = 0;

	*last = SOCKMAP_MORE;
	while (off < len) {
		size_t piece = len - off < chunk ? len - off : chunk, pos = 0;

		while (pos < piece) {
			size_t used = 0;
			enum sockmap_status st =
			    sockmap_parser_feed(p, data + off + pos,
						piece - pos, &used);

			pos += used;
			*last = st;
			if (st == SOCKMAP_READY && n < 4) {
				size_t l = p->data_len < 63 ? p->data_len : 63;

				memcpy(out[n], p->data, l);
				out[n++][l] = '\0';
			}
			if (st == SOCKMAP_FATAL)
				return n;
		}
		off += piece;
	}
	return n;
}

static void test_valid(void)
{
	struct sockmap_parser p;
	char out[4][64];
	enum sockmap_status last;
	const char *name, *key;
	const char *data = Q1 Q2;
	size_t len = strlen(data);

	test_begin("socketmap: two queries in one chunk");
	sockmap_parser_init(&p);
	test_assert(collect(&p, data, len, len, out, &last) == 2);
	test_assert(strcmp(out[0], "mailbox user@example.nl X.Y") == 0);
	test_assert(strcmp(out[1], "domain example.nl Z") == 0);
	test_assert(sockmap_split(out[0], &name, &key) == 0);
	test_assert(strcmp(name, "mailbox") == 0);
	test_assert(strcmp(key, "user@example.nl X.Y") == 0);
	test_end();

	test_begin("socketmap: split at every byte boundary");
	for (size_t k = 1; k <= len; k++) {
		sockmap_parser_init(&p);
		test_assert_idx(collect(&p, data, len, k, out, &last) == 2, k);
		test_assert_idx(last == SOCKMAP_READY, k);
		test_assert_idx(strcmp(out[0], "mailbox user@example.nl X.Y")
				== 0, k);
		test_assert_idx(strcmp(out[1], "domain example.nl Z") == 0, k);
	}
	test_end();

	test_begin("socketmap: empty netstring and split without space");
	sockmap_parser_init(&p);
	test_assert(collect(&p, "0:,", 3, 3, out, &last) == 1);
	test_assert(out[0][0] == '\0');
	{
		char q[] = "nospace", q2[] = " key";

		test_assert(sockmap_split(q, &name, &key) < 0);
		test_assert(sockmap_split(q2, &name, &key) < 0);
	}
	test_end();
}

static const struct {
	const char *data;
	const char *why;
} bad[] = {
	{ "x:abc,", "malformed netstring length" },
	{ ":abc,", "malformed netstring length" },
	{ "3;abc,", "malformed netstring length" },
	{ "123456:", "netstring length too long" },
	{ "4097:", "query too long" },
	{ "3:abc;", "netstring without ','" },
	{ "3:abcd,", "netstring without ','" },
};

static void test_bad(void)
{
	test_begin("socketmap: malformed netstrings are fatal");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockmap_parser p;
		char out[4][64];
		enum sockmap_status last;

		sockmap_parser_init(&p);
		collect(&p, bad[i].data, strlen(bad[i].data), 1, out, &last);
		test_assert_idx(last == SOCKMAP_FATAL, i);
		test_assert_idx(p.error != NULL &&
				strcmp(p.error, bad[i].why) == 0, i);
	}
	test_end();

	test_begin("socketmap: a query of exactly the limit is fine");
	{
		static char data[SOCKMAP_QUERY_MAX + 16];
		struct sockmap_parser p;
		size_t used;
		int n = snprintf(data, sizeof(data), "%d:", SOCKMAP_QUERY_MAX);

		memset(data + n, 'k', SOCKMAP_QUERY_MAX);
		data[n + SOCKMAP_QUERY_MAX] = ',';
		sockmap_parser_init(&p);
		test_assert(sockmap_parser_feed(&p, data,
						(size_t)n + SOCKMAP_QUERY_MAX + 1,
						&used) == SOCKMAP_READY);
		test_assert(p.data_len == SOCKMAP_QUERY_MAX);
	}
	test_end();
}

static void test_format(void)
{
	char buf[64];

	test_begin("socketmap: reply format");
	test_assert(sockmap_format(buf, sizeof(buf), "OK", "a@b") == 9);
	test_assert(strcmp(buf, "6:OK a@b,") == 0);
	test_assert(sockmap_format(buf, sizeof(buf), "NOTFOUND", "") > 0);
	test_assert(strcmp(buf, "9:NOTFOUND ,") == 0);
	test_assert(sockmap_format(buf, 8, "TEMP", "directory down") < 0);
	test_end();
}

int main(void)
{
	test_valid();
	test_bad();
	test_format();
	return test_exit();
}
