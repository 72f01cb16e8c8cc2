/*++
/* NAME
/*	htgctl-import 3
/* SUMMARY
/*	htgctl import: many directory changes from standard input
/* SYNOPSIS
/*	htgctl [-d DIR] import
/* DESCRIPTION
/*	Reads one change per line from standard input, fields separated
/*	by one tab:
/* .nf
/*	account	USER	PASSWORD	add, or set the password if it exists
/*	address	ADDRESS	USER
/*	flow	FLOW	DELIVER-TO
/*	grant	USER	FLOW
/*	revoke	USER	FLOW
/* .fi
/*	Empty lines and lines starting with # are skipped. Passwords come
/*	from stdin only and are stored as one-way hashes, as with
/*	"account add --password-stdin". Every change is what the command
/*	of the same name does (idempotent for address, flow and grant).
/*
/*	For speed (provisioning 10,000 accounts) the directory is opened
/*	once and the commits of this handle flush only their data pages
/*	(HTG_DIR_LAZYSYNC, one flush instead of two); the data file is
/*	fsync'ed once more at the end (the last meta page), so
/*	when import exits 0 everything is durable. Readers see each
/*	change as soon as it is committed.
/*
/*	The first refused line stops the import: the lines before it are
/*	in the directory, the message names the line number.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

/*++
/* NAME
/*	htgctl-import 3
/* SUMMARY
/*	htgctl import: many directory changes from standard input
/* SYNOPSIS
/*	htgctl [-d DIR] import < CHANGES
/*
/*	htgctl -d OLD export | htgctl -d NEW import
/* DESCRIPTION
/*	Reads one change per line from standard input: a kind, then its
/*	fields, each after one tab. Provisioning lines:
/* .nf
/*	account	USER	PASSWORD	add, or set the password if it exists
/*	address	ADDRESS	USER
/*	flow	FLOW	DELIVER-TO
/*	grant	USER	FLOW
/*	revoke	USER	FLOW
/* .fi
/*	and the records of htgctl export (htgctl-export(3) lists them:
/*	node, account-record, logical, respond, audit, retained, msgid,
/*	delivery, and the lines htg-export and end around them).
/*	Empty lines and lines starting with # are skipped. Passwords come
/*	from stdin only and are stored as one-way hashes, as with
/*	"account add --password-stdin".
/*
/*	The fields of every kind but account and revoke are escaped as
/*	htg-field(3) says (\\, \t, \n, \r, \xHH); a password or a name
/*	to revoke is taken as it is, as before.
/*
/*	A change that the directory already holds is done (an import may
/*	run again); one that contradicts what it holds (an address of
/*	another account, a flow to another address, an account with
/*	another hash, flags, ...) is refused: htgctl-import-rec(3) says
/*	which kinds are compared and which replace by key. An import
/*	adds and never deletes: for an exact copy, import into a new
/*	directory.
/*
/*	An export starts with "htg-export VERSION": a version other than
/*	CTL_EXPORT_VERSION is refused before anything is written. It ends
/*	with "end RECORDS": an export without it, or with another count,
/*	was cut short, and the import fails (after writing the records it
/*	read). Lines without the header are provisioning and need no end.
/*
/*	For speed (provisioning 10,000 accounts, copying a directory) the
/*	directory is opened once and the commits of this handle flush only
/*	their data pages (HTG_DIR_LAZYSYNC, one flush instead of two);
/*	audit events and retention records go in batches of many per
/*	commit; the data file is fsync'ed once more at the end (the last
/*	meta page), so when import exits 0 everything is durable. Readers
/*	see each change as soon as it is committed.
/*
/*	The first refused line stops the import: the lines before it are
/*	in the directory, the message names the line number.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-passwd.h"
#include "htg-field.h"
#include "htgctl.h"
#include "htgctl-import.h"

/* an audit line escaped at worst, with room to spare */
#define IMPORT_LINE_MAX 16384
#define IMPORT_FIELDS_MAX 16	/* after the kind: audit's */

static int import_account(struct htg_dir *dir, const char *user,
			  const char *password, const char **error)
{
	struct htg_account a, old;
	int ret;

	memset(&a, 0, sizeof(a));
	a.retention_days = HTG_DEFAULT_RETENTION_DAYS;
	a.max_size = HTG_DEFAULT_MAX_SIZE;
	if (strlen(user) >= sizeof(a.user)) {
		*error = "user name too long";
		return 0;
	}
	if (password[0] == '\0') {
		*error = "empty password";
		return 0;
	}
	strcpy(a.user, user);
	if (htg_passwd_hash(password, a.pwhash, sizeof(a.pwhash)) < 0) {
		*error = "password hashing failed";
		return -1;
	}
	ret = htg_dir_account_get(dir, user, &old, error);
	explicit_bzero(&old, sizeof(old));
	if (ret == 1)
		ret = htg_dir_account_set_hash(dir, user, a.pwhash, error);
	else if (ret == 0)
		ret = htg_dir_account_add(dir, &a, error);
	explicit_bzero(&a, sizeof(a));
	return ret;
}

/* fsync the data file: the last meta page becomes durable */
static int sync_dir(void)
{
	const char *path = ctl_dir_path != NULL ? ctl_dir_path : getenv(HTG_DIR_ENV);
	char file[4096];
	int fd, ret;

	if (path == NULL)
		path = HTG_DIR_DEFAULT;
	if (htg_dir_is_uri(path))
		return 0;	/* PostgreSQL: each commit was durable */
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

static int imp_account(struct import *im, char **f, const char **error_r)
{
	return name_ok(NAME_ACCOUNT, f[0], error_r) ?
		import_account(im->dir, f[0], f[1], error_r) : 0;
}

static int imp_revoke(struct import *im, char **f, const char **error_r)
{
	int ret = htg_dir_grant_del(im->dir, f[0], f[1], error_r);

	if (ret == 0 && *error_r != NULL &&
	    strcmp(*error_r, "no such grant") == 0)
		ret = 1;	/* not granted: already so */
	return ret;
}

static const struct import_kind {
	const char *name;
	int fields;		/* after the kind */
	int escaped;		/* htg-field(3); not a password or a revoke */
	int batched;		/* written by import_flush() */
	import_fn *apply;
} import_kinds[] = {
	/* provisioning */
	{ "account", 2, 0, 0, imp_account },
	{ "revoke", 2, 0, 0, imp_revoke },
	/* provisioning and export */
	{ "address", 2, 1, 0, imp_address },
	{ "flow", 2, 1, 0, imp_flow },
	{ "grant", 2, 1, 0, imp_grant },
	/* export (htgctl-export.c) */
	{ "node", 2, 1, 0, imp_node },
	{ "account-record", 7, 1, 0, imp_account_record },
	{ "logical", 2, 1, 0, imp_logical },
	{ "respond", 3, 1, 0, imp_respond },
	{ "audit", 16, 1, 1, imp_audit },
	{ "retained", 9, 1, 1, imp_retained },
	{ "msgid", 2, 1, 0, imp_msgid },
	{ "delivery", 2, 1, 0, imp_delivery },
};

static const struct import_kind *import_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(import_kinds) / sizeof(*import_kinds);
	     i++)
		if (strcmp(name, import_kinds[i].name) == 0)
			return &import_kinds[i];
	return NULL;
}

/* Split line at its tabs into f[0..]: the number of fields, or
   IMPORT_FIELDS_MAX + 2 when there are more than a kind can have. */
static int split(char *line, char **f)
{
	int n = 0;
	char *p = line;

	while (p != NULL) {
		if (n == IMPORT_FIELDS_MAX + 1)
			return n + 1;
		f[n++] = p;
		if ((p = strchr(p, '\t')) != NULL)
			*p++ = '\0';
	}
	return n;
}

/* what an export's header and trailer say */
struct frame {
	int version;		/* 0: provisioning lines, no header */
	int ended;
	unsigned long records;	/* records after the header */
};

/* "htg-export VERSION" (first) and "end RECORDS" (last): 1, 0 */
static int frame_line(struct frame *fr, char **f, int n,
		      const char **error_r)
{
	static char why[128];
	char want[24];

	if (n != 2) {
		*error_r = "expected: htg-export<TAB>VERSION or end<TAB>RECORDS";
		return 0;
	}
	if (strcmp(f[0], "htg-export") == 0) {
		if (fr->version != 0 || fr->records != 0) {
			*error_r = "htg-export must be the first line";
			return 0;
		}
		snprintf(want, sizeof(want), "%d", CTL_EXPORT_VERSION);
		if (strcmp(f[1], want) != 0) {
			snprintf(why, sizeof(why), "unknown export format "
				 "version %.20s (this htgctl reads %d)", f[1],
				 CTL_EXPORT_VERSION);
			*error_r = why;
			return 0;
		}
		fr->version = CTL_EXPORT_VERSION;
		return 1;
	}
	snprintf(want, sizeof(want), "%lu", fr->records);
	if (fr->version == 0) {
		*error_r = "end without an htg-export line";
		return 0;
	}
	if (strcmp(f[1], want) != 0) {
		snprintf(why, sizeof(why), "the export says %.20s records, "
			 "%lu came: it is damaged", f[1], fr->records);
		*error_r = why;
		return 0;
	}
	fr->ended = 1;
	return 1;
}

/* One line: 1 applied (or skipped), 0 refused, -1 error. */
static int import_line(struct import *im, struct frame *fr, char *line,
		       unsigned long *err_line, const char **error_r)
{
	char *f[IMPORT_FIELDS_MAX + 2];
	const struct import_kind *k;
	int n, ret;

	*err_line = im->line;
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || line[0] == '#')
		return 1;
	n = split(line, f);
	if (fr->ended) {
		*error_r = "a line after the end line";
		return 0;
	}
	if (strcmp(f[0], "htg-export") == 0 || strcmp(f[0], "end") == 0)
		ret = frame_line(fr, f, n, error_r);
	else if ((k = import_kind(f[0])) == NULL) {
		*error_r = "unknown kind (account, address, flow, grant, "
			"revoke, or a record of htgctl export)";
		ret = 0;
	} else if (n != k->fields + 1) {
		*error_r = k->fields == 2 ? "expected: KIND<TAB>FIELD<TAB>FIELD" :
			"wrong number of fields for this kind";
		ret = 0;
	} else {
		fr->records++;
		for (int i = 1; i < n; i++) {
			if (k->escaped && !htg_field_unescape(f[i])) {
				*error_r = "a bad escape or a control "
					"character in a field";
				return 0;
			}
		}
		/* one order: a batch goes before any other kind of record */
		if (!k->batched && (ret = import_flush(im, error_r)) != 1) {
			*err_line = im->batch_line;
			return ret;
		}
		ret = k->apply(im, f + 1, error_r);
		if (ret == 1 && !k->batched)
			(*im->done)++;
		if (im->flush_failed)
			*err_line = im->batch_line;	/* the full batch */
	}
	return ret;
}

/* every line of stdin; err_line: where it stopped */
static int import_lines(struct import *im, char *line,
			unsigned long *err_line, const char **error_r)
{
	struct frame fr = { 0, 0, 0 };
	int ret = 1;

	while (ret == 1 && fgets(line, IMPORT_LINE_MAX, stdin) != NULL) {
		size_t len = strlen(line);

		im->line++;
		if (len > 0 && line[len - 1] != '\n' && !feof(stdin)) {
			*err_line = im->line;
			*error_r = "line too long";
			return 0;
		}
		ret = import_line(im, &fr, line, err_line, error_r);
		explicit_bzero(line, len);
	}
	if (ret != 1)
		return ret;
	if ((ret = import_flush(im, error_r)) != 1) {
		*err_line = im->batch_line;
		return ret;
	}
	*err_line = im->line;
	if (fr.version != 0 && !fr.ended) {
		*error_r = "no end line: the export was cut short";
		return 0;
	}
	return 1;
}

int cmd_import(int argc, char **argv)
{
	struct import im;
	char *line;
	const char *error = NULL;
	unsigned long done = 0, err_line = 0;
	int ret;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	memset(&im, 0, sizeof(im));
	im.done = &done;
	im.ev = calloc(IMPORT_BATCH_EVENTS, sizeof(*im.ev));
	im.kept = calloc(IMPORT_BATCH_RETAINED, sizeof(*im.kept));
	line = malloc(IMPORT_LINE_MAX);
	if (im.ev == NULL || im.kept == NULL || line == NULL) {
		fprintf(stderr, "htgctl: import: out of memory\n");
		return EXIT_REFUSED;
	}
	if (htg_dir_open(ctl_dir_path, HTG_DIR_CREATE | HTG_DIR_LAZYSYNC,
			 &im.dir, &error) != 1) {
		fprintf(stderr, "htgctl: %s\n", error);
		return EXIT_REFUSED;
	}
	ret = import_lines(&im, line, &err_line, &error);
	htg_dir_close(&im.dir);
	explicit_bzero(line, IMPORT_LINE_MAX);
	free(line);
	free(im.ev);
	free(im.kept);
	if (sync_dir() < 0 && ret == 1) {
		error = "cannot fsync the directory";
		ret = -1;
	}
	if (ret != 1) {
		ctl_say("import: line %lu: %s (%lu changes before it are in "
			"the directory)", err_line,
			error != NULL ? error : "failed", done);
		return EXIT_REFUSED;
	}
	fprintf(stderr, "htgctl: import: %lu changes\n", done);
	return 0;
}
