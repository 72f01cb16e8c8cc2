#ifndef HTG_PASSDB_WAIT_H
#define HTG_PASSDB_WAIT_H

/*++
/* NAME
/*	htg-passdb-wait 3h
/* SUMMARY
/*	logins that wait for an unreadable directory
/* SYNOPSIS
/*	#include "htg-passdb-wait.h"
/* DESCRIPTION
/*	A plain login whose directory read failed is queued instead of
/*	being answered with a failure, and tried again every 250 ms
/*	until the directory answers or its wait ends (passdb args
/*	wait=SECS). See htg-passdb(3) for why.
/*--*/

#include "passdb.h"

/* One try of a plain login: the result, and *retry_r true when it
   failed because the directory could not be read. */
typedef enum passdb_result
htg_passdb_try_t(struct auth_request *request, const char *password,
		 bool *retry_r);

/* Queue request (referenced until its callback is called) for up to
   secs seconds; try() is called again for it by the queue, with
   password (the request's own copy, else one made in its pool and
   wiped when it is answered). */
void htg_passdb_wait(struct auth_request *request, const char *password,
		     unsigned int secs, htg_passdb_try_t *try,
		     verify_plain_callback_t *callback);

/* true while a login waits: a new one joins the queue untried (one
   probe of a dead directory per 250 ms, whatever the login rate) */
bool htg_passdb_waiting(void);

/* Answer every waiting login with an internal failure (deinit). */
void htg_passdb_wait_deinit(void);

#endif
