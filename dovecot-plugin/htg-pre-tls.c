/*++
/* NAME
/*	htg-pre-tls 3
/* SUMMARY
/*	POP3 commands allowed before TLS (HTG-TLS)
/* SYNOPSIS
/*	#include "htg-pre-tls.h"
/* DESCRIPTION
/*	See htg-pre-tls.h. The parser mirrors pop3-login's own
/*	(client_read_cmd_name): whatever word Dovecot would see in a line
/*	is a prefix of the word we see, so a line we allow can never be
/*	an AUTH, USER or PASS to Dovecot.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include <string.h>
#include <strings.h>

#include "htg-pre-tls.h"

/* The only commands a clear-text client gets answered (004 3.3.3). */
static const char *const pre_tls_allowed[] = {
	"CAPA", "STLS", "QUIT",
};

size_t htg_pop3_cmd_name(const unsigned char *line, size_t size,
			 char *buf, size_t bufsize)
{
	size_t i, len = 0;

	if (bufsize == 0)
		return 0;
	for (i = 0; i < size; i++) {
		unsigned char c = line[i];

		if (c == '\r')
			continue;
		if (c == ' ' || c == '\n' || c == '\0')
			break;
		if (len + 1 >= bufsize) {
			/* too long for any POP3 command: report an
			   overlong word that matches nothing */
			buf[len] = '\0';
			return bufsize;
		}
		buf[len++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') :
			(char)c;
	}
	buf[len] = '\0';
	return len;
}

int htg_pop3_pre_tls_allowed(const char *cmd)
{
	size_t i;

	if (cmd == NULL)
		return 0;
	for (i = 0; i < sizeof(pre_tls_allowed) / sizeof(pre_tls_allowed[0]);
	     i++) {
		if (strcasecmp(cmd, pre_tls_allowed[i]) == 0)
			return 1;
	}
	return 0;
}
