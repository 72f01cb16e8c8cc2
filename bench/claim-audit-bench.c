/*++
/* NAME
/*	claim-audit-bench 1
/* SUMMARY
/*	what the "submit" audit event adds to htg-milter's Message-ID claim
/* SYNOPSIS
/*	claim-audit-bench DIRECTORY|URI [CLAIMS [ROUNDS]]
/* DESCRIPTION
/*	htg-milter settles each Message-ID claim at the end of its
/*	transaction in one commit, and since issue 16 writes the "submit"
/*	audit event in that commit (htg_dir_msgid_settle_audit). This
/*	times that commit with and without the event, as the milter opens the
/*	directory (HTG_DIR_LAZYSYNC), on the disk of DIRECTORY (created;
/*	it must not exist) or in the PostgreSQL database of a
/*	postgresql:// URI (its schema made by htgctl init; Message-IDs
/*	unique to the run, so a database may be used again). Rounds
/*	alternate the two (A B, B A, ...) so that drift hits both alike;
/*	per round it prints the mean time per commit of each, then the
/*	medians and their ratio. It also times the claim itself (the
/*	commit on the client's path, at the end of message). Asserts
/*	nothing.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-msg.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long run_id;		/* Message-IDs unique to this run */

/* mean microseconds per settle commit over n claims; *claim_us the
   mean of the claims */
static double run(struct htg_dir *dir, int with_event, int n, int round,
		  double *claim_us)
{
	struct htg_audit_event ev;
	struct htg_msgid_claim held;
	const char *error;
	char msgid[128], qid[32];
	double spent = 0, claimed = 0, c0;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "submit");
	snprintf(ev.account, sizeof(ev.account), "bench@bedrijf.nl");
	snprintf(ev.remote, sizeof(ev.remote), "192.0.2.10");
	snprintf(ev.tls, sizeof(ev.tls), "TLSv1.3");
	snprintf(ev.session, sizeof(ev.session), "htg-milter");
	snprintf(ev.flow, sizeof(ev.flow), "dms");
	snprintf(ev.stage, sizeof(ev.stage), "EOM");
	ev.size = 10240;
	for (int i = 0; i < n; i++) {
		snprintf(msgid, sizeof(msgid),
			 "<%d.%d.%d.%lx.0123456789abcdef@client.example>",
			 round, with_event, i, run_id);
		snprintf(qid, sizeof(qid), "Q%dX%dX%d", round, with_event, i);
		snprintf(ev.message_id, sizeof(ev.message_id), "%s", msgid);
		snprintf(ev.queue_id, sizeof(ev.queue_id), "%s", qid);
		c0 = now_us();
		if (htg_dir_msgid_claim(dir, "bench@bedrijf.nl", msgid, qid,
					86400, time(NULL), NULL, &held,
					&error) != 1)
			msg_fatal("claim: %s", error);
		claimed += now_us() - c0;
		{	/* only the settle is timed */
			double s0 = now_us();

			if (htg_dir_msgid_settle_audit(dir, "bench@bedrijf.nl",
						       msgid, qid,
						       HTG_MSGID_FINAL,
						       with_event ? &ev : NULL,
						       &error) != 1)
				msg_fatal("settle: %s", error);
			spent += now_us() - s0;
		}
	}
	*claim_us = claimed / n;
	return spent / n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error;
	int n = argc > 2 ? atoi(argv[2]) : 500;
	int rounds = argc > 3 ? atoi(argv[3]) : 6;
	double a[64], b[64], ca[64], cb[64], cw;

	if (argc < 2 || n < 1 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: claim-audit-bench DIRECTORY|URI "
			"[CLAIMS [ROUNDS]]\n");
		return 2;
	}
	msg_init("claim-audit-bench", NULL);
	if (htg_dir_open(argv[1], HTG_DIR_CREATE | HTG_DIR_LAZYSYNC, &dir,
			 &error) != 1)
		msg_fatal("%s", error);
	run_id = (long)getpid() ^ ((long)time(NULL) << 16);
	printf("%s directory %s\n", htg_dir_is_shared(dir) ? "PostgreSQL" :
	       "LMDB", argv[1]);
	(void)run(dir, 1, 50, 99, &cw);	/* warm up */
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0) {
			a[r] = run(dir, 0, n, r, &ca[r]);
			b[r] = run(dir, 1, n, r, &cb[r]);
		} else {
			b[r] = run(dir, 1, n, r, &cb[r]);
			a[r] = run(dir, 0, n, r, &ca[r]);
		}
		printf("round %d: settle %.1f us, settle + submit event %.1f us"
		       " (claims %.1f, %.1f us)\n", r + 1, a[r], b[r], ca[r],
		       cb[r]);
		ca[r] = (ca[r] + cb[r]) / 2;
	}
	qsort(a, (size_t)rounds, sizeof(a[0]), cmp);
	qsort(b, (size_t)rounds, sizeof(b[0]), cmp);
	qsort(ca, (size_t)rounds, sizeof(ca[0]), cmp);
	printf("median per commit: claim %.1f us, settle %.1f us, settle + "
	       "submit event %.1f us, ratio %.3f\n", ca[rounds / 2],
	       a[rounds / 2], b[rounds / 2], b[rounds / 2] / a[rounds / 2]);
	htg_dir_close(&dir);
	return 0;
}
