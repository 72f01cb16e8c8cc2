#ifndef SOCKETMAP_PROTO_H
#define SOCKETMAP_PROTO_H

/*++
/* NAME
/*	socketmap-proto 3h
/* SUMMARY
/*	incremental netstring parser for the socketmap protocol
/* SYNOPSIS
/*	#include "socketmap-proto.h"
/*
/*	void	sockmap_parser_init(struct sockmap_parser *parser);
/*	enum sockmap_status sockmap_parser_feed(struct sockmap_parser *parser,
/*			const char *data, size_t len, size_t *used_r);
/*	int	sockmap_split(char *query, const char **name_r,
/*			const char **key_r);
/*	int	sockmap_format(char *buf, size_t size, const char *status,
/*			const char *text);
/* DESCRIPTION
/*	A socketmap query (socketmap_table(5)) is one netstring
/*	"<len>:<name> <key>,"; the answer is one netstring holding
/*	"OK <value>", "NOTFOUND ", "TEMP <reason>", "TIMEOUT <reason>" or
/*	"PERM <reason>". Many queries may follow on one connection.
/*
/*	sockmap_parser_feed() consumes bytes of any chunking and stops after
/*	each complete netstring: SOCKMAP_READY with the payload (NUL-ended)
/*	in parser->data / parser->data_len, SOCKMAP_MORE when all bytes were
/*	used, SOCKMAP_FATAL on a bad length, a payload over
/*	SOCKMAP_QUERY_MAX bytes or a missing ',' (the stream is out of step:
/*	answer once and close). The next feed after READY starts afresh.
/*
/*	sockmap_split() cuts a payload in place at its first space into map
/*	name and key; -1 when there is no space or no name.
/*
/*	sockmap_format() writes one reply netstring "<len>:<status> <text>,"
/*	into buf and returns its length, or -1 when it does not fit.
/*--*/

#include <stddef.h>

#define SOCKMAP_QUERY_MAX	4096
#define SOCKMAP_LEN_DIGITS	5	/* enough for SOCKMAP_QUERY_MAX */

enum sockmap_status {
	SOCKMAP_MORE,
	SOCKMAP_READY,
	SOCKMAP_FATAL
};

struct sockmap_parser {
	int state;
	size_t want;		/* announced payload length */
	size_t digits;
	char data[SOCKMAP_QUERY_MAX + 1];
	size_t data_len;
	const char *error;
};

void sockmap_parser_init(struct sockmap_parser *parser);
enum sockmap_status sockmap_parser_feed(struct sockmap_parser *parser,
					const char *data, size_t len,
					size_t *used_r);
int sockmap_split(char *query, const char **name_r, const char **key_r);
int sockmap_format(char *buf, size_t size, const char *status,
		   const char *text);

#endif
