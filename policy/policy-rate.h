#ifndef POLICY_RATE_H
#define POLICY_RATE_H

/*++
/* NAME
/*	policy-rate 3h
/* SUMMARY
/*	optional per-account message rate limit (token buckets)
/* SYNOPSIS
/*	#include "policy-rate.h"
/*
/*	struct policy_rate *policy_rate_new(unsigned limit, unsigned window,
/*			size_t slots);
/*	void	policy_rate_free(struct policy_rate **rate);
/*	int	policy_rate_take(struct policy_rate *rate, const char *account,
/*			double now);
/* DESCRIPTION
/*	004 1.3 describes low-frequency use (about one interaction per
/*	connection per minute) but says no limit is imposed for now: so this
/*	limiter exists, and is off unless configured (rate_limit = 0).
/*
/*	Each account has a bucket of limit tokens that refills at limit per
/*	window seconds; policy_rate_take() takes one token for one message
/*	and returns 1, or returns 0 when the bucket is empty. now is a
/*	monotonic time in seconds (a parameter, so tests control the clock).
/*
/*	Memory is fixed: a table of slots entries (rounded up to a power of
/*	two). When the few slots an account hashes to are all taken by other
/*	accounts, the one idle for longest is forgotten (it starts again with
/*	a full bucket): a bound on memory, never a refusal.
/*--*/

#include <stddef.h>

struct policy_rate;

struct policy_rate *policy_rate_new(unsigned limit, unsigned window,
				    size_t slots);
void policy_rate_free(struct policy_rate **rate);
int policy_rate_take(struct policy_rate *rate, const char *account,
		     double now);

#endif
