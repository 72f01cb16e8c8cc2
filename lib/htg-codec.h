#ifndef HTG_CODEC_H
#define HTG_CODEC_H

/*++
/* NAME
/*	htg-codec 3h
/* SUMMARY
/*	streaming transfer decoders and charset validators
/* SYNOPSIS
/*	#include "htg-codec.h"
/* DESCRIPTION
/*	Everything here works on chunks of any size, split anywhere (a
/*	chunk boundary may fall inside a base64 quantum, a QP escape or a
/*	UTF-8 sequence), keeps O(1) state and validates as it goes: the
/*	first invalid byte makes the state sticky-invalid and the call
/*	returns -1 with a short reason.
/*
/*	Transfer decoders (RFC 2045 6.7, 6.8) take the encoded body of one
/*	MIME part, line ends included (CRLF or LF), and write decoded bytes
/*	into out (capacity at least htg_*_decoded_max(len)). _finish()
/*	checks that the part ended cleanly (complete base64 quantum, no
/*	dangling QP '=').
/*
/*	Strictness (HTG-CTE, 004 table 5: "broken base64 or QP"):
/* .IP base64
/*	only the 64 alphabet characters, '=' padding at the very end (1 or
/*	2 pad characters completing a quantum, nothing but line ends and
/*	white space after it), CR, LF, SPACE and TAB ignored; any other
/*	byte is an error (RFC 2045 says ignore, but an HTG gateway must not
/*	pass a corrupted payload).
/* .IP quoted-printable
/*	"=" must be followed by two hex digits (upper or lower case) or by
/*	optional white space and the line end (soft break); other bytes
/*	must be printable ASCII, SPACE or TAB; a raw 8-bit byte or a
/*	control character is an error.
/* .PP
/*	Charset validators (HTG-CHARSET) take decoded bytes:
/* .IP us-ascii
/*	bytes 0x01-0x7f.
/* .IP utf-8
/*	RFC 3629 well-formed only: no overlong forms, no surrogates
/*	(U+D800-DFFF), nothing above U+10FFFF, no truncated sequence at
/*	the end (checked by _finish).
/* .IP iso-8859-1, iso-8859-15
/*	any byte except 0x80-0x9f, which ISO/IEC 8859 leaves unassigned (a
/*	byte there means the text is really a Windows code page).
/* .PP
/*	NUL is invalid in every text charset.
/*--*/

#include <stddef.h>
#include <stdint.h>

/* --- base64 --- */
struct htg_b64 {
	uint32_t acc;		/* bits collected so far */
	unsigned int nacc;	/* 6-bit groups in acc (0-3) */
	unsigned int npad;	/* '=' seen */
	int error;
};

void htg_b64_init(struct htg_b64 *st);
/* returns decoded length (>= 0) or -1 (reason in *error_r) */
long htg_b64_decode(struct htg_b64 *st, const unsigned char *in, size_t len,
		    unsigned char *out, const char **error_r);
int htg_b64_finish(struct htg_b64 *st, const char **error_r);
#define htg_b64_decoded_max(len) ((len) / 4 * 3 + 3)

/* --- quoted-printable --- */
struct htg_qp {
	unsigned int state;	/* private */
	unsigned char hex;
	int error;
};

void htg_qp_init(struct htg_qp *st);
long htg_qp_decode(struct htg_qp *st, const unsigned char *in, size_t len,
		   unsigned char *out, const char **error_r);
int htg_qp_finish(struct htg_qp *st, const char **error_r);
#define htg_qp_decoded_max(len) (len)

/* --- charsets --- */
enum htg_charset {
	HTG_CHARSET_US_ASCII,
	HTG_CHARSET_UTF8,
	HTG_CHARSET_ISO_8859_1,
	HTG_CHARSET_ISO_8859_15,
	HTG_CHARSET_UNKNOWN,	/* not one of ours */
	HTG_CHARSET_WINDOWS	/* cpNNNN, windows-NNNN and aliases */
};

/* Classify a charset name (case-insensitive, IANA names and aliases).
   Windows code pages are recognised by name so the refusal can say so. */
enum htg_charset htg_charset_lookup(const char *name);
const char *htg_charset_name(enum htg_charset cs);	/* canonical */

struct htg_charset_check {
	enum htg_charset cs;
	uint32_t need;		/* UTF-8: continuation bytes still expected */
	uint32_t cp;		/* UTF-8: code point so far */
	uint32_t min;		/* UTF-8: smallest valid code point for length */
	int error;
};

void htg_charset_check_init(struct htg_charset_check *st, enum htg_charset cs);
/* 0 ok so far, -1 invalid (reason in *error_r) */
int htg_charset_check(struct htg_charset_check *st, const unsigned char *in,
		      size_t len, const char **error_r);
int htg_charset_check_finish(struct htg_charset_check *st,
			     const char **error_r);

#endif
