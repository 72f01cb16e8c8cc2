#ifndef HTG_HDR_H
#define HTG_HDR_H

/*++
/* NAME
/*	htg-hdr 3h
/* SUMMARY
/*	header field parsers: MIME parameters, addresses, Message-ID
/* SYNOPSIS
/*	#include "htg-hdr.h"
/* DESCRIPTION
/*	Pure functions over one unfolded header field value (the part after
/*	"Name:"; CRLF/LF + WSP folds may still be present and count as
/*	white space). Nothing is allocated; all output is bounded by the
/*	caller's buffers. Client data is hostile: every loop is bounded by
/*	the input length, every copy by the output size.
/*
/*	htg_hdr_params() parses a Content-Type or Content-Disposition value
/*	(RFC 2045 5.1 token/quoted-string syntax, RFC 822 comments
/*	skipped) into its main value, lower-cased ("text/plain",
/*	"attachment"), and its parameters, names lower-cased. RFC 2231:
/*	"name*=charset'lang'%XX" is %-decoded (charset and language
/*	dropped), continuations "name*0", "name*1*", ... are joined in
/*	section order into one parameter "name". RFC 2047 encoded words
/*	inside a quoted value ("=?utf-8?B?...?=", "=?iso-8859-1?Q?...?=")
/*	are decoded to their raw bytes (no charset conversion). A value
/*	longer than the buffer keeps its LAST bytes (the extension of a
/*	file name is at the end) and sets truncated. Returns 0, or -1 on
/*	a syntax error (missing main value, unbalanced quote or comment,
/*	parameter without '=', duplicate parameter, too many parameters).
/*
/*	htg_filename_ext() gives the extension HTG-FILENAME keeps (DESIGN
/*	2): the part after the last '.', when it is 1-10 characters of
/*	[A-Za-z0-9]; else, and for a missing or empty name, "txt".
/*
/*	htg_hdr_addresses() counts the mailboxes of an RFC 5322
/*	address-list (From, To) and copies the addr-spec of the first into
/*	first_r (without angle brackets, comments or display name).
/*	Returns the count (0 for an empty list), or -1 when the value is
/*	not an address list we accept: group syntax, unbalanced quotes,
/*	comments or angle brackets, an addr-spec without exactly one '@'
/*	or with an empty local part or domain.
/*
/*	htg_hdr_msgid() checks one RFC 5322 msg-id ("<" id-left "@"
/*	id-right ">", CFWS around it allowed) and writes it without CFWS
/*	into id_r. Returns 1 valid, 0 malformed (including more than one).
/*--*/

#include <stddef.h>

#define HTG_PARAM_NAME_MAX 64
#define HTG_PARAM_VALUE_MAX 1024
#define HTG_PARAMS_MAX 32

struct htg_param {
	char name[HTG_PARAM_NAME_MAX];
	char value[HTG_PARAM_VALUE_MAX];
	size_t value_len;	/* decoded bytes may include NUL-free 8-bit */
	int truncated;
};

struct htg_params {
	char main[128];		/* "text/plain", "attachment" */
	struct htg_param param[HTG_PARAMS_MAX];
	size_t count;
};

int htg_hdr_params(const char *value, struct htg_params *out,
		   const char **error_r);
/* the value of a parameter, or NULL */
const struct htg_param *htg_hdr_param_get(const struct htg_params *p,
					  const char *name);

/* ext_r gets at least 11 bytes */
void htg_filename_ext(const char *name, size_t len, char *ext_r,
		      size_t size);

int htg_hdr_addresses(const char *value, char *first_r, size_t size);

int htg_hdr_msgid(const char *value, char *id_r, size_t size);

/* Decode RFC 2047 encoded words in text into raw bytes; text between
   words is copied, white space between two adjacent encoded words is
   dropped (RFC 2047 6.2). Returns the output length; out is NUL
   terminated and truncated to size - 1. A malformed word is copied
   as is. */
size_t htg_rfc2047_decode(const char *in, size_t len, char *out,
			  size_t size);

#endif
