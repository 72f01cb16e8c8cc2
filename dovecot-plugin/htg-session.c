/*++
/* NAME
/*	htg-session 3
/* SUMMARY
/*	a POP3 session's retrieval events, bounded (issue 13)
/* DESCRIPTION
/*	See htg-session.h. What the bound keeps honest: every retrieval
/*	pop3 serves is audited (the first RETR and the first TOP of each
/*	message in a session, with its time; a repeat says nothing new
/*	about who retrieved what), memory stays bounded whatever a client
/*	loops, and a retrieval is refused rather than served when its event
/*	could not be kept. pop3 words that refusal itself ("-ERR Message N
/*	expunged.", pop3-commands.c fetch()); the log says why.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "array.h"
#include "strnum.h"
#include "seq-range-array.h"
#include "mail-user.h"
#include "mail-storage-private.h"

#include "htg-audit-spool.h"
#include "htg-dc-dir.h"
#include "htg-event.h"
#include "htg-session.h"

#include <string.h>
#include <unistd.h>

void htg_session_init(struct htg_session *s, struct mail_user *user)
{
	const char *max;

	i_zero(s);
	i_array_init(&s->retrievals, 8);
	i_array_init(&s->retr_uids, 8);
	i_array_init(&s->top_uids, 8);
	s->max_events = HTG_SESSION_MAX_EVENTS_DEFAULT;
	max = mail_user_plugin_getenv(user, "htg_session_max_events");
	if (max != NULL && *max != '\0' &&
	    (str_to_uint(max, &s->max_events) < 0 || s->max_events == 0)) {
		e_error(user->event, "htg: bad htg_session_max_events %s: "
			"using %u", max, HTG_SESSION_MAX_EVENTS_DEFAULT);
		s->max_events = HTG_SESSION_MAX_EVENTS_DEFAULT;
	}
}

void htg_session_deinit(struct htg_session *s)
{
	array_free(&s->retrievals);
	array_free(&s->retr_uids);
	array_free(&s->top_uids);
}

const struct htg_audit_event *
htg_session_events(struct htg_session *s, unsigned int *count_r)
{
	*count_r = array_count(&s->retrievals);
	return *count_r == 0 ? NULL : array_front(&s->retrievals);
}

void htg_session_clear(struct htg_session *s)
{
	array_clear(&s->retrievals);
}

bool htg_session_flush_try(struct htg_session *s, struct mail_user *user)
{
	struct htg_audit_event *ev;
	struct htg_dir *dir;
	const char *error;
	unsigned int n;
	int ret;

	ev = array_get_modifiable(&s->retrievals, &n);
	if (n == 0)
		return TRUE;
	/* the directory full (or failing): the audit spool, the pickup
	   journal, keeps them until they can be written (fixed keys from
	   before the first try, as an apply may repeat) */
	if (htg_dc_dir_get(&dir, &error) < 0)
		ret = -1;
	else
		ret = htg_audit_write(dir, ev, n, &error);
	if (ret < 0) {
		e_error(user->event, "htg: %u audit events (%s uid=%u ...) not "
			"recorded: %s", n, ev->event, ev->uid, error);
		return FALSE;
	}
	if (ret == 0) {
		e_warning(user->event, "htg: %u audit events went to the "
			  "pickup journal: %s", n, error);
	}
	htg_session_clear(s);
	return TRUE;
}

void htg_session_flush(struct htg_session *s, struct mail_user *user)
{
	if (!htg_session_flush_try(s, user)) {
		/* nothing more can be done: the retrievals were served */
		htg_session_clear(s);
	}
}

static ARRAY_TYPE(seq_range) *
htg_session_uids(struct htg_session *s, const char *event)
{
	return strcmp(event, "retr") == 0 ? &s->retr_uids : &s->top_uids;
}

int htg_session_retrieval_begin(struct htg_session *s, struct mail *mail,
				const char *event)
{
	struct mail_user *user = mail->box->storage->user;

	if (seq_range_exists(htg_session_uids(s, event), mail->uid))
		return 0;	/* audited in this session */
	if (array_count(&s->retrievals) < s->max_events ||
	    htg_session_flush_try(s, user))
		return 1;
	if (!s->refusal_logged) {
		e_error(user->event, "htg: %s of uid %u refused: %u retrievals "
			"of this session could not be recorded "
			"(htg_session_max_events)", event, mail->uid,
			s->max_events);
	}
	s->refusal_logged = TRUE;
	mail_storage_set_error(mail->box->storage, MAIL_ERROR_TEMP,
			       "HTG: audit unavailable, try again later");
	return -1;
}

void htg_session_add(struct htg_session *s, struct mail *mail,
		     const char *event, struct istream *input)
{
	struct htg_audit_event ev;

	htg_event_fill(&ev, event, mail, input);
	array_push_back(&s->retrievals, &ev);
	seq_range_array_add(htg_session_uids(s, event), mail->uid);
}
