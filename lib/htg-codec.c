/*++
/* NAME
/*	htg-codec 3
/* SUMMARY
/*	streaming transfer decoders and charset validators
/* SYNOPSIS
/*	#include "htg-codec.h"
/* DESCRIPTION
/*	See htg-codec.h for the contract. Every function here is a byte
/*	state machine: one byte in, at most three bytes out, O(1) state,
/*	so a chunk boundary can fall anywhere without changing the result.
/*	The first error is remembered as an index into a table of reasons,
/*	which makes the state sticky-invalid and lets every later call
/*	report the same reason.
/*
/*	Readings of the contract that were a choice (HTG-CTE, HTG-CHARSET):
/* .IP base64
/*	the bits left over in a padded quantum need not be zero (RFC 4648
/*	3.5 lets a decoder reject them; they do not change the payload);
/*	white space between two pad characters is ignored like anywhere
/*	else (RFC 2045 6.8); a quantum without its padding is an error.
/* .IP quoted-printable
/*	line ends are passed through as they came (CRLF or LF); a CR not
/*	followed by LF is a control character; trailing white space on a
/*	line is kept (RFC 2045 6.7 rule 3 asks to delete it, which needs
/*	an unbounded look-ahead; keeping it changes no verdict); the
/*	76-character line limit is not enforced; "=00" decodes to NUL,
/*	which the charset check then refuses for text.
/* .IP charsets
/*	only IANA names and aliases (plus "latin9", which is common) are
/*	recognised; "utf8" is not an IANA name and stays UNKNOWN. Every
/*	name starting with "cp", "x-cp", "windows-" or "cswindows", every
/*	"ibm<digits>" and "ms-ansi" is a code page reference (004 table
/*	5: "Windows Code Pages (CPxxxx)" are not allowed), even the IANA
/*	aliases cp367/ibm367 (us-ascii) and cp819/ibm819 (ISO-8859-1).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "htg-codec.h"

/* ---------------------------------------------------------------- */
/* helpers                                                          */
/* ---------------------------------------------------------------- */

/* Record the first error (sticky) and report the current one. */
static int codec_fail(int *error, int code, const char *const *reasons,
		      const char **error_r)
{
	if (*error == 0)
		*error = code;
	if (error_r != NULL)
		*error_r = reasons[*error];
	return -1;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ---------------------------------------------------------------- */
/* base64, RFC 2045 6.8                                             */
/* ---------------------------------------------------------------- */

enum {
	B64_OK, B64_ERR_CHAR, B64_ERR_PAD_POS, B64_ERR_AFTER_PAD,
	B64_ERR_TRUNCATED, B64_ERR_PAD_TRUNCATED
};

static const char *const b64_reasons[] = {
	"ok",
	"invalid character in base64",
	"misplaced '=' padding in base64",
	"base64 data after the '=' padding",
	"truncated base64 quantum at end of part",
	"incomplete '=' padding at end of base64 part",
};

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* The padding has completed the last quantum: only white space may
   follow. */
static int b64_padded(const struct htg_b64 *st)
{
	return st->npad > 0 && st->nacc + st->npad == 4;
}

static unsigned char *b64_flush_padded(struct htg_b64 *st, unsigned char *o)
{
	/* 2 groups = 12 bits carry 1 byte, 3 groups = 18 bits carry 2 */
	if (st->nacc == 2) {
		*o++ = (unsigned char)(st->acc >> 4);
	} else {
		*o++ = (unsigned char)(st->acc >> 10);
		*o++ = (unsigned char)(st->acc >> 2);
	}
	st->acc = 0;
	return o;
}

static int b64_pad(struct htg_b64 *st, unsigned char **o)
{
	if (b64_padded(st))
		return B64_ERR_AFTER_PAD;
	/* RFC 2045 6.8: "=" only ends a quantum of 2 or 3 characters */
	if (st->nacc < 2)
		return B64_ERR_PAD_POS;
	st->npad++;
	if (b64_padded(st))
		*o = b64_flush_padded(st, *o);
	return B64_OK;
}

static int b64_byte(struct htg_b64 *st, unsigned char c, unsigned char **o)
{
	int v;

	if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		return B64_OK;
	if (c == '=')
		return b64_pad(st, o);
	if ((v = b64_value(c)) < 0)
		return B64_ERR_CHAR;
	if (st->npad > 0)
		return B64_ERR_AFTER_PAD;
	st->acc = (st->acc << 6) | (uint32_t)v;
	if (++st->nacc == 4) {
		*(*o)++ = (unsigned char)(st->acc >> 16);
		*(*o)++ = (unsigned char)(st->acc >> 8);
		*(*o)++ = (unsigned char)st->acc;
		st->acc = 0;
		st->nacc = 0;
	}
	return B64_OK;
}

void htg_b64_init(struct htg_b64 *st)
{
	memset(st, 0, sizeof(*st));
}

/* 0-63 for the alphabet, 0xff for everything else (the slow path
   decides what that byte means). */
static const unsigned char b64_table[256] = {
#define X 0xff
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

long htg_b64_decode(struct htg_b64 *st, const unsigned char *in, size_t len,
		    unsigned char *out, const char **error_r)
{
	unsigned char *o = out;
	size_t i = 0;
	int err;

	if (st->error != 0)
		return codec_fail(&st->error, 0, b64_reasons, error_r);
	while (i < len) {
		/* fast path: a whole quantum of four alphabet characters on a
		   quantum boundary (the bulk of every line); anything else -
		   line ends, padding, errors - goes byte by byte below */
		if (st->nacc == 0 && st->npad == 0) {
			while (i + 4 <= len) {
				uint32_t a = b64_table[in[i]], b = b64_table[in[i + 1]],
				    c = b64_table[in[i + 2]], d = b64_table[in[i + 3]];

				if ((a | b | c | d) & 0x80)
					break;
				o[0] = (unsigned char)((a << 2) | (b >> 4));
				o[1] = (unsigned char)((b << 4) | (c >> 2));
				o[2] = (unsigned char)((c << 6) | d);
				o += 3;
				i += 4;
			}
			if (i >= len)
				break;
		}
		if ((err = b64_byte(st, in[i], &o)) != B64_OK)
			return codec_fail(&st->error, err, b64_reasons,
					  error_r);
		i++;
	}
	return (long)(o - out);
}

int htg_b64_finish(struct htg_b64 *st, const char **error_r)
{
	if (st->error != 0)
		return codec_fail(&st->error, 0, b64_reasons, error_r);
	if (st->npad > 0 && !b64_padded(st))
		return codec_fail(&st->error, B64_ERR_PAD_TRUNCATED,
				  b64_reasons, error_r);
	if (st->npad == 0 && st->nacc != 0)
		return codec_fail(&st->error, B64_ERR_TRUNCATED, b64_reasons,
				  error_r);
	return 0;
}

/* ---------------------------------------------------------------- */
/* quoted-printable, RFC 2045 6.7                                   */
/* ---------------------------------------------------------------- */

enum qp_state {
	QP_TEXT,		/* ordinary text */
	QP_CR,			/* CR seen (and written): LF must follow */
	QP_EQ,			/* "=" */
	QP_HEX1,		/* "=X", X in st->hex */
	QP_SOFT_WS,		/* "=" WSP...: only the line end may follow */
	QP_SOFT_CR		/* "=" [WSP...] CR: LF must follow */
};

enum {
	QP_OK, QP_ERR_8BIT, QP_ERR_CTRL, QP_ERR_BARE_CR, QP_ERR_ESCAPE,
	QP_ERR_SOFT, QP_ERR_DANGLING
};

static const char *const qp_reasons[] = {
	"ok",
	"8-bit byte in quoted-printable",
	"control character in quoted-printable",
	"CR not followed by LF in quoted-printable",
	"'=' not followed by two hex digits in quoted-printable",
	"'=' followed by white space that does not end the line",
	"quoted-printable part ends inside an '=' escape",
};

static int qp_text_byte(struct htg_qp *st, unsigned char c, unsigned char **o)
{
	if (c == '=') {
		st->state = QP_EQ;
		return QP_OK;
	}
	if (c == '\r')
		st->state = QP_CR;
	else if (c >= 0x80)
		return QP_ERR_8BIT;
	else if (c < 0x20 && c != '\t' && c != '\n')
		return QP_ERR_CTRL;
	else if (c == 0x7f)
		return QP_ERR_CTRL;
	*(*o)++ = c;
	return QP_OK;
}

/* "=" then: two hex digits, or WSP* line-end (soft line break) */
static int qp_escape_byte(struct htg_qp *st, unsigned char c)
{
	int v = hex_value(c);

	if (v >= 0) {
		st->hex = (unsigned char)v;
		st->state = QP_HEX1;
	} else if (c == ' ' || c == '\t') {
		st->state = QP_SOFT_WS;
	} else if (c == '\r') {
		st->state = QP_SOFT_CR;
	} else if (c == '\n') {
		st->state = QP_TEXT;
	} else {
		return QP_ERR_ESCAPE;
	}
	return QP_OK;
}

static int qp_byte(struct htg_qp *st, unsigned char c, unsigned char **o)
{
	int v;

	switch (st->state) {
	case QP_TEXT:
		return qp_text_byte(st, c, o);
	case QP_CR:
	case QP_SOFT_CR:
		if (c != '\n')
			return QP_ERR_BARE_CR;
		if (st->state == QP_CR)
			*(*o)++ = c;
		st->state = QP_TEXT;
		return QP_OK;
	case QP_EQ:
		return qp_escape_byte(st, c);
	case QP_HEX1:
		if ((v = hex_value(c)) < 0)
			return QP_ERR_ESCAPE;
		*(*o)++ = (unsigned char)((st->hex << 4) | v);
		st->state = QP_TEXT;
		return QP_OK;
	case QP_SOFT_WS:
		if (c == '\r')
			st->state = QP_SOFT_CR;
		else if (c == '\n')
			st->state = QP_TEXT;
		else if (c != ' ' && c != '\t')
			return QP_ERR_SOFT;
		return QP_OK;
	}
	return QP_ERR_ESCAPE;		/* unreachable: corrupt state */
}

void htg_qp_init(struct htg_qp *st)
{
	memset(st, 0, sizeof(*st));
	st->state = QP_TEXT;
}

long htg_qp_decode(struct htg_qp *st, const unsigned char *in, size_t len,
		   unsigned char *out, const char **error_r)
{
	unsigned char *o = out;
	size_t i;
	int err;

	if (st->error != 0)
		return codec_fail(&st->error, 0, qp_reasons, error_r);
	for (i = 0; i < len; i++) {
		if ((err = qp_byte(st, in[i], &o)) != QP_OK)
			return codec_fail(&st->error, err, qp_reasons,
					  error_r);
	}
	return (long)(o - out);
}

/* A part must not end inside an escape: "=" or "=X" at the very end is
   a truncated escape, not a soft line break (a soft break needs its
   line end). */
int htg_qp_finish(struct htg_qp *st, const char **error_r)
{
	if (st->error != 0)
		return codec_fail(&st->error, 0, qp_reasons, error_r);
	if (st->state == QP_CR)
		return codec_fail(&st->error, QP_ERR_BARE_CR, qp_reasons,
				  error_r);
	if (st->state != QP_TEXT)
		return codec_fail(&st->error, QP_ERR_DANGLING, qp_reasons,
				  error_r);
	return 0;
}

/* ---------------------------------------------------------------- */
/* charset names                                                    */
/* ---------------------------------------------------------------- */

struct charset_alias {
	const char *name;
	enum htg_charset cs;
};

/* IANA character-sets registry: the names and aliases of our four. */
static const struct charset_alias charset_aliases[] = {
	{ "us-ascii", HTG_CHARSET_US_ASCII },
	{ "ascii", HTG_CHARSET_US_ASCII },
	{ "ansi_x3.4-1968", HTG_CHARSET_US_ASCII },
	{ "ansi_x3.4-1986", HTG_CHARSET_US_ASCII },
	{ "iso646-us", HTG_CHARSET_US_ASCII },
	{ "iso_646.irv:1991", HTG_CHARSET_US_ASCII },
	{ "iso-ir-6", HTG_CHARSET_US_ASCII },
	{ "us", HTG_CHARSET_US_ASCII },
	{ "csascii", HTG_CHARSET_US_ASCII },
	{ "utf-8", HTG_CHARSET_UTF8 },
	{ "csutf8", HTG_CHARSET_UTF8 },
	{ "iso-8859-1", HTG_CHARSET_ISO_8859_1 },
	{ "iso_8859-1", HTG_CHARSET_ISO_8859_1 },
	{ "iso_8859-1:1987", HTG_CHARSET_ISO_8859_1 },
	{ "latin1", HTG_CHARSET_ISO_8859_1 },
	{ "l1", HTG_CHARSET_ISO_8859_1 },
	{ "iso-ir-100", HTG_CHARSET_ISO_8859_1 },
	{ "csisolatin1", HTG_CHARSET_ISO_8859_1 },
	{ "iso-8859-15", HTG_CHARSET_ISO_8859_15 },
	{ "iso_8859-15", HTG_CHARSET_ISO_8859_15 },
	{ "latin-9", HTG_CHARSET_ISO_8859_15 },
	{ "latin9", HTG_CHARSET_ISO_8859_15 },
	{ "csiso885915", HTG_CHARSET_ISO_8859_15 },
	{ "ms-ansi", HTG_CHARSET_WINDOWS },
};

/* Prefixes that name a code page whatever follows (cp1252, CP-850,
   windows-1252, windows-31j, x-cp1250, csWindows1252). */
static const char *const codepage_prefixes[] = {
	"cp", "x-cp", "windows-", "cswindows",
};

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 'a' - 'A') : c;
}

/* locale-independent: charset names are ASCII */
static int ascii_casecmp(const char *a, const char *b)
{
	while (*a != '\0' && ascii_lower((unsigned char)*a) ==
	       ascii_lower((unsigned char)*b)) {
		a++;
		b++;
	}
	return ascii_lower((unsigned char)*a) - ascii_lower((unsigned char)*b);
}

/* prefix must be lower case */
static int ascii_has_prefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (ascii_lower((unsigned char)*s) != (unsigned char)*prefix)
			return 0;
	}
	return 1;
}

static int all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
	}
	return 1;
}

static int charset_is_codepage(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(codepage_prefixes) /
	     sizeof(codepage_prefixes[0]); i++) {
		if (ascii_has_prefix(name, codepage_prefixes[i]))
			return 1;
	}
	/* IBM437, IBM850, IBM819...: the same code pages as cp437 etc. */
	return ascii_has_prefix(name, "ibm") && all_digits(name + 3);
}

enum htg_charset htg_charset_lookup(const char *name)
{
	size_t i;

	if (name == NULL)
		return HTG_CHARSET_UNKNOWN;
	if (charset_is_codepage(name))
		return HTG_CHARSET_WINDOWS;
	for (i = 0; i < sizeof(charset_aliases) /
	     sizeof(charset_aliases[0]); i++) {
		if (ascii_casecmp(name, charset_aliases[i].name) == 0)
			return charset_aliases[i].cs;
	}
	return HTG_CHARSET_UNKNOWN;
}

const char *htg_charset_name(enum htg_charset cs)
{
	switch (cs) {
	case HTG_CHARSET_US_ASCII:
		return "us-ascii";
	case HTG_CHARSET_UTF8:
		return "UTF-8";
	case HTG_CHARSET_ISO_8859_1:
		return "ISO-8859-1";
	case HTG_CHARSET_ISO_8859_15:
		return "ISO-8859-15";
	case HTG_CHARSET_WINDOWS:
		return "windows-code-page";
	case HTG_CHARSET_UNKNOWN:
		break;
	}
	return "unknown";
}

/* ---------------------------------------------------------------- */
/* charset validators                                               */
/* ---------------------------------------------------------------- */

enum {
	CS_OK, CS_ERR_UNSUPPORTED, CS_ERR_NUL, CS_ERR_8BIT, CS_ERR_C1,
	CS_ERR_LEAD, CS_ERR_STRAY_CONT, CS_ERR_NEED_CONT, CS_ERR_OVERLONG,
	CS_ERR_SURROGATE, CS_ERR_RANGE, CS_ERR_TRUNCATED
};

static const char *const cs_reasons[] = {
	"ok",
	"charset not supported",
	"NUL byte in text",
	"8-bit byte in us-ascii text",
	"byte 0x80-0x9f, unassigned in ISO-8859 (a Windows code page?)",
	"invalid UTF-8 lead byte",
	"UTF-8 continuation byte without a lead byte",
	"truncated UTF-8 sequence",
	"overlong UTF-8 sequence",
	"UTF-8 encoded surrogate (U+D800-U+DFFF)",
	"UTF-8 code point above U+10FFFF",
	"truncated UTF-8 sequence at end of text",
};

static int ascii_byte(unsigned char c)
{
	if (c == 0)
		return CS_ERR_NUL;
	return c >= 0x80 ? CS_ERR_8BIT : CS_OK;
}

static int latin_byte(unsigned char c)
{
	if (c == 0)
		return CS_ERR_NUL;
	/* ISO/IEC 8859 leaves 0x80-0x9f to the C1 controls of ISO 6429,
	   which no text uses; cp1252 puts its printables there */
	return c >= 0x80 && c <= 0x9f ? CS_ERR_C1 : CS_OK;
}

/* RFC 3629 4: UTF8-2 = %xC2-DF UTF8-tail, ...; C0/C1 could only start
   an overlong 2-byte form, F5-FF only code points above U+10FFFF. */
static int utf8_lead(struct htg_charset_check *st, unsigned char c)
{
	if (c == 0)
		return CS_ERR_NUL;
	if (c < 0x80)
		return CS_OK;
	if (c < 0xc0)
		return CS_ERR_STRAY_CONT;
	if (c < 0xc2)
		return CS_ERR_OVERLONG;
	if (c < 0xe0) {
		st->need = 1;
		st->cp = c & 0x1f;
		st->min = 0x80;
	} else if (c < 0xf0) {
		st->need = 2;
		st->cp = c & 0x0f;
		st->min = 0x800;
	} else if (c < 0xf5) {
		st->need = 3;
		st->cp = c & 0x07;
		st->min = 0x10000;
	} else {
		return CS_ERR_LEAD;
	}
	return CS_OK;
}

/* The code point is checked when complete: shortest form (RFC 3629 3),
   no surrogates, nothing beyond U+10FFFF. */
static int utf8_cont(struct htg_charset_check *st, unsigned char c)
{
	if ((c & 0xc0) != 0x80)
		return CS_ERR_NEED_CONT;
	st->cp = (st->cp << 6) | (c & 0x3f);
	if (--st->need > 0)
		return CS_OK;
	if (st->cp < st->min)
		return CS_ERR_OVERLONG;
	if (st->cp >= 0xd800 && st->cp <= 0xdfff)
		return CS_ERR_SURROGATE;
	if (st->cp > 0x10ffff)
		return CS_ERR_RANGE;
	return CS_OK;
}

static int charset_byte(struct htg_charset_check *st, unsigned char c)
{
	switch (st->cs) {
	case HTG_CHARSET_US_ASCII:
		return ascii_byte(c);
	case HTG_CHARSET_ISO_8859_1:
	case HTG_CHARSET_ISO_8859_15:
		return latin_byte(c);
	case HTG_CHARSET_UTF8:
		return st->need > 0 ? utf8_cont(st, c) : utf8_lead(st, c);
	case HTG_CHARSET_UNKNOWN:
	case HTG_CHARSET_WINDOWS:
		break;
	}
	return CS_ERR_UNSUPPORTED;
}

void htg_charset_check_init(struct htg_charset_check *st, enum htg_charset cs)
{
	memset(st, 0, sizeof(*st));
	st->cs = cs;
	/* nothing can be valid in a charset we cannot check */
	if (cs != HTG_CHARSET_US_ASCII && cs != HTG_CHARSET_UTF8 &&
	    cs != HTG_CHARSET_ISO_8859_1 && cs != HTG_CHARSET_ISO_8859_15)
		st->error = CS_ERR_UNSUPPORTED;
}

int htg_charset_check(struct htg_charset_check *st, const unsigned char *in,
		      size_t len, const char **error_r)
{
	size_t i;
	int err;

	if (st->error != 0)
		return codec_fail(&st->error, 0, cs_reasons, error_r);
	for (i = 0; i < len; i++) {
		if ((err = charset_byte(st, in[i])) != CS_OK)
			return codec_fail(&st->error, err, cs_reasons,
					  error_r);
	}
	return 0;
}

int htg_charset_check_finish(struct htg_charset_check *st,
			     const char **error_r)
{
	if (st->error != 0)
		return codec_fail(&st->error, 0, cs_reasons, error_r);
	if (st->need > 0)
		return codec_fail(&st->error, CS_ERR_TRUNCATED, cs_reasons,
				  error_r);
	return 0;
}
