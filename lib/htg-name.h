#ifndef HTG_NAME_H
#define HTG_NAME_H

/*++
/* NAME
/*	htg-name 3h
/* SUMMARY
/*	what an account, address or flow name may look like; safe output
/* SYNOPSIS
/*	#include "htg-name.h"
/* DESCRIPTION
/*	htg_name_mailbox() accepts an RFC 5321 Mailbox whose local part is
/*	a dot-atom and whose domain is a fully qualified name of LDH
/*	labels, with two exclusions that keep a name safe where it becomes
/*	part of a file name (an account is its mail home, mail_home =
/*	<mail root>/%u): no quoted local part (it may hold '/', spaces
/*	and control characters) and no '/' in the local part (RFC 5322
/*	atext allows it). No address literal either. At most 64 octets of
/*	local part, 253 of domain, 254 in all (RFC 5321 4.5.3.1).
/*
/*	htg_name_flow() accepts a flow (berichtsoort, 004 tbl 3/4: the
/*	local part of <berichtsoort>@htpoort.nl): 1-64 characters of
/*	[a-z0-9._-] (upper case too; names are compared in lower case),
/*	beginning and ending with a letter or digit, no "..".
/*
/*	Both return 1 when valid, else 0 with a reason in *why_r (a
/*	static string).
/*
/*	htg_esc_text() writes s to f for a terminal: printable ASCII and
/*	valid UTF-8 as they are; control bytes (C0, DEL), C1 controls
/*	(U+0080..U+009F), bytes that are not valid UTF-8 and the
/*	backslash as \xNN (the backslash as \x5c), so text from mail
/*	(a Message-ID) cannot move the cursor or retitle the window, and
/*	a tab is never mistaken for the field separator.
/*
/*	htg_esc_json() writes s to f as a JSON string (with the quotes)
/*	that is valid UTF-8 whatever s holds: valid UTF-8 as it is,
/*	controls (C0, DEL, C1) as \u00XX, each byte that is not part of
/*	valid UTF-8 (stray continuation, overlong form, surrogate, above
/*	U+10FFFF, truncated sequence) as \ufffd (U+FFFD, the replacement
/*	character), one per byte.
/*
/*	htg_utf8_len() is the length of the valid UTF-8 sequence at s
/*	(1-4), or 0 when the bytes there are not one.
/*--*/

#include <stdio.h>

int htg_name_mailbox(const char *s, const char **why_r);
int htg_name_flow(const char *s, const char **why_r);

void htg_esc_text(FILE *f, const char *s);
void htg_esc_json(FILE *f, const char *s);
int htg_utf8_len(const unsigned char *s);

#endif
