/*++
/* NAME
/*	policy-proto 3
/* SUMMARY
/*	incremental parser for the Postfix policy delegation protocol
/* SYNOPSIS
/*	#include "policy-proto.h"
/* DESCRIPTION
/*	See policy-proto.h. The parser copies the bytes of one request into
/*	its own bounded buffer and splits each line in place at '=' and at
/*	the newline, so the attributes it hands out point into that buffer
/*	and stay valid until the next policy_parser_feed().
/*
/*	What Postfix sends (SMTPD_POLICY_README): lines "name=value", names
/*	of letters, digits, '_' and '-', values without newline, an empty
/*	line ends the request. A trailing CR is tolerated (hand-made test
/*	clients). A line without '=', an empty or odd name, a NUL byte or
/*	an empty request is malformed (POLICY_BAD, after its empty line);
/*	a line, request or attribute count over the limits is fatal.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdlib.h>
#include <string.h>

#include "policy-proto.h"

struct policy_parser {
	char buf[POLICY_REQUEST_MAX + 1];
	size_t len;		/* bytes of the current request in buf */
	size_t line_start;	/* offset of the current line in buf */
	int done;		/* last feed returned READY or BAD */
	const char *bad;	/* first problem of this request, or NULL */
	const char *error;	/* what the last BAD/FATAL was about */
	struct policy_request req;
};

struct policy_parser *policy_parser_new(void)
{
	struct policy_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		abort();
	return p;
}

void policy_parser_free(struct policy_parser **_p)
{
	free(*_p);
	*_p = NULL;
}

static void parser_reset(struct policy_parser *p)
{
	p->len = 0;
	p->line_start = 0;
	p->done = 0;
	p->bad = NULL;
	p->req.count = 0;
}

static int name_ok(const char *name)
{
	if (*name == '\0')
		return 0;
	for (; *name != '\0'; name++) {
		char c = *name;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* One complete "name=value" line at buf[line_start..len-1] (NUL-ended). */
static void parser_line(struct policy_parser *p, size_t line_len)
{
	char *line = p->buf + p->line_start;
	char *eq;

	if (p->bad != NULL)
		return;
	if (memchr(line, '\0', line_len) != NULL) {
		p->bad = "NUL byte in attribute";
		return;
	}
	if ((eq = strchr(line, '=')) == NULL) {
		p->bad = "attribute without '='";
		return;
	}
	*eq = '\0';
	if (!name_ok(line)) {
		p->bad = "malformed attribute name";
		return;
	}
	p->req.attrs[p->req.count].name = line;
	p->req.attrs[p->req.count].value = eq + 1;
	p->req.count++;
}

enum policy_status policy_parser_feed(struct policy_parser *p,
				      const char *data, size_t len,
				      size_t *used_r)
{
	size_t i;

	if (p->done)
		parser_reset(p);
	for (i = 0; i < len; i++) {
		char c = data[i];
		size_t line_len;

		if (c != '\n') {
			if (p->len - p->line_start >= POLICY_LINE_MAX) {
				p->error = "attribute line too long";
				*used_r = i + 1;
				p->done = 1;
				return POLICY_FATAL;
			}
			if (p->len >= POLICY_REQUEST_MAX) {
				p->error = "request too long";
				*used_r = i + 1;
				p->done = 1;
				return POLICY_FATAL;
			}
			p->buf[p->len++] = c;
			continue;
		}
		line_len = p->len - p->line_start;
		if (line_len > 0 && p->buf[p->len - 1] == '\r') {
			p->len--;
			line_len--;
		}
		p->buf[p->len] = '\0';
		if (line_len == 0) {
			/* end of request */
			*used_r = i + 1;
			p->done = 1;
			if (p->bad == NULL && p->req.count == 0)
				p->bad = "empty request";
			if (p->bad != NULL) {
				p->error = p->bad;
				return POLICY_BAD;
			}
			return POLICY_READY;
		}
		if (p->req.count >= POLICY_ATTR_MAX) {
			p->error = "too many attributes";
			*used_r = i + 1;
			p->done = 1;
			return POLICY_FATAL;
		}
		parser_line(p, line_len);
		/* keep the terminating NUL inside the request budget */
		if (p->len >= POLICY_REQUEST_MAX) {
			p->error = "request too long";
			*used_r = i + 1;
			p->done = 1;
			return POLICY_FATAL;
		}
		p->len++;
		p->line_start = p->len;
	}
	*used_r = len;
	return POLICY_MORE;
}

const struct policy_request *
policy_parser_request(const struct policy_parser *p)
{
	return &p->req;
}

const char *policy_parser_error(const struct policy_parser *p)
{
	return p->error != NULL ? p->error : "no error";
}

const char *policy_request_get(const struct policy_request *req,
			       const char *name)
{
	const char *value = "";

	for (size_t i = 0; i < req->count; i++)
		if (strcmp(req->attrs[i].name, name) == 0)
			value = req->attrs[i].value;
	return value;
}
