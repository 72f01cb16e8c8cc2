#ifndef HTG_MILTER_H
#define HTG_MILTER_H

/*++
/* NAME
/*	htg-milter 3h
/* SUMMARY
/*	what the milter's callbacks share with its main program
/* DESCRIPTION
/*	The settings are read by every libmilter worker thread and replaced
/*	on SIGHUP (milter-settings.c). They are immutable once published:
/*	a reload builds a new struct milter_set and swaps one atomic
/*	pointer (release/acquire), so a thread sees either the old
/*	settings or the new ones, whole. An old struct is never freed
/*	before exit (a callback or a message check may still hold it; a
/*	reload costs a few KB), so a pointer taken from it stays valid.
/*
/*	milter_settings reads the current struct: code that needs two
/*	fields that must agree takes one pointer with milter_settings_now().
/*--*/

#include <libmilter/mfapi.h>
#include <stdint.h>

#include "htg-check.h"
#include "htg-dir.h"

struct htg_conf;

struct milter_set {
	int report_only;		/* mode = report */
	const char *temp_dir;
	int64_t msgid_window;		/* seconds a Message-ID stays used */
	struct htg_check_conf check;
	struct htg_dir *dir;		/* NULL: Message-IDs not checked */
	int from_owner_check;		/* HTG-HDR-FROM owner (default yes) */
	const char *postqueue;		/* postqueue(1) to ask for queue ids */
	const char *postfix_config_dir;	/* its -c (NULL: default) */
	int64_t msgid_pending_timeout;	/* a claim in progress at most */
	int64_t msgid_commit_wait;	/* wait for a delivery record */
	const char *commit_recipient;	/* added to relayed mail; NULL: no */
	const char *node;		/* this node's name (the claims') */
	int audit;			/* audit = yes: submit/refuse/report */
	/* read at start only (a change needs a restart) */
	const char *directory, *socket, *log_file, *pid_file;
	int max_sessions, timeout;
	struct htg_conf *conf;		/* owns the strings above */
	struct milter_set *older;	/* the previous ones, freed at exit */
};

const struct milter_set *milter_settings_now(void);
#define milter_settings (*milter_settings_now())

extern struct smfiDesc milter_desc;

#endif
