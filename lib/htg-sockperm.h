#ifndef HTG_SOCKPERM_H
#define HTG_SOCKPERM_H

/*++
/* NAME
/*	htg-sockperm 3h
/* SUMMARY
/*	who may connect to the daemons' UNIX-domain sockets
/* SYNOPSIS
/*	#include "htg-sockperm.h"
/*
/*	int	htg_sockperm_parse(const char *mode, const char *group,
/*			struct htg_sockperm *perm, const char **error_r);
/*	mode_t	htg_sockperm_umask(void);
/*	int	htg_sockperm_apply(const char *path, uid_t owner,
/*			const struct htg_sockperm *perm, const char **error_r);
/*	int	htg_sockperm_check_dir(const char *path, const char **error_r);
/* DESCRIPTION
/*	The milter, policy and socketmap sockets decide which local users
/*	may claim Message-IDs or ask who owns an address: only Postfix (its
/*	smtpd, cleanup and trivial-rewrite run as user postfix) and the
/*	daemon itself. Both daemons read "socket_mode" (octal, default 0660)
/*	and "socket_group" (default postfix; empty keeps the creating
/*	process's group) with htg_sockperm_parse(): the mode must be octal,
/*	at most 0777 and grant nothing to others (bits 0007).
/*
/*	A socket is created by bind() with the permissions 0777 & ~umask, and
/*	the umask of the process is not ours to trust. So the daemon binds
/*	under htg_sockperm_umask() (0177: the socket is born 0600, its owner
/*	only), then htg_sockperm_apply() sets the owner ((uid_t)-1 keeps it), the
/*	group and last the mode. The socket is never more open than the
/*	configured mode, whatever the umask. apply refuses a path that is not
/*	a socket of the calling user (lstat: a symbolic link is not
/*	followed); it runs before the daemon drops root, since only root may
/*	give a file to a group it is not a member of.
/*
/*	htg_sockperm_check_dir() fails when the directory that holds a socket
/*	is writable by others or by its group without the sticky bit: there
/*	someone else could replace the socket between bind() and
/*	htg_sockperm_apply() (doc: /run/htg is 0750 htg:postfix).
/*
/*	All return 0 on success and -1 with a message in *error_r (a static
/*	buffer, valid until the next call).
/*--*/

#include <sys/types.h>

struct htg_sockperm {
	mode_t mode;			/* e.g. 0660 */
	gid_t group;			/* (gid_t)-1: keep */
	const char *group_name;		/* for messages; "" when kept */
};

int htg_sockperm_parse(const char *mode, const char *group,
		       struct htg_sockperm *perm, const char **error_r);
mode_t htg_sockperm_umask(void);
int htg_sockperm_apply(const char *path, uid_t owner,
		       const struct htg_sockperm *perm, const char **error_r);
int htg_sockperm_check_dir(const char *path, const char **error_r);

#endif
