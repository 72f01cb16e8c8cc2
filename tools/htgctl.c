/*++
/* NAME
/*	htgctl 8
/* SUMMARY
/*	manage the HTG directory
/* SYNOPSIS
/*	htgctl -V | --version
/*	htgctl [-d DIR] init [--owner USER]
/*	htgctl [-d DIR] account add USER [--password-stdin]
/*		[--retention-days N] [--max-size BYTES] [--home NODE|none]
/*	htgctl [-d DIR] account passwd USER --password-stdin
/*	htgctl [-d DIR] account del USER
/*	htgctl [-d DIR] account disable|enable USER
/*	htgctl [-d DIR] account profile USER legacy|standard
/*	htgctl [-d DIR] account mode USER enforce|report
/*	htgctl [-d DIR] account translate USER on|off
/*	htgctl [-d DIR] account home USER NODE|none
/*	htgctl [-d DIR] account list [--json]
/*	htgctl [-d DIR] address add ADDRESS USER [--logical]
/*	htgctl [-d DIR] address del ADDRESS
/*	htgctl [-d DIR] address list [--json]
/*	htgctl [-d DIR] flow add FLOW --deliver-to ADDRESS
/*	htgctl [-d DIR] flow set FLOW --deliver-to ADDRESS
/*	htgctl [-d DIR] flow del FLOW
/*	htgctl [-d DIR] flow respond FLOW off|ack|echo|refuse [--delay SECONDS]
/*	htgctl [-d DIR] flow list [--json]
/*	htgctl [-d DIR] node set NAME ADDRESS
/*	htgctl [-d DIR] node del NAME
/*	htgctl [-d DIR] node list [--json]
/*	htgctl [-d DIR] grant USER FLOW
/*	htgctl [-d DIR] revoke USER FLOW
/*	htgctl [-d DIR] grant list [--json]
/*	htgctl [-d DIR] audit [USER] [--json] [--event E] [--message-id ID]
/*		[--since T] [--until T]
/*	htgctl [-d DIR] audit expire --days N [--now T]
/*	htgctl [-d DIR] retention list [USER] [--json]
/*	htgctl [-d DIR] retention restore USER MESSAGE-ID
/*	htgctl [-d DIR] retention purge [USER] [--now T]
/*	htgctl [-d DIR] hygiene [USER] [--json] [--days N] [--retain]
/*		[--now T]
/*	htgctl [-d DIR] import < CHANGES
/*	htgctl [-d DIR] export > FILE
/*	htgctl [-d DIR] expire [--now T]
/*	htgctl [-d DIR] stats [--since T] [--until T] [--by-account]
/*		[--now T] [--output FILE] [--json | --prometheus]
/*	htgctl [-d DIR] map-max SIZE
/*	htgctl [-d DIR] committed ACCOUNT QUEUE_ID < MESSAGE
/* DESCRIPTION
/*	htgctl writes and reads the LMDB directory that htg-policyd,
/*	htg-milter and the Dovecot modules read live: a change is in effect
/*	for the next SMTP command or login, with no reload.
/*
/*	Passwords are read from standard input only (one line; never from
/*	the command line, where ps(1) would show them) and stored as a
/*	one-way SHA512-CRYPT hash that Dovecot verifies.
/*
/*	The directory is -d DIR, else $HTG_DIRECTORY, else
/*	/var/lib/htg/directory. Run as root, htgctl first becomes the
/*	directory's owner (htgctl-priv(3)) and refuses a directory that is
/*	missing or owned by root: htgctl init creates it. Not run as root,
/*	writing commands create it when missing.
/*
/*	With a PostgreSQL directory, this machine's state folder (the
/*	pickup journal) is --state-dir DIR (anywhere on the line), else
/*	$HTG_STATE_DIR, else /var/lib/htg.
/*
/*	The mail root (mail_home = <mail root>/%u) is --mail-root DIR
/*	(anywhere on the line), else $HTG_MAIL_ROOT, else
/*	/var/lib/htg/mail: paths in retention records must lie under it
/*	(htg-path(3)).
/*
/*	Account and address names are RFC 5321 mailboxes without quoted
/*	local part or '/', flows [a-z0-9._-] (htg-name(3)); others are
/*	refused (exit 1), except by del and revoke. Text output escapes
/*	control bytes; --json output is valid UTF-8 (htg-name(3)).
/*
/*	--json prints one JSON array of objects.
/*
/*	import reads account, address, flow, grant and revoke changes
/*	from stdin, one per line, and applies them through one handle
/*	with a single fsync at the end (provisioning thousands of
/*	accounts; see htgctl-import.c). export writes the whole
/*	directory in the lines import reads, after a versioned header
/*	and before a count of its records, fields escaped
/*	(htgctl-export.c): "htgctl -d A export | htgctl -d B import"
/*	copies a directory, also from one backend to the other.
/*
/*	audit, retention and hygiene first apply the pickup journal
/*	(DIR/journal/, where POP3 QUITs write their retention records and
/*	audit events with one disk flush; htg-journal(3)), so they see
/*	every QUIT that was answered. That needs write access to DIR;
/*	without it they warn and show what was applied so far. A command
/*	that changes records (purge, restore, hygiene --retain, audit
/*	expire) refuses to run when the journal cannot be applied.
/*
/*	expire deletes the records whose window has passed: Message-IDs
/*	claimed by submissions (HTG-MSGID, htg-milter.conf msgid_window)
/*	and LMTP delivery records (htg_delivery_window). Run it from the
/*	same timer as retention purge; a record past its window counts
/*	as absent either way, so expire only bounds the directory's size.
/*
/*	node and account home: more than one machine (htg-dir-node(3)).
/*	Each account has a home node, where its mailbox lives; Dovecot on
/*	every other node proxies its POP3 logins and LMTP deliveries there
/*	(htg-passdb(3)). account add without --home picks the node with
/*	the fewest accounts homed there (ties: the first name); a directory
/*	without nodes gives no home (one machine, no proxying), as does
/*	--home none. node del refuses while accounts are homed on the node.
/*	Moving an account (account home) moves where its mail is looked
/*	for, not the mail already stored: move the Maildir too.
/*
/*	committed is run by Postfix's pipe(8) for the commit recipient
/*	that htg-milter adds to relayed messages: it makes their Message-ID
/*	claim final (htgctl-commit.c). Exit 75 asks Postfix to retry.
/*
/*	stats shows how full the directory is against its maximum, which
/*	map-max sets (htgctl-stats.c, htg-dir-map(3)).
/* EXIT STATUS
/*	0 success; 1 the request was refused (reason on stderr);
/*	2 usage error.
/* SEE ALSO
/*	htg-policyd(8), htg-milter(8)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-dir.h"
#include "htg-journal.h"
#include "htg-passwd.h"
#include "htgctl.h"

static int cmd_expire(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL;
	long msgids = 0, deliveries = 0;
	int64_t now;
	int ret;

	if (argc == 2 && strcmp(argv[0], "--now") == 0)
		now = parse_now(argv[1]);
	else if (argc == 0)
		now = parse_now(NULL);
	else
		ctl_usage();
	dir = ctl_open_dir(1);
	ret = htg_dir_msgid_purge(dir, now, &msgids, &error);
	if (ret == 1)
		ret = htg_dir_delivery_purge(dir, now, &deliveries, &error);
	htg_dir_close(&dir);
	if (ret == 1)
		printf("expired %ld Message-ID claims, %ld delivery records\n",
		       msgids, deliveries);
	return ctl_result(ret, error);
}

static const char *const commands[] = {
	"account", "address", "flow", "node", "grant", "revoke", "audit",
	"retention", "hygiene", "import", "export", "expire", "init", "stats",
	"map-max", "committed",
	NULL
};

int main(int argc, char **argv)
{
	const char *owner = NULL;
	int i = 1, n = 0, ret, known = 0;
	char **args;

	if (argc == 2 && (strcmp(argv[1], "-V") == 0 ||
			  strcmp(argv[1], "--version") == 0)) {
		printf("htgctl %s\n", PACKAGE_VERSION);
		return fflush(stdout) == 0 ? 0 : EXIT_REFUSED;
	}
	if (argc > 2 && strcmp(argv[1], "-d") == 0) {
		ctl_dir_path = argv[2];
		i = 3;
	}
	/* an operator's command may run long (expire, import); Ctrl-C
	   ends it (htg_dir_set_answer_timeout()) */
	htg_dir_set_answer_timeout(0);
	ctl_mail_root = getenv("HTG_MAIL_ROOT");
	if (ctl_mail_root == NULL || *ctl_mail_root == '\0')
		ctl_mail_root = HTG_MAIL_ROOT_DEFAULT;
	/* strip --json and --mail-root DIR wherever they are */
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (args == NULL)
		return EXIT_REFUSED;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl_json = 1;
		else if (strcmp(argv[i], "--mail-root") == 0 && i + 1 < argc)
			ctl_mail_root = argv[++i];
		else if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
			/* a PostgreSQL directory's local state, for every
			   part of htgctl that asks (htg_dir_open, privileges) */
			if (setenv(HTG_STATE_ENV, argv[++i], 1) < 0)
				return EXIT_REFUSED;
		} else
			args[n++] = argv[i];
	}
	if (n < 1)
		ctl_usage();
	if (ctl_mail_root[0] != '/') {
		fprintf(stderr, "htgctl: the mail root must be an absolute "
			"path: %s\n", ctl_mail_root);
		return EXIT_USAGE;
	}
	for (const char *const *c = commands; *c != NULL; c++)
		known |= strcmp(args[0], *c) == 0;
	if (!known)
		ctl_usage();
	if (strcmp(args[0], "init") == 0) {
		if (n == 3 && strcmp(args[1], "--owner") == 0)
			owner = args[2];
		else if (n != 1)
			ctl_usage();
	}
	ctl_command = args[0];	/* ctl_usage() shows its synopsis */
	/* root becomes the directory's owner before anything else */
	priv_setup(args[0], owner);
	if (strcmp(args[0], "account") == 0)
		ret = cmd_account(n - 1, args + 1);
	else if (strcmp(args[0], "address") == 0)
		ret = cmd_address(n - 1, args + 1);
	else if (strcmp(args[0], "flow") == 0)
		ret = cmd_flow(n - 1, args + 1);
	else if (strcmp(args[0], "node") == 0)
		ret = cmd_node(n - 1, args + 1);
	else if (strcmp(args[0], "grant") == 0)
		ret = cmd_grant(n - 1, args + 1, 0);
	else if (strcmp(args[0], "revoke") == 0)
		ret = cmd_grant(n - 1, args + 1, 1);
	else if (strcmp(args[0], "audit") == 0)
		ret = cmd_audit(n - 1, args + 1);
	else if (strcmp(args[0], "retention") == 0)
		ret = cmd_retention(n - 1, args + 1);
	else if (strcmp(args[0], "hygiene") == 0)
		ret = cmd_hygiene(n - 1, args + 1);
	else if (strcmp(args[0], "import") == 0)
		ret = cmd_import(n - 1, args + 1);
	else if (strcmp(args[0], "export") == 0)
		ret = cmd_export(n - 1, args + 1);
	else if (strcmp(args[0], "init") == 0)
		ret = cmd_init(n - 1, args + 1);
	else if (strcmp(args[0], "stats") == 0)
		ret = cmd_stats(n - 1, args + 1);
	else if (strcmp(args[0], "map-max") == 0)
		ret = cmd_map_max(n - 1, args + 1);
	else if (strcmp(args[0], "committed") == 0)
		ret = cmd_committed(n, args);
	else
		ret = cmd_expire(n - 1, args + 1);
	free(args);
	return ret;
}
