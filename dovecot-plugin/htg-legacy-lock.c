/*++
/* NAME
/*	htg-legacy-lock 3
/* SUMMARY
/*	legacy Digipoort profile: no delivery while POP3 holds the mailbox
/* DESCRIPTION
/*	See htg-legacy-lock.h. The lock file's name and stale timeout are
/*	Dovecot's (src/pop3/pop3-client.c, 2.3): if they ever change, the
/*	e2e test legacy_profile_* fails rather than mail being delivered
/*	into a locked store unnoticed.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "hostpid.h"
#include "ioloop.h"
#include "mail-storage-private.h"
#include "mailbox-list.h"

#include "htg-legacy-lock.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HTG_POP3_LOCK_FNAME "dovecot-pop3-session.lock"
#define HTG_POP3_LOCK_STALE_SECS (60 * 5)

/* FALSE when the lock names a process of this host that is gone. */
static bool htg_lock_holder_alive(const char *path)
{
	char buf[256], *colon;
	ssize_t n;
	pid_t pid;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return TRUE;	/* just released, or unreadable: assume held */
	n = read(fd, buf, sizeof(buf) - 1);
	i_close_fd(&fd);
	if (n <= 0)
		return TRUE;
	buf[n] = '\0';
	if ((colon = strchr(buf, ':')) == NULL)
		return TRUE;
	*colon = '\0';
	if (strcmp(colon + 1, my_hostname) != 0)
		return TRUE;
	pid = (pid_t)strtol(buf, NULL, 10);
	return pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH;
}

bool htg_legacy_lock_held(struct mailbox *box)
{
	const char *dir, *path;
	struct stat st;

	if (!mailbox_list_get_root_path(box->list, MAILBOX_LIST_PATH_TYPE_INDEX,
					&dir) &&
	    !mailbox_list_get_root_path(box->list, MAILBOX_LIST_PATH_TYPE_DIR,
					&dir))
		return FALSE;
	path = t_strdup_printf("%s/%s", dir, HTG_POP3_LOCK_FNAME);
	if (stat(path, &st) < 0)
		return FALSE;
	if (st.st_mtime < ioloop_time - 2 * HTG_POP3_LOCK_STALE_SECS)
		return FALSE;
	return htg_lock_holder_alive(path);
}
