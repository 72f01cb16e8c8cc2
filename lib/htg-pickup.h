#ifndef HTG_PICKUP_H
#define HTG_PICKUP_H

/*++
/* NAME
/*	htg-pickup 3h
/* SUMMARY
/*	pure rules of POP3 pickup: retention deadlines, audit filters, times
/* SYNOPSIS
/*	#include "htg-pickup.h"
/*
/*	int64_t	htg_retention_deadline(int64_t now, uint32_t days);
/*	int	htg_retention_due(int64_t deadline, int64_t now);
/*
/*	int	htg_time_parse(const char *s, int64_t *t_r);
/*	int	htg_time_parse_us(const char *s, int64_t *us_r);
/*	int	htg_msgid_equal(const char *a, const char *b);
/*
/*	void	htg_audit_filter_init(struct htg_audit_filter *f);
/*	int	htg_audit_filter_match(const struct htg_audit_filter *f,
/*				       const struct htg_audit_event *ev);
/*	int	htg_audit_event_known(const char *event);
/* DESCRIPTION
/*	No I/O, no clock: the callers pass "now", so every rule is unit
/*	tested on both sides of its boundary (test-pickup.c).
/*
/*	htg_retention_deadline() is the moment a copy kept after POP3 DELE
/*	may be purged: now plus days whole days (86400 s each; the clock
/*	is the directory's, not the mailbox's save date). Saturates instead
/*	of overflowing. htg_retention_due() is 1 when deadline <= now.
/*
/*	htg_time_parse() reads "@SECONDS" (unix time), "YYYY-MM-DD"
/*	(00:00 UTC) or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"
/*	into unix seconds; returns 0 on anything else. htg_time_parse_us()
/*	is the same in microseconds, keeping up to 6 fraction digits (so
/*	an audit time printed by htgctl reads back exactly).
/*
/*	htg_msgid_equal() compares two Message-IDs with or without their
/*	angle brackets and surrounding blanks (byte exact otherwise: RFC
/*	5322 ids are case-sensitive).
/*
/*	htg_audit_filter_match() is 1 when ev passes every set criterion
/*	of f: account (already normalised), event name, Message-ID, and
/*	time range [since_us, until_us). Unset criteria are NULL / 0.
/*--*/

#include <stdint.h>

#include "htg-dir.h"

#define HTG_DAY_SECONDS 86400

struct htg_audit_filter {
	const char *account;
	const char *event;
	const char *message_id;
	int64_t since_us;		/* 0 = no lower bound */
	int64_t until_us;		/* 0 = no upper bound */
};

int64_t htg_retention_deadline(int64_t now, uint32_t days);
int htg_retention_due(int64_t deadline, int64_t now);
int htg_time_parse(const char *s, int64_t *t_r);
int htg_time_parse_us(const char *s, int64_t *us_r);
int htg_msgid_equal(const char *a, const char *b);
void htg_audit_filter_init(struct htg_audit_filter *f);
int htg_audit_filter_match(const struct htg_audit_filter *f,
			   const struct htg_audit_event *ev);
int htg_audit_event_known(const char *event);

/* --- pickup hygiene (004 4.1.1: processed messages must not stay) ---
   htg_maildir_name_time(): the delivery time a Maildir file name starts
   with ("1795417735.M..."); 0 if it does not.
   htg_uidlist_line(): one record line of Dovecot's dovecot-uidlist
   ("<uid> [<ext> ...] :<base name>"): 1 and uid/base, 0 for headers
   and anything else.
   htg_hygiene_stale(): 1 when a message retrieved at retrieved (unix
   seconds) and still in the inbox has stayed for days days or more. */
int htg_maildir_name_time(const char *name, int64_t *t_r);
int htg_uidlist_line(const char *line, uint32_t *uid_r, char *base,
		     size_t size);
int htg_hygiene_stale(int64_t retrieved, int64_t now, uint32_t days);

#endif
