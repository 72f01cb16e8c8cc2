#ifndef HTG_HDR_PRIVATE_H
#define HTG_HDR_PRIVATE_H

/*++
/* NAME
/*	htg-hdr-private 3h
/* SUMMARY
/*	lexical helpers shared by the header field parsers
/* SYNOPSIS
/*	#include "htg-hdr-private.h"
/* DESCRIPTION
/*	Internals of htg-hdr.c and htg-hdr-addr.c, defined in
/*	htg-hdr-lex.c: the bounded output sink, character classes, and a
/*	cursor that skips comments and white space and scans quoted
/*	strings. Not part of the library's API.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <stddef.h>

/* Bounded output: keeps the first cap bytes, or with keep_last the
   last cap bytes in a ring that hdr_sink_finish() straightens. */
struct hdr_sink {
	unsigned char *buf;	/* cap + 1 bytes (room for the NUL) */
	size_t cap;
	size_t total;		/* bytes put, kept or not */
	int keep_last;
};

void hdr_sink_init(struct hdr_sink *s, void *buf, size_t size,
		   int keep_last);
void hdr_sink_put(struct hdr_sink *s, unsigned char c);
void hdr_sink_putn(struct hdr_sink *s, const void *p, size_t n);
int hdr_sink_truncated(const struct hdr_sink *s);
/* Straighten the ring, NUL-terminate; returns the length kept. */
size_t hdr_sink_finish(struct hdr_sink *s);

unsigned char hdr_lower(unsigned char c);
/* the value of a hex digit, or -1 */
int hdr_hexval(unsigned char c);
/* white space, folds included (the value may still be folded) */
int hdr_is_ws(unsigned char c);
int hdr_is_alnum(unsigned char c);
/* RFC 2045 5.1 token: CHAR except SPACE, CTLs and tspecials */
int hdr_is_mime_token(unsigned char c);
/* RFC 5322 3.2.3 atext, plus UTF-8 bytes (RFC 6532 3.2) */
int hdr_is_atext(unsigned char c);
/* RFC 5322 3.4.1 dtext */
int hdr_is_dtext(unsigned char c);
int hdr_ascii_eqi(const char *a, size_t alen, const char *b, size_t blen);

/* a position in one header field value */
struct hdr_cur {
	const char *p, *end;
};

void hdr_cur_init(struct hdr_cur *c, const char *value);
int hdr_cur_at(const struct hdr_cur *c, char ch);
/* RFC 5322 3.2.2 CFWS; -1 on an unbalanced or too deep comment */
int hdr_skip_cfws(struct hdr_cur *c);
/* RFC 5322 3.2.4 quoted-string; c->p at '"'. The raw content (escapes
   still in) is [*start_r, *start_r + *len_r). */
int hdr_scan_quoted(struct hdr_cur *c, const char **start_r,
		    size_t *len_r);
/* Quoted-string content -> bytes: quoted-pairs resolved, CR/LF of a
   fold dropped (RFC 5322 3.2.2 unfolding). */
void hdr_unquote(const char *p, size_t n, struct hdr_sink *s);

#endif
