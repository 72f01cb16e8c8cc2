#ifndef MILTER_AUDIT_H
#define MILTER_AUDIT_H

/*++
/* NAME
/*	milter-audit 3h
/* SUMMARY
/*	the milter's audit events: written, or kept until they can be
/* SYNOPSIS
/*	#include "milter-audit.h"
/*
/*	void	milter_audit_write(ev, queue_id)
/*	struct htg_audit_event *ev;
/*	const char *queue_id;
/*
/*	void	milter_audit_spool(ev, queue_id, why)
/*	const struct htg_audit_event *ev;
/*	const char *queue_id;
/*	const char *why;
/* DESCRIPTION
/*	An event of the milter (submit, refuse, report) is written after
/*	its answer is decided, most often after the 250: a directory that
/*	fails then must not lose it. milter_audit_write() fixes its key
/*	and writes it; when the directory fails it goes into the audit
/*	spool of HTG_STATE_DIR (htg-audit-spool(3)), from where the next
/*	successful audit write of this milter (or of another process of
/*	this node: htg-policyd, Dovecot; or htgctl) applies it. Only when
/*	the spool fails too is it lost; each outcome but success is
/*	logged.
/*
/*	milter_audit_spool() spools an event whose key is fixed and whose
/*	write (with the Message-ID claim's settle) failed for why.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-dir.h"

void milter_audit_write(struct htg_audit_event *ev, const char *queue_id);
void milter_audit_spool(const struct htg_audit_event *ev,
			const char *queue_id, const char *why);

#endif
