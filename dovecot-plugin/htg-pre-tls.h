#ifndef HTG_PRE_TLS_H
#define HTG_PRE_TLS_H

/*++
/* NAME
/*	htg-pre-tls 3h
/* SUMMARY
/*	POP3 commands allowed before TLS (HTG-TLS)
/* SYNOPSIS
/*	#include "htg-pre-tls.h"
/*
/*	size_t	htg_pop3_cmd_name(const unsigned char *line, size_t size,
/*				  char *buf, size_t bufsize);
/*
/*	int	htg_pop3_pre_tls_allowed(const char *cmd);
/* DESCRIPTION
/*	Pure functions, no Dovecot types, so they are unit tested on their
/*	own (test-htg-pre-tls.c) and used by the pop3-login plugin.
/*
/*	htg_pop3_cmd_name() extracts the command word of one complete
/*	command line (size bytes, without the terminating LF) the way
/*	pop3-login does: bytes up to the first space, LF or NUL, CR bytes
/*	skipped, upper-cased. It writes the word into buf and returns its
/*	length; a word that does not fit is returned truncated with the
/*	length bufsize (so it never matches an allowed command).
/*
/*	htg_pop3_pre_tls_allowed() returns 1 when cmd (case-insensitive) is
/*	one of the three commands a client may send on a clear-text POP3
/*	connection: CAPA, STLS, QUIT (Logius 004 3.3.3: TLS before
/*	anything else; RFC 2595 section 4 for STLS). Every other command,
/*	including USER, PASS, AUTH, APOP, NOOP and unknown words, returns 0.
/*--*/

#include <stddef.h>

#define HTG_POP3_CMD_MAX 16	/* longer than any real POP3 command */

size_t htg_pop3_cmd_name(const unsigned char *line, size_t size,
			 char *buf, size_t bufsize);
int htg_pop3_pre_tls_allowed(const char *cmd);

#endif
