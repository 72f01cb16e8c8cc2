/*++
/* NAME
/*	socketmap-proto 3
/* SUMMARY
/*	incremental netstring parser for the socketmap protocol
/* SYNOPSIS
/*	#include "socketmap-proto.h"
/* DESCRIPTION
/*	See socketmap-proto.h. Netstrings as D. J. Bernstein defined them:
/*	decimal length, ':', that many bytes, ','. The length is at most
/*	SOCKMAP_LEN_DIGITS digits and the payload at most SOCKMAP_QUERY_MAX
/*	bytes: a Postfix lookup key is an address or a domain, far shorter.
/*	A payload holding a NUL byte is passed on; sockmap_split() callers
/*	see the key cut there, and map lookups refuse such keys anyway.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "socketmap-proto.h"

enum {
	ST_LEN,			/* reading length digits */
	ST_DATA,		/* reading payload */
	ST_COMMA,		/* expecting ',' */
	ST_DONE			/* returned READY or FATAL */
};

void sockmap_parser_init(struct sockmap_parser *p)
{
	p->state = ST_LEN;
	p->want = 0;
	p->digits = 0;
	p->data_len = 0;
	p->data[0] = '\0';
	p->error = NULL;
}

static enum sockmap_status parser_fail(struct sockmap_parser *p,
				       const char *why, size_t used,
				       size_t *used_r)
{
	p->error = why;
	p->state = ST_DONE;
	*used_r = used;
	return SOCKMAP_FATAL;
}

enum sockmap_status sockmap_parser_feed(struct sockmap_parser *p,
					const char *data, size_t len,
					size_t *used_r)
{
	size_t i = 0;

	if (p->state == ST_DONE)
		sockmap_parser_init(p);
	while (i < len) {
		char c = data[i];

		switch (p->state) {
		case ST_LEN:
			if (c >= '0' && c <= '9') {
				if (++p->digits > SOCKMAP_LEN_DIGITS)
					return parser_fail(p, "netstring length too long",
							   i + 1, used_r);
				p->want = p->want * 10 + (size_t)(c - '0');
				i++;
				break;
			}
			if (c != ':' || p->digits == 0)
				return parser_fail(p, "malformed netstring length",
						   i + 1, used_r);
			if (p->want > SOCKMAP_QUERY_MAX)
				return parser_fail(p, "query too long", i + 1,
						   used_r);
			p->state = p->want > 0 ? ST_DATA : ST_COMMA;
			i++;
			break;
		case ST_DATA: {
			size_t n = p->want - p->data_len;

			if (n > len - i)
				n = len - i;
			memcpy(p->data + p->data_len, data + i, n);
			p->data_len += n;
			i += n;
			if (p->data_len == p->want)
				p->state = ST_COMMA;
			break;
		}
		case ST_COMMA:
			if (c != ',')
				return parser_fail(p, "netstring without ','",
						   i + 1, used_r);
			p->data[p->data_len] = '\0';
			p->state = ST_DONE;
			*used_r = i + 1;
			return SOCKMAP_READY;
		default:
			return parser_fail(p, "parser state", i, used_r);
		}
	}
	*used_r = len;
	return SOCKMAP_MORE;
}

int sockmap_split(char *query, const char **name_r, const char **key_r)
{
	char *sp = strchr(query, ' ');

	if (sp == NULL || sp == query)
		return -1;
	*sp = '\0';
	*name_r = query;
	*key_r = sp + 1;
	return 0;
}

int sockmap_format(char *buf, size_t size, const char *status,
		   const char *text)
{
	size_t plen = strlen(status) + 1 + strlen(text);
	int n;

	n = snprintf(buf, size, "%zu:%s %s,", plen, status, text);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
