/*++
/* NAME
/*	htg-hdr-addr 3
/* SUMMARY
/*	header field parsers: addresses and Message-ID
/* SYNOPSIS
/*	#include "htg-hdr.h"
/* DESCRIPTION
/*	See htg-hdr.h for the contract of htg_hdr_addresses() and
/*	htg_hdr_msgid(). Both scan the value with the cursor of
/*	htg-hdr-lex.c; an address list goes through a small lexer of
/*	RFC 5322 tokens (atoms, quoted strings, domain literals,
/*	specials) with CFWS skipped between them.
/*
/*	Readings of the contract that were a choice:
/* .IP addresses
/*	Obsolete syntax (RFC 5322 4.4) is accepted where it only adds CFWS
/*	between the words of a local part or domain, but not empty list
/*	elements ("a@b, ,c@d" and a trailing "," are -1), routes
/*	("<@x:a@b>") or groups. Atoms may hold 8-bit bytes (RFC 6532). A
/*	quoted local part must not be empty (""@b.nl is -1). An address
/*	that does not fit first_r is -1, never silently truncated.
/* .IP Message-ID
/*	Strict RFC 5322 3.6.4 without the obsolete forms: dot-atom-text
/*	"@" (dot-atom-text / "[" dtext "]"), ASCII only, no CFWS inside
/*	the angle brackets. id_r gets the msg-id with its angle brackets;
/*	an id that does not fit id_r is 0.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stddef.h>
#include <string.h>

#include "htg-hdr.h"
#include "htg-hdr-private.h"

/* ---------------------------------------------------------------- */
/* addresses, RFC 5322 3.4                                          */
/* ---------------------------------------------------------------- */

enum atok {
	AT_END, AT_ERROR, AT_ATOM, AT_QUOTED, AT_LITERAL, AT_SPECIAL
};

struct tok {
	enum atok type;
	const char *start;	/* raw text, quotes/brackets included */
	size_t len;
	char special;		/* AT_SPECIAL: the character */
};

/* RFC 5322 3.4.1 domain-literal; c->p at '[' */
static int scan_literal(struct hdr_cur *c)
{
	for (c->p++; c->p < c->end; c->p++) {
		if (*c->p == ']') {
			c->p++;
			return 0;
		}
		if (*c->p == '[' || *c->p == '\\')
			return -1;
	}
	return -1;
}

/* The next lexical token after CFWS. */
static void lex(struct hdr_cur *c, struct tok *t)
{
	const char *dummy;
	size_t dummy_len;
	unsigned char ch;

	t->type = AT_ERROR;
	if (hdr_skip_cfws(c) < 0)
		return;
	t->start = c->p;
	if (c->p == c->end) {
		t->type = AT_END;
		t->len = 0;
		return;
	}
	ch = (unsigned char)*c->p;
	if (ch == '"') {
		if (hdr_scan_quoted(c, &dummy, &dummy_len) < 0)
			return;
		t->type = AT_QUOTED;
	} else if (ch == '[') {
		if (scan_literal(c) < 0)
			return;
		t->type = AT_LITERAL;
	} else if (hdr_is_atext(ch)) {
		while (c->p < c->end && hdr_is_atext((unsigned char)*c->p))
			c->p++;
		t->type = AT_ATOM;
	} else if (strchr("<>@,:;.", ch) != NULL) {
		c->p++;
		t->type = AT_SPECIAL;
		t->special = (char)ch;
	} else {
		return;			/* ')' '\' ']' or a control */
	}
	t->len = (size_t)(c->p - t->start);
}

static int tok_is(const struct tok *t, char special)
{
	return t->type == AT_SPECIAL && t->special == special;
}

/* Raw token text without the CR/LF of folds. */
static void put_token(struct hdr_sink *s, const struct tok *t)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < t->len; i++) {
		if (t->start[i] != '\r' && t->start[i] != '\n')
			hdr_sink_put(s, (unsigned char)t->start[i]);
	}
}

/* word *("." word); local part: atoms and quoted strings, domain:
   atoms only, or one domain-literal. Leaves the next token in *t. */
static int parse_dotted(struct hdr_cur *c, struct tok *t, int domain,
			struct hdr_sink *s)
{
	unsigned int words;
	int empty = 0;

	lex(c, t);
	if (domain && t->type == AT_LITERAL) {
		put_token(s, t);
		lex(c, t);
		return 0;
	}
	for (words = 0;; words++) {
		if (t->type != AT_ATOM && (domain || t->type != AT_QUOTED))
			return -1;
		empty = t->type == AT_QUOTED && t->len == 2;
		put_token(s, t);
		lex(c, t);
		if (!tok_is(t, '.'))
			break;
		put_token(s, t);
		lex(c, t);
	}
	/* a local part that is only "" is empty (htg-hdr.h) */
	return words == 0 && empty ? -1 : 0;
}

/* local-part "@" domain; leaves the token after it in *t */
static int parse_addr_spec(struct hdr_cur *c, struct tok *t,
			   struct hdr_sink *s)
{
	if (parse_dotted(c, t, 0, s) < 0 || !tok_is(t, '@'))
		return -1;
	put_token(s, t);
	return parse_dotted(c, t, 1, s);
}

/* RFC 5322 3.4 mailbox = name-addr / addr-spec; the display name is
   obs-phrase: word *(word / "."). Leaves the next token in *t. */
static int parse_mailbox(struct hdr_cur *c, struct tok *t,
			 struct hdr_sink *s)
{
	struct hdr_cur start = *c;
	int words = 0;

	for (;;) {
		lex(c, t);
		if (tok_is(t, '<'))
			break;
		if (t->type == AT_ATOM || t->type == AT_QUOTED ||
		    (tok_is(t, '.') && words > 0)) {
			words++;
			continue;
		}
		*c = start;		/* no '<': an addr-spec */
		return parse_addr_spec(c, t, s);
	}
	if (parse_addr_spec(c, t, s) < 0 || !tok_is(t, '>'))
		return -1;
	lex(c, t);
	return 0;
}

int htg_hdr_addresses(const char *value, char *first_r, size_t size)
{
	struct hdr_cur c, look;
	struct tok t;
	struct hdr_sink s;
	int count = 0;

	hdr_cur_init(&c, value);
	if (first_r != NULL && size > 0)
		first_r[0] = '\0';
	look = c;
	lex(&look, &t);
	if (t.type == AT_END)
		return 0;
	hdr_sink_init(&s, first_r, size, 0);
	for (;;) {
		if (parse_mailbox(&c, &t, count == 0 && first_r != NULL &&
				  size > 0 ? &s : NULL) < 0)
			return -1;
		if (count == 0 && first_r != NULL && size > 0) {
			if (hdr_sink_truncated(&s)) {
				first_r[0] = '\0';
				return -1;
			}
			(void)hdr_sink_finish(&s);
		}
		count++;
		if (t.type == AT_END)
			return count;
		if (!tok_is(&t, ','))
			return -1;
	}
}

/* ---------------------------------------------------------------- */
/* Message-ID, RFC 5322 3.6.4                                       */
/* ---------------------------------------------------------------- */

/* dot-atom-text = 1*atext *("." 1*atext), ASCII only */
static int scan_dot_atom_text(struct hdr_cur *c)
{
	for (;;) {
		const char *start = c->p;

		while (c->p < c->end && (unsigned char)*c->p < 0x80 &&
		       hdr_is_atext((unsigned char)*c->p))
			c->p++;
		if (c->p == start)
			return -1;
		if (!hdr_cur_at(c, '.'))
			return 0;
		c->p++;
	}
}

/* no-fold-literal = "[" *dtext "]" */
static int scan_no_fold_literal(struct hdr_cur *c)
{
	for (c->p++; c->p < c->end && hdr_is_dtext((unsigned char)*c->p);
	     c->p++)
		;
	if (!hdr_cur_at(c, ']'))
		return -1;
	c->p++;
	return 0;
}

int htg_hdr_msgid(const char *value, char *id_r, size_t size)
{
	struct hdr_cur c;
	const char *start;
	size_t n;

	if (id_r != NULL && size > 0)
		id_r[0] = '\0';
	hdr_cur_init(&c, value);
	if (hdr_skip_cfws(&c) < 0 || !hdr_cur_at(&c, '<'))
		return 0;
	start = c.p++;
	if (scan_dot_atom_text(&c) < 0 || !hdr_cur_at(&c, '@'))
		return 0;
	c.p++;
	if (hdr_cur_at(&c, '[') ? scan_no_fold_literal(&c) < 0 :
	    scan_dot_atom_text(&c) < 0)
		return 0;
	if (!hdr_cur_at(&c, '>'))
		return 0;
	n = (size_t)(++c.p - start);
	if (hdr_skip_cfws(&c) < 0 || c.p != c.end)
		return 0;
	if (id_r == NULL || n >= size)
		return 0;
	memcpy(id_r, start, n);
	id_r[n] = '\0';
	return 1;
}
