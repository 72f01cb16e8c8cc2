/*++
/* NAME
/*	htg-audit-spool 3
/* SUMMARY
/*	audit events the directory did not take, kept on this node
/* DESCRIPTION
/*	See htg-audit-spool.h. The spool is the pickup journal: an entry
/*	with events and no records. The marker file beside the journals
/*	is a hint only, so that a writer learns with one stat() whether
/*	to apply them: it is made after the entry is on disk and removed
/*	before the journals are applied, so an entry spooled during an
/*	apply leaves it behind for the next one. A marker lost in a crash
/*	costs time, not events: htgctl applies the journals whatever the
/*	marker says.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "htg-dir-private.h"
#include "htg-journal-private.h"
#include "htg-audit-spool.h"

static uint32_t spool_seq;

void htg_audit_key(struct htg_audit_event *ev, unsigned int n)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	for (unsigned int i = 0; i < n; i++) {
		if (ev[i].time_us == 0)
			ev[i].time_us = (int64_t)tv.tv_sec * 1000000 +
				tv.tv_usec;
		if (ev[i].key_pid != 0)
			continue;
		ev[i].key_pid = (uint32_t)getpid();
		ev[i].key_seq = HTG_AUDIT_SEQ_BASE |
			(__atomic_add_fetch(&spool_seq, 1, __ATOMIC_RELAXED) &
			 (HTG_AUDIT_SEQ_BASE - 1));
	}
}

static int marker_path(struct htg_dir *dir, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/journal/%s", htg_dir_state_path(dir),
			HTG_AUDIT_SPOOL_MARKER) < (int)size;
}

/* The marker, made durable with its name: the next writer drains. */
static void marker_set(struct htg_dir *dir)
{
	char path[HTG_PATH_MAX + 32], jdir[HTG_PATH_MAX + 16];
	const char *error;
	int fd;

	if (!marker_path(dir, path, sizeof(path)))
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0) {
		dirp_warning("audit spool: %s: %s (the spooled events wait for "
			     "htgctl)", path, strerror(errno));
		return;
	}
	close(fd);
	snprintf(jdir, sizeof(jdir), "%s/journal", htg_dir_state_path(dir));
	if (jnl_sync_path(jdir, &error) < 0)
		dirp_warning("audit spool: %s", error);
}

int htg_audit_spool(struct htg_dir *dir, const struct htg_audit_event *ev,
		    unsigned int n, const char **error_r)
{
	struct htg_journal_pos pos;
	int ret;

	if (n == 0)
		return 1;
	ret = htg_journal_append(dir, NULL, 0, ev, n, &pos, error_r);
	if (ret == 0)
		*error_r = "too many events for the journal";
	if (ret <= 0)
		return -1;
	marker_set(dir);
	return 1;
}

int htg_audit_drain(struct htg_dir *dir, const char **error_r)
{
	char path[HTG_PATH_MAX + 32];
	struct stat st;
	int ret;

	if (!marker_path(dir, path, sizeof(path)) ||
	    lstat(path, &st) < 0)
		return 0;
	/* first: an entry spooled from now on sets it again */
	if (unlink(path) < 0 && errno != ENOENT) {
		*error_r = dirp_err("audit spool: unlink %s: %s", path,
				    strerror(errno));
		return -1;
	}
	if ((ret = htg_journal_checkpoint(dir, error_r)) < 0) {
		marker_set(dir);	/* for the next try */
		return -1;
	}
	return ret;
}

int htg_audit_write(struct htg_dir *dir, struct htg_audit_event *ev,
		    unsigned int n, const char **error_r)
{
	static __thread char why[1024];
	const char *error, *serror;

	if (n == 0)
		return 1;
	/* the key before the first try: a commit that went through
	   unseen and its spooled copy are one event */
	htg_audit_key(ev, n);
	if (htg_dir_pickup_commit(dir, NULL, 0, ev, n, &error) > 0) {
		if (htg_audit_drain(dir, &serror) < 0)
			dirp_warning("audit spool not applied yet: %s", serror);
		return 1;
	}
	snprintf(why, sizeof(why), "%s", error);
	if (htg_audit_spool(dir, ev, n, &serror) > 0) {
		*error_r = why;
		return 0;
	}
	snprintf(why + strlen(why), sizeof(why) - strlen(why),
		 "; audit spool: %s", serror);
	*error_r = why;
	return -1;
}
