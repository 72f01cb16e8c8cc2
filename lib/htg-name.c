/*++
/* NAME
/*	htg-name 3
/* SUMMARY
/*	name validation and output escaping
/* DESCRIPTION
/*	See htg-name.h. One home for what htgctl accepts as an account,
/*	address or flow, so that the directory never holds a name that
/*	would walk out of the mail root when Dovecot makes it a mail home
/*	(mail_home = <mail root>/%u), and for how text that came from
/*	mail is shown to an admin.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <string.h>

#include "htg-name.h"

#define LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define DOMAIN_MAX	253	/* RFC 1035, without the root dot */
#define MAILBOX_MAX	254	/* RFC 5321 4.5.3.1.3 path minus <> */
#define LABEL_MAX	63

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 3.2.3 atext, without '/' (a path separator in a mail home) */
static int is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-=?^_`{|}~", c)
			       != NULL);
}

/* Domain: LDH labels (RFC 1035 2.3.1, RFC 1123 2.1: may start with a
   digit), at least two of them (HTG-ADDR: fully qualified). */
static int domain_valid(const char *d, const char **why_r)
{
	size_t len = strlen(d), label = 0, labels = 0;

	if (len == 0 || len > DOMAIN_MAX) {
		*why_r = "the domain is empty or longer than 253 characters";
		return 0;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > LABEL_MAX ||
			    d[i - 1] == '-' || d[i - label] == '-') {
				*why_r = "a domain label is empty, longer than "
				    "63 characters, or begins or ends with '-'";
				return 0;
			}
			labels++;
			label = 0;
		} else if (is_alnum(c) || c == '-') {
			label++;
		} else {
			*why_r = "the domain may hold only letters, digits, "
			    "'-' and '.'";
			return 0;
		}
	}
	if (labels < 2) {
		*why_r = "the domain is not fully qualified";
		return 0;
	}
	return 1;
}

int htg_name_mailbox(const char *s, const char **why_r)
{
	const char *at = strrchr(s, '@');
	size_t local;

	if (at == NULL) {
		*why_r = "not an address: no '@domain'";
		return 0;
	}
	if (strlen(s) > MAILBOX_MAX) {
		*why_r = "longer than 254 characters";
		return 0;
	}
	local = (size_t)(at - s);
	if (local == 0 || local > LOCAL_MAX) {
		*why_r = "the local part is empty or longer than 64 characters";
		return 0;
	}
	if (s[0] == '"') {
		*why_r = "a quoted local part is not accepted (it may hold "
		    "'/', spaces and controls, unsafe in a mail home path)";
		return 0;
	}
	/* dot-atom: atext runs separated by single dots */
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (i == 0 || i + 1 == local || s[i + 1] == '.') {
				*why_r = "the local part begins or ends with "
				    "'.' or holds \"..\"";
				return 0;
			}
		} else if (!is_atext(c)) {
			*why_r = "the local part holds a character outside "
			    "RFC 5322 atext (or '/')";
			return 0;
		}
	}
	if (at[1] == '[') {
		*why_r = "an address literal is not accepted";
		return 0;
	}
	return domain_valid(at + 1, why_r);
}

int htg_name_flow(const char *s, const char **why_r)
{
	size_t len = strlen(s);

	if (len == 0 || len > LOCAL_MAX) {
		*why_r = "a flow name has 1 to 64 characters";
		return 0;
	}
	if (!is_alnum((unsigned char)s[0]) ||
	    !is_alnum((unsigned char)s[len - 1])) {
		*why_r = "a flow name begins and ends with a letter or digit";
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
			*why_r = "a flow name holds only letters, digits, "
			    "'.', '_' and '-'";
			return 0;
		}
		if (c == '.' && s[i + 1] == '.') {
			*why_r = "a flow name holds no \"..\"";
			return 0;
		}
	}
	return 1;
}

/* --- output ----------------------------------------------------------- */

int htg_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned int cp;
	int n;

	if (c < 0x80)
		return c == 0 ? 0 : 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;	/* continuation byte, 0xc0/0xc1, 0xf5.. */
	}
	/* a NUL ends the string: it is never a continuation byte */
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;	/* overlong, beyond Unicode, surrogate */
	return n;
}

/* a C1 control, U+0080..U+009F, is 0xc2 0x80..0x9f in UTF-8 */
static int is_c1(const unsigned char *p, int n)
{
	return n == 2 && p[0] == 0xc2 && p[1] <= 0x9f;
}

void htg_esc_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		int n = htg_utf8_len(p);

		if (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\') {
			putc(*p, f);
		} else if (n > 1 && !is_c1(p, n)) {
			fwrite(p, 1, (size_t)n, f);
		} else {
			/* a control, a C1 control, a bad byte, '\' */
			if (n == 0)
				n = 1;
			for (int i = 0; i < n; i++)
				fprintf(f, "\\x%02x", p[i]);
		}
		p += n;
	}
}

void htg_esc_json(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', f);
	while (*p != '\0') {
		int n = htg_utf8_len(p);

		if (n == 0) {
			fputs("\\ufffd", f);	/* one per bad byte */
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			putc('\\', f);
			putc(*p, f);
		} else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
			fprintf(f, "\\u%04x", *p);
		} else if (is_c1(p, n)) {
			fprintf(f, "\\u%04x", p[1]);
		} else {
			fwrite(p, 1, (size_t)n, f);
		}
		p += n;
	}
	putc('"', f);
}
