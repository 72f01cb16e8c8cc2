/*++
/* NAME
/*	htgctl-commit 3
/* SUMMARY
/*	htgctl committed: Postfix's proof that a relayed message was committed
/* SYNOPSIS
/*	htgctl [-d DIR] committed ACCOUNT QUEUE_ID < MESSAGE
/*
/*	master.cf:
/*	htgcommit unix - n n - - pipe
/*	  user=htg argv=/usr/sbin/htgctl -d /var/lib/htg/directory
/*	  committed ${sasl_username} ${queue_id}
/* DESCRIPTION
/*	HTG-MSGID claims (doc/milter.md "Message-ID claims") need proof
/*	that Postfix committed a queue file. While the file is queued,
/*	postqueue -j shows it; a message for a mailbox flow leaves the
/*	LMTP delivery record behind. A message relayed to a government
/*	party left nothing: delivered within milliseconds, it was gone
/*	before the milter looked, and a retry of it (its client never saw
/*	the 250) was taken as a retry of a failed message and delivered a
/*	second time.
/*
/*	So htg-milter gives every message of a relayed flow one more
/*	envelope recipient (commit_recipient, NOTIFY=NEVER), which the
/*	transport map routes to this command through pipe(8). Postfix
/*	keeps the queue file until every recipient is done, so from the
/*	commit on the message is either in the queue or this command has
/*	run: there is no moment without proof. The command reads the
/*	Message-ID from the message's header (the one the milter claimed
/*	or inserted), turns the claim of (ACCOUNT, Message-ID) final when
/*	QUEUE_ID holds it, and discards the message.
/*
/*	A claim that another queue id holds (the claim was ended and a
/*	retry took it over before this ran: possible only when the
/*	milter could not consult the queue) is reported on stderr, which
/*	pipe(8) logs with the delivery status: the message was delivered
/*	twice. What the command prints starts with its verdict ("claim
/*	final", "no claim", "claimed by QUEUE_ID"), as pipe(8) logs only
/*	the beginning of it.
/*
/*	Memory is bounded: only the Message-ID field is kept, up to
/*	FIELD_MAX bytes; the rest is read and dropped.
/* EXIT STATUS
/*	0 done (also when there is nothing to settle); 75 (EX_TEMPFAIL:
/*	Postfix retries) when the directory cannot be written; 2 usage.
/* SEE ALSO
/*	htg-milter(8) commit_recipient, pipe(8)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "htg-dir.h"
#include "htg-hdr.h"
#include "htgctl.h"

#define EX_TEMPFAIL 75
#define FIELD_MAX 65536		/* above htg-milter's header_field_max */

struct field_reader {
	char value[FIELD_MAX];
	size_t len;
	int in_msgid;		/* the current field is Message-ID */
	int too_long;		/* ... and did not fit */
	int count;		/* Message-ID fields seen */
	int done;		/* the header has ended */
};

/* Is the field that starts at line a Message-ID field? Sets value to
   what follows the colon. */
static int msgid_field(const char *line, size_t len, const char **value_r)
{
	static const char name[] = "message-id";
	size_t n = sizeof(name) - 1, i = n;

	if (len < n || strncasecmp(line, name, n) != 0)
		return 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= len || line[i] != ':')
		return 0;
	*value_r = line + i + 1;
	return 1;
}

static void keep(struct field_reader *fr, const char *s, size_t len)
{
	if (fr->len + len >= sizeof(fr->value)) {
		fr->too_long = 1;
		return;
	}
	memcpy(fr->value + fr->len, s, len);
	fr->len += len;
	fr->value[fr->len] = '\0';
}

/* One header line without its line end (a piece of it when longer than
   the read buffer: cont says it continues the previous piece). */
static void header_line(struct field_reader *fr, const char *line,
			size_t len, int cont)
{
	const char *value;

	if (cont) {
		if (fr->in_msgid)
			keep(fr, line, len);
		return;
	}
	if (len == 0) {
		fr->done = 1;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t') {	/* folded: unfold */
		if (fr->in_msgid)
			keep(fr, line, len);
		return;
	}
	fr->in_msgid = msgid_field(line, len, &value);
	if (fr->in_msgid && fr->count++ == 0)
		keep(fr, value, len - (size_t)(value - line));
	else
		fr->in_msgid = 0;
}

/* Read the message: the Message-ID field into fr, the rest dropped. */
static void read_message(FILE *in, struct field_reader *fr)
{
	char buf[8192];
	int cont = 0;

	while (!fr->done && fgets(buf, sizeof(buf), in) != NULL) {
		size_t len = strlen(buf);
		int whole = len > 0 && buf[len - 1] == '\n';

		if (whole)
			buf[--len] = '\0';
		if (whole && len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		header_line(fr, buf, len, cont);
		cont = !whole;
	}
	while (fread(buf, 1, sizeof(buf), in) > 0)
		;
}

int cmd_committed(int argc, char **argv)
{
	static struct field_reader fr;
	struct htg_msgid_claim claim;
	char msgid[HTG_USER_MAX * 4];
	const char *account, *qid, *error;
	struct htg_dir *dir;
	int ret;

	if (argc != 3)
		ctl_usage();
	account = argv[1];
	qid = argv[2];
	read_message(stdin, &fr);
	if (*account == '\0') {
		printf("no claim: no SASL account\n");
		return 0;
	}
	if (fr.count != 1 || fr.too_long ||
	    htg_hdr_msgid(fr.value, msgid, sizeof(msgid)) != 1) {
		printf("no claim: no single usable Message-ID\n");
		return 0;
	}
	if (htg_dir_open(ctl_dir_path, 0, &dir, &error) != 1) {
		fprintf(stderr, "directory: %s\n", error);
		return EX_TEMPFAIL;
	}
	ret = htg_dir_msgid_settle(dir, account, msgid, qid, HTG_MSGID_FINAL,
				   &error);
	if (ret < 0) {
		fprintf(stderr, "directory: %s\n", error);
		htg_dir_close(&dir);
		return EX_TEMPFAIL;
	}
	if (ret == 1) {
		printf("claim final: %s %s\n", account, msgid);
	} else if (htg_dir_msgid_get(dir, account, msgid, INT64_MIN, &claim,
				     &error) == 1) {
		/* the claim is another queue id's */
		fprintf(stderr, "claimed by %s (both accepted: delivered "
			"twice): %s %s\n", claim.queue_id, account, msgid);
	} else {
		printf("no claim: %s %s\n", account, msgid);
	}
	htg_dir_close(&dir);
	return 0;
}
