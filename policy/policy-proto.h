#ifndef POLICY_PROTO_H
#define POLICY_PROTO_H

/*++
/* NAME
/*	policy-proto 3h
/* SUMMARY
/*	incremental parser for the Postfix policy delegation protocol
/* SYNOPSIS
/*	#include "policy-proto.h"
/*
/*	struct policy_parser *policy_parser_new(void);
/*	void	policy_parser_free(struct policy_parser **parser);
/*	enum policy_status policy_parser_feed(struct policy_parser *parser,
/*			const char *data, size_t len, size_t *used_r);
/*	const struct policy_request *policy_parser_request(
/*			const struct policy_parser *parser);
/*	const char *policy_parser_error(const struct policy_parser *parser);
/*
/*	const char *policy_request_get(const struct policy_request *req,
/*			const char *name);
/* DESCRIPTION
/*	A request is a sequence of "name=value" lines ended by an empty
/*	line (SMTPD_POLICY_README). The parser takes the bytes of a
/*	connection in chunks of any size, split anywhere, and stops after
/*	each complete request, telling the caller how many bytes it used.
/*
/*	policy_parser_feed() returns POLICY_MORE when it used all bytes and
/*	needs more, POLICY_READY when a request is complete (read it with
/*	policy_parser_request() before the next feed), POLICY_BAD when a
/*	request was malformed but the stream is still in step (answer it
/*	and go on), POLICY_FATAL when a limit was exceeded (answer and
/*	close: the stream can no longer be trusted). The next feed after
/*	READY or BAD starts a new request.
/*
/*	Limits: POLICY_LINE_MAX bytes per line, POLICY_REQUEST_MAX bytes
/*	per request, POLICY_ATTR_MAX attributes per request.
/*--*/

#include <stddef.h>

#define POLICY_LINE_MAX		4096
#define POLICY_REQUEST_MAX	65536
#define POLICY_ATTR_MAX		256

enum policy_status {
	POLICY_MORE,
	POLICY_READY,
	POLICY_BAD,
	POLICY_FATAL
};

struct policy_attr {
	const char *name;
	const char *value;
};

struct policy_request {
	struct policy_attr attrs[POLICY_ATTR_MAX];
	size_t count;
};

struct policy_parser;

struct policy_parser *policy_parser_new(void);
void policy_parser_free(struct policy_parser **parser);
enum policy_status policy_parser_feed(struct policy_parser *parser,
				      const char *data, size_t len,
				      size_t *used_r);
const struct policy_request *
policy_parser_request(const struct policy_parser *parser);
const char *policy_parser_error(const struct policy_parser *parser);

/* value of the last attribute with this name; "" when absent */
const char *policy_request_get(const struct policy_request *req,
			       const char *name);

#endif
