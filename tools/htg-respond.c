/*++
/* NAME
/*	htg-respond 8
/* SUMMARY
/*	simulated government answers for a test lab
/* SYNOPSIS
/*	htg-respond [-d DIR] -s HOST:PORT -D HEADER_DOMAIN ACCOUNT RECIPIENT
/*		QUEUE_ID < MESSAGE
/*
/*	master.cf:
/*	htgrespond unix - n n - 4 pipe
/*	  user=htg argv=/usr/sbin/htg-respond -d /var/lib/htg/directory
/*	  -s 10.0.0.10:25 -D htpoort.nl
/*	  ${sasl_username} ${original_recipient} ${queue_id}
/* DESCRIPTION
/*	A flow the gateway answers for (htgctl flow respond FLOW
/*	ack|echo|refuse [--delay SECONDS]) gets a second recipient from
/*	htg-policyd's flow map; Postfix's transport map sends it here
/*	through pipe(8), once per message delivered to the flow (which
/*	still goes to its own target). htg-respond reads the message as it
/*	was delivered (into an unlinked temporary file: memory does not
/*	grow with it), waits the flow's delay, and sends the answer a
/*	government party would send: From the flow's address at the
/*	header domain, To the submitting account's logical address (htgctl
/*	address add ADDRESS USER --logical), In-Reply-To and References
/*	naming the submitted Message-ID, through the inbound SMTP service
/*	(-s), so that it lands in the account's mailbox and is picked up
/*	over POP3 as a real answer is.
/* .IP ack
/*	a text/plain receipt: Message-ID, size, time received, and the
/*	attachment names as delivered (after htg-milter renamed them).
/* .IP echo
/*	multipart/mixed: a short text and the delivered message as an
/*	application/octet-stream attachment (base64).
/* .IP refuse
/*	a text/plain functional refusal.
/* .PP
/*	Each answer is audited as "answer" (account, the submitted
/*	Message-ID, flow, queue id, the answer's Message-ID). What it
/*	prints starts with its verdict, as pipe(8) logs only the start.
/*
/*	The inbound service takes mail only from the government networks:
/*	the address htg-respond connects from (the lab: 127.0.0.1) must be
/*	one of them.
/* EXIT STATUS
/*	0 answered, or nothing to answer (the flow does not respond, the
/*	account has no logical address); 75 (EX_TEMPFAIL: Postfix retries)
/*	when the directory or the inbound service fails; 2 usage.
/* SEE ALSO
/*	htgctl(8), pipe(8)
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-uuid.h"
#include "respond.h"

#define EX_TEMPFAIL 75
#define DELAY_MAX 3600

static void usage(void)
{
	fputs("usage: htg-respond [-d DIR] -s HOST:PORT -D HEADER_DOMAIN "
	      "ACCOUNT RECIPIENT QUEUE_ID < MESSAGE\n", stderr);
	exit(2);
}

static void audit_answer(struct htg_dir *dir, const struct respond_job *j)
{
	struct htg_audit_event ev;
	const char *error;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "answer");
	snprintf(ev.account, sizeof(ev.account), "%s", j->account);
	snprintf(ev.message_id, sizeof(ev.message_id), "%s", j->msg.msgid);
	ev.size = j->msg.size;
	snprintf(ev.queue_id, sizeof(ev.queue_id), "%s", j->queue_id);
	snprintf(ev.session, sizeof(ev.session), "htg-respond");
	snprintf(ev.flow, sizeof(ev.flow), "%s", j->flow);
	snprintf(ev.detail, sizeof(ev.detail), "%s answer %s", j->mode,
		 j->answer_id);
	if (htg_dir_audit_append(dir, &ev, &error) != 1)
		fprintf(stderr, "audit not recorded: %s\n", error);
}

/* Say why (pipe(8) logs it), close the directory, exit with status. */
__attribute__((format(printf, 3, 4)))
static int done(struct htg_dir **dir, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (*dir != NULL)
		htg_dir_close(dir);
	return status;
}

int main(int argc, char **argv)
{
	struct respond_job j;
	const char *dir_path = NULL, *server = NULL, *error = "", *at;
	struct htg_dir *dir = NULL;
	char uuid[HTG_UUID_LEN + 1];
	int ch, ret;

	memset(&j, 0, sizeof(j));
	while ((ch = getopt(argc, argv, "d:s:D:")) != -1) {
		switch (ch) {
		case 'd':
			dir_path = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'D':
			j.header_domain = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3 || server == NULL || j.header_domain == NULL)
		usage();
	j.account = argv[optind];
	j.queue_id = argv[optind + 2];
	at = strrchr(argv[optind + 1], '@');
	if (at == NULL || at == argv[optind + 1] ||
	    (size_t)(at - argv[optind + 1]) >= sizeof(j.flow))
		usage();
	snprintf(j.flow, sizeof(j.flow), "%.*s", (int)(at - argv[optind + 1]),
		 argv[optind + 1]);
	if (respond_read(stdin, &j.msg) < 0)
		return done(&dir, EX_TEMPFAIL, "deferred: cannot keep the "
			    "message: %s", j.msg.error);
	if (htg_dir_open(dir_path, 0, &dir, &error) != 1)
		return done(&dir, EX_TEMPFAIL, "deferred: directory: %s", error);
	ret = htg_dir_flow_respond_get(dir, j.flow, j.mode, sizeof(j.mode),
				       &j.delay, &error);
	if (ret == 0)
		return done(&dir, 0, "no answer: flow %s does not respond",
			    j.flow);
	if (ret == 1)
		ret = *j.account == '\0' ? 0 :
			htg_dir_logical_get(dir, j.account, j.logical,
					    sizeof(j.logical), &error);
	if (ret == 0)
		return done(&dir, 0, "no answer: account %s has no logical "
			    "address", *j.account != '\0' ? j.account : "(none)");
	if (ret < 0)
		return done(&dir, EX_TEMPFAIL, "deferred: directory: %s", error);
	if (htg_uuid(uuid) < 0)
		return done(&dir, EX_TEMPFAIL, "deferred: no random source");
	snprintf(j.answer_id, sizeof(j.answer_id), "<%s@%s>", uuid,
		 j.header_domain);
	if (j.delay > 0)
		sleep(j.delay > DELAY_MAX ? DELAY_MAX : j.delay);
	if (respond_send(server, &j) < 0)
		return done(&dir, EX_TEMPFAIL, "deferred: %s", j.msg.error);
	audit_answer(dir, &j);
	fclose(j.msg.spool);
	return done(&dir, 0, "answered: %s %s to %s", j.mode, j.answer_id,
		    j.logical);
}
