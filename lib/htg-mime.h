#ifndef HTG_MIME_H
#define HTG_MIME_H

/*++
/* NAME
/*	htg-mime 3h
/* SUMMARY
/*	streaming MIME structure parser and body rewriter
/* SYNOPSIS
/*	#include "htg-mime.h"
/* DESCRIPTION
/*	One pass over a message body, in chunks split anywhere, in bounded
/*	memory: one line (at most 998 characters plus line end, RFC 5322
/*	2.1.1), one body part's header block and one boundary per open
/*	multipart level, whatever the size of the message.
/*
/*	The caller parses the top-level header itself (the milter gets it
/*	field by field) and starts the body with htg_mime_begin(): either
/*	the whole body is one leaf part, or it is a multipart with the given
/*	boundary (RFC 2046 5.1). From then on the parser finds every body
/*	part and calls back:
/* .IP part_headers
/*	the header block of a body part is complete. The callback gets the
/*	unfolded fields and the parsed Content-Type, decides, and writes
/*	the header fields the part leaves with (through htg_mime_output();
/*	the parser adds the empty line). For a multipart part it must keep
/*	the boundary: the parser learns it from the Content-Type it parsed.
/* .IP part_body
/*	raw (still transfer-encoded) bytes of a leaf part, whole lines with
/*	their line ends; the bytes go to the output unchanged.
/* .IP part_end
/*	the leaf part ended.
/* .PP
/*	Preamble and epilogue text (RFC 2046 5.1.1: to be ignored) is
/*	dropped, so nothing unchecked passes.
/*
/*	Structure errors make the parser stop; htg_mime_error() tells why
/*	(HTG-MIME): a line or header field too long, a NUL byte, a 8-bit
/*	byte in a part header, nesting deeper than the limit, too many
/*	parts, a multipart without boundary or without any part, a line
/*	that begins with "--" boundary but has more than white space after
/*	the boundary (or its closing "--"), a nested boundary that equals
/*	an enclosing one or is a prefix of it or the other way round, a
/*	multipart not closed by its close delimiter before its enclosing
/*	boundary or the end of the message.
/*
/*	A callback returns 0 to go on or -1 to stop (the caller's verdict is
/*	kept by the caller).
/*--*/

#include <stddef.h>

#include "htg-hdr.h"

#define HTG_MIME_LINE_MAX	1000	/* 998 + CRLF */
#define HTG_MIME_FIELDS_MAX	64
#define HTG_BOUNDARY_MAX	70	/* RFC 2046 5.1.1 */

struct htg_mime_limits {
	unsigned int max_depth;		/* multipart levels, default 8 */
	unsigned int max_parts;		/* body parts in all, default 200 */
	size_t max_part_header;		/* bytes of one header block, 16384 */
};

struct htg_mime_field {
	const char *name;	/* as written */
	const char *value;	/* unfolded, leading white space removed */
	const char *raw;	/* the field as it was, folds and line ends */
	size_t raw_len;
};

struct htg_mime_part {
	unsigned int depth;		/* 1 = a part of the top multipart */
	unsigned int index;		/* 1-based among all parts */
	const struct htg_mime_field *fields;
	unsigned int nfields;
	int has_ctype;			/* a Content-Type field was present */
	const struct htg_params *ctype;	/* parsed, or the text/plain default */
};

struct htg_mime;

struct htg_mime_callbacks {
	int (*part_headers)(void *ctx, struct htg_mime *mime,
			    const struct htg_mime_part *part);
	int (*part_body)(void *ctx, const unsigned char *data, size_t len);
	int (*part_end)(void *ctx);
	/* rewritten body bytes */
	int (*output)(void *ctx, const void *data, size_t len);
};

struct htg_mime *htg_mime_new(const struct htg_mime_limits *limits,
			      const struct htg_mime_callbacks *cb, void *ctx);
void htg_mime_free(struct htg_mime **mime);

/* boundary NULL: the body is one leaf part. Returns 0 or -1. */
int htg_mime_begin(struct htg_mime *mime, const char *boundary);
/* 0 go on, -1 stopped (structure error or a callback said stop) */
int htg_mime_feed(struct htg_mime *mime, const void *data, size_t len);
int htg_mime_end(struct htg_mime *mime);
/* the reason of a structure error, or NULL */
const char *htg_mime_error(const struct htg_mime *mime);

/* For tests (tests/mime-diff.c): where each body part begins and ends
   in the output, told in output order. depth as in htg_mime_part. */
struct htg_mime_trace {
	/* its delimiter line was written: its header block begins */
	void (*part_begin)(void *ctx, unsigned int depth);
	/* its header block and the empty line after it were written */
	void (*body_begin)(void *ctx, const struct htg_mime_part *part);
	/* it ended: the next delimiter line of its level comes now */
	void (*part_end)(void *ctx, unsigned int depth);
};

void htg_mime_set_trace(struct htg_mime *mime,
			const struct htg_mime_trace *trace, void *ctx);

/* For part_headers callbacks: write output. */
int htg_mime_output(struct htg_mime *mime, const void *data, size_t len);

/* Validate a boundary value (RFC 2046 5.1.1 bchars, 1-70 characters,
   not ending in a space). */
int htg_mime_boundary_ok(const char *boundary);

#endif
