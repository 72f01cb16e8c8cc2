#ifndef HTG_LEGACY_LOCK_H
#define HTG_LEGACY_LOCK_H

/*++
/* NAME
/*	htg-legacy-lock 3h
/* SUMMARY
/*	legacy Digipoort profile: no delivery while POP3 holds the mailbox
/* SYNOPSIS
/*	#include "htg-legacy-lock.h"
/*
/*	bool	htg_legacy_lock_held(struct mailbox *box);
/* DESCRIPTION
/*	001 1.2: while a POP3 session holds a message store, nothing is
/*	delivered to it. Dovecot's pop3_lock_session keeps a second POP3
/*	session out with a dotlock, dovecot-pop3-session.lock in the
/*	mailbox list's index (else mail) root, touched by its holder while
/*	the session lasts. htg_legacy_lock_held() is TRUE while that lock
/*	is live: the file exists, is younger than twice Dovecot's stale
/*	timeout, and its holder (the "pid:host" it contains) still runs.
/*	The mail plugin then fails an LMTP save with a temporary error:
/*	LMTP answers 451 4.2.0 and Postfix retries; nothing is lost.
/*
/*	Opt-in per account (htgctl account profile USER legacy): the htg
/*	userdb then returns pop3_lock_session=yes and htg_legacy_lock=yes.
/*--*/

#include "lib.h"

struct mailbox;

bool htg_legacy_lock_held(struct mailbox *box);

#endif
