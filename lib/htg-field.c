/*++
/* NAME
/*	htg-field 3
/* SUMMARY
/*	one field of a tab-separated line, escaped reversibly
/* DESCRIPTION
/*	See htg-field(3h). The escapes are C's, so that a line reads as
/*	what it holds; only those that a writer here produces are read.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>

#include "htg-field.h"

static int is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

void htg_field_write(FILE *f, const char *s)
{
	static const char digits[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		switch (*p) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (is_control(*p)) {
				fputs("\\x", f);
				fputc(digits[*p >> 4], f);
				fputc(digits[*p & 15], f);
			} else {
				fputc(*p, f);
			}
		}
	}
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int htg_field_unescape(char *s)
{
	char *out = s;

	for (const char *p = s; *p != '\0'; p++) {
		int hi, lo;

		if (is_control((unsigned char)*p))
			return 0;
		if (*p != '\\') {
			*out++ = *p;
			continue;
		}
		switch (*++p) {
		case '\\': *out++ = '\\'; break;
		case 't': *out++ = '\t'; break;
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 'x':
			if ((hi = hex(p[1])) < 0 || (lo = hex(p[2])) < 0 ||
			    (hi == 0 && lo == 0))
				return 0;
			*out++ = (char)(hi << 4 | lo);
			p += 2;
			break;
		default:	/* another letter, or the end of s */
			return 0;
		}
	}
	*out = '\0';
	return 1;
}
