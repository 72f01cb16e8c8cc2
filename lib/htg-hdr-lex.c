/*++
/* NAME
/*	htg-hdr-lex 3
/* SUMMARY
/*	lexical helpers of the header field parsers
/* SYNOPSIS
/*	#include "htg-hdr-private.h"
/* DESCRIPTION
/*	See htg-hdr-private.h. The parsers scan a value left to right
/*	with a cursor; comments nest, so they are skipped with a depth
/*	counter (at most HDR_COMMENT_DEPTH_MAX levels), never by
/*	recursion. Output goes through a bounded "sink" that either keeps
/*	the first bytes (RFC 2047 decoding, addresses) or, for parameter
/*	values, the last bytes (the extension of a file name is at the
/*	end) in a ring that is straightened once at the end.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stddef.h>
#include <string.h>

#include "htg-hdr-private.h"

#define HDR_COMMENT_DEPTH_MAX	32

/* ---------------------------------------------------------------- */
/* bounded output                                                   */
/* ---------------------------------------------------------------- */

void hdr_sink_init(struct hdr_sink *s, void *buf, size_t size,
		   int keep_last)
{
	s->buf = buf;
	s->cap = size > 0 ? size - 1 : 0;
	s->total = 0;
	s->keep_last = keep_last;
}

void hdr_sink_put(struct hdr_sink *s, unsigned char c)
{
	if (s->cap > 0) {
		if (s->keep_last)
			s->buf[s->total % s->cap] = c;
		else if (s->total < s->cap)
			s->buf[s->total] = c;
	}
	s->total++;
}

void hdr_sink_putn(struct hdr_sink *s, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		hdr_sink_put(s, b[i]);
}

int hdr_sink_truncated(const struct hdr_sink *s)
{
	return s->total > s->cap;
}

static void reverse(unsigned char *b, size_t from, size_t to)
{
	unsigned char t;

	while (from + 1 < to) {
		t = b[from];
		b[from++] = b[--to];
		b[to] = t;
	}
}

size_t hdr_sink_finish(struct hdr_sink *s)
{
	size_t len = s->total < s->cap ? s->total : s->cap;
	size_t k;

	if (s->buf == NULL)
		return 0;
	if (s->keep_last && s->total > s->cap && s->cap > 0) {
		k = s->total % s->cap;	/* oldest kept byte */
		reverse(s->buf, 0, k);
		reverse(s->buf, k, s->cap);
		reverse(s->buf, 0, s->cap);
	}
	s->buf[len] = '\0';
	return len;
}

/* ---------------------------------------------------------------- */
/* characters                                                       */
/* ---------------------------------------------------------------- */

unsigned char hdr_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 'a' - 'A') : c;
}

int hdr_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = hdr_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hdr_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int hdr_is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z');
}

int hdr_is_mime_token(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

int hdr_is_atext(unsigned char c)
{
	return hdr_is_alnum(c) || (c != '\0' &&
				   strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
		c >= 0x80;
}

int hdr_is_dtext(unsigned char c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

int hdr_ascii_eqi(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		if (hdr_lower((unsigned char)a[i]) !=
		    hdr_lower((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- */
/* cursor: comments, white space, quoted strings                    */
/* ---------------------------------------------------------------- */

void hdr_cur_init(struct hdr_cur *c, const char *value)
{
	c->p = value != NULL ? value : "";
	c->end = c->p + strlen(c->p);
}

int hdr_cur_at(const struct hdr_cur *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

/* RFC 5322 3.2.2 comment; c->p at '('. Iterative: depth counter. */
static int skip_comment(struct hdr_cur *c)
{
	unsigned int depth = 0;

	while (c->p < c->end) {
		char ch = *c->p++;

		if (ch == '\\') {
			if (c->p == c->end)
				return -1;
			c->p++;
		} else if (ch == '(') {
			if (++depth > HDR_COMMENT_DEPTH_MAX)
				return -1;
		} else if (ch == ')') {
			if (--depth == 0)
				return 0;
		}
	}
	return -1;
}

int hdr_skip_cfws(struct hdr_cur *c)
{
	while (c->p < c->end) {
		if (hdr_is_ws((unsigned char)*c->p))
			c->p++;
		else if (*c->p == '(') {
			if (skip_comment(c) < 0)
				return -1;
		} else
			break;
	}
	return 0;
}

int hdr_scan_quoted(struct hdr_cur *c, const char **start_r, size_t *len_r)
{
	const char *start = ++c->p;

	while (c->p < c->end) {
		if (*c->p == '"') {
			*start_r = start;
			*len_r = (size_t)(c->p - start);
			c->p++;
			return 0;
		}
		if (*c->p == '\\') {
			if (c->p + 1 == c->end)
				return -1;
			c->p++;
		}
		c->p++;
	}
	return -1;
}

void hdr_unquote(const char *p, size_t n, struct hdr_sink *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		if (p[i] != '\r' && p[i] != '\n')
			hdr_sink_put(s, (unsigned char)p[i]);
	}
}
