/*++
/* NAME
/*	test-codec 1
/* SUMMARY
/*	unit tests of the streaming decoders and charset validators
/* DESCRIPTION
/*	Every vector is fed whole, split in two at every byte position,
/*	split in three around every position, and byte by byte (with an
/*	empty chunk in front); all feedings must give the same verdict and
/*	the same decoded bytes, and each chunk's output must fit the
/*	documented htg_*_decoded_max() (the buffers are allocated to that
/*	exact size, so the address sanitizer catches an overrun).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-codec.h"
#include "htg-test.h"

#define OUT_MAX 256

struct vec {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	int ok;			/* 1 valid, 0 refused */
	const char *out;	/* valid decoders: expected bytes */
	size_t out_len;		/* 0: strlen(out) */
};

#define V_OK(in, out) { in, sizeof(in) - 1, 1, out, sizeof(out) - 1 }
#define V_BAD(in) { in, sizeof(in) - 1, 0, NULL, 0 }
#define V_VALID(in) { in, sizeof(in) - 1, 1, NULL, 0 }	/* checkers */

/* ---- a uniform face over the three streaming APIs ---- */

enum kind { K_B64, K_QP, K_CHARSET };

struct stream {
	enum kind kind;
	struct htg_b64 b64;
	struct htg_qp qp;
	struct htg_charset_check cs;
};

static void stream_init(struct stream *s, enum kind kind, enum htg_charset cs)
{
	s->kind = kind;
	htg_b64_init(&s->b64);
	htg_qp_init(&s->qp);
	htg_charset_check_init(&s->cs, cs);
}

/* One chunk; the output buffer is exactly the documented maximum. */
static long stream_feed(struct stream *s, const unsigned char *in,
			size_t len, unsigned char *out, size_t *out_len)
{
	const char *error = NULL;
	size_t max = s->kind == K_B64 ? htg_b64_decoded_max(len) :
		s->kind == K_QP ? htg_qp_decoded_max(len) : 0;
	unsigned char *buf = malloc(max + 1);
	long n;

	if (buf == NULL)
		abort();
	if (s->kind == K_B64)
		n = htg_b64_decode(&s->b64, in, len, buf, &error);
	else if (s->kind == K_QP)
		n = htg_qp_decode(&s->qp, in, len, buf, &error);
	else
		n = htg_charset_check(&s->cs, in, len, &error);
	if (n < 0 && (error == NULL || *error == '\0'))
		n = -2;			/* a refusal must say why */
	if (n > 0 && s->kind != K_CHARSET) {
		if ((size_t)n > max || *out_len + (size_t)n > OUT_MAX)
			n = -3;
		else {
			memcpy(out + *out_len, buf, (size_t)n);
			*out_len += (size_t)n;
		}
	}
	free(buf);
	return n;
}

static int stream_finish(struct stream *s)
{
	const char *error = NULL;
	int ret;

	if (s->kind == K_B64)
		ret = htg_b64_finish(&s->b64, &error);
	else if (s->kind == K_QP)
		ret = htg_qp_finish(&s->qp, &error);
	else
		ret = htg_charset_check_finish(&s->cs, &error);
	return ret < 0 && (error == NULL || *error == '\0') ? -2 : ret;
}

/* Feed in[] in the chunks given by cuts[] (ascending positions).
   Returns 1 valid, 0 refused, -1 the API misbehaved (bad error
   reporting, overrun, or not sticky after an error). */
static int run(enum kind kind, enum htg_charset cs, const unsigned char *in,
	       size_t len, const size_t *cuts, size_t ncuts,
	       unsigned char *out, size_t *out_len)
{
	struct stream s;
	size_t i, from = 0, to;
	long n;
	int failed = 0;

	*out_len = 0;
	stream_init(&s, kind, cs);
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : len;
		n = stream_feed(&s, in + from, to - from, out, out_len);
		if (n < -1)
			return -1;
		if (n == -1)
			failed = 1;
		else if (failed)
			return -1;	/* the error must stay */
		from = to;
	}
	n = stream_finish(&s);
	if (n < -1 || (failed && n != -1))
		return -1;
	return failed || n < 0 ? 0 : 1;
}

static size_t vec_len(const struct vec *v)
{
	return v->len != 0 ? v->len : strlen(v->in);
}

static int same_result(const struct vec *v, int ret, const unsigned char *out,
		       size_t out_len, int check_out)
{
	if (ret != v->ok)
		return 0;
	if (!v->ok || !check_out)
		return 1;
	return out_len == v->out_len && memcmp(out, v->out, out_len) == 0;
}

/* Whole, every 2-split, every 3-split, byte by byte: all equal. */
static void check_vec(enum kind kind, enum htg_charset cs,
		      const struct vec *v, int idx)
{
	const unsigned char *in = (const unsigned char *)v->in;
	size_t len = vec_len(v), cuts[OUT_MAX + 1], out_len, i, j;
	unsigned char out[OUT_MAX];
	int check_out = kind != K_CHARSET, ret;

	ret = run(kind, cs, in, len, NULL, 0, out, &out_len);
	test_assert_idx(same_result(v, ret, out, out_len, check_out), idx);
	for (i = 1; i < len; i++) {
		cuts[0] = i;
		ret = run(kind, cs, in, len, cuts, 1, out, &out_len);
		test_assert_idx(same_result(v, ret, out, out_len, check_out),
				idx * 1000 + (int)i);
		for (j = i + 1; j < len; j++) {
			cuts[1] = j;
			ret = run(kind, cs, in, len, cuts, 2, out, &out_len);
			test_assert_idx(same_result(v, ret, out, out_len,
						    check_out),
					idx * 1000000 + (int)(i * 1000 + j));
		}
	}
	/* an empty chunk first, then one byte at a time */
	for (i = 0; i <= len && i < OUT_MAX; i++)
		cuts[i] = i;
	ret = run(kind, cs, in, len, cuts, len < OUT_MAX ? len : OUT_MAX,
		  out, &out_len);
	test_assert_idx(same_result(v, ret, out, out_len, check_out), idx);
}

static void check_table(enum kind kind, enum htg_charset cs,
			const struct vec *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		check_vec(kind, cs, &v[i], (int)i);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- base64 ---- */

static const struct vec b64_vecs[] = {
	V_OK("", ""),
	V_OK("QQ==", "A"),
	V_OK("QUI=", "AB"),
	V_OK("QUJD", "ABC"),
	V_OK("QUJDREVG", "ABCDEF"),
	V_OK("QUJD\r\nREVG\r\n", "ABCDEF"),
	V_OK("QUJD\nREVG\n", "ABCDEF"),
	V_OK("QU JD\tRE\r\nVG", "ABCDEF"),
	V_OK("QQ==\r\n", "A"),
	V_OK("QQ==\r\n\r\n  \t", "A"),
	V_OK("QQ=\r\n=", "A"),		/* white space is ignored anywhere */
	V_OK("QR==", "A"),		/* non-zero pad bits: accepted */
	V_OK("AP8A/w==", "\x00\xff\x00\xff"),
	V_OK("+/+/", "\xfb\xff\xbf"),
	V_OK("AAAA", "\0\0\0"),
	V_OK("\r\n", ""),
	V_OK("SGVsbG8sIHdvcmxkIQ==\r\n", "Hello, world!"),
	V_BAD("QQ==QUJD"),		/* '=' in the middle */
	V_BAD("QUI=QQ=="),
	V_BAD("QQ==\r\nQQ=="),		/* data after padding */
	V_BAD("QQ==\r\nQ"),
	V_BAD("QQ==="),			/* one '=' too many */
	V_BAD("QUJD="),			/* '=' starting a quantum */
	V_BAD("Q==="),			/* '=' after one character */
	V_BAD("===="),
	V_BAD("="),
	V_BAD("QQ="),			/* padding incomplete at end */
	V_BAD("QQ"),			/* truncated quantum */
	V_BAD("Q"),
	V_BAD("QUJ"),
	V_BAD("QUJDR"),
	V_BAD("QU*D"),			/* bad characters */
	V_BAD("QUJD-_=="),		/* base64url is not base64 */
	V_BAD("QUJD\x00"),
	V_BAD("QUJD\xc3\xa9"),
	V_BAD("QUJD\f"),
	V_BAD("QUJD\v"),
	V_BAD("QU.D"),
	V_BAD("QUJD!"),
};

static void test_b64(void)
{
	test_begin("base64: valid and broken, split everywhere");
	check_table(K_B64, HTG_CHARSET_UNKNOWN, b64_vecs, N(b64_vecs));
	test_end();
}

static void test_b64_sticky(void)
{
	struct htg_b64 st;
	unsigned char out[16];
	const char *error = NULL, *error2 = NULL;

	test_begin("base64: an error is sticky and keeps its reason");
	htg_b64_init(&st);
	test_assert(htg_b64_decode(&st, (const unsigned char *)"QU*D", 4, out,
				   &error) == -1 && error != NULL);
	test_assert(htg_b64_decode(&st, (const unsigned char *)"QUJD", 4, out,
				   &error2) == -1 && error2 == error);
	test_assert(htg_b64_decode(&st, (const unsigned char *)"", 0, out,
				   &error2) == -1);
	test_assert(htg_b64_finish(&st, &error2) == -1 && error2 == error);
	htg_b64_init(&st);
	test_assert(htg_b64_decode(&st, (const unsigned char *)"QQ", 2, out,
				   &error) == 0);
	test_assert(htg_b64_finish(&st, &error) == -1 && error != NULL);
	test_assert(htg_b64_decoded_max(0) >= 3 &&
		    htg_b64_decoded_max(1) >= 3 &&
		    htg_b64_decoded_max(5) >= 6);
	test_end();
}

/* ---- quoted-printable ---- */

static const struct vec qp_vecs[] = {
	V_OK("", ""),
	V_OK("abc", "abc"),
	V_OK("a=3Db", "a=b"),
	V_OK("a=3db", "a=b"),		/* lower-case hex accepted */
	V_OK("=E9t=E9", "\xe9t\xe9"),
	V_OK("caf=c3=a9", "caf\xc3\xa9"),
	V_OK("a=\r\nb", "ab"),		/* soft line breaks */
	V_OK("a=\nb", "ab"),
	V_OK("a= \t\r\nb", "ab"),
	V_OK("a=  \nb", "ab"),
	V_OK("line1\r\nline2\r\n", "line1\r\nline2\r\n"),
	V_OK("line1\nline2\n", "line1\nline2\n"),
	V_OK("a b\tc \r\n", "a b\tc \r\n"),
	V_OK("=\r\n", ""),
	V_OK("x=\r\n", "x"),
	V_OK("=00", "\0"),		/* the charset check refuses NUL */
	V_OK("=0D=0A", "\r\n"),
	V_OK("~!\"#$%&'()*+,-./:;<>?@[\\]^_`{|}", "~!\"#$%&'()*+,-./:;<>?@[\\]^_`{|}"),
	V_BAD("=G1"),			/* not hex */
	V_BAD("=4G"),
	V_BAD("a=\"b"),
	V_BAD("= x\r\n"),		/* white space after '=' not at EOL */
	V_BAD("a= b"),
	V_BAD("="),			/* trailing '=' at end of part */
	V_BAD("abc="),
	V_BAD("=4"),
	V_BAD("abc= "),
	V_BAD("abc=\r"),
	V_BAD("=\rx"),
	V_BAD("\xe9"),			/* raw 8-bit */
	V_BAD("caf\xc3\xa9"),
	V_BAD("a\x01" "b"),		/* control characters */
	V_BAD("a\x1b" "b"),
	V_BAD("a\x7f" "b"),
	V_BAD("a\x0c" "b"),
	V_BAD("a\0b"),
	V_BAD("a\rb"),			/* bare CR */
	V_BAD("a\r"),
	V_BAD("a\r\r\n"),
};

static void test_qp(void)
{
	test_begin("quoted-printable: valid and broken, split everywhere");
	check_table(K_QP, HTG_CHARSET_UNKNOWN, qp_vecs, N(qp_vecs));
	test_end();
}

static void test_qp_sticky(void)
{
	struct htg_qp st;
	unsigned char out[16];
	const char *error = NULL, *error2 = NULL;

	test_begin("quoted-printable: an error is sticky");
	htg_qp_init(&st);
	test_assert(htg_qp_decode(&st, (const unsigned char *)"=G1", 3, out,
				  &error) == -1 && error != NULL);
	test_assert(htg_qp_decode(&st, (const unsigned char *)"ok", 2, out,
				  &error2) == -1 && error2 == error);
	test_assert(htg_qp_finish(&st, &error2) == -1 && error2 == error);
	test_end();
}

/* ---- charsets ---- */

static const struct vec ascii_vecs[] = {
	V_VALID(""),
	V_VALID("hello, world\r\n"),
	V_VALID("\x01\x7f\t"),
	V_BAD("\x80"),
	V_BAD("caf\xc3\xa9"),
	V_BAD("\xff"),
	V_BAD("a\0b"),
};

static const struct vec utf8_vecs[] = {
	V_VALID(""),
	V_VALID("plain ascii\r\n"),
	V_VALID("caf\xc3\xa9"),
	V_VALID("\xc2\x80"),			/* U+0080, shortest 2 */
	V_VALID("\xdf\xbf"),			/* U+07FF */
	V_VALID("\xe0\xa0\x80"),		/* U+0800, shortest 3 */
	V_VALID("\xe2\x82\xac"),		/* euro sign */
	V_VALID("\xed\x9f\xbf"),		/* U+D7FF, below surrogates */
	V_VALID("\xee\x80\x80"),		/* U+E000, above them */
	V_VALID("\xef\xbf\xbf"),		/* U+FFFF (well-formed) */
	V_VALID("\xef\xbb\xbf" "bom"),
	V_VALID("\xf0\x90\x80\x80"),		/* U+10000, shortest 4 */
	V_VALID("\xf0\x9f\x98\x80"),
	V_VALID("\xf4\x8f\xbf\xbf"),		/* U+10FFFF, the last */
	V_BAD("\xc0\x80"),			/* overlong NUL */
	V_BAD("\xc1\xbf"),
	V_BAD("\xe0\x80\x80"),			/* overlong 3 */
	V_BAD("\xe0\x9f\xbf"),
	V_BAD("\xf0\x80\x80\x80"),		/* overlong 4 */
	V_BAD("\xf0\x8f\xbf\xbf"),
	V_BAD("\xed\xa0\x80"),			/* surrogates */
	V_BAD("\xed\xbf\xbf"),
	V_BAD("\xed\xa0\xbd\xed\xb8\x80"),	/* CESU-8 pair */
	V_BAD("\xf4\x90\x80\x80"),		/* > U+10FFFF */
	V_BAD("\xf5\x80\x80\x80"),
	V_BAD("\xf7\xbf\xbf\xbf"),
	V_BAD("\xf8\x88\x80\x80\x80"),
	V_BAD("\xfc\x84\x80\x80\x80\x80"),
	V_BAD("\xfe"),
	V_BAD("\xff"),
	V_BAD("\x80"),				/* stray continuations */
	V_BAD("a\xbf"),
	V_BAD("\xc3\xa9\xa9"),
	V_BAD("\xc3"),				/* truncated at end */
	V_BAD("\xe2\x82"),
	V_BAD("\xf0\x9f\x98"),
	V_BAD("ok\xc3"),
	V_BAD("\xc3" "a"),			/* continuation missing */
	V_BAD("\xe2\x82" "a"),
	V_BAD("\xc3\xc3\xa9"),
	V_BAD("a\0b"),				/* NUL */
	V_BAD("\0"),
};

static const struct vec latin_vecs[] = {
	V_VALID(""),
	V_VALID("caf\xe9 \xa0\xa4\xff\x7f"),
	V_VALID("\xa0"),
	V_BAD("\x80"),			/* euro in cp1252 */
	V_BAD("\x9f"),
	V_BAD("quote \x93x\x94"),
	V_BAD("a\0b"),
};

static void test_charsets(void)
{
	test_begin("charset check: us-ascii, split everywhere");
	check_table(K_CHARSET, HTG_CHARSET_US_ASCII, ascii_vecs, N(ascii_vecs));
	test_end();
	test_begin("charset check: UTF-8 (RFC 3629), split everywhere");
	check_table(K_CHARSET, HTG_CHARSET_UTF8, utf8_vecs, N(utf8_vecs));
	test_end();
	test_begin("charset check: ISO-8859-1 and -15, split everywhere");
	check_table(K_CHARSET, HTG_CHARSET_ISO_8859_1, latin_vecs,
		    N(latin_vecs));
	check_table(K_CHARSET, HTG_CHARSET_ISO_8859_15, latin_vecs,
		    N(latin_vecs));
	test_end();
}

static void test_charset_unsupported(void)
{
	static const enum htg_charset bad[] = {
		HTG_CHARSET_UNKNOWN, HTG_CHARSET_WINDOWS
	};
	struct htg_charset_check st;
	const char *error = NULL;
	size_t i;

	test_begin("charset check: unknown and Windows refuse everything");
	for (i = 0; i < N(bad); i++) {
		htg_charset_check_init(&st, bad[i]);
		error = NULL;
		test_assert_idx(htg_charset_check(&st,
						  (const unsigned char *)"a",
						  1, &error) == -1 &&
				error != NULL, i);
		htg_charset_check_init(&st, bad[i]);
		test_assert_idx(htg_charset_check_finish(&st, &error) == -1, i);
	}
	htg_charset_check_init(&st, HTG_CHARSET_UTF8);
	test_assert(htg_charset_check(&st, (const unsigned char *)"\xc3", 1,
				      &error) == 0);
	test_assert(htg_charset_check_finish(&st, &error) == -1 &&
		    error != NULL);
	test_end();
}

static void test_charset_lookup(void)
{
	static const struct {
		const char *name;
		enum htg_charset cs;
	} tests[] = {
		{ "us-ascii", HTG_CHARSET_US_ASCII },
		{ "US-ASCII", HTG_CHARSET_US_ASCII },
		{ "ascii", HTG_CHARSET_US_ASCII },
		{ "ANSI_X3.4-1968", HTG_CHARSET_US_ASCII },
		{ "iso646-us", HTG_CHARSET_US_ASCII },
		{ "ISO646-US", HTG_CHARSET_US_ASCII },
		{ "csASCII", HTG_CHARSET_US_ASCII },
		{ "utf-8", HTG_CHARSET_UTF8 },
		{ "UTF-8", HTG_CHARSET_UTF8 },
		{ "Utf-8", HTG_CHARSET_UTF8 },
		{ "csUTF8", HTG_CHARSET_UTF8 },
		{ "iso-8859-1", HTG_CHARSET_ISO_8859_1 },
		{ "ISO-8859-1", HTG_CHARSET_ISO_8859_1 },
		{ "iso_8859-1", HTG_CHARSET_ISO_8859_1 },
		{ "ISO_8859-1:1987", HTG_CHARSET_ISO_8859_1 },
		{ "latin1", HTG_CHARSET_ISO_8859_1 },
		{ "Latin1", HTG_CHARSET_ISO_8859_1 },
		{ "l1", HTG_CHARSET_ISO_8859_1 },
		{ "iso-ir-100", HTG_CHARSET_ISO_8859_1 },
		{ "iso-8859-15", HTG_CHARSET_ISO_8859_15 },
		{ "ISO_8859-15", HTG_CHARSET_ISO_8859_15 },
		{ "latin-9", HTG_CHARSET_ISO_8859_15 },
		{ "Latin9", HTG_CHARSET_ISO_8859_15 },
		{ "cp1252", HTG_CHARSET_WINDOWS },
		{ "CP1252", HTG_CHARSET_WINDOWS },
		{ "cp-1252", HTG_CHARSET_WINDOWS },
		{ "cp850", HTG_CHARSET_WINDOWS },
		{ "cp819", HTG_CHARSET_WINDOWS },	/* = ISO-8859-1, still a cp */
		{ "CP367", HTG_CHARSET_WINDOWS },	/* = us-ascii, still a cp */
		{ "windows-1252", HTG_CHARSET_WINDOWS },
		{ "Windows-1250", HTG_CHARSET_WINDOWS },
		{ "windows-31j", HTG_CHARSET_WINDOWS },
		{ "x-cp1252", HTG_CHARSET_WINDOWS },
		{ "ms-ansi", HTG_CHARSET_WINDOWS },
		{ "MS-ANSI", HTG_CHARSET_WINDOWS },
		{ "cswindows1252", HTG_CHARSET_WINDOWS },
		{ "ibm437", HTG_CHARSET_WINDOWS },
		{ "IBM819", HTG_CHARSET_WINDOWS },
		{ "ibm", HTG_CHARSET_UNKNOWN },
		{ "ibm-x", HTG_CHARSET_UNKNOWN },
		{ "utf8", HTG_CHARSET_UNKNOWN },	/* not an IANA name */
		{ "utf-16", HTG_CHARSET_UNKNOWN },
		{ "utf-8 ", HTG_CHARSET_UNKNOWN },
		{ " utf-8", HTG_CHARSET_UNKNOWN },
		{ "utf-8x", HTG_CHARSET_UNKNOWN },
		{ "iso-8859-2", HTG_CHARSET_UNKNOWN },
		{ "iso-8859-1x", HTG_CHARSET_UNKNOWN },
		{ "iso-8859-", HTG_CHARSET_UNKNOWN },
		{ "iso8859-1", HTG_CHARSET_UNKNOWN },
		{ "koi8-r", HTG_CHARSET_UNKNOWN },
		{ "windows", HTG_CHARSET_UNKNOWN },
		{ "c", HTG_CHARSET_UNKNOWN },
		{ "", HTG_CHARSET_UNKNOWN },
	};
	size_t i;

	test_begin("charset names");
	for (i = 0; i < N(tests); i++)
		test_assert_idx(htg_charset_lookup(tests[i].name) ==
				tests[i].cs, i);
	test_assert(htg_charset_lookup(NULL) == HTG_CHARSET_UNKNOWN);
	test_assert(strcmp(htg_charset_name(HTG_CHARSET_US_ASCII),
			   "us-ascii") == 0);
	test_assert(strcmp(htg_charset_name(HTG_CHARSET_UTF8), "UTF-8") == 0);
	test_assert(strcmp(htg_charset_name(HTG_CHARSET_ISO_8859_1),
			   "ISO-8859-1") == 0);
	test_assert(strcmp(htg_charset_name(HTG_CHARSET_ISO_8859_15),
			   "ISO-8859-15") == 0);
	/* the canonical names map back to themselves */
	for (i = HTG_CHARSET_US_ASCII; i <= HTG_CHARSET_ISO_8859_15; i++)
		test_assert_idx(htg_charset_lookup(htg_charset_name(
				(enum htg_charset)i)) == (enum htg_charset)i,
				i);
	test_assert(htg_charset_name(HTG_CHARSET_UNKNOWN) != NULL);
	test_assert(htg_charset_name(HTG_CHARSET_WINDOWS) != NULL);
	test_end();
}

int main(void)
{
	test_b64();
	test_b64_sticky();
	test_qp();
	test_qp_sticky();
	test_charsets();
	test_charset_unsupported();
	test_charset_lookup();
	return test_exit();
}
