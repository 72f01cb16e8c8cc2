#ifndef HTG_SESSION_H
#define HTG_SESSION_H

/*++
/* NAME
/*	htg-session 3h
/* SUMMARY
/*	a POP3 session's retrieval events, bounded (issue 13)
/* DESCRIPTION
/*	The RETR/TOP events of one session wait here until the next
/*	commit (QUIT) or the end of the session. A repeat (the same
/*	message, the same event) adds none; at most max_events wait: at
/*	the bound they are written at once, and if neither the directory
/*	nor the pickup journal takes them, a retrieval of a message not
/*	yet audited is refused.
/*--*/

#include "array.h"
#include "seq-range-array.h"

#include "htg-dir.h"

#define HTG_SESSION_MAX_EVENTS_DEFAULT 1000

struct htg_session {
	ARRAY(struct htg_audit_event) retrievals;
	/* UIDs this session retrieved (audited or waiting), per event */
	ARRAY_TYPE(seq_range) retr_uids, top_uids;
	unsigned int max_events;	/* htg_session_max_events */
	bool refusal_logged;
};

struct mail;
struct mail_user;
struct istream;

/* settings from the user's plugin block */
void htg_session_init(struct htg_session *s, struct mail_user *user);
void htg_session_deinit(struct htg_session *s);

const struct htg_audit_event *
htg_session_events(struct htg_session *s, unsigned int *count_r);
void htg_session_clear(struct htg_session *s);
/* the waiting events into the directory, else the pickup journal: TRUE
   when one took them (then they are cleared) */
bool htg_session_flush_try(struct htg_session *s, struct mail_user *user);
/* the same at QUIT or the end: what nobody took is logged and dropped */
void htg_session_flush(struct htg_session *s, struct mail_user *user);

/* Before pop3 opens mail for event ("retr", "top"): 1 record it once
   the stream is open (htg_session_add), 0 audited already in this
   session, -1 refused (the storage error is set; pop3 answers -ERR). */
int htg_session_retrieval_begin(struct htg_session *s, struct mail *mail,
				const char *event);
void htg_session_add(struct htg_session *s, struct mail *mail,
		     const char *event, struct istream *input);

#endif
