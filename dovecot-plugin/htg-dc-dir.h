#ifndef HTG_DC_DIR_H
#define HTG_DC_DIR_H

/*++
/* NAME
/*	htg-dc-dir 3h
/* SUMMARY
/*	one HTG directory handle per Dovecot process
/* SYNOPSIS
/*	#include "htg-dc-dir.h"
/*
/*	void	htg_dc_dir_ref(const char *path, int flags);
/*	int	htg_dc_dir_get(struct htg_dir **dir_r, const char **error_r);
/*	void	htg_dc_dir_unref(void);
/*	void	htg_dc_dir_deinit(void);
/* DESCRIPTION
/*	LMDB forbids opening one environment twice in a process (closing
/*	either copy drops the other's locks), yet an auth process has a
/*	passdb and a userdb on it, and an LMTP process has several mail
/*	users alive at once. So every user of the directory in a process
/*	shares this one handle.
/*
/*	htg_dc_dir_ref() registers a user of the directory at path (flags:
/*	HTG_DIR_RDONLY or 0). The first caller's path wins; a later
/*	different path is refused with i_fatal() at configuration time in
/*	the auth process, and logged by the mail plugin.
/*
/*	htg_dc_dir_get() opens the directory at first use (not at ref
/*	time: the auth process drops root privileges after its modules
/*	init, and the directory must be opened as the user that keeps
/*	using it), returns 1 and the handle, or -1 with an error (the next
/*	call tries again).
/*
/*	htg_dc_dir_unref() drops a user; the handle stays open for the
/*	process's next user of the same directory (a pop3 process serves
/*	many sessions one after the other). htg_dc_dir_deinit() closes
/*	it; each module calls it from its deinit, after its last unref.
/*--*/

#include "htg-dir.h"

/* path of the registered directory, NULL before the first ref */
const char *htg_dc_dir_path(void);
void htg_dc_dir_ref(const char *path, int flags);
int htg_dc_dir_get(struct htg_dir **dir_r, const char **error_r);
/* a PostgreSQL directory's local state folder (plugin setting
   htg_state_dir: the pickup journal); ignored for LMDB */
void htg_dc_dir_state(const char *state);
void htg_dc_dir_unref(void);
void htg_dc_dir_deinit(void);

#endif
