/*++
/* NAME
/*	htg-mime 3
/* SUMMARY
/*	streaming MIME structure parser and body rewriter
/* DESCRIPTION
/*	See htg-mime.h. The body is processed line by line (RFC 5322 2.1.1
/*	bounds a line at 998 characters), with a stack of open multipart
/*	levels. Only three things are ever buffered: the current line when
/*	a chunk ends inside it, the header block of the current body part
/*	(bounded), and the boundaries of the open levels.
/*
/*	RFC 2046 5.1.1: a boundary delimiter line is "--" boundary, a close
/*	delimiter "--" boundary "--", each optionally followed by linear
/*	white space. Receivers split at any line that begins with "--"
/*	boundary, so such a line with anything else after it is refused
/*	(HTG-MIME), and so are nested boundaries that are prefixes of one
/*	another (see mime_push()). A delimiter of an enclosing level while
/*	an inner multipart is still open means the inner one was never
/*	closed: we refuse that rather than guess (HTG-MIME "unterminated
/*	multipart").
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htg-mime.h"

enum frame_state {
	FR_PREAMBLE,		/* before the first delimiter: dropped */
	FR_PART,		/* inside a body part */
	FR_AFTER_INNER		/* an inner multipart closed: dropped */
};

struct frame {
	char boundary[HTG_BOUNDARY_MAX + 1];
	size_t blen;
	enum frame_state state;
	unsigned int parts;
};

struct htg_mime {
	struct htg_mime_limits lim;
	struct htg_mime_callbacks cb;
	void *ctx;

	struct frame *frames;
	unsigned int depth;
	int leaf_active;
	int in_headers;
	int top_closed;
	int began;
	unsigned int nparts;

	unsigned char line[HTG_MIME_LINE_MAX];
	size_t linelen;

	char *hdr;		/* raw header block of the current part */
	size_t hdrlen;
	char *fbuf;		/* NUL-terminated names and unfolded values */
	struct htg_mime_field fields[HTG_MIME_FIELDS_MAX];
	struct htg_params ctype;

	const struct htg_mime_trace *trace;
	void *trace_ctx;

	int stopped;
	char errbuf[160];
	const char *error;
};

static int mime_fail(struct htg_mime *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int mime_fail(struct htg_mime *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->errbuf, sizeof(m->errbuf), fmt, ap);
	va_end(ap);
	m->error = m->errbuf;
	m->stopped = 1;
	return -1;
}

struct htg_mime *htg_mime_new(const struct htg_mime_limits *limits,
			      const struct htg_mime_callbacks *cb, void *ctx)
{
	struct htg_mime *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->lim.max_depth = limits != NULL && limits->max_depth > 0 ?
	    limits->max_depth : 8;
	m->lim.max_parts = limits != NULL && limits->max_parts > 0 ?
	    limits->max_parts : 200;
	m->lim.max_part_header = limits != NULL && limits->max_part_header > 0 ?
	    limits->max_part_header : 16384;
	m->cb = *cb;
	m->ctx = ctx;
	m->frames = calloc(m->lim.max_depth, sizeof(*m->frames));
	m->hdr = malloc(m->lim.max_part_header);
	/* names and values are never longer than the raw block, +2 NULs */
	m->fbuf = malloc(m->lim.max_part_header + 2 * HTG_MIME_FIELDS_MAX);
	if (m->frames == NULL || m->hdr == NULL || m->fbuf == NULL) {
		htg_mime_free(&m);
		return NULL;
	}
	return m;
}

void htg_mime_free(struct htg_mime **_m)
{
	struct htg_mime *m = *_m;

	if (m == NULL)
		return;
	free(m->frames);
	free(m->hdr);
	free(m->fbuf);
	free(m);
	*_m = NULL;
}

void htg_mime_set_trace(struct htg_mime *m, const struct htg_mime_trace *t,
			void *ctx)
{
	m->trace = t;
	m->trace_ctx = ctx;
}

const char *htg_mime_error(const struct htg_mime *m)
{
	return m->error;
}

int htg_mime_output(struct htg_mime *m, const void *data, size_t len)
{
	if (len == 0 || m->cb.output == NULL)
		return 0;
	if (m->cb.output(m->ctx, data, len) < 0) {
		m->stopped = 1;
		return -1;
	}
	return 0;
}

/* RFC 2046 5.1.1: bchars := bcharsnospace / " ", 1-70, no trailing space */
int htg_mime_boundary_ok(const char *b)
{
	static const char extra[] = "'()+_,-./:=? ";
	size_t len = strlen(b);

	if (len == 0 || len > HTG_BOUNDARY_MAX || b[len - 1] == ' ')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)b[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

static int mime_push(struct htg_mime *m, const char *boundary)
{
	struct frame *f;
	size_t blen;

	if (boundary == NULL || !htg_mime_boundary_ok(boundary))
		return mime_fail(m, "multipart without a valid boundary");
	if (m->depth >= m->lim.max_depth)
		return mime_fail(m, "multipart nesting deeper than %u levels",
				 m->lim.max_depth);
	blen = strlen(boundary);
	/* RFC 2046 5.1.1 (and 5.1.2): a boundary must not appear inside the
	   encapsulated material, so an inner multipart may not reuse an
	   enclosing boundary. Delimiters match by prefix, so a boundary that
	   equals an enclosing one, or is a prefix of it, or has it as a
	   prefix, makes a line "--outer..." ambiguous: Dovecot takes the
	   longest (then the innermost) match, other receivers may not. We
	   refuse such nesting (HTG-MIME) rather than pick a reading; then
	   at most one open level matches any line (process_line()). */
	for (unsigned int i = 0; i < m->depth; i++) {
		size_t n = blen < m->frames[i].blen ? blen : m->frames[i].blen;

		if (memcmp(boundary, m->frames[i].boundary, n) == 0)
			return mime_fail(m, "boundary overlaps an enclosing "
					 "boundary");
	}
	f = &m->frames[m->depth++];
	memcpy(f->boundary, boundary, blen + 1);
	f->blen = blen;
	f->state = FR_PREAMBLE;
	f->parts = 0;
	return 0;
}

int htg_mime_begin(struct htg_mime *m, const char *boundary)
{
	m->began = 1;
	if (boundary == NULL) {
		m->leaf_active = 1;
		return 0;
	}
	return mime_push(m, boundary);
}

/* --- part headers ---------------------------------------------------- */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* Split the raw header block into fields: names and unfolded values. */
static int split_fields(struct htg_mime *m, unsigned int *nfields_r)
{
	const char *p = m->hdr, *end = m->hdr + m->hdrlen;
	char *out = m->fbuf;
	unsigned int n = 0;

	while (p < end) {
		const char *start = p, *colon, *q;
		struct htg_mime_field *f;

		/* the field: this line and every continuation line */
		do {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		} while (p < end && is_wsp((unsigned char)*p));
		if (n >= HTG_MIME_FIELDS_MAX)
			return mime_fail(m, "more than %d header fields in a "
					 "body part", HTG_MIME_FIELDS_MAX);
		colon = memchr(start, ':', (size_t)(p - start));
		if (colon == NULL || colon == start)
			return mime_fail(m, "malformed header field in body "
					 "part %u", m->nparts);
		for (q = start; q < colon; q++) {
			unsigned char c = (unsigned char)*q;
			if (c < 33 || c > 126)
				return mime_fail(m, "malformed header field "
						 "name in body part %u",
						 m->nparts);
		}
		f = &m->fields[n++];
		f->raw = start;
		f->raw_len = (size_t)(p - start);
		f->name = out;
		memcpy(out, start, (size_t)(colon - start));
		out += colon - start;
		*out++ = '\0';
		/* value: line ends dropped (a fold is the white space after
		   it), leading white space removed */
		q = colon + 1;
		while (q < p && is_wsp((unsigned char)*q))
			q++;
		f->value = out;
		for (; q < p; q++) {
			if (*q == '\r' || *q == '\n')
				continue;
			*out++ = *q;
		}
		while (out > f->value && is_wsp((unsigned char)out[-1]))
			out--;
		*out++ = '\0';
	}
	*nfields_r = n;
	return 0;
}

static int end_headers(struct htg_mime *m)
{
	struct htg_mime_part part;
	const struct htg_mime_field *ct = NULL;
	const char *error;
	unsigned int nfields = 0;

	m->in_headers = 0;
	if (split_fields(m, &nfields) < 0)
		return -1;
	for (unsigned int i = 0; i < nfields; i++) {
		if (strcasecmp(m->fields[i].name, "Content-Type") != 0)
			continue;
		if (ct != NULL)
			return mime_fail(m, "more than one Content-Type in "
					 "body part %u", m->nparts);
		ct = &m->fields[i];
	}
	memset(&m->ctype, 0, sizeof(m->ctype));
	if (ct != NULL) {
		if (htg_hdr_params(ct->value, &m->ctype, &error) < 0)
			return mime_fail(m, "malformed Content-Type in body "
					 "part %u: %s", m->nparts, error);
	} else {
		/* RFC 2045 5.2 default */
		strcpy(m->ctype.main, "text/plain");
		strcpy(m->ctype.param[0].name, "charset");
		strcpy(m->ctype.param[0].value, "us-ascii");
		m->ctype.param[0].value_len = 8;
		m->ctype.count = 1;
	}
	part.depth = m->depth;
	part.index = m->nparts;
	part.fields = m->fields;
	part.nfields = nfields;
	part.has_ctype = ct != NULL;
	part.ctype = &m->ctype;
	if (m->cb.part_headers != NULL &&
	    m->cb.part_headers(m->ctx, m, &part) < 0) {
		m->stopped = 1;
		return -1;
	}
	if (htg_mime_output(m, "\r\n", 2) < 0)
		return -1;
	if (m->trace != NULL && m->trace->body_begin != NULL)
		m->trace->body_begin(m->trace_ctx, &part);
	if (strncmp(m->ctype.main, "multipart/", 10) == 0) {
		const struct htg_param *b = htg_hdr_param_get(&m->ctype,
							      "boundary");
		return mime_push(m, b != NULL ? b->value : NULL);
	}
	m->leaf_active = 1;
	return 0;
}

static int header_line(struct htg_mime *m, const unsigned char *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] >= 0x80)
			return mime_fail(m, "8-bit byte in the header of body "
					 "part %u (RFC 2047 encoding needed)",
					 m->nparts);
	if (m->hdrlen + n > m->lim.max_part_header)
		return mime_fail(m, "header of body part %u larger than %zu "
				 "bytes", m->nparts, m->lim.max_part_header);
	memcpy(m->hdr + m->hdrlen, l, n);
	m->hdrlen += n;
	return 0;
}

/* --- delimiters -------------------------------------------------------- */

/* RFC 2046 5.1.1: "The boundary delimiter MUST occur at the beginning of
   a line" and "the boundary may be followed by zero or more characters
   of linear whitespace"; nothing else. A conforming receiver (Dovecot's
   lib-mail message-parser, boundary_line_find(): "the full message line
   doesn't have to match the boundary, only the beginning") splits at
   every line that merely BEGINS with "--" boundary. So such a line must
   split here too, and when anything but transport padding (space, tab)
   follows the boundary or its closing "--", we cannot know what the
   receiver makes of it ("--bX" may hide a body part from every rule):
   malformed, HTG-MIME.

   1 delimiter, 2 close delimiter, 0 not a line of frame f, -1 a line
   that begins with "--" boundary but is no well-formed delimiter. */
static int delimiter_kind(const struct frame *f, const unsigned char *c,
			  size_t len)
{
	size_t i;
	int kind = 1;

	if (len < 2 + f->blen || c[0] != '-' || c[1] != '-' ||
	    memcmp(c + 2, f->boundary, f->blen) != 0)
		return 0;
	i = 2 + f->blen;
	if (len - i >= 2 && c[i] == '-' && c[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	for (; i < len; i++)
		if (!is_wsp(c[i]))
			return -1;
	return kind;
}

static int end_leaf(struct htg_mime *m)
{
	if (!m->leaf_active)
		return 0;
	m->leaf_active = 0;
	if (m->cb.part_end != NULL && m->cb.part_end(m->ctx) < 0) {
		m->stopped = 1;
		return -1;
	}
	return 0;
}

static int delimiter(struct htg_mime *m, unsigned int k, int kind)
{
	struct frame *f = &m->frames[k];
	char out[HTG_BOUNDARY_MAX + 8];
	int n;

	if (k != m->depth - 1)
		return mime_fail(m, "multipart not terminated before the "
				 "boundary of an enclosing multipart");
	if (m->in_headers && end_headers(m) < 0)
		return -1;
	if (k != m->depth - 1)	/* that part opened a multipart itself */
		return mime_fail(m, "multipart without any body part");
	if (end_leaf(m) < 0)
		return -1;
	n = snprintf(out, sizeof(out), "--%s%s\r\n", f->boundary,
		     kind == 2 ? "--" : "");
	if (kind == 2 && f->parts == 0)
		return mime_fail(m, "multipart without any body part");
	if (kind == 1 && m->nparts + 1 > m->lim.max_parts)
		return mime_fail(m, "more than %u body parts",
				 m->lim.max_parts);
	if (f->state != FR_PREAMBLE && m->trace != NULL &&
	    m->trace->part_end != NULL)
		m->trace->part_end(m->trace_ctx, k + 1);
	if (kind == 2) {
		m->depth--;
		if (m->depth == 0)
			m->top_closed = 1;
		else
			m->frames[m->depth - 1].state = FR_AFTER_INNER;
		return htg_mime_output(m, out, (size_t)n);
	}
	m->nparts++;
	f->parts++;
	f->state = FR_PART;
	m->in_headers = 1;
	m->hdrlen = 0;
	if (htg_mime_output(m, out, (size_t)n) < 0)
		return -1;
	if (m->trace != NULL && m->trace->part_begin != NULL)
		m->trace->part_begin(m->trace_ctx, k + 1);
	return 0;
}

/* --- lines ------------------------------------------------------------------ */

static int process_line(struct htg_mime *m, const unsigned char *l, size_t n)
{
	size_t clen = n;

	if (memchr(l, '\0', n) != NULL)
		return mime_fail(m, "NUL byte in the message body");
	if (m->top_closed)
		return 0;	/* epilogue of the message: dropped */
	/* content without its line end, for delimiter tests */
	if (clen > 0 && l[clen - 1] == '\n')
		clen--;
	if (clen > 0 && l[clen - 1] == '\r')
		clen--;
	if (m->depth > 0 && clen >= 2 && l[0] == '-' && l[1] == '-') {
		/* mime_push() refused boundaries that are prefixes of one
		   another, so at most one open level can match the line:
		   the one Dovecot's longest-prefix search would pick too */
		for (unsigned int k = m->depth; k-- > 0;) {
			int kind = delimiter_kind(&m->frames[k], l, clen);

			if (kind < 0)
				return mime_fail(m, "a line begins with a "
						 "boundary but is no delimiter "
						 "(RFC 2046 5.1.1: only white "
						 "space may follow it)");
			if (kind != 0)
				return delimiter(m, k, kind);
		}
	}
	if (m->in_headers) {
		if (clen == 0)
			return end_headers(m);
		return header_line(m, l, n);
	}
	if (m->leaf_active) {
		if (m->cb.part_body != NULL && m->cb.part_body(m->ctx, l, n) < 0) {
			m->stopped = 1;
			return -1;
		}
		return htg_mime_output(m, l, n);
	}
	return 0;	/* preamble or text after an inner close: dropped */
}

int htg_mime_feed(struct htg_mime *m, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;

	if (m->stopped || !m->began)
		return -1;
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p));

		if (m->linelen + seg > HTG_MIME_LINE_MAX)
			return mime_fail(m, "line longer than 998 characters");
		if (nl != NULL && m->linelen == 0) {
			/* a whole line in the chunk: no copy */
			if (process_line(m, p, seg) < 0)
				return -1;
		} else {
			memcpy(m->line + m->linelen, p, seg);
			m->linelen += seg;
			if (nl != NULL) {
				size_t n = m->linelen;
				m->linelen = 0;
				if (process_line(m, m->line, n) < 0)
					return -1;
			}
		}
		p += seg;
	}
	return 0;
}

int htg_mime_end(struct htg_mime *m)
{
	if (m->stopped || !m->began)
		return -1;
	if (m->linelen > 0) {
		size_t n = m->linelen;

		m->linelen = 0;
		if (process_line(m, m->line, n) < 0)
			return -1;
	}
	if (m->in_headers && end_headers(m) < 0)
		return -1;
	if (m->depth > 0)
		return mime_fail(m, "multipart not terminated (no close "
				 "delimiter before the end of the message)");
	return end_leaf(m);
}
