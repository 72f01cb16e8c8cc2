/*++
/* NAME
/*	htg-retention 3
/* SUMMARY
/*	keep a copy of each message POP3 deletes, with its own deadline
/* DESCRIPTION
/*	See htg-retention.h. Why a file per copy and not a hidden mailbox:
/*	its deadline lives in the HTG directory (Maildir's save date moves
/*	and autoexpunge runs only at logout, so neither is a clock), and
/*	htgctl can purge or restore it with plain file operations while
/*	Dovecot runs: a restore drops the file into the inbox Maildir's
/*	new/ directory (Maildir's own delivery protocol, tmp/ then
/*	rename), which Dovecot picks up at its next sync without any
/*	index lock.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "time-util.h"
#include "write-full.h"
#include "mail-user.h"
#include "mail-storage-private.h"

#include "htg-dc-dir.h"
#include "htg-journal.h"
#include "htg-pickup.h"
#include "htg-retention.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define HTG_RETENTION_DIR_DEFAULT "htg-retained"

struct htg_retention {
	ARRAY(struct htg_retained) kept;
	/* the dele events, written with the records */
	ARRAY(struct htg_audit_event) events;
	char *dir;
	/* where the records went: the pickup journal, else the directory */
	struct htg_journal_pos jpos;
	bool journaled;
	bool recorded;
};

static unsigned int htg_retention_counter;
static uint32_t htg_journal_seq;

struct htg_retention *htg_retention_new(void)
{
	struct htg_retention *rt = i_new(struct htg_retention, 1);

	i_array_init(&rt->kept, 8);
	i_array_init(&rt->events, 8);
	return rt;
}

unsigned int htg_retention_count(const struct htg_retention *rt)
{
	return array_count(&rt->kept);
}

/* The account's retention directory, created on first use. */
static int
htg_retention_dir(struct htg_retention *rt, struct mail_user *user,
		  const char **error_r)
{
	const char *dir, *home;

	if (rt->dir != NULL)
		return 0;
	dir = mail_user_plugin_getenv(user, "htg_retention_dir");
	if (dir == NULL || *dir == '\0' || strncmp(dir, "~/", 2) == 0) {
		if (mail_user_get_home(user, &home) <= 0 || home == NULL) {
			*error_r = "the user has no home directory";
			return -1;
		}
		dir = dir == NULL || *dir == '\0' ?
			t_strconcat(home, "/", HTG_RETENTION_DIR_DEFAULT, NULL) :
			t_strconcat(home, dir + 1, NULL);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir(%s) failed: %m", dir);
		return -1;
	}
	rt->dir = i_strdup(dir);
	return 0;
}

static uint32_t htg_retention_days(struct mail_user *user)
{
	struct htg_account acct;
	struct htg_dir *dir;
	const char *error;

	if (htg_dc_dir_get(&dir, &error) < 0 ||
	    htg_dir_account_get(dir, user->username, &acct, &error) <= 0)
		return HTG_DEFAULT_RETENTION_DAYS;
	return acct.retention_days;
}

/* Maildir: the message file itself becomes the kept copy by a hard link
   (no bytes copied; Maildir files never change after delivery). FALSE
   when not possible (other format, file renamed meanwhile, another file
   system): then the bytes are copied. */
static bool htg_retention_link(struct mail *mail, const char *path)
{
	struct istream *input;
	const char *src;

	if (strcmp(mail->box->storage->name, "maildir") != 0 ||
	    mail_get_stream_because(mail, NULL, NULL, "htg-retention",
				    &input) < 0)
		return FALSE;
	src = i_stream_get_name(input);
	return src[0] == '/' && link(src, path) == 0;
}

/* Copy the message to fd; -1 with *error_r on failure. */
static int
htg_retention_copy(struct mail *mail, int fd, const char **error_r)
{
	struct istream *input;
	const unsigned char *data;
	size_t size;
	int ret;

	if (mail_get_stream_because(mail, NULL, NULL, "htg-retention",
				    &input) < 0) {
		*error_r = mailbox_get_last_error(mail->box, NULL);
		return -1;
	}
	i_stream_seek(input, 0);
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (write_full(fd, data, size) < 0) {
			*error_r = t_strdup_printf("write() failed: %m");
			return -1;
		}
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read failed: %s",
					   i_stream_get_error(input));
		return -1;
	}
	if (fdatasync(fd) < 0) {
		*error_r = t_strdup_printf("fdatasync() failed: %m");
		return -1;
	}
	return 0;
}

static void htg_str_set(char *dst, size_t size, const char *src)
{
	(void)i_strocpy(dst, src == NULL ? "" : src, size);
}

int htg_retention_keep(struct htg_retention *rt, struct mail *mail,
		       const struct htg_audit_event *dele, const char **error_r)
{
	struct mail_user *user = mail->box->storage->user;
	struct htg_retained *r;
	struct timeval now;
	const char *path, *inbox;
	int fd, ret;

	if (htg_retention_dir(rt, user, error_r) < 0)
		return -1;
	i_gettimeofday(&now);
	r = array_append_space(&rt->kept);
	htg_str_set(r->account, sizeof(r->account), user->username);
	if (i_snprintf(r->id, sizeof(r->id), "%lx.%lx.%x.%u",
		       (unsigned long)now.tv_sec, (unsigned long)now.tv_usec,
		       (unsigned int)getpid(), ++htg_retention_counter) < 0) {
		array_pop_back(&rt->kept);
		*error_r = "retention id too long";
		return -1;
	}
	path = t_strdup_printf("%s/%s.eml", rt->dir, r->id);
	htg_str_set(r->path, sizeof(r->path), path);
	r->retained = now.tv_sec;
	r->deadline = htg_retention_deadline(now.tv_sec,
					     htg_retention_days(user));
	r->uid = mail->uid;
	/* the dele event has read them already */
	htg_str_set(r->message_id, sizeof(r->message_id), dele->message_id);
	r->size = dele->size;
	/* only a Maildir inbox can take the copy back without Dovecot */
	if (strcmp(mail->box->storage->name, "maildir") == 0 &&
	    mailbox_get_path_to(mail->box, MAILBOX_LIST_PATH_TYPE_MAILBOX,
				&inbox) > 0)
		htg_str_set(r->restore_to, sizeof(r->restore_to), inbox);

	if (htg_retention_link(mail, path)) {
		/* made durable by the directory fdatasync */
		array_push_back(&rt->events, dele);
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		array_pop_back(&rt->kept);
		return -1;
	}
	ret = htg_retention_copy(mail, fd, error_r);
	if (close(fd) < 0 && ret == 0) {
		*error_r = t_strdup_printf("close(%s) failed: %m", path);
		ret = -1;
	}
	if (ret < 0) {
		i_unlink_if_exists(path);
		array_pop_back(&rt->kept);
		return -1;
	}
	array_push_back(&rt->events, dele);
	return 0;
}

static int htg_sync_dir(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fdatasync(fd) < 0) {
		*error_r = t_strdup_printf("fdatasync(%s) failed: %m", path);
		if (fd >= 0)
			i_close_fd(&fd);
		return -1;
	}
	i_close_fd(&fd);
	return 0;
}

int htg_retention_record(struct htg_retention *rt, struct mail_user *user,
			 const struct htg_audit_event *ev, unsigned int nev,
			 const char **error_r)
{
	const struct htg_retained *kept;
	struct htg_audit_event *all, *e;
	struct htg_dir *dir;
	struct timeval now;
	unsigned int n = 0, nkept;
	const char *error;
	int ret;

	/* the session's retrievals, then the dele events; those get an
	   explicit time, so htg_retention_forget() can find them again */
	all = t_new(struct htg_audit_event, nev + array_count(&rt->events) + 1);
	for (unsigned int i = 0; i < nev; i++)
		all[n++] = ev[i];
	i_gettimeofday(&now);
	array_foreach_modifiable(&rt->events, e) {
		e->time_us = (int64_t)now.tv_sec * 1000000 + now.tv_usec;
		all[n++] = *e;
	}
	kept = array_get(&rt->kept, &nkept);	/* may be empty */
	if (htg_dc_dir_get(&dir, error_r) < 0)
		return -1;
	/* One flush: the records, the copies' bytes and the events in the
	   pickup journal (htg-journal.h), applied to the directory later.
	   Its events carry fixed keys, so applying them twice is harmless. */
	for (unsigned int i = 0; i < n; i++) {
		all[i].key_pid = (uint32_t)getpid();
		all[i].key_seq = 0x80000000u | ++htg_journal_seq;
	}
	ret = htg_journal_append(dir, kept, nkept, all, n, &rt->jpos, &error);
	if (ret > 0) {
		rt->journaled = TRUE;
		rt->recorded = TRUE;
		return 0;
	}
	if (ret < 0) {
		e_warning(user->event, "htg: pickup journal not written, "
			  "writing to the directory: %s", error);
	}
	/* Not in the journal (a copy too big for it, or the journal
	   failed): the copies' directory entries, then the records in one
	   synced commit, both on disk before the expunge. fdatasync: the
	   entries are the directory's data, its times are not needed to
	   find them (Dovecot's fdatasync_path() syncs Maildir directories
	   so). */
	if (array_count(&rt->kept) > 0 &&
	    htg_sync_dir(rt->dir, error_r) < 0)
		return -1;
	if (htg_dir_pickup_commit(dir, kept, nkept, all, n, error_r) <= 0) {
		e_error(user->event, "htg: retention records not written");
		return -1;
	}
	rt->recorded = TRUE;
	return 0;
}

void htg_retention_forget(struct htg_retention *rt, struct mail_user *user)
{
	const struct htg_retained *r;
	const struct htg_audit_event *ev;
	struct htg_dir *dir;
	const char *error;
	unsigned int nr, nev;
	int ret = 0;

	r = array_get(&rt->kept, &nr);
	ev = array_get(&rt->events, &nev);
	/* a journal entry not yet applied is cancelled there (its
	   retrievals stay); one applied already, or records written to the
	   directory directly, are undone in the directory */
	if (rt->recorded && (ret = htg_dc_dir_get(&dir, &error)) > 0) {
		if (rt->journaled)
			ret = htg_journal_cancel(dir, &rt->jpos, &error);
		if (!rt->journaled || ret == 0)
			ret = htg_dir_pickup_undo(dir, r, nr, ev, nev, &error);
	}
	if (ret < 0) {
		e_error(user->event, "htg: %u retention records and dele "
			"events of a QUIT that deleted nothing were not "
			"removed: %s", nr, error);
	}
	array_foreach(&rt->kept, r)
		i_unlink_if_exists(r->path);
	array_clear(&rt->kept);
	array_clear(&rt->events);
	rt->recorded = FALSE;
	rt->journaled = FALSE;
}

void htg_retention_free(struct htg_retention **_rt)
{
	struct htg_retention *rt = *_rt;

	*_rt = NULL;
	array_free(&rt->kept);
	array_free(&rt->events);
	i_free(rt->dir);
	i_free(rt);
}
