#ifndef HTG_AUDIT_SPOOL_H
#define HTG_AUDIT_SPOOL_H

/*++
/* NAME
/*	htg-audit-spool 3h
/* SUMMARY
/*	audit events the directory did not take, kept on this node
/* SYNOPSIS
/*	#include "htg-audit-spool.h"
/*
/*	void	htg_audit_key(ev, n)
/*	struct htg_audit_event *ev;
/*	unsigned int n;
/*
/*	int	htg_audit_write(dir, ev, n, error_r)
/*	struct htg_dir *dir;
/*	struct htg_audit_event *ev;
/*	unsigned int n;
/*	const char **error_r;
/*
/*	int	htg_audit_spool(dir, ev, n, error_r)
/*	struct htg_dir *dir;
/*	const struct htg_audit_event *ev;
/*	unsigned int n;
/*	const char **error_r;
/*
/*	int	htg_audit_drain(dir, error_r)
/*	struct htg_dir *dir;
/*	const char **error_r;
/* DESCRIPTION
/*	An audit event written after the fact it records (a mailbox save,
/*	a 250 to a submission) must not be lost because the directory
/*	failed at that moment (a PostgreSQL failover, a broken
/*	connection). Such an event goes into the pickup journal
/*	(htg-journal.h) in this node's state folder - a local file, one
/*	fdatasync() - and is written into the directory later:
/*
/* .IP \(bu
/*	by the next successful htg_audit_write() of any process that
/*	shares the state folder (htg-milter, Dovecot's LMTP): a marker
/*	file, journal/audit-spooled, says that there is something to
/*	apply, and htg_audit_drain() applies every journal;
/* .IP \(bu
/*	by htgctl, which applies the journals before it reads or
/*	changes audit events or retention records;
/* .IP \(bu
/*	by a pop3 process whose QUIT finds its journal full.
/* .PP
/*	Applying is idempotent: each event carries its fixed key (time,
/*	process id, sequence number) from before its FIRST write, so an
/*	event whose commit went through although the writer saw an error
/*	(a connection that broke after COMMIT) is not written twice
/*	(LMDB: the same key is replaced; PostgreSQL: ON CONFLICT DO
/*	NOTHING). The directory's host column is that of the process that
/*	applies it (htg_dir_set_node_name(); the journal does not keep it).
/*
/*	htg_audit_key() fixes the key of n events that have none: the
/*	time (now, when 0), this process and the next of its sequence
/*	numbers (0x20000000 and up: apart from the directory's own and
/*	from pop3's).
/*
/*	htg_audit_write() fixes the keys and writes n events in one
/*	directory commit; when that fails they are spooled. Returns 1
/*	written (then the spool is drained when the marker says so), 0
/*	spooled (error_r: why the directory did not take them), -1 lost
/*	(the directory and the spool failed: error_r says both).
/*
/*	htg_audit_spool() spools n events whose keys are fixed: 1, or -1
/*	(error_r).
/*
/*	htg_audit_drain() applies the journals when the marker is there:
/*	the number of records and events applied, 0 nothing to do, -1 the
/*	directory failed again (the marker stays for the next try).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-dir.h"

#define HTG_AUDIT_SPOOL_MARKER	"audit-spooled"
#define HTG_AUDIT_SEQ_BASE	0x20000000u

void htg_audit_key(struct htg_audit_event *ev, unsigned int n);
int htg_audit_write(struct htg_dir *dir, struct htg_audit_event *ev,
		    unsigned int n, const char **error_r);
int htg_audit_spool(struct htg_dir *dir, const struct htg_audit_event *ev,
		    unsigned int n, const char **error_r);
int htg_audit_drain(struct htg_dir *dir, const char **error_r);

#endif
