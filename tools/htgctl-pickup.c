/*++
/* NAME
/*	htgctl-pickup 3
/* SUMMARY
/*	htgctl audit and retention commands
/* SYNOPSIS
/*	htgctl audit [USER] [--json] [--event E] [--message-id ID]
/*		[--since T] [--until T]
/*	htgctl audit expire --days N [--now T]
/*	htgctl retention list USER [--json]
/*	htgctl retention restore USER MESSAGE-ID
/*	htgctl retention purge [USER] [--now T]
/* DESCRIPTION
/*	audit prints the events that match every filter given (times in
/*	RFC 3339, YYYY-MM-DD or @unix-seconds; --since inclusive, --until
/*	exclusive). audit expire deletes events older than N days: the
/*	audit's growth is bounded by scheduling it (see
/*	configs/systemd/htg-retention.timer).
/*
/*	retention works on the copies the Dovecot mail plugin keeps when
/*	POP3 applies DELE at QUIT. restore puts every copy with that
/*	Message-ID (or retention id) back into the account's inbox
/*	Maildir: written to tmp/ (mode 0600, owned by the directory's
/*	owner, as whom htgctl runs: htgctl-priv(3)), synced, renamed
/*	into new/ (Maildir delivery); Dovecot shows it at the next login
/*	with a new UID. purge deletes the copies whose deadline has
/*	passed; --now sets the clock (tests, or catching up). Both record
/*	restore/purge audit events.
/*
/*	The paths in a record (the copy, the inbox) must lie under the
/*	mail root (--mail-root, $HTG_MAIL_ROOT, /var/lib/htg/mail) and
/*	are opened component by component without following symbolic
/*	links (htg-path(3)): restore refuses a record that breaks this;
/*	purge forgets such a record but leaves its file alone, with a
/*	warning.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-path.h"
#include "htg-pickup.h"
#include "htgctl.h"

int64_t parse_now(const char *s)
{
	int64_t t;

	if (s == NULL)
		return (int64_t)time(NULL);
	if (!htg_time_parse(s, &t)) {
		ctl_say("invalid time: %s\n", s);
		exit(EXIT_USAGE);
	}
	return t;
}

int64_t parse_now_us(const char *s)
{
	int64_t us;

	if (s == NULL)
		return (int64_t)time(NULL) * 1000000;
	if (!htg_time_parse_us(s, &us)) {
		ctl_say("invalid time: %s\n", s);
		exit(EXIT_USAGE);
	}
	return us;
}

void audit_note(struct htg_dir *dir, struct htg_audit_event *ev)
{
	const char *error;

	snprintf(ev->session, sizeof(ev->session), "htgctl");
	if (htg_dir_audit_append(dir, ev, &error) != 1)
		ctl_say("warning: audit %s not recorded: %s\n",
			ev->event, error);
}

/* --- audit ------------------------------------------------------------------ */

static int print_event(const struct htg_audit_event *ev, void *ctx)
{
	const struct htg_audit_filter *f = ctx;
	char when[64];

	if (!htg_audit_filter_match(f, ev))
		return 0;
	rfc3339(ev->time_us, when, sizeof(when));
	if (ctl_json) {
		json_sep();
		printf("{\"time\":\"%s\",\"event\":", when);
		json_str(ev->event);
		printf(",\"account\":");
		json_str(ev->account);
		printf(",\"message_id\":");
		json_str(ev->message_id);
		printf(",\"size\":%llu,\"uid\":%u",
		       (unsigned long long)ev->size, ev->uid);
		json_field("queue_id", ev->queue_id);
		json_field("rule", ev->rule);
		json_field("remote", ev->remote);
		json_field("tls", ev->tls);
		json_field("session", ev->session);
		json_field("flow", ev->flow);
		json_field("stage", ev->stage);
		json_field("detail", ev->detail);
		putchar('}');
	} else {
		printf("%s\t", when);
		text_str(ev->event);
		putchar('\t');
		text_str(ev->account);
		putchar('\t');
		text_str(ev->message_id);
		printf("\tsize=%llu\tuid=%u", (unsigned long long)ev->size,
		       ev->uid);
		text_field("queue_id", ev->queue_id);
		text_field("rule", ev->rule);
		text_field("remote", ev->remote);
		text_field("tls", ev->tls);
		text_field("session", ev->session);
		text_field("flow", ev->flow);
		text_field("stage", ev->stage);
		text_field("detail", ev->detail);
		putchar('\n');
	}
	return 0;
}

static int cmd_audit_expire(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL, *now_s = NULL;
	unsigned long long days = 0;
	unsigned long n = 0;
	int have_days = 0, ret;
	int64_t now_us;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
			days = ctl_parse_number(argv[++i], "days");
			have_days = 1;
		} else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
			now_s = argv[++i];
		} else {
			ctl_usage();
		}
	}
	if (!have_days || days > 100000)
		ctl_usage();
	now_us = parse_now_us(now_s);
	dir = ctl_open_dir_pickup(1);
	ret = htg_dir_audit_expire(dir, now_us - (int64_t)days *
				   HTG_DAY_SECONDS * 1000000, &n, &error);
	htg_dir_close(&dir);
	if (ret == 1)
		printf("expired %lu audit events\n", n);
	return ctl_result(ret, error);
}

int cmd_audit(int argc, char **argv)
{
	struct htg_audit_filter f;
	struct htg_dir *dir;
	const char *error = NULL, *user = NULL;
	char key[HTG_USER_MAX];
	int64_t t;
	int ret;

	if (argc >= 1 && strcmp(argv[0], "expire") == 0)
		return cmd_audit_expire(argc - 1, argv + 1);
	htg_audit_filter_init(&f);
	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i];

		if (opt[0] != '-') {
			if (user != NULL)
				ctl_usage();
			user = opt;
			continue;
		}
		if (i + 1 >= argc)
			ctl_usage();
		if (strcmp(opt, "--event") == 0) {
			f.event = argv[++i];
			if (!htg_audit_event_known(f.event)) {
				ctl_say("unknown event: %s\n",
					f.event);
				return EXIT_USAGE;
			}
		} else if (strcmp(opt, "--message-id") == 0) {
			f.message_id = argv[++i];
		} else if (strcmp(opt, "--since") == 0 ||
			   strcmp(opt, "--until") == 0) {
			t = parse_now_us(argv[++i]);
			if (opt[2] == 's')
				f.since_us = t;
			else
				f.until_us = t;
		} else {
			ctl_usage();
		}
	}
	if (user != NULL) {
		name_need(NAME_ACCOUNT, user);
		if (!htg_dir_normalise(user, key, sizeof(key)))
			ctl_usage();
		f.account = key;
	}
	dir = ctl_open_dir_pickup(0);
	json_open();
	ret = htg_dir_audit_iter(dir, f.account, print_event, &f, &error);
	json_close();
	htg_dir_close(&dir);
	return ctl_result(ret, error);
}

/* --- retention ---------------------------------------------------------------- */

struct kept_list {
	struct htg_retained *r;
	size_t n, size;
};

static int kept_collect(const struct htg_retained *r, void *ctx)
{
	struct kept_list *l = ctx;

	if (l->n == l->size) {
		size_t size = l->size == 0 ? 16 : l->size * 2;
		struct htg_retained *nr = realloc(l->r, size * sizeof(*nr));

		if (nr == NULL) {
			fputs("htgctl: out of memory\n", stderr);
			exit(EXIT_REFUSED);
		}
		l->r = nr;
		l->size = size;
	}
	l->r[l->n++] = *r;
	return 0;
}

static void print_kept(const struct htg_retained *r, int64_t now)
{
	char kept[64], deadline[64];

	rfc3339(r->retained * 1000000, kept, sizeof(kept));
	rfc3339(r->deadline * 1000000, deadline, sizeof(deadline));
	if (ctl_json) {
		json_sep();
		printf("{\"id\":");
		json_str(r->id);
		printf(",\"account\":");
		json_str(r->account);
		printf(",\"message_id\":");
		json_str(r->message_id);
		printf(",\"size\":%llu,\"uid\":%u,\"retained\":\"%s\","
		       "\"deadline\":\"%s\",\"due\":%s,\"path\":",
		       (unsigned long long)r->size, r->uid, kept, deadline,
		       htg_retention_due(r->deadline, now) ? "true" : "false");
		json_str(r->path);
		putchar('}');
	} else {
		text_str(r->id);
		putchar('\t');
		text_str(r->message_id);
		printf("\tsize=%llu\tuid=%u\tretained=%s\tdeadline=%s\n",
		       (unsigned long long)r->size, r->uid, kept, deadline);
	}
}

/* Open a kept copy (a path from a record) for reading: under the mail
   root, no symbolic link anywhere below it, a regular file (O_NONBLOCK:
   a FIFO put there does not hang the timer). */
static int kept_open(const char *path)
{
	const char *error, *name;
	struct stat st;
	int dfd, fd;

	if ((dfd = htg_path_open_parent(ctl_mail_root, path, &name,
					&error)) < 0) {
		ctl_say("%s\n", error);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
	close(dfd);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ctl_say("%s: %s\n", path, fd < 0 ?
			(errno == ELOOP ? "a symbolic link, refused" :
			 strerror(errno)) : "not a regular file, refused");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Copy the kept copy src into maildir's new/ the Maildir way, every
   step relative to a directory opened without symbolic links; 0 or -1
   (message out). */
static int maildir_deliver(const char *src, const char *maildir)
{
	static unsigned int counter;
	char name[256], buf[65536];
	const char *error;
	ssize_t n;
	int in, out = -1, mdir, tmpd = -1, newd = -1;

	if (maildir[0] == '\0') {
		fputs("htgctl: no inbox Maildir to restore into (not a "
		      "Maildir)\n", stderr);
		return -1;
	}
	if ((in = kept_open(src)) < 0)
		return -1;
	if ((mdir = htg_path_open_dir(ctl_mail_root, maildir, &error)) < 0) {
		ctl_say("no inbox Maildir to restore into: "
			"%s\n", error);
		close(in);
		return -1;
	}
	tmpd = openat(mdir, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		      O_CLOEXEC);
	newd = openat(mdir, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		      O_CLOEXEC);
	close(mdir);
	if (tmpd < 0 || newd < 0)
		goto fail;
	snprintf(name, sizeof(name), "%lld.htgrestore%d_%u.htgctl",
		 (long long)time(NULL), (int)getpid(), ++counter);
	if ((out = openat(tmpd, name, O_WRONLY | O_CREAT | O_EXCL |
			  O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			goto fail;
	}
	/* the mode whatever the umask */
	if (n < 0 || fchmod(out, 0600) < 0 || fsync(out) < 0 ||
	    close(out) < 0) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (renameat(tmpd, name, newd, name) < 0)
		goto fail;
	(void)fsync(newd);
	close(in);
	close(tmpd);
	close(newd);
	return 0;
fail:
	ctl_say("restore into %s: %s\n", maildir,
		errno == ELOOP ? "a symbolic link, refused" : strerror(errno));
	if (out >= 0) {
		close(out);
		(void)unlinkat(tmpd, name, 0);
	}
	close(in);
	if (tmpd >= 0)
		close(tmpd);
	if (newd >= 0)
		close(newd);
	return -1;
}

static void kept_event(struct htg_audit_event *ev, const char *event,
		       const struct htg_retained *r)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->event, sizeof(ev->event), "%s", event);
	snprintf(ev->account, sizeof(ev->account), "%s", r->account);
	snprintf(ev->message_id, sizeof(ev->message_id), "%s", r->message_id);
	ev->size = r->size;
	ev->uid = r->uid;
}

/* Forget one kept copy: record first (a leftover file is harmless, a
   record without its file would be a broken promise), then the file. */
static int kept_drop(struct htg_dir *dir, const struct htg_retained *r)
{
	const char *error, *name;
	int dfd;

	if (htg_dir_retained_del(dir, r->account, r->id, &error) < 0) {
		ctl_say("%s\n", error);
		return -1;
	}
	/* a path outside the mail root (a forged record) loses its record,
	   never a file; no symbolic link is followed on the way */
	if ((dfd = htg_path_open_parent(ctl_mail_root, r->path, &name,
					&error)) < 0) {
		if (errno != ENOENT)
			ctl_say("warning: %s: file left "
				"alone\n", error);
		return 0;
	}
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		ctl_say("warning: unlink %s: %s\n", r->path,
			strerror(errno));
	close(dfd);
	return 0;
}

static int retention_restore(struct htg_dir *dir, struct kept_list *l,
			     const char *what)
{
	struct htg_audit_event ev;
	int found = 0, failed = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct htg_retained *r = &l->r[i];

		if (strcmp(r->id, what) != 0 &&
		    !htg_msgid_equal(r->message_id, what))
			continue;
		found++;
		if (maildir_deliver(r->path, r->restore_to) < 0 ||
		    kept_drop(dir, r) < 0) {
			failed++;
			continue;
		}
		kept_event(&ev, "restore", r);
		audit_note(dir, &ev);
		fputs("restored ", stdout);
		text_str(r->id);
		putchar(' ');
		text_str(r->message_id);
		putchar('\n');
	}
	if (found == 0) {
		ctl_say("no retained copy of %s for %s\n",
			what, l->n > 0 ? l->r[0].account : "this account");
		return EXIT_REFUSED;
	}
	return failed == 0 ? 0 : EXIT_REFUSED;
}

static int retention_purge(struct htg_dir *dir, struct kept_list *l,
			   int64_t now)
{
	struct htg_audit_event ev;
	unsigned int purged = 0, failed = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct htg_retained *r = &l->r[i];

		if (!htg_retention_due(r->deadline, now))
			continue;
		if (kept_drop(dir, r) < 0) {
			failed++;
			continue;
		}
		kept_event(&ev, "purge", r);
		audit_note(dir, &ev);
		purged++;
	}
	printf("purged %u retained copies\n", purged);
	return failed == 0 ? 0 : EXIT_REFUSED;
}

static int account_known(struct htg_dir *dir, const char *user)
{
	struct htg_account a;
	const char *error = NULL;
	int ret = htg_dir_account_get(dir, user, &a, &error);

	if (ret == 0)
		ctl_say("no such account: %s\n", user);
	else if (ret < 0)
		ctl_say("%s\n", error);
	return ret == 1;
}

int cmd_retention(int argc, char **argv)
{
	struct kept_list l = { NULL, 0, 0 };
	struct htg_dir *dir;
	const char *error = NULL, *user = NULL, *now_s = NULL;
	int ret, purge = 0;

	if (argc < 1)
		ctl_usage();
	if (strcmp(argv[0], "purge") == 0) {
		purge = 1;
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
				now_s = argv[++i];
			else if (argv[i][0] != '-' && user == NULL)
				user = argv[i];
			else
				ctl_usage();
		}
	} else if (!((strcmp(argv[0], "list") == 0 && argc <= 2) ||
		     (strcmp(argv[0], "restore") == 0 && argc == 3))) {
		ctl_usage();
	} else {
		user = argc > 1 ? argv[1] : NULL;	/* list: NULL = all */
	}
	if (user != NULL)
		name_need(NAME_ACCOUNT, user);
	dir = ctl_open_dir_pickup(strcmp(argv[0], "list") != 0);
	if (user != NULL && !account_known(dir, user)) {
		htg_dir_close(&dir);
		return EXIT_REFUSED;
	}
	ret = htg_dir_retained_iter(dir, user, kept_collect, &l, &error);
	if (ret != 1) {
		htg_dir_close(&dir);
		free(l.r);
		return ctl_result(ret, error);
	}
	if (purge) {
		ret = retention_purge(dir, &l, parse_now(now_s));
	} else if (strcmp(argv[0], "restore") == 0) {
		ret = retention_restore(dir, &l, argv[2]);
	} else {
		int64_t now = parse_now(NULL);

		json_open();
		for (size_t i = 0; i < l.n; i++)
			print_kept(&l.r[i], now);
		json_close();
		ret = 0;
	}
	htg_dir_close(&dir);
	free(l.r);
	return ret;
}
