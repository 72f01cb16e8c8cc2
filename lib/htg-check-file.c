/*++
/* NAME
/*	htg-check-file 3
/* SUMMARY
/*	run the message rules over a whole message in memory
/* SYNOPSIS
/*	#include "htg-check.h"
/*
/*	int	htg_check_message(struct htg_check *chk, const void *data,
/*			size_t len, size_t chunk);
/* DESCRIPTION
/*	Feeds a raw RFC 5322 message to a checker the way Postfix feeds a
/*	milter: one call per top-level header field (name, and the value
/*	with its leading white space removed, folds kept as LF + WSP), the
/*	end of the header, then the body in chunks of at most chunk bytes
/*	(0: all at once). For the unit tests, the corpus, the fuzzer and the
/*	benchmarks: the milter itself never holds a whole message.
/*
/*	Returns 0 when the message passed, -1 when the checker stopped
/*	(htg_check_verdict() says why).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdlib.h>
#include <string.h>

#include "htg-check.h"

int htg_check_message(struct htg_check *c, const void *data, size_t len,
		      size_t chunk)
{
	const char *p = data, *end = p + len;
	char *name = NULL, *value = NULL;
	int ret = 0;

	/* header fields until the empty line */
	while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
		const char *start = p, *colon, *v;
		size_t n = 0;

		do {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		colon = memchr(start, ':', (size_t)(p - start));
		if (colon == NULL)
			break;	/* not a header field: the body starts */
		name = strndup(start, (size_t)(colon - start));
		value = malloc((size_t)(p - colon));
		if (name == NULL || value == NULL) {
			ret = -1;
			goto out;
		}
		for (v = colon + 1; v < p && (*v == ' ' || *v == '\t'); v++)
			;
		for (; v < p; v++)
			if (*v != '\r')
				value[n++] = *v;
		while (n > 0 && value[n - 1] == '\n')
			n--;
		value[n] = '\0';
		ret = htg_check_header(c, name, value);
		free(name);
		free(value);
		name = value = NULL;
		if (ret < 0)
			goto out;
	}
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	if ((ret = htg_check_eoh(c)) < 0)
		goto out;
	if (chunk == 0)
		chunk = (size_t)(end - p) + 1;
	while (p < end) {
		size_t n = (size_t)(end - p) < chunk ? (size_t)(end - p) : chunk;

		if ((ret = htg_check_body(c, p, n)) < 0)
			goto out;
		p += n;
	}
	ret = htg_check_eom(c);
out:
	free(name);
	free(value);
	return ret;
}
