#ifndef HTG_MILTER_H
#define HTG_MILTER_H

/*++
/* NAME
/*	htg-milter 3h
/* SUMMARY
/*	what the milter's callbacks share with its main program
/*--*/

#include <libmilter/mfapi.h>
#include <stdint.h>

#include "htg-check.h"
#include "htg-dir.h"

struct milter_settings {
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
};

extern struct milter_settings milter_settings;
extern struct smfiDesc milter_desc;

#endif
