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
	char *dir;
	bool recorded;
};

static unsigned int htg_retention_counter;

struct htg_retention *htg_retention_new(void)
{
	struct htg_retention *rt = i_new(struct htg_retention, 1);

	i_array_init(&rt->kept, 8);
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
		       const char **error_r)
{
	struct mail_user *user = mail->box->storage->user;
	struct htg_retained *r;
	struct timeval now;
	const char *path, *msgid = NULL, *inbox;
	uoff_t size;
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
	if (mail_get_first_header(mail, "Message-ID", &msgid) > 0)
		htg_str_set(r->message_id, sizeof(r->message_id),
			    t_str_trim(msgid, " \t"));
	if (mail_get_virtual_size(mail, &size) == 0)
		r->size = size;
	/* only a Maildir inbox can take the copy back without Dovecot */
	if (strcmp(mail->box->storage->name, "maildir") == 0 &&
	    mailbox_get_path_to(mail->box, MAILBOX_LIST_PATH_TYPE_MAILBOX,
				&inbox) > 0)
		htg_str_set(r->restore_to, sizeof(r->restore_to), inbox);

	if (htg_retention_link(mail, path))
		return 0;	/* made durable by the directory fsync */
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
	return 0;
}

int htg_retention_record(struct htg_retention *rt, struct mail_user *user,
			 const struct htg_audit_event *ev, unsigned int nev,
			 const char **error_r)
{
	struct htg_dir *dir;
	int fd;

	if (array_count(&rt->kept) == 0)
		return htg_dc_dir_get(&dir, error_r) < 0 ||
			htg_dir_pickup_commit(dir, NULL, 0, ev, nev,
					      error_r) <= 0 ? -1 : 0;
	/* the new directory entries must be durable too */
	if ((fd = open(rt->dir, O_RDONLY | O_DIRECTORY)) < 0 ||
	    fsync(fd) < 0) {
		*error_r = t_strdup_printf("fsync(%s) failed: %m", rt->dir);
		if (fd >= 0)
			i_close_fd(&fd);
		return -1;
	}
	i_close_fd(&fd);
	if (htg_dc_dir_get(&dir, error_r) < 0 ||
	    htg_dir_pickup_commit(dir, array_front(&rt->kept),
				  array_count(&rt->kept), ev, nev,
				  error_r) <= 0) {
		e_error(user->event, "htg: retention records not written");
		return -1;
	}
	rt->recorded = TRUE;
	return 0;
}

void htg_retention_forget(struct htg_retention *rt, struct mail_user *user)
{
	const struct htg_retained *r;
	struct htg_dir *dir;
	const char *error;

	array_foreach(&rt->kept, r) {
		if (rt->recorded &&
		    (htg_dc_dir_get(&dir, &error) < 0 ||
		     htg_dir_retained_del(dir, r->account, r->id, &error) < 0))
			e_error(user->event, "htg: retention record %s: %s",
				r->id, error);
		i_unlink_if_exists(r->path);
	}
	array_clear(&rt->kept);
	rt->recorded = FALSE;
}

void htg_retention_free(struct htg_retention **_rt)
{
	struct htg_retention *rt = *_rt;

	*_rt = NULL;
	array_free(&rt->kept);
	i_free(rt->dir);
	i_free(rt);
}
