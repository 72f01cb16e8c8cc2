/*++
/* NAME
/*	milter-claim 3
/* SUMMARY
/*	HTG-MSGID uniqueness across retries (Message-ID claims)
/* DESCRIPTION
/*	See milter-claim.h and doc/milter.md "Message-ID claims".
/*
/*	Postfix (smtpd.c data_cmd, cleanup_api.c cleanup_flush) runs the
/*	milters' end of message inside cleanup BEFORE it commits the queue
/*	file (fsync, then mode 0700); the 250 follows the commit; a
/*	failure after our end of message (a later milter refusing, a write
/*	error) removes the file and gives the client 4xx/5xx. smtpd then
/*	resets the transaction (mail_reset) and milter8_abort() sends ABORT
/*	to every milter, after success and failure alike, and before the
/*	reply is even flushed: no milter event tells the two apart. So the
/*	evidence that a queue id was committed is taken from Postfix's
/*	queue (postqueue -j lists committed files only: showq skips
/*	incoming files that are not yet mode 0700) and, once it has left
/*	the queue for a mailbox, from the delivery record our Dovecot LMTP
/*	plugin keeps (htg_dir_delivery_seen).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "htg-milter.h"
#include "htg-audit-spool.h"
#include "htg-msg.h"
#include "milter-audit.h"
#include "milter-claim.h"

extern char **environ;

#define QUEUE_ASK_TIMEOUT_MS 10000
#define QUEUE_RETRY_S 60	/* after postqueue failed, ask again after */
#define SETTLE_RETRY_S 300	/* a settle waits that long for the directory */

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t queue_unusable_until;

/* --- evidence of a commit ------------------------------------------------ */

/* Does postqueue -j list queue id qid? 1 yes, 0 no, -1 cannot ask. The
   output (one JSON object per message) is scanned as it streams by:
   memory does not grow with the queue. */
static int queue_lists(const char *qid)
{
	const char *argv[6];
	char pattern[HTG_QUEUE_ID_MAX + 32], buf[8192 + sizeof(pattern)];
	size_t plen, keep = 0;
	int fds[2], argc = 0, found = 0, status, failed = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	time_t now = time(NULL);

	if (milter_settings.postqueue == NULL ||
	    strcmp(milter_settings.postqueue, "none") == 0)
		return -1;
	pthread_mutex_lock(&queue_lock);
	failed = now < queue_unusable_until;
	pthread_mutex_unlock(&queue_lock);
	if (failed)
		return -1;
	plen = (size_t)snprintf(pattern, sizeof(pattern), "\"queue_id\": \"%s\"",
				qid);
	argv[argc++] = milter_settings.postqueue;
	if (milter_settings.postfix_config_dir != NULL) {
		argv[argc++] = "-c";
		argv[argc++] = milter_settings.postfix_config_dir;
	}
	argv[argc++] = "-j";
	argv[argc] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	/* nothing of ours leaks into it (libmilter's sockets, the log) */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	failed = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			      environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (failed != 0) {
		close(fds[0]);
		return -1;
	}
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, QUEUE_ASK_TIMEOUT_MS) <= 0) {
			kill(pid, SIGKILL);
			failed = 1;
			break;
		}
		n = read(fds[0], buf + keep, sizeof(buf) - keep - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		keep += (size_t)n;
		buf[keep] = '\0';
		if (!found && strstr(buf, pattern) != NULL)
			found = 1;
		/* keep the tail that may start the pattern */
		if (keep >= plen) {
			memmove(buf, buf + keep - (plen - 1), plen - 1);
			keep = plen - 1;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* not asked again for a while: one warning, no fork per
		   message while it cannot work (the lab's private Postfix) */
		pthread_mutex_lock(&queue_lock);
		if (now >= queue_unusable_until)
			msg_warn("%s -j failed: Postfix's queue is not consulted "
				 "for Message-ID claims for %d s (delivery "
				 "records only; see htg-milter.conf(5) postqueue)",
				 argv[0], QUEUE_RETRY_S);
		queue_unusable_until = now + QUEUE_RETRY_S;
		pthread_mutex_unlock(&queue_lock);
		return -1;
	}
	return found;
}

/* The mailbox account the flow of rcpt delivers to: 1 (in owner), 0 the
   flow is relayed (or unknown), -1 the directory cannot tell. The flow
   is the local part of the envelope recipient. */
static int flow_mailbox(const char *rcpt, char *owner, size_t size)
{
	struct htg_dir *dir = milter_settings.dir;
	char flow[256], to[256];
	const char *at = strrchr(rcpt, '@'), *error;
	int ret;

	if (at == NULL || (size_t)(at - rcpt) >= sizeof(flow))
		return 0;
	snprintf(flow, sizeof(flow), "%.*s", (int)(at - rcpt), rcpt);
	if ((ret = htg_dir_flow_get(dir, flow, to, sizeof(to), &error)) != 1)
		return ret < 0 ? -1 : 0;
	ret = htg_dir_address_owner(dir, to, owner, size, &error);
	return ret < 0 ? -1 : ret == 1;
}

/* Did our LMTP plugin take the message for the flow's mailbox? -1 when
   the flow is relayed (no record can ever come), else 1 yes, 0 not
   (yet). */
static int delivered(const char *rcpt, const char *msgid)
{
	char owner[256];
	const char *error;
	int ret;

	if (flow_mailbox(rcpt, owner, sizeof(owner)) != 1)
		return -1;
	ret = htg_dir_delivery_seen(milter_settings.dir, owner, msgid,
				    time(NULL), &error);
	if (ret < 0)
		msg_warn("delivery record of %s: %s", msgid, error);
	return ret > 0;
}

/* Has the commit recipient's delivery (htgctl committed) made the claim
   of queue id qid final? */
static int settled_final(const char *account, const char *msgid,
			 const char *qid)
{
	struct htg_msgid_claim c;
	const char *error;

	return htg_dir_msgid_get(milter_settings.dir, account, msgid,
				 (int64_t)time(NULL), &c, &error) == 1 &&
		c.state == HTG_MSGID_FINAL && strcmp(c.queue_id, qid) == 0;
}

/* 1 when queue id qid of (rcpt, msgid) was committed by Postfix, as far
   as can be seen; waits up to wait_s for a delivery record or for the
   commit recipient's delivery. The queue is asked twice: showq reads
   "active" before "incoming", so a file that moves between the two
   during one listing is missed by it. */
static int committed(const char *account, const char *qid, const char *rcpt,
		     const char *msgid, int wait_s)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	time_t deadline = time(NULL) + wait_s;

	if (strcmp(qid, "-") != 0 && (queue_lists(qid) == 1 ||
				      queue_lists(qid) == 1))
		return 1;
	for (;;) {
		int ret = delivered(rcpt, msgid);

		if (ret > 0)
			return 1;
		if (ret < 0 && milter_settings.commit_recipient == NULL)
			return 0;	/* relayed: no evidence can come */
		if (ret < 0 && settled_final(account, msgid, qid))
			return 1;	/* the commit recipient's delivery */
		if (time(NULL) >= deadline)
			return 0;
		nanosleep(&pause, NULL);
	}
}

/* Is the claim still the pending or ended one of this queue id? 1 yes,
   0 no, -1 the directory cannot say. */
static int claim_open(const struct milter_claim *mc, int *final_r)
{
	struct htg_msgid_claim c;
	const char *error;
	int ret;

	*final_r = 0;
	ret = htg_dir_msgid_get(milter_settings.dir, mc->account, mc->msgid,
				(int64_t)time(NULL), &c, &error);
	if (ret < 0)
		return -1;
	if (ret == 0 || strcmp(c.queue_id, mc->queue_id) != 0)
		return 0;
	*final_r = c.state == HTG_MSGID_FINAL;
	return !*final_r;
}

/* --- the rule -------------------------------------------------------------- */

static void claim_hold(struct milter_claim *mc, const char *account,
		       const char *msgid, const char *queue_id,
		       const char *rcpt, const struct htg_audit_event *ev)
{
	mc->held = 1;
	mc->has_submit = ev != NULL;
	if (ev != NULL)
		mc->submit = *ev;
	snprintf(mc->account, sizeof(mc->account), "%s", account);
	snprintf(mc->msgid, sizeof(mc->msgid), "%s", msgid);
	snprintf(mc->queue_id, sizeof(mc->queue_id), "%s", queue_id);
	snprintf(mc->rcpt, sizeof(mc->rcpt), "%s", rcpt);
}

const char *milter_claim_commit_recipient(const char *rcpt)
{
	char owner[256];

	if (milter_settings.dir == NULL ||
	    milter_settings.commit_recipient == NULL)
		return NULL;
	/* A directory several machines share: a mailbox flow's delivery
	   may wait for the mailbox's home node (down, unreachable) longer
	   than msgid_commit_wait, and then the delivery record comes too
	   late to prove the commit, so every message gets the commit
	   recipient (its delivery, on this node, is the proof). */
	if (htg_dir_is_shared(milter_settings.dir))
		return milter_settings.commit_recipient;
	/* a directory error counts as relayed: the commit recipient is
	   harmless for a mailbox flow */
	return flow_mailbox(rcpt, owner, sizeof(owner)) == 1 ? NULL :
		milter_settings.commit_recipient;
}

/* The refusal's text: the queue id the first message was accepted as,
   and on which node when that was another (a shared directory: the
   operator finds the message in that node's queue). */
static void used_detail(const struct htg_msgid_claim *held, char *detail,
			size_t size)
{
	if (held->node[0] != '\0' &&
	    strcmp(held->node, milter_settings.node) != 0)
		snprintf(detail, size, "Message-ID already used by this account "
			 "(accepted as queue id %s on %s)", held->queue_id,
			 held->node);
	else
		snprintf(detail, size, "Message-ID already used by this account "
			 "(accepted as queue id %s)", held->queue_id);
}

/* HTG-MSGID, 004 table 4: "Message-ID: Een unieke identificatie van het
   bericht. De verzender kan deze invullen mits deze uniek is": a
   Message-ID that the account used for a message Postfix committed
   (within msgid_window) refuses the message. A message that was never
   committed used nothing: its retry with the same Message-ID is taken
   (RFC 5321 4.5.4.1: a client retries after a 4xx or a lost connection). */
enum milter_claim_verdict milter_claim_take(struct milter_claim *mc,
					    const char *account,
					    const char *msgid,
					    const char *queue_id,
					    const char *rcpt,
					    const struct htg_audit_event *ev,
					    char *detail, size_t size)
{
	struct htg_dir *dir = milter_settings.dir;
	struct htg_msgid_claim held, *replace = NULL;
	int64_t wait_until = (int64_t)time(NULL) +
		milter_settings.msgid_commit_wait + 5;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	const char *error;

	/* bounded by time while a claim is pending, by count for races
	   between retries taking over the same ended claim */
	for (int races = 0; races < 10;) {
		int64_t now = (int64_t)time(NULL);
		int ret = htg_dir_msgid_claim(dir, account, msgid, queue_id,
					      milter_settings.msgid_window, now,
					      replace, &held, &error);

		if (ret < 0) {
			snprintf(detail, size, "%s", error);
			/* The claim may have landed all the same (a database
			   connection that broke after the commit, a failover):
			   it is settled at the end of the transaction like any
			   of ours, else it would stay pending and make every
			   retry wait until msgid_pending_timeout. */
			claim_hold(mc, account, msgid, queue_id, rcpt, NULL);
			return MILTER_CLAIM_ERROR;
		}
		if (ret == 1) {
			if (replace != NULL)
				msg_info("%s: account=%s rule=HTG-MSGID action=retry "
					 "message_id=%s previous_queue_id=%s (never "
					 "committed): claim taken over", queue_id,
					 account, msgid, replace->queue_id);
			claim_hold(mc, account, msgid, queue_id, rcpt, ev);
			return MILTER_CLAIM_OK;
		}
		replace = NULL;
		if (held.state == HTG_MSGID_FINAL) {
			used_detail(&held, detail, size);
			return MILTER_CLAIM_USED;
		}
		if (held.state == HTG_MSGID_PENDING &&
		    now - held.since < milter_settings.msgid_pending_timeout) {
			/* that transaction has not ended: wait for its end */
			if (now < wait_until) {
				nanosleep(&pause, NULL);
				continue;
			}
			snprintf(detail, size, "a message with this Message-ID "
				 "(queue id %s) is being accepted right now; try "
				 "again later", held.queue_id);
			return MILTER_CLAIM_BUSY;
		}
		/* ended (or pending past msgid_pending_timeout: its milter
		   died) without proof of a commit: look again */
		if (committed(account, held.queue_id, rcpt, msgid, 0)) {
			(void)htg_dir_msgid_settle(dir, account, msgid,
						   held.queue_id,
						   HTG_MSGID_FINAL, &error);
			used_detail(&held, detail, size);
			return MILTER_CLAIM_USED;
		}
		replace = &held;
		races++;
	}
	snprintf(detail, size, "Message-ID claim contended");
	return MILTER_CLAIM_BUSY;
}

/* Settle one claim at the end of its transaction: final on evidence of
   a commit, else ended. */
/* The "submit" event of the transaction: with the claim's last change,
   or alone when that was made elsewhere (the watcher, htgctl committed) */
static struct htg_audit_event *
submit_event(const struct milter_claim *mc, struct htg_audit_event *ev,
	     const char *how)
{
	if (!mc->has_submit || !milter_settings.audit)
		return NULL;
	*ev = mc->submit;
	snprintf(ev->detail, sizeof(ev->detail), "%s", how);
	/* its key before the first try (htg-audit-spool.h) */
	htg_audit_key(ev, 1);
	return ev;
}

static void claim_settle(const struct milter_claim *mc, const char *why)
{
	struct htg_audit_event ev, *evp;
	const char *error;
	char state;
	int ret, final, waited = 0;

	/* The directory unreachable (a database failover): the claim would
	   stay pending, and every retry of the message answered 451 until
	   msgid_pending_timeout. Try again each second, for up to
	   SETTLE_RETRY_S. */
	while ((ret = claim_open(mc, &final)) < 0 && waited++ < SETTLE_RETRY_S)
		sleep(1);
	if (ret < 0) {
		msg_warn("%s: the directory cannot be read: the Message-ID claim "
			 "stays pending", mc->queue_id);
		if ((evp = submit_event(mc, &ev, "claim left pending: the "
					"directory could not be read")) != NULL)
			milter_audit_spool(evp, mc->queue_id, "the directory "
					   "could not be read");
		return;
	}
	if (ret == 0) {
		/* the watcher or htgctl committed made it final, or (after
		   msgid_pending_timeout) a retry took it over */
		evp = submit_event(mc, &ev, final ? "committed" :
				   "claim taken over by a retry");
		if (evp != NULL)
			milter_audit_write(evp, mc->queue_id);
		return;
	}
	state = committed(mc->account, mc->queue_id, mc->rcpt,
			  mc->msgid, (int)milter_settings.msgid_commit_wait) ?
		HTG_MSGID_FINAL : HTG_MSGID_ENDED;
	evp = submit_event(mc, &ev, state == HTG_MSGID_FINAL ? "committed" :
			   "no proof that Postfix committed it");
	while ((ret = htg_dir_msgid_settle_audit(milter_settings.dir,
						 mc->account, mc->msgid,
						 mc->queue_id, state, evp,
						 &error)) < 0) {
		/* the event is kept on this node now, whatever the
		   retries do (its fixed key: once, should this commit
		   have landed unseen); they settle the claim alone */
		if (evp != NULL)
			milter_audit_spool(evp, mc->queue_id, error);
		evp = NULL;
		if (waited++ >= SETTLE_RETRY_S)
			break;
		sleep(1);
	}
	if (ret > 0 && evp != NULL) {
		/* written: apply what an earlier failure spooled */
		if (htg_audit_drain(milter_settings.dir, &error) < 0)
			msg_warn("audit spool not applied yet: %s", error);
	}
	if (ret < 0)
		msg_warn("%s: settle the Message-ID claim: %s", mc->queue_id,
			 error);
	else
		msg_info("%s: account=%s rule=HTG-MSGID action=%s message_id=%s "
			 "(transaction ended: %s)", mc->queue_id, mc->account,
			 state == HTG_MSGID_FINAL ? "claim-final" : "claim-ended",
			 mc->msgid, why);
}

/* From our end of message on, look for the commit while it happens: a
   message relayed within seconds would leave the queue (and no record)
   long before a client that keeps its connection idle ends the
   transaction. Only proof is acted on (final); "not seen" decides
   nothing: the end of the transaction does. */
static void claim_watch(const struct milter_claim *mc)
{
	static const unsigned delays_ms[] = { 20, 30, 50, 100, 200, 400, 800,
					      1600, 3200, 6400 };
	unsigned waited = 0;
	const char *error;
	int final;

	for (size_t i = 0; i < sizeof(delays_ms) / sizeof(delays_ms[0]); i++) {
		struct timespec pause = { delays_ms[i] / 1000,
					  (long)(delays_ms[i] % 1000) * 1000000L };

		if (waited / 1000 >= (unsigned)milter_settings.msgid_commit_wait)
			return;
		nanosleep(&pause, NULL);
		waited += delays_ms[i];
		if (!claim_open(mc, &final))
			return;
		if (!committed(mc->account, mc->queue_id, mc->rcpt,
			       mc->msgid, 0))
			continue;
		if (htg_dir_msgid_settle(milter_settings.dir, mc->account,
					 mc->msgid, mc->queue_id,
					 HTG_MSGID_FINAL, &error) < 0)
			msg_warn("%s: settle the Message-ID claim: %s",
				 mc->queue_id, error);
		else
			msg_info("%s: account=%s rule=HTG-MSGID action=claim-final "
				 "message_id=%s (committed, seen %u ms after the "
				 "end of message)", mc->queue_id, mc->account,
				 mc->msgid, waited);
		return;
	}
}

#define SETTLERS_MAX 64		/* threads at once; then inline or not */

static pthread_mutex_t settlers_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned settlers;

struct settle_job {
	struct milter_claim mc;
	const char *why;		/* a string literal; NULL: watch */
};

static void *settle_thread(void *arg)
{
	struct settle_job *job = arg;

	if (job->why != NULL)
		claim_settle(&job->mc, job->why);
	else
		claim_watch(&job->mc);
	free(job);
	pthread_mutex_lock(&settlers_lock);
	settlers--;
	pthread_mutex_unlock(&settlers_lock);
	return NULL;
}

/* Run a job in a detached thread of its own: 1, or 0 (none started). */
static int settle_spawn(const struct milter_claim *mc, const char *why)
{
	struct settle_job *job = malloc(sizeof(*job));
	pthread_attr_t attr;
	pthread_t tid;
	int started = 0;

	if (job == NULL)
		return 0;
	job->mc = *mc;
	job->why = why;
	pthread_mutex_lock(&settlers_lock);
	if (settlers < SETTLERS_MAX && pthread_attr_init(&attr) == 0) {
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&tid, &attr, settle_thread, job) == 0) {
			settlers++;
			started = 1;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&settlers_lock);
	if (!started)
		free(job);
	return started;
}

/* Can a look before the end of the transaction learn anything? Not for
   a relayed flow without the commit recipient when postqueue is not
   asked: then the watcher would only hold a thread for seconds. */
static int worth_watching(const struct milter_claim *mc)
{
	char owner[256];

	if (milter_settings.commit_recipient != NULL ||
	    (milter_settings.postqueue != NULL &&
	     strcmp(milter_settings.postqueue, "none") != 0))
		return 1;
	return flow_mailbox(mc->rcpt, owner, sizeof(owner)) == 1;
}

void milter_claim_accepted(struct milter_claim *mc)
{
	if (mc->held && milter_settings.dir != NULL && worth_watching(mc))
		(void)settle_spawn(mc, NULL);	/* an early look only */
}

/* The evidence may take a moment (the delivery record comes when LMTP
   has the message): it is gathered in a thread of its own, so that the
   client's next command is not held up. Until it is settled the claim
   stays pending, which makes a retry wait for it: nothing is decided
   early. */
void milter_claim_end(struct milter_claim *mc, const char *why)
{
	if (!mc->held || milter_settings.dir == NULL)
		return;
	mc->held = 0;
	if (!settle_spawn(mc, why))
		claim_settle(mc, why);
}
