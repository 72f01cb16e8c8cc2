/*++
/* NAME
/*	htgctl-hygiene 3
/* SUMMARY
/*	htgctl hygiene: messages that stay too long in POP3 inboxes
/* SYNOPSIS
/*	htgctl hygiene [USER] [--json] [--days N] [--retain] [--now T]
/* DESCRIPTION
/*	004 4.1.1: a business is expected to DELE what it has retrieved;
/*	processed messages must not stay in the mailbox. For every account
/*	(or USER) this reports the messages waiting in the inbox, the age
/*	of the oldest one (from its Maildir file name, written once at
/*	delivery), and the messages retrieved (audit retr, matched to
/*	the file by Dovecot's dovecot-uidlist) but still there after N
/*	days (default 7).
/*
/*	--retain moves those messages into retention: a kept copy with
/*	the account's deadline, exactly as after a POP3 DELE, then the
/*	file is removed from the Maildir (Dovecot sees it expunged at its
/*	next sync) and an "expunge" audit event with rule HTG-HYGIENE is
/*	written. The copy can be restored with htgctl retention restore.
/*
/*	Mailboxes are <mail root>/<account>/Maildir (the Dovecot template:
/*	mail_home = <mail root>/%u, mail_location = maildir:~/Maildir);
/*	the mail root is --mail-root, else $HTG_MAIL_ROOT, else
/*	/var/lib/htg/mail. htgctl runs as the directory's owner (it drops
/*	root: htgctl-priv(3)); below the mail root it opens every
/*	directory and file without following symbolic links (htg-path(3))
/*	and works relative to the directories it opened, so a folder or
/*	message replaced by a link is skipped, never followed. An account
/*	whose name is not a valid mailbox (htg-name(3)) is skipped with a
/*	warning.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-path.h"
#include "htg-pickup.h"
#include "htg-name.h"
#include "htgctl.h"

#define HYGIENE_DAYS_DEFAULT 7
#define OPEN_DIR (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define OPEN_FILE (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

struct retrieval {
	uint32_t uid;
	int64_t time;		/* first retr/top, unix seconds */
};

struct hygiene {
	uint32_t days;
	int retain;
	int64_t now;
	struct htg_dir *dir;
	/* per account */
	struct retrieval *retr;
	size_t nretr, retr_size;
	unsigned int waiting, stale, moved;
	int64_t oldest;
	int failed;
	/* hygiene_waiting(): count the inboxes only, print nothing */
	int count_only;
	uint64_t all_waiting;
	int64_t all_oldest;
};

static struct retrieval *retr_find(struct hygiene *h, uint32_t uid)
{
	for (size_t i = 0; i < h->nretr; i++) {
		if (h->retr[i].uid == uid)
			return &h->retr[i];
	}
	return NULL;
}

static int audit_cb(const struct htg_audit_event *ev, void *ctx)
{
	struct hygiene *h = ctx;
	struct retrieval *r;

	/* TOP is a peek at the headers; only RETR fetches the message */
	if (strcmp(ev->event, "retr") != 0)
		return 0;
	if ((r = retr_find(h, ev->uid)) != NULL)
		return 0;	/* the first retrieval counts */
	if (h->nretr == h->retr_size) {
		size_t size = h->retr_size == 0 ? 64 : h->retr_size * 2;
		struct retrieval *n = realloc(h->retr, size * sizeof(*n));

		if (n == NULL)
			return 1;
		h->retr = n;
		h->retr_size = size;
	}
	h->retr[h->nretr].uid = ev->uid;
	h->retr[h->nretr].time = ev->time_us / 1000000;
	h->nretr++;
	return 0;
}

/* A file in dfd for reading: regular, never through a link. */
static FILE *file_open(int dfd, const char *name)
{
	struct stat st;
	FILE *f;
	int fd = openat(dfd, name, OPEN_FILE);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return NULL;
	}
	return f;
}

/* UID of a Maildir file, from dovecot-uidlist; 0 if not listed. */
static uint32_t uid_of(int mdir, const char *name)
{
	char line[1024], base[512];
	size_t blen = strcspn(name, ":");
	uint32_t uid, found = 0;
	FILE *f;

	if ((f = file_open(mdir, "dovecot-uidlist")) == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
		if (htg_uidlist_line(line, &uid, base, sizeof(base)) &&
		    strlen(base) == blen && strncmp(base, name, blen) == 0)
			found = uid;
	}
	fclose(f);
	return found;
}

static void header_msgid(int dfd, const char *name, char *buf, size_t size)
{
	char line[1024];
	FILE *f = file_open(dfd, name);

	buf[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '\n' || line[0] == '\r')
			break;
		if (strncasecmp(line, "Message-ID:", 11) == 0) {
			char *p = line + 11;

			p += strspn(p, " \t");
			p[strcspn(p, "\r\n")] = '\0';
			snprintf(buf, size, "%s", p);
			break;
		}
	}
	fclose(f);
}

/* Move one stale message (name in the Maildir folder sfd) into
   retention (the plugin's layout: <mail home>/htg-retained). */
static int retain_file(struct hygiene *h, const char *account,
		       const char *maildir, int sfd, const char *name,
		       uint32_t uid)
{
	struct htg_retained r;
	struct htg_account a;
	struct htg_audit_event ev;
	struct timeval tv;
	struct stat st;
	const char *error;
	char home[HTG_PATH_MAX], dir[HTG_PATH_MAX + 16], file[300];
	static unsigned int counter;
	int hfd, rfd;

	memset(&r, 0, sizeof(r));
	memset(&st, 0, sizeof(st));
	gettimeofday(&tv, NULL);
	snprintf(home, sizeof(home), "%s/%s", ctl_mail_root, account);
	snprintf(dir, sizeof(dir), "%s/htg-retained", home);
	if ((hfd = htg_path_open_dir(ctl_mail_root, home, &error)) < 0) {
		ctl_say("%s\n", error);
		return -1;
	}
	/* created by us, the mail user: no chown; 0700 whatever the
	   umask (htgctl's is 007) */
	if (mkdirat(hfd, "htg-retained", 0700) < 0 && errno != EEXIST) {
		ctl_say("mkdir %s: %s\n", dir,
			strerror(errno));
		close(hfd);
		return -1;
	}
	rfd = openat(hfd, "htg-retained", OPEN_DIR);
	close(hfd);
	if (rfd < 0) {
		ctl_say("%s: %s\n", dir, errno == ELOOP ||
			errno == ENOTDIR ? "not a directory (a symbolic "
			"link?), refused" : strerror(errno));
		return -1;
	}
	snprintf(r.account, sizeof(r.account), "%s", account);
	snprintf(r.id, sizeof(r.id), "%lx.%lx.h%x.%u", (unsigned long)tv.tv_sec,
		 (unsigned long)tv.tv_usec, (unsigned int)getpid(), ++counter);
	snprintf(file, sizeof(file), "%s.eml", r.id);
	if (snprintf(r.path, sizeof(r.path), "%s/%s", dir, file) >=
	    (int)sizeof(r.path) ||
	    snprintf(r.restore_to, sizeof(r.restore_to), "%s", maildir) >=
	    (int)sizeof(r.restore_to)) {
		ctl_say("path too long: %s\n", dir);
		close(rfd);
		return -1;
	}
	r.retained = tv.tv_sec;
	r.deadline = htg_retention_deadline(h->now,
		htg_dir_account_get(h->dir, account, &a, &error) == 1 ?
		a.retention_days : HTG_DEFAULT_RETENTION_DAYS);
	r.uid = uid;
	header_msgid(sfd, name, r.message_id, sizeof(r.message_id));
	/* a hard link is the copy: same file system, atomic, no bytes
	   copied; then the record, then the message leaves the inbox.
	   linkat() without AT_SYMLINK_FOLLOW never follows a link, and
	   only a regular file is kept. */
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || linkat(sfd, name, rfd, file, 0) < 0) {
		ctl_say("link %s: %s\n", r.path,
			S_ISREG(st.st_mode) ? strerror(errno) :
			"not a regular file, refused");
		close(rfd);
		return -1;
	}
	r.size = (uint64_t)st.st_size;
	if (htg_dir_retained_add(h->dir, &r, 1, &error) != 1) {
		ctl_say("%s\n", error);
		(void)unlinkat(rfd, file, 0);
		close(rfd);
		return -1;
	}
	close(rfd);
	if (unlinkat(sfd, name, 0) < 0) {
		ctl_say("unlink %s/%s: %s\n", maildir, name,
			strerror(errno));
		return -1;	/* the record stays: a purge tidies it */
	}
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "expunge");
	snprintf(ev.rule, sizeof(ev.rule), "HTG-HYGIENE");
	snprintf(ev.account, sizeof(ev.account), "%s", account);
	snprintf(ev.message_id, sizeof(ev.message_id), "%s", r.message_id);
	ev.size = r.size;
	ev.uid = uid;
	audit_note(h->dir, &ev);
	return 0;
}

static void scan_dir(struct hygiene *h, const char *account,
		     const char *maildir, int mdir, const char *sub)
{
	struct dirent *de;
	DIR *d;
	int sfd = openat(mdir, sub, OPEN_DIR);

	if (sfd < 0 || (d = fdopendir(sfd)) == NULL) {
		if (sfd >= 0)
			close(sfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct retrieval *r;
		struct stat st;
		int64_t t;
		uint32_t uid;

		if (de->d_name[0] == '.')
			continue;
		if (!htg_maildir_name_time(de->d_name, &t)) {
			if (fstatat(sfd, de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			t = st.st_mtime;
		}
		h->waiting++;
		if (h->oldest == 0 || t < h->oldest)
			h->oldest = t;
		if (h->count_only)
			continue;
		uid = uid_of(mdir, de->d_name);
		r = uid != 0 ? retr_find(h, uid) : NULL;
		if (r == NULL || !htg_hygiene_stale(r->time, h->now, h->days))
			continue;
		h->stale++;
		if (h->retain) {
			if (retain_file(h, account, maildir, sfd, de->d_name,
					uid) == 0)
				h->moved++;
			else
				h->failed = 1;
		}
	}
	closedir(d);	/* closes sfd */
}

static int account_cb(const struct htg_account *a, void *ctx)
{
	struct hygiene *h = ctx;
	char maildir[HTG_PATH_MAX];
	const char *error;
	int64_t age;
	int mdir;

	h->nretr = 0;
	h->waiting = h->stale = h->moved = 0;
	h->oldest = 0;
	if (!name_ok(NAME_ACCOUNT, a->user, &error)) {
		fputs("htgctl: warning: skipped account \"", stderr);
		htg_esc_text(stderr, a->user);
		fprintf(stderr, "\": %s\n", error);
		h->failed = 1;
		return 0;
	}
	if (!h->count_only &&
	    htg_dir_audit_iter(h->dir, a->user, audit_cb, h, &error) != 1) {
		ctl_say("%s\n", error);
		h->failed = 1;
		return 0;
	}
	snprintf(maildir, sizeof(maildir), "%s/%s/Maildir", ctl_mail_root,
		 a->user);
	/* no Maildir yet (never delivered to): nothing waits */
	if ((mdir = htg_path_open_dir(ctl_mail_root, maildir, &error)) >= 0) {
		scan_dir(h, a->user, maildir, mdir, "new");
		scan_dir(h, a->user, maildir, mdir, "cur");
		close(mdir);
	} else if (errno != ENOENT) {
		ctl_say("%s\n", error);
		h->failed = 1;
	}
	age = h->oldest == 0 ? 0 : h->now - h->oldest;
	if (age < 0)
		age = 0;
	if (h->count_only) {
		h->all_waiting += h->waiting;
		if (age > h->all_oldest)
			h->all_oldest = age;
		return 0;
	}
	if (ctl_json) {
		json_sep();
		printf("{\"account\":");
		json_str(a->user);
		printf(",\"waiting\":%u,\"oldest_waiting_seconds\":%lld,"
		       "\"retrieved_not_deleted\":%u,\"days\":%u,"
		       "\"moved_to_retention\":%u}", h->waiting,
		       (long long)age, h->stale, h->days, h->moved);
	} else {
		text_str(a->user);
		printf("\twaiting=%u\toldest-waiting-seconds=%lld\t"
		       "retrieved-not-deleted-%ud=%u%s", h->waiting,
		       (long long)age, h->days, h->stale,
		       h->retain ? "" : "\n");
		if (h->retain)
			printf("\tmoved-to-retention=%u\n", h->moved);
	}
	return 0;
}

/* The messages waiting in every inbox (delivered, not yet deleted) and
   the age of the oldest, by the same scan as hygiene (htgctl stats).
   0, or -1 if some account or Maildir could not be read (warned). */
int hygiene_waiting(struct htg_dir *dir, int64_t now, uint64_t *waiting_r,
		    int64_t *oldest_age_r)
{
	struct hygiene h;
	const char *error = NULL;
	int ret;

	memset(&h, 0, sizeof(h));
	h.count_only = 1;
	h.now = now;
	h.dir = dir;
	ret = htg_dir_account_iter(dir, account_cb, &h, &error);
	if (ret != 1)
		ctl_say("%s\n", error != NULL ? error : "account list failed");
	*waiting_r = h.all_waiting;
	*oldest_age_r = h.all_oldest;
	return ret == 1 && !h.failed ? 0 : -1;
}

int cmd_hygiene(int argc, char **argv)
{
	struct hygiene h;
	struct htg_account a;
	const char *error = NULL, *user = NULL, *now_s = NULL;
	int ret;

	memset(&h, 0, sizeof(h));
	h.days = HYGIENE_DAYS_DEFAULT;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--days") == 0 && i + 1 < argc)
			h.days = (uint32_t)ctl_parse_number(argv[++i], "days");
		else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
			now_s = argv[++i];
		else if (strcmp(argv[i], "--retain") == 0)
			h.retain = 1;
		else if (argv[i][0] != '-' && user == NULL)
			user = argv[i];
		else
			ctl_usage();
	}
	if (user != NULL)
		name_need(NAME_ACCOUNT, user);
	h.now = parse_now(now_s);
	h.dir = ctl_open_dir_pickup(h.retain);
	json_open();
	if (user != NULL) {
		ret = htg_dir_account_get(h.dir, user, &a, &error);
		if (ret == 1)
			account_cb(&a, &h);
		else if (ret == 0)
			error = "no such account";
	} else {
		ret = htg_dir_account_iter(h.dir, account_cb, &h, &error);
	}
	json_close();
	htg_dir_close(&h.dir);
	free(h.retr);
	if (ret == 1 && h.failed)
		return EXIT_REFUSED;
	return ctl_result(ret, error);
}
