#ifndef MILTER_CLAIM_H
#define MILTER_CLAIM_H

/*++
/* NAME
/*	milter-claim 3h
/* SUMMARY
/*	HTG-MSGID uniqueness across retries (Message-ID claims)
/* SYNOPSIS
/*	#include "milter-claim.h"
/* DESCRIPTION
/*	milter_claim_take() decides HTG-MSGID uniqueness at the end of a
/*	message: it claims the Message-ID for the message's queue id as
/*	pending (the audit event ev, if any, is written when the claim is
/*	settled at the end of the transaction, in that commit: the client's
/*	250 does not wait for it), or finds the claim of an earlier message and decides
/*	whether that one was committed by Postfix (then this is a reuse)
/*	or never was (then this is a retry, which takes the claim over).
/*
/*	milter_claim_end() runs when the SMTP transaction has ended (libmilter
/*	abort or close, or the next MAIL): Postfix has then committed the
/*	queue file or removed it, and the claim becomes final (proof of
/*	commit seen) or ended (no proof yet), in a thread of its own (at
/*	most 64 at once, else in the caller's). milter_claim_accepted()
/*	starts a thread that looks for the commit from the end of message
/*	on (final on proof, nothing else), so that a message that leaves
/*	the queue quickly is seen while a client keeps its connection.
/*
/*	milter_claim_commit_recipient() names the recipient to add to a
/*	message of a relayed flow (commit_recipient): Postfix delivers it
/*	to htgctl committed, which makes the claim final; the queue file
/*	stays until then, so the proof never has a gap.
/*
/*	The guarantee and its limits: doc/milter.md, "Message-ID claims".
/*--*/

#include <stddef.h>

#include "htg-dir.h"

struct milter_claim {
	int held;			/* a pending claim of ours to settle */
	char account[256];
	char msgid[1000];
	char queue_id[HTG_QUEUE_ID_MAX];
	char rcpt[256];			/* the envelope recipient (the flow) */
	int has_submit;			/* the "submit" audit event to write */
	struct htg_audit_event submit;	/* when the transaction has ended */
};

enum milter_claim_verdict {
	MILTER_CLAIM_OK,		/* claimed: accept */
	MILTER_CLAIM_USED,		/* committed before: refuse (5xx) */
	MILTER_CLAIM_BUSY,		/* still being accepted: 4xx */
	MILTER_CLAIM_ERROR,		/* internal: 4xx */
};

enum milter_claim_verdict milter_claim_take(struct milter_claim *mc,
					    const char *account,
					    const char *msgid,
					    const char *queue_id,
					    const char *rcpt,
					    const struct htg_audit_event *ev,
					    char *detail, size_t size);
/* The recipient to add to a message for rcpt before its claim is taken
   (its delivery is the proof of the commit: htgctl committed), or NULL
   (a flow delivered to a mailbox: the LMTP record is the proof). */
const char *milter_claim_commit_recipient(const char *rcpt);
/* our end of message accepted the message: look for its commit */
void milter_claim_accepted(struct milter_claim *mc);
void milter_claim_end(struct milter_claim *mc, const char *why);

#endif
