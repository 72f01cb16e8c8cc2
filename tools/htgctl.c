/*++
/* NAME
/*	htgctl 8
/* SUMMARY
/*	manage the HTG directory
/* SYNOPSIS
/*	htgctl -V | --version
/*	htgctl [-d DIR] init [--owner USER]
/*	htgctl [-d DIR] account add USER [--password-stdin]
/*		[--retention-days N] [--max-size BYTES]
/*	htgctl [-d DIR] account passwd USER --password-stdin
/*	htgctl [-d DIR] account del USER
/*	htgctl [-d DIR] account disable|enable USER
/*	htgctl [-d DIR] account profile USER legacy|standard
/*	htgctl [-d DIR] account mode USER enforce|report
/*	htgctl [-d DIR] account translate USER on|off
/*	htgctl [-d DIR] account list [--json]
/*	htgctl [-d DIR] address add ADDRESS USER [--logical]
/*	htgctl [-d DIR] address del ADDRESS
/*	htgctl [-d DIR] address list [--json]
/*	htgctl [-d DIR] flow add FLOW --deliver-to ADDRESS
/*	htgctl [-d DIR] flow set FLOW --deliver-to ADDRESS
/*	htgctl [-d DIR] flow del FLOW
/*	htgctl [-d DIR] flow respond FLOW off|ack|echo|refuse [--delay SECONDS]
/*	htgctl [-d DIR] flow list [--json]
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
/*	accounts; see htgctl-import.c).
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

const char *dir_path;
const char *mail_root;
int opt_json;

void usage(void)
{
	fputs("usage: htgctl [-d DIR] [--mail-root DIR] COMMAND ...\n"
	      "       htgctl -V | --version\n"
	      "       htgctl [-d DIR] init [--owner USER]\n"
	      "       htgctl [-d DIR] account add USER [--password-stdin] "
	      "[--retention-days N] [--max-size BYTES]\n"
	      "       htgctl [-d DIR] account passwd USER --password-stdin\n"
	      "       htgctl [-d DIR] account del USER\n"
	      "       htgctl [-d DIR] account disable|enable USER\n"
	      "       htgctl [-d DIR] account profile USER legacy|standard\n"
	      "       htgctl [-d DIR] account mode USER enforce|report\n"
	      "       htgctl [-d DIR] account translate USER on|off\n"
	      "       htgctl [-d DIR] account list [--json]\n"
	      "       htgctl [-d DIR] address add ADDRESS USER [--logical]\n"
	      "       htgctl [-d DIR] address del ADDRESS\n"
	      "       htgctl [-d DIR] address list [--json]\n"
	      "       htgctl [-d DIR] flow add FLOW --deliver-to ADDRESS\n"
	      "       htgctl [-d DIR] flow set FLOW --deliver-to ADDRESS\n"
	      "       htgctl [-d DIR] flow del FLOW\n"
	      "       htgctl [-d DIR] flow respond FLOW off|ack|echo|refuse "
	      "[--delay SECONDS]\n"
	      "       htgctl [-d DIR] flow list [--json]\n"
	      "       htgctl [-d DIR] grant USER FLOW | grant list [--json]\n"
	      "       htgctl [-d DIR] revoke USER FLOW\n"
	      "       htgctl [-d DIR] audit [USER] [--json] [--event E] "
	      "[--message-id ID] [--since T] [--until T]\n"
	      "       htgctl [-d DIR] audit expire --days N [--now T]\n"
	      "       htgctl [-d DIR] retention list [USER] [--json]\n"
	      "       htgctl [-d DIR] retention restore USER MESSAGE-ID\n"
	      "       htgctl [-d DIR] retention purge [USER] [--now T]\n"
	      "       htgctl [-d DIR] hygiene [USER] [--json] [--days N] "
	      "[--retain] [--now T]\n"
	      "       htgctl [-d DIR] import < CHANGES  (lines: account USER "
	      "PASSWORD | address ADDRESS USER |\n"
	      "                 flow FLOW DELIVER-TO | grant|revoke USER FLOW; "
	      "fields tab-separated)\n"
	      "       htgctl [-d DIR] expire [--now T]\n"
	      "       htgctl [-d DIR] stats [--since T] [--until T] "
	      "[--by-account] [--now T]\n"
	      "                 [--output FILE] [--json | --prometheus]\n"
	      "       htgctl [-d DIR] map-max SIZE  (bytes, or K/M/G/T)\n"
	      "       htgctl [-d DIR] committed ACCOUNT QUEUE_ID < MESSAGE\n",
	      stderr);
	exit(EXIT_USAGE);
}

struct htg_dir *open_dir(int write)
{
	struct htg_dir *dir;
	const char *error;

	if (htg_dir_open(dir_path, write ? HTG_DIR_CREATE : HTG_DIR_RDONLY,
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
struct htg_dir *open_dir_pickup(int write)
{
	struct htg_dir *dir;
	const char *error;

	if (htg_dir_open(dir_path, 0, &dir, &error) != 1) {
		if (write) {
			fprintf(stderr, "htgctl: %s\n", error);
			exit(EXIT_REFUSED);
		}
		fprintf(stderr, "htgctl: warning: pickup journal not "
			"applied: %s\n", error);
		return open_dir(0);
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
int result(int ret, const char *error)
{
	if (ret == 1)
		return 0;
	say("%s", error != NULL ? error : "failed");
	return EXIT_REFUSED;
}

unsigned long long parse_number(const char *s, const char *what)
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
		usage();
	dir = open_dir(1);
	ret = htg_dir_msgid_purge(dir, now, &msgids, &error);
	if (ret == 1)
		ret = htg_dir_delivery_purge(dir, now, &deliveries, &error);
	htg_dir_close(&dir);
	if (ret == 1)
		printf("expired %ld Message-ID claims, %ld delivery records\n",
		       msgids, deliveries);
	return result(ret, error);
}

static const char *const commands[] = {
	"account", "address", "flow", "grant", "revoke", "audit", "retention",
	"hygiene", "import", "expire", "init", "stats", "map-max", "committed",
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
		dir_path = argv[2];
		i = 3;
	}
	mail_root = getenv("HTG_MAIL_ROOT");
	if (mail_root == NULL || *mail_root == '\0')
		mail_root = HTG_MAIL_ROOT_DEFAULT;
	/* strip --json and --mail-root DIR wherever they are */
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (args == NULL)
		return EXIT_REFUSED;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			opt_json = 1;
		else if (strcmp(argv[i], "--mail-root") == 0 && i + 1 < argc)
			mail_root = argv[++i];
		else
			args[n++] = argv[i];
	}
	if (n < 1)
		usage();
	if (mail_root[0] != '/') {
		fprintf(stderr, "htgctl: the mail root must be an absolute "
			"path: %s\n", mail_root);
		return EXIT_USAGE;
	}
	for (const char *const *c = commands; *c != NULL; c++)
		known |= strcmp(args[0], *c) == 0;
	if (!known)
		usage();
	if (strcmp(args[0], "init") == 0) {
		if (n == 3 && strcmp(args[1], "--owner") == 0)
			owner = args[2];
		else if (n != 1)
			usage();
	}
	/* root becomes the directory's owner before anything else */
	priv_setup(args[0], owner);
	if (strcmp(args[0], "account") == 0)
		ret = cmd_account(n - 1, args + 1);
	else if (strcmp(args[0], "address") == 0)
		ret = cmd_address(n - 1, args + 1);
	else if (strcmp(args[0], "flow") == 0)
		ret = cmd_flow(n - 1, args + 1);
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
