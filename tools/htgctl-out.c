/*++
/* NAME
/*	htgctl-out 3
/* SUMMARY
/*	htgctl's output and the names it accepts
/* DESCRIPTION
/*	Everything htgctl prints from a record goes through here: text
/*	output with control bytes escaped, JSON that is valid UTF-8
/*	whatever the record holds, error lines escaped alike (ctl_say()); and
/*	the check of account, address and flow names on input. The rules
/*	themselves are htg-name(3), shared with the other programs.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-name.h"
#include "htgctl.h"

/* A line on stderr, escaped as text output is (htg-name(3)): it may
   hold a path, a name or a Message-ID from a record. */
void ctl_say(const char *fmt, ...)
{
	char buf[4096];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	fputs("htgctl: ", stderr);
	htg_esc_text(stderr, buf);
	fputc('\n', stderr);
}

/* Names on input (htg-name(3)): an account or address is an RFC 5321
   mailbox without quoted local part or '/', a flow [a-z0-9._-]. 1 valid;
   0 with the reason in *error_r. */
int name_ok(enum name_kind kind, const char *s, const char **error_r)
{
	static char buf[256];
	static const char *const what[] = { "account", "address", "flow" };
	const char *why;

	if (kind == NAME_FLOW ? htg_name_flow(s, &why) :
	    htg_name_mailbox(s, &why))
		return 1;
	snprintf(buf, sizeof(buf), "invalid %s name: %s", what[kind], why);
	*error_r = buf;
	return 0;
}

/* The same for a command-line argument: refused with exit 1. */
void name_need(enum name_kind kind, const char *s)
{
	const char *error;

	if (name_ok(kind, s, &error))
		return;
	fputs("htgctl: \"", stderr);
	htg_esc_text(stderr, s);
	fprintf(stderr, "\": %s\n", error);
	exit(EXIT_REFUSED);
}

/* --- output --------------------------------------------------------------- */

void json_str(const char *s)
{
	htg_esc_json(stdout, s);
}

/* Text from records (a Message-ID from inbound mail, a name written
   by an older htgctl) never reaches the terminal raw: htg-name(3). */
void text_str(const char *s)
{
	htg_esc_text(stdout, s);
}

void text_field(const char *name, const char *value)
{
	if (value[0] == '\0')
		return;
	printf("\t%s=", name);
	text_str(value);
}

static int json_first = 1;

void json_open(void)
{
	json_first = 1;
	if (ctl_json)
		putchar('[');
}

void json_close(void)
{
	if (ctl_json)
		puts("]");
}

void json_sep(void)
{
	if (!json_first)
		putchar(',');
	json_first = 0;
}

void rfc3339(int64_t time_us, char *buf, size_t size)
{
	time_t t = (time_t)(time_us / 1000000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%06dZ", (int)(time_us % 1000000));
}

void json_field(const char *name, const char *value)
{
	if (value[0] == '\0')
		return;
	printf(",\"%s\":", name);
	json_str(value);
}
