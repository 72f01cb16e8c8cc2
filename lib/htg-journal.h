#ifndef HTG_JOURNAL_H
#define HTG_JOURNAL_H

/*++
/* NAME
/*	htg-journal 3h
/* SUMMARY
/*	the pickup journal: a POP3 QUIT made durable with one disk flush
/* SYNOPSIS
/*	#include "htg-journal.h"
/*
/*	int	htg_journal_append(dir, r, nr, ev, nev, pos_r, error_r)
/*	struct htg_dir *dir;
/*	const struct htg_retained *r;
/*	unsigned int nr;
/*	const struct htg_audit_event *ev;
/*	unsigned int nev;
/*	struct htg_journal_pos *pos_r;
/*	const char **error_r;
/*
/*	int	htg_journal_cancel(dir, pos, error_r)
/*
/*	int	htg_journal_checkpoint(dir, error_r)
/* DESCRIPTION
/*	What a POP3 QUIT must make durable before its expunge - the
/*	retention records of the DELEd messages, a copy of their bytes, the
/*	session's retr/top/dele events - goes into one entry of a journal
/*	file with one write and one fdatasync(): the file is preallocated
/*	and zero-filled, so the flush writes data blocks only. (The direct
/*	way costs three flushes: the retention directory's entries and an
/*	LMDB commit, which is two.) The journal is applied to the directory
/*	later, in one commit for many QUITs: by the pop3 process whose
/*	entry does not fit any more, and by htgctl before it reads or
/*	changes retention records or audit events. Applying is idempotent
/*	(records and events have fixed keys), so a crash while applying is
/*	repaired by applying again; a copy whose hard link did not survive
/*	a crash is written again from the journal's bytes.
/*
/*	Journals are HTG_JOURNAL_SLOTS files of HTG_JOURNAL_SIZE bytes in
/*	DIRECTORY/journal/; a writer takes any slot not locked by another
/*	(flock), so concurrent QUITs do not wait for each other.
/*
/*	htg_journal_append() writes one entry: nr records whose files
/*	(r[i].path) exist, their bytes, and nev events, which must carry
/*	fixed keys (key_pid, key_seq) and times. Returns 1 when it is on
/*	disk (pos_r tells where), 0 when it does not fit in a journal (the
/*	caller writes to the directory itself), -1 on error.
/*
/*	htg_journal_cancel() turns an entry into its retrieval events
/*	alone (the expunge it was written for did not happen). Returns 1
/*	done, 0 when the entry has been applied already (the caller undoes
/*	it in the directory), -1 on error.
/*
/*	htg_journal_checkpoint() applies every journal and empties it.
/*	Returns the number of entries applied, -1 on error.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <stdint.h>

#include "htg-dir.h"

#define HTG_JOURNAL_SLOTS	8
#define HTG_JOURNAL_SIZE	(1024 * 1024)

struct htg_journal_pos {
	unsigned int slot;
	uint64_t token;			/* identifies the entry */
};

int htg_journal_append(struct htg_dir *dir, const struct htg_retained *r,
		       unsigned int nr, const struct htg_audit_event *ev,
		       unsigned int nev, struct htg_journal_pos *pos_r,
		       const char **error_r);
int htg_journal_cancel(struct htg_dir *dir, const struct htg_journal_pos *pos,
		       const char **error_r);
int htg_journal_checkpoint(struct htg_dir *dir, const char **error_r);

#endif
