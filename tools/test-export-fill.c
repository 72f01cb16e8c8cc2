/*++
/* NAME
/*	test-export-fill 1
/* SUMMARY
/*	fill a directory with the records htgctl has no command for
/* SYNOPSIS
/*	test-export-fill DIR [EVENTS]
/* DESCRIPTION
/*	For test-htgctl-export.sh: writes, through the directory's own
/*	writers (as htg-milter and the Dovecot plugin do), audit events
/*	with awkward bytes in their fields, retention records,
/*	Message-ID claims in each state and delivery records pending and
/*	done. With EVENTS, that many more audit events (in commits of
/*	1000), for measuring export and import of a big audit table.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir.h"

#define NOW 1796600000LL	/* 2026-12-07, fixed: the output is too */

static struct htg_dir *dir;

static void check(int ret, const char *what, const char *error)
{
	if (ret != 1) {
		fprintf(stderr, "test-export-fill: %s: %s\n", what,
			error != NULL ? error : "refused");
		exit(1);
	}
}

static void events(void)
{
	struct htg_audit_event ev;
	const char *error = NULL;

	memset(&ev, 0, sizeof(ev));
	ev.time_us = NOW * 1000000 + 1;
	snprintf(ev.event, sizeof(ev.event), "deliver");
	snprintf(ev.account, sizeof(ev.account), "demo@bedrijf.nl");
	/* a backslash, a control byte, UTF-8, bytes that are not UTF-8 */
	snprintf(ev.message_id, sizeof(ev.message_id),
		 "<a\\b\x01" "c\xc3\xa9\xff@x.nl>");
	ev.size = 12345;
	ev.uid = 7;
	snprintf(ev.queue_id, sizeof(ev.queue_id), "4QABC12");
	snprintf(ev.remote, sizeof(ev.remote), "::1");
	snprintf(ev.tls, sizeof(ev.tls), "TLSv1.3");
	snprintf(ev.session, sizeof(ev.session), "s\\1");
	check(htg_dir_audit_append(dir, &ev, &error), "audit", error);

	memset(&ev, 0, sizeof(ev));
	ev.time_us = NOW * 1000000 + 2;
	snprintf(ev.event, sizeof(ev.event), "refuse");
	snprintf(ev.account, sizeof(ev.account), "demo@bedrijf.nl");
	snprintf(ev.rule, sizeof(ev.rule), "HTG-MSGID");
	snprintf(ev.flow, sizeof(ev.flow), "dms");
	snprintf(ev.stage, sizeof(ev.stage), "EOM");
	/* tab and line breaks (LMDB stores them as spaces), a backslash
	   before an n, DEL, an empty field before it */
	snprintf(ev.detail, sizeof(ev.detail),
		 "550 5.7.1\tdup\r\nlicate \\n \\\\ \x7f end");
	check(htg_dir_audit_append(dir, &ev, &error), "audit", error);

	/* an event keyed by its writer (the pickup journal's) */
	memset(&ev, 0, sizeof(ev));
	ev.time_us = NOW * 1000000 + 2;
	ev.key_pid = 4242;
	ev.key_seq = 0x80000001u;
	snprintf(ev.event, sizeof(ev.event), "dele");
	snprintf(ev.account, sizeof(ev.account), "other@bedrijf.nl");
	snprintf(ev.message_id, sizeof(ev.message_id), "<k@x.nl>");
	check(htg_dir_pickup_commit(dir, NULL, 0, &ev, 1, &error), "audit",
	      error);
}

static void retained(void)
{
	struct htg_retained r[2];
	const char *error = NULL;

	memset(r, 0, sizeof(r));
	snprintf(r[0].account, sizeof(r[0].account), "demo@bedrijf.nl");
	snprintf(r[0].id, sizeof(r[0].id), "1796600000.M1P2.host");
	r[0].retained = NOW;
	r[0].deadline = NOW + 30 * 86400;
	snprintf(r[0].message_id, sizeof(r[0].message_id), "<r\\1@x.nl>");
	r[0].size = 99;
	r[0].uid = 3;
	snprintf(r[0].path, sizeof(r[0].path),
		 "/var/lib/htg/mail/demo@bedrijf.nl/retention/a b\\c");
	snprintf(r[0].restore_to, sizeof(r[0].restore_to),
		 "/var/lib/htg/mail/demo@bedrijf.nl/Maildir");
	r[1] = r[0];
	snprintf(r[1].id, sizeof(r[1].id), "second");
	r[1].restore_to[0] = '\0';
	check(htg_dir_retained_add(dir, r, 2, &error), "retained", error);
}

static void claims(void)
{
	struct htg_msgid_claim held;
	const char *error = NULL;

	check(htg_dir_msgid_claim(dir, "demo@bedrijf.nl", "<p@x.nl>", "QP",
				  86400, NOW, NULL, &held, &error), "claim",
	      error);
	check(htg_dir_msgid_claim(dir, "demo@bedrijf.nl", "<e@x.nl>", "QE",
				  86400, NOW, NULL, &held, &error), "claim",
	      error);
	check(htg_dir_msgid_settle(dir, "demo@bedrijf.nl", "<e@x.nl>", "QE",
				   HTG_MSGID_ENDED, &error), "settle", error);
	check(htg_dir_msgid_claim(dir, "", "<f@x.nl>", "QF", 86400, NOW,
				  NULL, &held, &error), "claim", error);
	check(htg_dir_msgid_settle(dir, "", "<f@x.nl>", "QF",
				   HTG_MSGID_FINAL, &error), "settle", error);
	/* pending, and done; the "deliver" event above names this one */
	if (htg_dir_delivery_begin(dir, "demo@bedrijf.nl",
				   "<a\\b\x01" "c\xc3\xa9\xff@x.nl>", 86400, NOW,
				   &error) != HTG_DELIVERY_NEW ||
	    htg_dir_delivery_begin(dir, "demo@bedrijf.nl", "<d@x.nl>", 86400,
				   NOW, &error) != HTG_DELIVERY_NEW)
		check(0, "delivery", error);
	check(htg_dir_delivery_mark(dir, "demo@bedrijf.nl", "<d@x.nl>",
				    &error), "delivery", error);
}

static void many(unsigned long n)
{
	static struct htg_audit_event ev[1000];
	const char *error = NULL;
	unsigned long i = 0;

	while (i < n) {
		unsigned int k;

		for (k = 0; k < 1000 && i < n; k++, i++) {
			memset(&ev[k], 0, sizeof(ev[k]));
			ev[k].time_us = (NOW - 86400) * 1000000 + (int64_t)i;
			ev[k].key_pid = 1;
			ev[k].key_seq = (uint32_t)i;
			snprintf(ev[k].event, sizeof(ev[k].event), "retr");
			snprintf(ev[k].account, sizeof(ev[k].account),
				 "user%lu@bedrijf.nl", i % 1000);
			snprintf(ev[k].message_id, sizeof(ev[k].message_id),
				 "<%lu.%lu@overheid.example>", i, i * 7);
			snprintf(ev[k].session, sizeof(ev[k].session),
				 "%016lx", i * 2654435761UL);
			ev[k].size = 2000 + i % 5000;
			ev[k].uid = (uint32_t)(i % 100000);
		}
		check(htg_dir_pickup_commit(dir, NULL, 0, ev, k, &error),
		      "events", error);
	}
}

int main(int argc, char **argv)
{
	const char *error = NULL;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: test-export-fill DIR [EVENTS]\n");
		return 2;
	}
	check(htg_dir_open(argv[1], HTG_DIR_CREATE | HTG_DIR_LAZYSYNC, &dir,
			   &error), argv[1], error);
	if (argc == 3) {
		many(strtoul(argv[2], NULL, 10));
	} else {
		events();
		retained();
		claims();
	}
	htg_dir_close(&dir);
	return 0;
}
