#ifndef POLICY_LIMITS_H
#define POLICY_LIMITS_H

/*++
/* NAME
/*	policy-limits 3h
/* SUMMARY
/*	how long a policy or socketmap connection may hold its slot
/* SYNOPSIS
/*	#include "policy-limits.h"
/*
/*	enum policy_conn_verdict policy_conn_check(
/*			const struct policy_limits *limits,
/*			const struct policy_conn_clock *clock, long long now);
/*	const char *policy_conn_verdict_name(enum policy_conn_verdict v);
/* DESCRIPTION
/*	A connection is busy from the first byte of a request until its
/*	answer has left (the client read it), idle otherwise. Postfix
/*	writes a request at once and waits for the answer, so a busy
/*	connection that stays busy longer than request_timeout is a client
/*	that sends a byte now and then (slowloris) or never reads: it is
/*	closed, whatever it sent meanwhile. busy_since restarts only when
/*	an answer has been sent, never on a byte received.
/*
/*	An idle connection is closed after idle_timeout, and, when max_ttl
/*	is not 0, an idle connection older than max_ttl: so no client holds
/*	a slot forever, however often it asks. A busy connection is never
/*	closed for its age (the answer it waits for comes first).
/*
/*	Times are htg_now() seconds; busy_since < 0 means idle. A limit is
/*	over when more than its whole seconds have passed: at least the
/*	limit, at most a second more (and the server sweeps once a second).
/*--*/

struct policy_limits {
	int request_timeout;		/* seconds from a request's first byte */
	int idle_timeout;		/* seconds between requests */
	int max_ttl;			/* seconds a connection lives; 0 = no limit */
};

struct policy_conn_clock {
	long long opened;		/* accepted */
	long long busy_since;		/* first byte of the unanswered work, or -1 */
	long long idle_since;		/* last answer sent (or accept) */
};

enum policy_conn_verdict {
	POLICY_CONN_KEEP,
	POLICY_CONN_REQUEST_TIMEOUT,
	POLICY_CONN_IDLE_TIMEOUT,
	POLICY_CONN_MAX_TTL
};

enum policy_conn_verdict policy_conn_check(const struct policy_limits *limits,
					   const struct policy_conn_clock *clock,
					   long long now);
const char *policy_conn_verdict_name(enum policy_conn_verdict v);

#endif
