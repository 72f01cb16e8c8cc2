/*++
/* NAME
/*	htgctl-common 3
/* SUMMARY
/*	htgctl: what every command file shares
/* DESCRIPTION
/*	The options every command reads (ctl_dir_path, ctl_mail_root,
/*	ctl_json), usage errors that show the synopsis of the command that
/*	was given wrongly (ctl_usage), opening the directory (with the
/*	pickup journal applied first: ctl_open_dir_pickup), exit statuses
/*	(ctl_result) and numbers on the command line (ctl_parse_number).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir.h"
#include "htg-journal.h"
#include "htgctl.h"

const char *ctl_dir_path;
const char *ctl_mail_root;
int ctl_json;

/* The synopsis, one line each; a continuation starts with a blank. */
static const char *const synopsis[] = {
	"usage: htgctl [-d DIR] [--mail-root DIR] [--state-dir DIR] COMMAND ...",
	"       htgctl -V | --version",
	"       htgctl [-d DIR] init [--owner USER]",
	"       htgctl [-d DIR] account add USER [--password-stdin]"
	" [--retention-days N] [--max-size BYTES]",
	"                 [--home NODE|none]",
	"       htgctl [-d DIR] account passwd USER --password-stdin",
	"       htgctl [-d DIR] account del USER",
	"       htgctl [-d DIR] account disable|enable USER",
	"       htgctl [-d DIR] account profile USER legacy|standard",
	"       htgctl [-d DIR] account mode USER enforce|report",
	"       htgctl [-d DIR] account translate USER on|off",
	"       htgctl [-d DIR] account home USER NODE|none",
	"       htgctl [-d DIR] account list [--json]",
	"       htgctl [-d DIR] address add ADDRESS USER [--logical]",
	"       htgctl [-d DIR] address del ADDRESS",
	"       htgctl [-d DIR] address list [--json]",
	"       htgctl [-d DIR] flow add FLOW --deliver-to ADDRESS",
	"       htgctl [-d DIR] flow set FLOW --deliver-to ADDRESS",
	"       htgctl [-d DIR] flow del FLOW",
	"       htgctl [-d DIR] flow respond FLOW"
	" off|ack|echo|refuse [--delay SECONDS]",
	"       htgctl [-d DIR] flow list [--json]",
	"       htgctl [-d DIR] node set NAME ADDRESS",
	"       htgctl [-d DIR] node del NAME",
	"       htgctl [-d DIR] node list [--json]",
	"       htgctl [-d DIR] grant USER FLOW | grant list [--json]",
	"       htgctl [-d DIR] revoke USER FLOW",
	"       htgctl [-d DIR] audit [USER] [--json] [--event E]"
	" [--message-id ID] [--since T] [--until T]",
	"       htgctl [-d DIR] audit expire --days N [--now T]",
	"       htgctl [-d DIR] retention list [USER] [--json]",
	"       htgctl [-d DIR] retention restore USER MESSAGE-ID",
	"       htgctl [-d DIR] retention purge [USER] [--now T]",
	"       htgctl [-d DIR] hygiene [USER] [--json] [--days N]"
	" [--retain] [--now T]",
	"       htgctl [-d DIR] import < CHANGES  (lines: account"
	" USER PASSWORD | address ADDRESS USER |",
	"                 flow FLOW DELIVER-TO | grant|revoke USER"
	" FLOW | the records of export;",
	"                 fields tab-separated)",
	"       htgctl [-d DIR] export > FILE  (the whole directory,"
	" for import)",
	"       htgctl [-d DIR] expire [--now T]",
	"       htgctl [-d DIR] stats [--since T] [--until T]"
	" [--by-account] [--now T]",
	"                 [--output FILE] [--json | --prometheus]",
	"       htgctl [-d DIR] map-max SIZE  (bytes, or K/M/G/T)",
	"       htgctl [-d DIR] committed ACCOUNT QUEUE_ID < MESSAGE",
	NULL
};

const char *ctl_command;	/* the command being run, for ctl_usage() */

/* A usage error: the synopsis of the command that was given wrongly (all
   of it when there was none), and the man page. */
void ctl_usage(void)
{
	int printed = 0, mine = 0;

	for (const char *const *l = synopsis; *l != NULL; l++) {
		const char *cmd = strstr(*l, "] ");
		size_t n = ctl_command != NULL ? strlen(ctl_command) : 0;

		if (strstr(*l, "htgctl") == NULL) {	/* continued */
			if (mine)
				fprintf(stderr, "%s\n", *l);
			continue;
		}
		mine = ctl_command == NULL || (cmd != NULL &&
			strncmp(cmd + 2, ctl_command, n) == 0 &&
			(cmd[2 + n] == ' ' || cmd[2 + n] == '\0'));
		if (mine)
			fprintf(stderr, "%s %s\n", printed++ == 0 ? "usage:" :
				"      ", strstr(*l, "htgctl"));
	}
	if (ctl_command != NULL)
		fprintf(stderr, "(htgctl(8); htgctl with no command lists them "
			"all)\n");
	exit(EXIT_USAGE);
}

struct htg_dir *ctl_open_dir(int write)
{
	struct htg_dir *dir;
	const char *error;

	if (htg_dir_open(ctl_dir_path, write ? HTG_DIR_CREATE : HTG_DIR_RDONLY,
			 &dir, &error) != 1) {
		fprintf(stderr, "htgctl: %s\n", error);
		exit(EXIT_REFUSED);
	}
	return dir;
}

/* For the commands that read or change retention records and audit
   events: the pickup journal is applied first (htg-journal.h), so they
   see every completed QUIT. That needs write access; without it they
   read what was applied so far, with a warning. */
struct htg_dir *ctl_open_dir_pickup(int write)
{
	struct htg_dir *dir;
	const char *error;

	if (htg_dir_open(ctl_dir_path, 0, &dir, &error) != 1) {
		if (write) {
			fprintf(stderr, "htgctl: %s\n", error);
			exit(EXIT_REFUSED);
		}
		fprintf(stderr, "htgctl: warning: pickup journal not "
			"applied: %s\n", error);
		return ctl_open_dir(0);
	}
	if (htg_journal_checkpoint(dir, &error) < 0) {
		/* a change made now could be undone by a later apply */
		if (write) {
			fprintf(stderr, "htgctl: pickup journal not applied, "
				"nothing changed: %s\n", error);
			exit(EXIT_REFUSED);
		}
		fprintf(stderr, "htgctl: warning: pickup journal not "
			"applied: %s\n", error);
	}
	return dir;
}

/* Map a directory result to the exit status, reporting refusals. */
int ctl_result(int ret, const char *error)
{
	if (ret == 1)
		return 0;
	ctl_say("%s", error != NULL ? error : "failed");
	return EXIT_REFUSED;
}

unsigned long long ctl_parse_number(const char *s, const char *what)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || *s == '-') {
		fprintf(stderr, "htgctl: invalid %s: %s\n", what, s);
		exit(EXIT_USAGE);
	}
	return n;
}
