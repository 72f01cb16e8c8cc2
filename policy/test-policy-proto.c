/*++
/* NAME
/*	test-policy-proto 1
/* SUMMARY
/*	unit tests for the policy delegation protocol parser
/* SYNOPSIS
/*	test-policy-proto
/* DESCRIPTION
/*	Valid requests, several per chunk, every split point, and each
/*	malformed or oversized shape (policy-proto.h).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdlib.h>
#include <string.h>

#include "htg-test.h"
#include "policy-proto.h"

#define REQ1 "request=smtpd_access_policy\nprotocol_state=RCPT\n" \
	"sender=a@example.nl\nrecipient=x=y@z\nsasl_username=\n\n"
#define REQ2 "protocol_state=MAIL\nqueue_id=ABC\n\n"

/* Feed data in pieces of at most chunk bytes; record statuses. */
struct outcome {
	enum policy_status st[8];
	char first[8][64];	/* protocol_state of each READY */
	int n;
};

static void feed_chunks(struct policy_parser *p, const char *data,
			size_t len, size_t chunk, struct outcome *o)
{
	size_t off = 0;

	o->n = 0;
	while (off < len && o->n < 8) {
		size_t piece = len - off < chunk ? len - off : chunk;
		size_t pos = 0;

		while (pos < piece && o->n < 8) {
			size_t used = 0;
			enum policy_status st =
			    policy_parser_feed(p, data + off + pos,
					       piece - pos, &used);

			pos += used;
			if (st == POLICY_MORE)
				continue;
			o->st[o->n] = st;
			strcpy(o->first[o->n], st == POLICY_READY ?
			       policy_request_get(policy_parser_request(p),
						  "protocol_state") : "");
			o->n++;
			if (st == POLICY_FATAL)
				return;
		}
		off += piece;
	}
}

static void test_valid(void)
{
	struct policy_parser *p = policy_parser_new();
	const struct policy_request *req;
	size_t used;

	test_begin("policy: one valid request");
	test_assert(policy_parser_feed(p, REQ1, strlen(REQ1), &used) ==
		    POLICY_READY);
	test_assert(used == strlen(REQ1));
	req = policy_parser_request(p);
	test_assert(req->count == 5);
	test_assert(strcmp(policy_request_get(req, "sender"),
			   "a@example.nl") == 0);
	/* only the first '=' separates name and value */
	test_assert(strcmp(policy_request_get(req, "recipient"), "x=y@z") == 0);
	test_assert(strcmp(policy_request_get(req, "sasl_username"), "") == 0);
	test_assert(strcmp(policy_request_get(req, "missing"), "") == 0);
	test_end();
	policy_parser_free(&p);
}

static void test_several_per_chunk(void)
{
	struct policy_parser *p = policy_parser_new();
	const char *data = REQ1 REQ2 REQ1;
	struct outcome o;

	test_begin("policy: several requests in one chunk");
	feed_chunks(p, data, strlen(data), strlen(data), &o);
	test_assert(o.n == 3);
	test_assert(o.st[0] == POLICY_READY && o.st[1] == POLICY_READY &&
		    o.st[2] == POLICY_READY);
	test_assert(strcmp(o.first[0], "RCPT") == 0);
	test_assert(strcmp(o.first[1], "MAIL") == 0);
	test_assert(strcmp(o.first[2], "RCPT") == 0);
	test_end();
	policy_parser_free(&p);
}

static void test_split_everywhere(void)
{
	const char *data = REQ1 REQ2;
	size_t len = strlen(data);

	test_begin("policy: split at every byte boundary");
	for (size_t k = 1; k <= len; k++) {
		struct policy_parser *p = policy_parser_new();
		struct outcome o;

		/* two pieces: [0,k) and [k,len) */
		feed_chunks(p, data, len, k, &o);
		test_assert_idx(o.n == 2, k);
		test_assert_idx(o.st[0] == POLICY_READY &&
				o.st[1] == POLICY_READY, k);
		test_assert_idx(strcmp(o.first[0], "RCPT") == 0, k);
		test_assert_idx(strcmp(o.first[1], "MAIL") == 0, k);
		policy_parser_free(&p);
	}
	test_end();
}

/* Malformed requests: answered, stream stays in step. */
static const struct {
	const char *data;
	enum policy_status want;
} bad_cases[] = {
	{ "protocol_state=RCPT\nno equals sign\n\n", POLICY_BAD },
	{ "=value\n\n", POLICY_BAD },
	{ "bad name=value\n\n", POLICY_BAD },
	{ "\n", POLICY_BAD },				/* empty request */
	{ "a=b\r\nprotocol_state=RCPT\r\n\r\n", POLICY_READY },	/* CRLF */
};

static void test_malformed(void)
{
	test_begin("policy: malformed requests");
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct policy_parser *p = policy_parser_new();
		char data[256];
		struct outcome o;

		snprintf(data, sizeof(data), "%s%s", bad_cases[i].data, REQ2);
		feed_chunks(p, data, strlen(data), 7, &o);
		test_assert_idx(o.n == 2, i);
		test_assert_idx(o.st[0] == bad_cases[i].want, i);
		test_assert_idx(o.st[1] == POLICY_READY, i);
		test_assert_idx(strcmp(o.first[1], "MAIL") == 0, i);
		policy_parser_free(&p);
	}
	test_end();

	test_begin("policy: NUL byte is malformed");
	{
		struct policy_parser *p = policy_parser_new();
		const char data[] = "a=b\0c\n\n";
		size_t used;

		test_assert(policy_parser_feed(p, data, sizeof(data) - 1,
					       &used) == POLICY_BAD);
		test_assert(used == sizeof(data) - 1);
		policy_parser_free(&p);
	}
	test_end();
}

static void test_oversized(void)
{
	struct policy_parser *p;
	char *big;
	size_t used, len;
	enum policy_status st;

	test_begin("policy: oversized line is fatal");
	p = policy_parser_new();
	len = POLICY_LINE_MAX + 100;
	big = malloc(len);
	memset(big, 'x', len);
	memcpy(big, "a=", 2);
	st = policy_parser_feed(p, big, len, &used);
	test_assert(st == POLICY_FATAL);
	test_assert(used <= POLICY_LINE_MAX + 1);
	test_assert(strstr(policy_parser_error(p), "line") != NULL);
	free(big);
	policy_parser_free(&p);
	test_end();

	test_begin("policy: line of exactly the limit is fine");
	p = policy_parser_new();
	len = POLICY_LINE_MAX + 2;
	big = malloc(len);
	memset(big, 'x', len);
	memcpy(big, "a=", 2);
	big[len - 2] = '\n';
	big[len - 1] = '\n';
	test_assert(policy_parser_feed(p, big, len, &used) == POLICY_READY);
	free(big);
	policy_parser_free(&p);
	test_end();

	test_begin("policy: oversized request is fatal");
	p = policy_parser_new();
	{
		char line[4000];
		size_t total = 0;

		memset(line, 'y', sizeof(line));
		memcpy(line, "n=", 2);
		line[sizeof(line) - 1] = '\n';
		st = POLICY_MORE;
		while (st == POLICY_MORE && total < 2 * POLICY_REQUEST_MAX) {
			st = policy_parser_feed(p, line, sizeof(line), &used);
			total += used;
		}
		test_assert(st == POLICY_FATAL);
		test_assert(total <= POLICY_REQUEST_MAX + 1);
		test_assert(strstr(policy_parser_error(p), "request") != NULL);
	}
	policy_parser_free(&p);
	test_end();

	test_begin("policy: too many attributes is fatal");
	p = policy_parser_new();
	st = POLICY_MORE;
	for (int i = 0; i <= POLICY_ATTR_MAX && st == POLICY_MORE; i++)
		st = policy_parser_feed(p, "a=b\n", 4, &used);
	test_assert(st == POLICY_FATAL);
	policy_parser_free(&p);
	test_end();
}

int main(void)
{
	test_valid();
	test_several_per_chunk();
	test_split_everywhere();
	test_malformed();
	test_oversized();
	return test_exit();
}
