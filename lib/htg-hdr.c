/*++
/* NAME
/*	htg-hdr 3
/* SUMMARY
/*	header field parsers: RFC 2047 words and MIME parameters
/* SYNOPSIS
/*	#include "htg-hdr.h"
/* DESCRIPTION
/*	See htg-hdr.h for the contract of htg_rfc2047_decode(),
/*	htg_hdr_params(), htg_hdr_param_get() and htg_filename_ext();
/*	addresses and Message-ID are in htg-hdr-addr.c, the cursor and
/*	the bounded output sink in htg-hdr-lex.c. A parameter value goes
/*	into a sink that keeps its last bytes (the extension of a file
/*	name is at the end).
/*
/*	Readings of the contract that were a choice:
/* .IP RFC 2047
/*	Encoded words are decoded wherever they occur (also when glued to
/*	other text); the encoded text must be non-empty; B needs correct
/*	padding (htg_b64); the 75-character limit is not enforced.
/* .IP parameters
/*	A trailing ";" and empty parameters (";;") are accepted (common,
/*	harmless). Values are RFC 2045 tokens (ASCII only) or quoted
/*	strings (8-bit bytes allowed, RFC 6532); CR and LF inside a quoted
/*	string are fold remnants and dropped. The plain form "name=" next
/*	to the RFC 2231 form ("name*=" or "name*0...") of the same name is
/*	not a duplicate: the RFC 2231 form wins (what RFC 6266 4.3 asks of
/*	HTTP clients, and what mailers that send both intend). The same
/*	form twice, "name*=" with "name*0", or a section number twice is
/*	a duplicate. Sections may come in any order but must be 0..n-1
/*	without gaps and without leading zeros (RFC 2231 3). The first
/*	section of an extended value must hold "charset'lang'" (both may
/*	be empty); a bad %-escape, or one that decodes to NUL, is an
/*	error; other bytes of an extended value are taken as they are.
/*	A quoted extended value is unquoted first (lenient). RFC 2047
/*	words are decoded only in quoted, non-extended values; a word
/*	that would decode to NUL stays encoded.
/* .IP file names
/*	The extension is looked for in the last path component (after the
/*	last '/' or '\e'), and leading dots are not separators: ".bashrc"
/*	has no extension (as in POSIX basename/splitext), so it gives
/*	"txt". The case of the extension is kept.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stddef.h>
#include <string.h>

#include "htg-codec.h"
#include "htg-hdr.h"
#include "htg-hdr-private.h"

/* raw name=value pairs one value may hold, RFC 2231 sections included */
#define HDR_RAW_MAX		128
/* a quoted value is unquoted into this much (its last bytes) before
   RFC 2047 decoding; more than 3 * HTG_PARAM_VALUE_MAX, so the last
   HTG_PARAM_VALUE_MAX decoded bytes survive even for Q "=XX" text */
#define HDR_UNQUOTE_MAX		4096
/* RFC 2231 section numbers: more digits can never be contiguous */
#define HDR_SECTION_DIGITS_MAX	3

/* ---------------------------------------------------------------- */
/* RFC 2047 encoded words                                           */
/* ---------------------------------------------------------------- */

struct ew {
	unsigned char enc;	/* 'B' or 'Q' */
	const unsigned char *text;
	size_t text_len;
};

/* RFC 2047 2: charset is a token without especials; '.' is allowed
   anyway (charset names such as "ansi_x3.4-1968" hold one) */
static int is_ew_token(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\"/[]?=", c) == NULL;
}

/* RFC 2047 4.2: "_" is SPACE, "=XX" one byte; NULL sink = validate */
static int ew_decode_q(const struct ew *w, struct hdr_sink *s)
{
	size_t i;
	int hi, lo;
	unsigned char b;

	for (i = 0; i < w->text_len; i++) {
		b = w->text[i];
		if (b == '_') {
			b = ' ';
		} else if (b == '=') {
			if (i + 2 >= w->text_len)
				return -1;
			hi = hdr_hexval(w->text[i + 1]);
			lo = hdr_hexval(w->text[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			b = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (b == '\0')
			return -1;
		if (s != NULL)
			hdr_sink_put(s, b);
	}
	return 0;
}

/* RFC 2047 4.1: base64, in 4-character steps through htg_b64 */
static int ew_decode_b(const struct ew *w, struct hdr_sink *s)
{
	struct htg_b64 b64;
	unsigned char out[htg_b64_decoded_max(4)];
	const char *error;
	size_t i, n;
	long got, j;

	htg_b64_init(&b64);
	for (i = 0; i < w->text_len; i += n) {
		n = w->text_len - i < 4 ? w->text_len - i : 4;
		got = htg_b64_decode(&b64, w->text + i, n, out, &error);
		if (got < 0)
			return -1;
		for (j = 0; j < got; j++) {
			if (out[j] == '\0')
				return -1;
			if (s != NULL)
				hdr_sink_put(s, out[j]);
		}
	}
	return htg_b64_finish(&b64, &error);
}

static int ew_decode(const struct ew *w, struct hdr_sink *s)
{
	return w->enc == 'B' ? ew_decode_b(w, s) : ew_decode_q(w, s);
}

/* "=?" charset "?" B|Q "?" encoded-text "?=" at in[0]: its length, or
   0 when it is not a (decodable) encoded word. */
static size_t ew_match(const unsigned char *in, size_t len, struct ew *w)
{
	size_t i = 2, start;

	if (len < 2 || in[0] != '=' || in[1] != '?')
		return 0;
	for (start = i; i < len && is_ew_token(in[i]); i++)
		;
	if (i == start || i + 3 >= len || in[i] != '?' || in[i + 2] != '?')
		return 0;
	w->enc = hdr_lower(in[i + 1]) == 'b' ? 'B' :
		hdr_lower(in[i + 1]) == 'q' ? 'Q' : 0;
	if (w->enc == 0)
		return 0;
	/* encoded-text: printable ASCII but '?' and SPACE */
	i += 3;
	for (start = i; i < len && in[i] > 0x20 && in[i] < 0x7f &&
	     in[i] != '?'; i++)
		;
	if (i == start || i + 1 >= len || in[i] != '?' || in[i + 1] != '=')
		return 0;
	w->text = in + start;
	w->text_len = i - start;
	if (ew_decode(w, NULL) < 0)
		return 0;
	return i + 2;
}

/* RFC 2047 6.2: white space between two adjacent encoded words is
   dropped; anything else is copied. */
static void rfc2047_run(const unsigned char *in, size_t len,
			struct hdr_sink *s)
{
	struct ew w;
	size_t i = 0, j, n;
	int after_word = 0;

	while (i < len) {
		if ((n = ew_match(in + i, len - i, &w)) > 0) {
			(void)ew_decode(&w, s);
			i += n;
			after_word = 1;
			continue;
		}
		if (after_word && hdr_is_ws(in[i])) {
			for (j = i; j < len && hdr_is_ws(in[j]); j++)
				;
			if (j < len && ew_match(in + j, len - j, &w) > 0) {
				i = j;
				continue;
			}
			hdr_sink_putn(s, in + i, j - i);
			i = j;
		} else {
			hdr_sink_put(s, in[i++]);
		}
		after_word = 0;
	}
}

size_t htg_rfc2047_decode(const char *in, size_t len, char *out, size_t size)
{
	struct hdr_sink s;

	if (out == NULL || size == 0)
		return 0;
	hdr_sink_init(&s, out, size, 0);
	rfc2047_run((const unsigned char *)in, in != NULL ? len : 0, &s);
	return hdr_sink_finish(&s);
}

/* ---------------------------------------------------------------- */
/* MIME parameters, RFC 2045 5.1 + RFC 2231                         */
/* ---------------------------------------------------------------- */

/* one "name=value" as it appears, before joining sections */
struct raw_param {
	const char *name;	/* base name, without "*N" / "*" */
	size_t name_len;
	int section;		/* -1: not a continuation */
	int extended;		/* "*": charset'lang'%XX */
	const char *val;	/* raw value (quoted: between the quotes) */
	size_t val_len;
	int quoted;
	int used;
};

static void set_error(const char **error_r, const char *reason)
{
	if (error_r != NULL)
		*error_r = reason;
}

static size_t scan_token(struct hdr_cur *c)
{
	const char *start = c->p;

	while (c->p < c->end && hdr_is_mime_token((unsigned char)*c->p))
		c->p++;
	return (size_t)(c->p - start);
}

static int append_lower(char *buf, size_t size, size_t *pos, const char *p,
			size_t n)
{
	size_t i;

	if (*pos + n >= size)
		return -1;
	for (i = 0; i < n; i++)
		buf[(*pos)++] = (char)hdr_lower((unsigned char)p[i]);
	buf[*pos] = '\0';
	return 0;
}

/* type ["/" subtype], lower-cased (Content-Disposition has no '/') */
static int parse_main(struct hdr_cur *c, char *main, size_t size,
		      const char **error_r)
{
	const char *start;
	size_t n, pos = 0;

	main[0] = '\0';
	if (hdr_skip_cfws(c) < 0)
		goto comment;
	start = c->p;
	if ((n = scan_token(c)) == 0) {
		set_error(error_r, "missing main value");
		return -1;
	}
	if (append_lower(main, size, &pos, start, n) < 0)
		goto toolong;
	if (hdr_skip_cfws(c) < 0)
		goto comment;
	if (!hdr_cur_at(c, '/'))
		return 0;
	c->p++;
	if (hdr_skip_cfws(c) < 0)
		goto comment;
	start = c->p;
	if ((n = scan_token(c)) == 0) {
		set_error(error_r, "missing subtype after '/'");
		return -1;
	}
	if (append_lower(main, size, &pos, "/", 1) < 0 ||
	    append_lower(main, size, &pos, start, n) < 0)
		goto toolong;
	return 0;
comment:
	set_error(error_r, "unbalanced comment");
	return -1;
toolong:
	set_error(error_r, "main value too long");
	return -1;
}

/* RFC 2231 3, 4: "name", "name*", "name*N", "name*N*" */
static int split_name(struct raw_param *r, const char *p, size_t n,
		      const char **error_r)
{
	size_t i, digits;

	r->extended = n > 0 && p[n - 1] == '*';
	if (r->extended)
		n--;
	r->section = -1;
	for (i = 0; i < n && p[i] != '*'; i++)
		;
	r->name = p;
	r->name_len = i;
	if (i < n) {
		digits = n - i - 1;
		if (digits == 0 || digits > HDR_SECTION_DIGITS_MAX ||
		    (digits > 1 && p[i + 1] == '0')) {
			set_error(error_r, "bad RFC 2231 section number");
			return -1;
		}
		r->section = 0;
		for (i++; i < n; i++) {
			if (p[i] < '0' || p[i] > '9') {
				set_error(error_r, "bad RFC 2231 section number");
				return -1;
			}
			r->section = r->section * 10 + (p[i] - '0');
		}
	}
	if (r->name_len == 0 || r->name_len >= HTG_PARAM_NAME_MAX) {
		set_error(error_r, r->name_len == 0 ? "empty parameter name" :
			  "parameter name too long");
		return -1;
	}
	return 0;
}

/* name "=" (token / quoted-string), CFWS around each */
static int parse_one_param(struct hdr_cur *c, struct raw_param *r,
			   const char **error_r)
{
	const char *name = c->p;
	size_t n = scan_token(c);

	if (n == 0) {
		set_error(error_r, "missing parameter name");
		return -1;
	}
	if (split_name(r, name, n, error_r) < 0)
		return -1;
	if (hdr_skip_cfws(c) < 0)
		goto comment;
	if (!hdr_cur_at(c, '=')) {
		set_error(error_r, "parameter without '='");
		return -1;
	}
	c->p++;
	if (hdr_skip_cfws(c) < 0)
		goto comment;
	r->quoted = hdr_cur_at(c, '"');
	r->used = 0;
	if (r->quoted) {
		if (hdr_scan_quoted(c, &r->val, &r->val_len) < 0) {
			set_error(error_r, "unbalanced quote");
			return -1;
		}
		return 0;
	}
	r->val = c->p;
	if ((r->val_len = scan_token(c)) == 0) {
		set_error(error_r, "parameter without value");
		return -1;
	}
	return 0;
comment:
	set_error(error_r, "unbalanced comment");
	return -1;
}

/* *(";" parameter), trailing/empty ";" tolerated */
static int parse_raw_params(struct hdr_cur *c, struct raw_param *raw,
			    size_t *nraw_r, const char **error_r)
{
	size_t nraw = 0;

	for (;;) {
		if (hdr_skip_cfws(c) < 0)
			goto comment;
		if (c->p == c->end)
			break;
		if (*c->p != ';') {
			set_error(error_r, "expected ';'");
			return -1;
		}
		c->p++;
		if (hdr_skip_cfws(c) < 0)
			goto comment;
		if (c->p == c->end || *c->p == ';')
			continue;
		if (nraw == HDR_RAW_MAX) {
			set_error(error_r, "too many parameters");
			return -1;
		}
		if (parse_one_param(c, &raw[nraw], error_r) < 0)
			return -1;
		nraw++;
	}
	*nraw_r = nraw;
	return 0;
comment:
	set_error(error_r, "unbalanced comment");
	return -1;
}

/* RFC 2231 4: the first section starts with charset'lang'; both are
   dropped (no charset conversion here). */
static int skip_charset_lang(const unsigned char **p, size_t *n)
{
	size_t i, quotes = 0;

	for (i = 0; i < *n && quotes < 2; i++) {
		if ((*p)[i] == '\'')
			quotes++;
	}
	if (quotes < 2)
		return -1;
	*p += i;
	*n -= i;
	return 0;
}

static int percent_decode(const unsigned char *p, size_t n,
			  struct hdr_sink *s)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (p[i] != '%') {
			hdr_sink_put(s, p[i]);
			continue;
		}
		if (i + 2 >= n)
			return -1;
		hi = hdr_hexval(p[i + 1]);
		lo = hdr_hexval(p[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		hdr_sink_put(s, (unsigned char)(hi << 4 | lo));
		i += 2;
	}
	return 0;
}

/* One raw value (a whole parameter or one section) into the sink. */
static int emit_section(const struct raw_param *r, struct hdr_sink *s,
			const char **error_r)
{
	unsigned char tmp[HDR_UNQUOTE_MAX + 1];
	const unsigned char *p = (const unsigned char *)r->val;
	size_t n = r->val_len;
	struct hdr_sink t;

	if (r->quoted) {
		hdr_sink_init(&t, tmp, sizeof(tmp), 1);
		hdr_unquote(r->val, r->val_len, &t);
		if (r->extended && r->section <= 0 && hdr_sink_truncated(&t)) {
			set_error(error_r, "RFC 2231 value too long");
			return -1;
		}
		n = hdr_sink_finish(&t);
		p = tmp;
	}
	if (!r->extended) {
		if (r->quoted)
			rfc2047_run(p, n, s);
		else
			hdr_sink_putn(s, p, n);
		return 0;
	}
	if (r->section <= 0 && skip_charset_lang(&p, &n) < 0) {
		set_error(error_r, "RFC 2231 value without charset'lang'");
		return -1;
	}
	if (percent_decode(p, n, s) < 0) {
		set_error(error_r, "bad %-escape in RFC 2231 value");
		return -1;
	}
	return 0;
}

static const struct raw_param *find_section(const struct raw_param *raw,
					    size_t nraw, size_t first,
					    int section)
{
	size_t i;

	for (i = first; i < nraw; i++) {
		if (raw[i].section == section &&
		    hdr_ascii_eqi(raw[i].name, raw[i].name_len,
				  raw[first].name, raw[first].name_len))
			return &raw[i];
	}
	return NULL;
}

/* Which raw entries make up parameter raw[first]: the plain one, the
   "name*=" one, and the count of "name*N" sections. Marks them used. */
struct param_forms {
	const struct raw_param *plain, *ext;
	int nsections, max_section;
};

static int collect_forms(struct raw_param *raw, size_t nraw, size_t first,
			 struct param_forms *f, const char **error_r)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->max_section = -1;
	for (i = first; i < nraw; i++) {
		struct raw_param *r = &raw[i];

		if (!hdr_ascii_eqi(r->name, r->name_len, raw[first].name,
				   raw[first].name_len))
			continue;
		r->used = 1;
		if (r->section >= 0) {
			if (find_section(raw, i, first, r->section) != NULL)
				goto dup;
			f->nsections++;
			if (r->section > f->max_section)
				f->max_section = r->section;
		} else if (r->extended) {
			if (f->ext != NULL)
				goto dup;
			f->ext = r;
		} else {
			if (f->plain != NULL)
				goto dup;
			f->plain = r;
		}
	}
	if (f->ext != NULL && f->nsections > 0)
		goto dup;
	/* distinct numbers, all below the count: exactly 0..n-1 */
	if (f->nsections > 0 && f->max_section >= f->nsections) {
		set_error(error_r, find_section(raw, nraw, first, 0) == NULL ?
			  "RFC 2231 section 0 missing" :
			  "RFC 2231 section missing");
		return -1;
	}
	return 0;
dup:
	set_error(error_r, "duplicate parameter");
	return -1;
}

static int assemble_param(struct raw_param *raw, size_t nraw, size_t first,
			  struct htg_param *out, const char **error_r)
{
	struct param_forms f;
	struct hdr_sink s;
	size_t pos = 0;
	int i;

	if (collect_forms(raw, nraw, first, &f, error_r) < 0)
		return -1;
	(void)append_lower(out->name, sizeof(out->name), &pos,
			   raw[first].name, raw[first].name_len);
	hdr_sink_init(&s, out->value, sizeof(out->value), 1);
	if (f.nsections > 0) {
		for (i = 0; i < f.nsections; i++) {
			if (emit_section(find_section(raw, nraw, first, i),
					 &s, error_r) < 0)
				return -1;
		}
	} else if (emit_section(f.ext != NULL ? f.ext : f.plain, &s,
				error_r) < 0) {
		return -1;
	}
	out->truncated = hdr_sink_truncated(&s);
	out->value_len = hdr_sink_finish(&s);
	return 0;
}

int htg_hdr_params(const char *value, struct htg_params *out,
		   const char **error_r)
{
	struct raw_param raw[HDR_RAW_MAX];
	struct hdr_cur c;
	size_t nraw, i;

	out->count = 0;
	hdr_cur_init(&c, value);
	if (parse_main(&c, out->main, sizeof(out->main), error_r) < 0 ||
	    parse_raw_params(&c, raw, &nraw, error_r) < 0)
		return -1;
	for (i = 0; i < nraw; i++) {
		if (raw[i].used)
			continue;
		if (out->count == HTG_PARAMS_MAX) {
			set_error(error_r, "too many parameters");
			return -1;
		}
		if (assemble_param(raw, nraw, i, &out->param[out->count],
				   error_r) < 0)
			return -1;
		out->count++;
	}
	return 0;
}

const struct htg_param *htg_hdr_param_get(const struct htg_params *p,
					  const char *name)
{
	size_t i;

	for (i = 0; i < p->count && i < HTG_PARAMS_MAX; i++) {
		if (hdr_ascii_eqi(p->param[i].name, strlen(p->param[i].name),
				  name, strlen(name)))
			return &p->param[i];
	}
	return NULL;
}

/* ---------------------------------------------------------------- */
/* file name extension (HTG-FILENAME, DESIGN 2)                     */
/* ---------------------------------------------------------------- */

#define EXT_MAX 10

static void copy_bounded(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void htg_filename_ext(const char *name, size_t len, char *ext_r, size_t size)
{
	size_t base = 0, dot = 0, i, n;
	int found = 0;

	if (size == 0)
		return;
	if (name == NULL)
		len = 0;
	for (i = 0; i < len; i++) {
		if (name[i] == '/' || name[i] == '\\')
			base = i + 1;
	}
	/* leading dots of the last component are not separators */
	for (i = base; i < len && name[i] == '.'; i++)
		;
	for (; i < len; i++) {
		if (name[i] == '.') {
			dot = i;
			found = 1;
		}
	}
	n = found ? len - dot - 1 : 0;
	for (i = 0; i < n; i++) {
		if (!hdr_is_alnum((unsigned char)name[dot + 1 + i]))
			n = 0;
	}
	if (n == 0 || n > EXT_MAX || n >= size)
		copy_bounded(ext_r, size, "txt", 3);
	else
		copy_bounded(ext_r, size, name + dot + 1, n);
}
