/*++
/* NAME
/*	htg-limits 3
/* SUMMARY
/*	file descriptor limit and rate-limited warnings of the daemons
/* SYNOPSIS
/*	#include "htg-limits.h"
/* DESCRIPTION
/*	See htg-limits.h. A daemon that runs out of descriptors, or that
/*	refuses a flood of connections, must neither spin nor write a log
/*	line per event: 265,000 lines in 2 s hide everything else and fill
/*	the disk. One line per interval with a count says the same.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "htg-limits.h"
#include "htg-msg.h"

long long htg_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		msg_fatal("clock_gettime: %m");
	return (long long)ts.tv_sec;
}

/* --- RLIMIT_NOFILE ------------------------------------------------------- */

long htg_nofile_plan(long want, long soft, long hard)
{
	long target = want;

	if (hard >= 0 && target > hard)
		target = hard;
	return target > soft ? target : soft;
}

static long rlim_long(rlim_t v)
{
	return v == RLIM_INFINITY || v > (rlim_t)0x7fffffff ? 0x7fffffffL :
		(long)v;
}

long htg_nofile_raise(long want, long *old_soft_r, long *hard_r)
{
	struct rlimit rl;
	long soft, hard, target;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		msg_fatal("getrlimit RLIMIT_NOFILE: %m");
	soft = rlim_long(rl.rlim_cur);
	hard = rlim_long(rl.rlim_max);
	if (old_soft_r != NULL)
		*old_soft_r = soft;
	if (hard_r != NULL)
		*hard_r = hard;
	target = htg_nofile_plan(want, soft, hard);
	if (target == soft)
		return soft;
	rl.rlim_cur = (rlim_t)target;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		msg_warn("setrlimit RLIMIT_NOFILE %ld: %m", target);
		return soft;
	}
	return target;
}

/* --- rate-limited warnings ----------------------------------------------- */

int htg_warn_limit_step(struct htg_warn_limit *w, long long now,
			unsigned long *suppressed_r)
{
	if (w->last >= 0 && now - w->last < w->interval) {
		w->suppressed++;
		return 0;
	}
	*suppressed_r = w->suppressed;
	w->suppressed = 0;
	w->last = now;
	return 1;
}

void htg_warn_limited(struct htg_warn_limit *w, const char *fmt, ...)
{
	char text[sizeof(w->text)];
	unsigned long suppressed;
	int log;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&w->lock);
	log = htg_warn_limit_step(w, htg_now(), &suppressed);
	if (!log)
		snprintf(w->text, sizeof(w->text), "%s", text);
	pthread_mutex_unlock(&w->lock);
	if (!log)
		return;
	if (suppressed > 0)
		msg_warn("%s (%lu similar warnings in the last %d s not logged)",
			 text, suppressed, w->interval);
	else
		msg_warn("%s", text);
}

void htg_warn_limit_flush(struct htg_warn_limit *w)
{
	char text[sizeof(w->text)];
	unsigned long suppressed = 0;
	long long now = htg_now();

	pthread_mutex_lock(&w->lock);
	if (w->suppressed > 0 && now - w->last >= w->interval) {
		suppressed = w->suppressed;
		w->suppressed = 0;
		w->last = now;
		snprintf(text, sizeof(text), "%s", w->text);
	}
	pthread_mutex_unlock(&w->lock);
	if (suppressed > 0)
		msg_warn("%lu similar warnings in the last %d s not logged; "
			 "the last: %s", suppressed, w->interval, text);
}
