#ifndef HTG_LIMITS_H
#define HTG_LIMITS_H

/*++
/* NAME
/*	htg-limits 3h
/* SUMMARY
/*	file descriptor limit and rate-limited warnings of the daemons
/* SYNOPSIS
/*	#include "htg-limits.h"
/*
/*	long long htg_now(void);
/*
/*	long	htg_nofile_plan(long want, long soft, long hard);
/*	long	htg_nofile_raise(long want, long *old_soft_r, long *hard_r);
/*
/*	struct htg_warn_limit w = HTG_WARN_LIMIT_INIT(seconds);
/*	void	htg_warn_limited(struct htg_warn_limit *w,
/*			const char *fmt, ...);
/*	void	htg_warn_limit_flush(struct htg_warn_limit *w);
/*	int	htg_warn_limit_step(struct htg_warn_limit *w, long long now,
/*			unsigned long *suppressed_r);
/* DESCRIPTION
/*	htg_now() is the monotonic clock in seconds: deadlines must not
/*	jump with the wall clock.
/*
/*	htg_nofile_plan() is the soft RLIMIT_NOFILE to ask for when want
/*	descriptors are needed: raised towards want, never above the hard
/*	limit, never lowered. htg_nofile_raise() applies it to the process
/*	(no privilege needed: the hard limit stays) and returns the soft
/*	limit now in force; a daemon that gets less than it wants must say
/*	so in its log (the callers do).
/*
/*	A rate-limited warning is logged at most once per interval; the
/*	events in between are counted, and the next line logged says how
/*	many were left out. htg_warn_limit_flush(), called from a periodic
/*	sweep, logs the count of events left out once the interval is over
/*	and no new event came. Each limiter has a mutex: threads may share
/*	one (the milter's callbacks do). htg_warn_limit_step() is the
/*	decision alone, for the unit tests: 1 when a line may be logged at
/*	now (with the count left out before it), 0 when it is counted.
/*--*/

#include <pthread.h>

long long htg_now(void);

long htg_nofile_plan(long want, long soft, long hard);
long htg_nofile_raise(long want, long *old_soft_r, long *hard_r);

struct htg_warn_limit {
	pthread_mutex_t lock;
	int interval;			/* seconds between two lines */
	long long last;			/* htg_now() of the last line; -1 never */
	unsigned long suppressed;	/* events since, not logged */
	char text[256];			/* the last event left out */
};

#define HTG_WARN_LIMIT_INIT(seconds) \
	{ PTHREAD_MUTEX_INITIALIZER, (seconds), -1, 0, "" }

void htg_warn_limited(struct htg_warn_limit *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void htg_warn_limit_flush(struct htg_warn_limit *w);
int htg_warn_limit_step(struct htg_warn_limit *w, long long now,
			unsigned long *suppressed_r);

#endif
