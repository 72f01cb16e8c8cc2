/*++
/* NAME
/*	htg-passdb-wait 3
/* SUMMARY
/*	logins that wait for an unreadable directory
/* DESCRIPTION
/*	See htg-passdb-wait.h. One queue per auth process, first in,
/*	first out; one timer. Each tick tries the oldest login again:
/*	while the directory still cannot be read, the logins behind it
/*	are not tried (they are younger, so none has reached its end
/*	before it), which bounds the probes of a dead directory to four
/*	a second whatever the number of logins waiting. When a try
/*	succeeds the queue is emptied in the same tick.
/*
/*	The request is referenced while it waits: if the client (Postfix)
/*	gives up and closes its auth connection meanwhile, Dovecot's
/*	request handler is destroyed and the late answer is dropped there
/*	(auth-request-handler.c, "handler->destroyed"), as for any passdb
/*	that answers after its client left.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "auth-common.h"
#include "array.h"
#include "ioloop.h"
#include "safe-memset.h"
#include "time-util.h"
#include "auth-request.h"

#include "htg-passdb-wait.h"

#define HTG_WAIT_PROBE_MSECS 250

struct htg_passdb_waiter {
	struct auth_request *request;
	char *password;		/* the request's, or a copy (copied) */
	bool copied;
	htg_passdb_try_t *try;
	verify_plain_callback_t *callback;
	struct timeval since, until;
};

static ARRAY(struct htg_passdb_waiter) waiters;
static struct timeout *to_probe;

/* Take the oldest waiter off the queue and answer it. */
static void waiter_answer(enum passdb_result result)
{
	struct htg_passdb_waiter w = *array_front(&waiters);

	array_pop_front(&waiters);
	if (w.copied)
		safe_memset(w.password, 0, strlen(w.password));
	if (result != PASSDB_RESULT_INTERNAL_FAILURE)
		e_info(authdb_event(w.request), "htg directory answered "
		       "after %lld ms of waiting",
		       (long long)timeval_diff_msecs(&ioloop_timeval,
						     &w.since));
	w.callback(result, w.request);
	auth_request_unref(&w.request);
}

static void waiters_probe(void *context ATTR_UNUSED)
{
	bool down = FALSE;

	while (array_is_created(&waiters) && array_count(&waiters) > 0) {
		const struct htg_passdb_waiter *w = array_front(&waiters);
		bool ended = timeval_cmp(&ioloop_timeval, &w->until) >= 0;
		enum passdb_result result = PASSDB_RESULT_INTERNAL_FAILURE;
		bool retry = TRUE;

		if (!down)
			result = w->try(w->request, w->password, &retry);
		if (retry) {
			down = TRUE;
			if (!ended)
				break;
			e_error(authdb_event(w->request), "htg directory "
				"still unreadable after %lld ms: temporary "
				"failure",
				(long long)timeval_diff_msecs(&ioloop_timeval,
							      &w->since));
			result = PASSDB_RESULT_INTERNAL_FAILURE;
		}
		waiter_answer(result);
	}
	if (!array_is_created(&waiters) || array_count(&waiters) == 0)
		timeout_remove(&to_probe);
}

void htg_passdb_wait(struct auth_request *request, const char *password,
		     unsigned int secs, htg_passdb_try_t *try,
		     verify_plain_callback_t *callback)
{
	struct htg_passdb_waiter *w;

	if (!array_is_created(&waiters))
		i_array_init(&waiters, 16);
	w = array_append_space(&waiters);
	w->request = request;
	/* Dovecot passes the request's own copy, which lives (and is
	   wiped) with the request; anything else is copied */
	w->copied = password != request->mech_password;
	w->password = w->copied ? p_strdup(request->pool, password) :
		request->mech_password;
	w->try = try;
	w->callback = callback;
	w->since = ioloop_timeval;
	w->until = ioloop_timeval;
	w->until.tv_sec += secs;
	auth_request_ref(request);
	e_warning(authdb_event(request), "htg directory unreadable: the "
		  "login waits for it up to %u s", secs);
	if (to_probe == NULL)
		to_probe = timeout_add_short(HTG_WAIT_PROBE_MSECS,
					     waiters_probe, NULL);
}

bool htg_passdb_waiting(void)
{
	return array_is_created(&waiters) && array_count(&waiters) > 0;
}

void htg_passdb_wait_deinit(void)
{
	if (!array_is_created(&waiters))
		return;
	while (array_count(&waiters) > 0)
		waiter_answer(PASSDB_RESULT_INTERNAL_FAILURE);
	array_free(&waiters);
	timeout_remove(&to_probe);
}
