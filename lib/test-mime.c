/*++
/* NAME
/*	test-mime 1
/* SUMMARY
/*	unit tests of the streaming MIME structure parser
/* DESCRIPTION
/*	Every case runs with the body split at every byte position and
/*	byte by byte: the structure found, the output and the verdict must
/*	not depend on where chunks end.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-mime.h"
#include "htg-test.h"

struct rec {
	char log[4096];		/* events */
	char out[8192];		/* output */
	size_t loglen, outlen;
};

static void rec_add(char *buf, size_t *len, size_t size, const void *d,
		    size_t n)
{
	if (*len + n < size) {
		memcpy(buf + *len, d, n);
		*len += n;
		buf[*len] = '\0';
	}
}

static int cb_headers(void *ctx, struct htg_mime *m,
		      const struct htg_mime_part *part)
{
	struct rec *r = ctx;
	char line[300];
	int n = snprintf(line, sizeof(line), "H%u.%u:%s;", part->depth,
			 part->index, part->ctype->main);

	rec_add(r->log, &r->loglen, sizeof(r->log), line, (size_t)n);
	/* pass the fields through unchanged */
	for (unsigned int i = 0; i < part->nfields; i++)
		htg_mime_output(m, part->fields[i].raw, part->fields[i].raw_len);
	return 0;
}

static int cb_body(void *ctx, const unsigned char *d, size_t n)
{
	struct rec *r = ctx;

	rec_add(r->log, &r->loglen, sizeof(r->log), "B", 1);
	(void)d;
	(void)n;
	return 0;
}

static int cb_end(void *ctx)
{
	struct rec *r = ctx;

	rec_add(r->log, &r->loglen, sizeof(r->log), "E;", 2);
	return 0;
}

static int cb_out(void *ctx, const void *d, size_t n)
{
	struct rec *r = ctx;

	rec_add(r->out, &r->outlen, sizeof(r->out), d, n);
	return 0;
}

static const struct htg_mime_callbacks cbs = {
	cb_headers, cb_body, cb_end, cb_out
};

/* Run one body; returns 0 ok / -1 error, fills rec. "B" events are
   per line, so they do not depend on chunking either. */
static int run_len(const char *boundary, const char *body, size_t len,
		   size_t chunk, struct rec *r, char *err, size_t errsize)
{
	struct htg_mime_limits lim = { 3, 20, 2048 };
	struct htg_mime *m;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	m = htg_mime_new(&lim, &cbs, r);
	if (m == NULL)
		exit(1);
	if (htg_mime_begin(m, boundary) < 0)
		ret = -1;
	for (size_t off = 0; ret == 0 && off < len; off += chunk)
		ret = htg_mime_feed(m, body + off,
				    len - off < chunk ? len - off : chunk);
	if (ret == 0)
		ret = htg_mime_end(m);
	snprintf(err, errsize, "%s", htg_mime_error(m) ? htg_mime_error(m) : "");
	htg_mime_free(&m);
	return ret;
}

static int run(const char *boundary, const char *body, size_t chunk,
	       struct rec *r, char *err, size_t errsize)
{
	return run_len(boundary, body, strlen(body), chunk, r, err, errsize);
}

struct mime_case {
	const char *name;
	const char *boundary;
	const char *body;
	int ok;
	const char *events;	/* expected event log when ok */
	const char *error;	/* expected error substring when not */
	size_t len;		/* 0: strlen(body) */
};

static const struct mime_case cases[] = {
	{ "leaf body", NULL, "hello\r\nworld\r\n", 1, "BBE;", NULL, 0 },
	{ "leaf, last line without line end", NULL, "a\r\nb", 1, "BBE;", NULL, 0 },
	{ "two parts, preamble and epilogue dropped", "b1",
	  "preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n"
	  "--b1\r\nContent-Type: application/pdf\r\n\r\ny\r\nz\r\n--b1--\r\n"
	  "epilogue\r\n", 1, "H1.1:text/plain;BE;H1.2:application/pdf;BBE;",
	  NULL, 0 },
	{ "delimiter with trailing white space", "b1",
	  "--b1  \r\n\r\nx\r\n--b1--\t\r\n", 1, "H1.1:text/plain;BE;", NULL, 0 },
	/* RFC 2046 5.1.1: receivers split at every line that begins with
	   "--" boundary (issue 13 finding 1); only white space may follow */
	{ "line beginning with the boundary is refused", "b1",
	  "--b1\r\n\r\n--b1x\r\n--b1--\r\n", 0, NULL, "no delimiter", 0 },
	{ "hidden part after --bXtrailing (issue 13)", "bX",
	  "--bX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	  "--bXtrailing\r\nContent-Type: application/x-msdownload\r\n"
	  "Content-Disposition: attachment; filename=\"evil.exe\"\r\n\r\n"
	  "TVqQAAMAAAAEAAAA\r\n--bX--\r\n", 0, NULL, "no delimiter", 0 },
	{ "close delimiter with text after the dashes", "b1",
	  "--b1\r\n\r\nx\r\n--b1--x\r\n", 0, NULL, "no delimiter", 0 },
	{ "delimiter with a dash after it", "b1",
	  "--b1\r\n\r\nx\r\n--b1-\r\n--b1--\r\n", 0, NULL, "no delimiter", 0 },
	{ "delimiter with text after white space", "b1",
	  "--b1\r\n\r\nx\r\n--b1 x\r\n--b1--\r\n", 0, NULL, "no delimiter", 0 },
	{ "close delimiter with a bare CR after it", "b1",
	  "--b1\r\n\r\nx\r\n--b1--\r\r\n", 0, NULL, "no delimiter", 0 },
	{ "boundary-like line in the preamble", "b1",
	  "--b1x preamble\r\n--b1\r\n\r\nx\r\n--b1--\r\n", 0, NULL,
	  "no delimiter", 0 },
	{ "boundary-like line in a part header", "b1",
	  "--b1\r\n--b1: x\r\n\r\nx\r\n--b1--\r\n", 0, NULL,
	  "no delimiter", 0 },
	{ "boundary-like line after an inner close", "out",
	  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
	  "--in\r\n\r\na\r\n--in--\r\n--outer\r\n--out--\r\n", 0, NULL,
	  "no delimiter", 0 },
	{ "longer line that is not the boundary is body", "b1",
	  "--b1\r\n\r\n--b2\r\n-b1\r\n --b1\r\n--B1\r\n--b1--\r\n", 1,
	  "H1.1:text/plain;BBBBE;", NULL, 0 },
	{ "closed inner boundary is body again", "out",
	  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
	  "--in\r\n\r\na\r\n--in--\r\n--out\r\n\r\n--in\r\n--inx\r\n"
	  "--out--\r\n", 1,
	  "H1.1:multipart/mixed;H2.2:text/plain;BE;H1.3:text/plain;BBE;",
	  NULL, 0 },
	{ "last line without line end is a delimiter too", "b1",
	  "--b1\r\n\r\nx\r\n--b1--", 1, "H1.1:text/plain;BE;", NULL, 0 },
	{ "inner boundary equals outer", "abc",
	  "--abc\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n"
	  "--abc\r\n\r\na\r\n--abc--\r\n--abc--\r\n", 0, NULL, "overlaps", 0 },
	{ "inner boundary is a prefix of outer", "abcd",
	  "--abcd\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n"
	  "--abc\r\n\r\na\r\n--abc--\r\n--abcd--\r\n", 0, NULL, "overlaps", 0 },
	{ "inner boundary overlaps the outermost of three", "ab",
	  "--ab\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
	  "--x\r\nContent-Type: multipart/mixed; boundary=abz\r\n\r\n"
	  "--abz\r\n\r\na\r\n--abz--\r\n--x--\r\n--ab--\r\n", 0, NULL,
	  "overlaps", 0 },
	{ "sibling multiparts may share a boundary", "out",
	  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
	  "--in\r\n\r\na\r\n--in--\r\n"
	  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
	  "--in\r\n\r\nb\r\n--in--\r\n--out--\r\n", 1,
	  "H1.1:multipart/mixed;H2.2:text/plain;BE;"
	  "H1.3:multipart/mixed;H2.4:text/plain;BE;", NULL, 0 },
	{ "nested boundaries sharing a prefix but neither a prefix", "abc1",
	  "--abc1\r\nContent-Type: multipart/mixed; boundary=abc2\r\n\r\n"
	  "--abc2\r\n\r\na\r\n--abc2--\r\n--abc1--\r\n", 1,
	  "H1.1:multipart/mixed;H2.2:text/plain;BE;", NULL, 0 },
	{ "nested multipart", "out",
	  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
	  "pre\r\n--in\r\n\r\na\r\n--in--\r\nafter inner\r\n--out\r\n\r\nb\r\n"
	  "--out--\r\n", 1,
	  "H1.1:multipart/mixed;H2.2:text/plain;BE;H1.3:text/plain;BE;", NULL, 0 },
	{ "LF line ends", "b1", "--b1\n\nx\n--b1--\n", 1, "H1.1:text/plain;BE;",
	  NULL, 0 },
	{ "part headers ended by the delimiter", "b1",
	  "--b1\r\nContent-Type: text/plain\r\n--b1--\r\n", 1,
	  "H1.1:text/plain;E;", NULL, 0 },
	{ "missing close delimiter", "b1", "--b1\r\n\r\nx\r\n", 0, NULL,
	  "not terminated", 0 },
	{ "no part at all", "b1", "just text\r\n", 0, NULL, "not terminated", 0 },
	{ "close without parts", "b1", "--b1--\r\n", 0, NULL,
	  "without any body part", 0 },
	{ "inner multipart not closed", "out",
	  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
	  "--in\r\n\r\na\r\n--out--\r\n", 0, NULL, "not terminated", 0 },
	{ "inner boundary overlaps outer", "abc",
	  "--abc\r\nContent-Type: multipart/mixed; boundary=abcd\r\n\r\n"
	  "--abcd\r\n\r\na\r\n--abcd--\r\n--abc--\r\n", 0, NULL, "overlaps", 0 },
	{ "multipart without boundary", "b1",
	  "--b1\r\nContent-Type: multipart/mixed\r\n\r\n--b1--\r\n", 0, NULL,
	  "boundary", 0 },
	{ "nesting too deep", "a",
	  "--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
	  "--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n"
	  "--d\r\n\r\nx\r\n--d--\r\n--c--\r\n--b--\r\n--a--\r\n", 0, NULL,
	  "nesting", 0 },
	{ "NUL in body", NULL, "a\r\nb\0c\r\n", 0, NULL, "NUL", 8 },
	{ "8-bit byte in part header", "b1",
	  "--b1\r\nContent-Description: caf\xe9\r\n\r\nx\r\n--b1--\r\n", 0,
	  NULL, "8-bit", 0 },
	{ "header field without colon", "b1",
	  "--b1\r\nnot a header\r\n\r\nx\r\n--b1--\r\n", 0, NULL, "malformed", 0 },
	{ "two Content-Type fields", "b1",
	  "--b1\r\nContent-Type: text/plain\r\nContent-type: application/pdf\r\n"
	  "\r\nx\r\n--b1--\r\n", 0, NULL, "more than one Content-Type", 0 },
	{ "malformed Content-Type", "b1",
	  "--b1\r\nContent-Type: \"text/plain\r\n\r\nx\r\n--b1--\r\n", 0, NULL,
	  "malformed Content-Type", 0 },
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mime_case *t = &cases[i];
		size_t len = t->len != 0 ? t->len : strlen(t->body);
		struct rec whole, split;
		char err[200], err2[200];
		int ret;

		test_begin(t->name);
		ret = run_len(t->boundary, t->body, len, len + 1, &whole, err,
			      sizeof(err));
		test_assert_idx((ret == 0) == t->ok, i);
		if (t->ok)
			test_assert_idx(strcmp(whole.log, t->events) == 0, i);
		else
			test_assert_idx(strstr(err, t->error) != NULL, i);
		for (size_t chunk = 1; chunk < len; chunk++) {
			int r2 = run_len(t->boundary, t->body, len, chunk, &split,
					 err2, sizeof(err2));
			test_assert_idx(r2 == ret, chunk);
			test_assert_idx(strcmp(split.log, whole.log) == 0, chunk);
			test_assert_idx(strcmp(split.out, whole.out) == 0, chunk);
		}
		test_end();
	}
}

static void test_output(void)
{
	struct rec r;
	char err[200];

	test_begin("output: delimiters normalised, preamble/epilogue dropped");
	test_assert(run("b1", "pre\r\n--b1 \r\nX-A: 1\r\n\r\nbody\r\n--b1--\r\n"
			"epi\r\n", 100, &r, err, sizeof(err)) == 0);
	test_assert(strcmp(r.out, "--b1\r\nX-A: 1\r\n\r\nbody\r\n--b1--\r\n") == 0);
	test_end();

	test_begin("line longer than 998 characters");
	{
		char *body = malloc(1200);
		memset(body, 'a', 1100);
		strcpy(body + 1100, "\r\n");
		test_assert(run(NULL, body, 7, &r, err, sizeof(err)) == -1);
		test_assert(strstr(err, "998") != NULL);
		memset(body, 'a', 998);
		strcpy(body + 998, "\r\n");
		test_assert(run(NULL, body, 7, &r, err, sizeof(err)) == 0);
		free(body);
	}
	test_end();

	test_begin("boundary syntax (RFC 2046 5.1.1)");
	test_assert(htg_mime_boundary_ok("simple"));
	test_assert(htg_mime_boundary_ok("----=_Part_1'()+_,-./:=? x"));
	test_assert(!htg_mime_boundary_ok(""));
	test_assert(!htg_mime_boundary_ok("ends with space "));
	test_assert(!htg_mime_boundary_ok("quote\"inside"));
	test_assert(!htg_mime_boundary_ok(
		"12345678901234567890123456789012345678901234567890123456789012345678901"));
	test_end();
}

int main(void)
{
	test_cases();
	test_output();
	return test_exit();
}
