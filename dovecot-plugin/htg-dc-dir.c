/*++
/* NAME
/*	htg-dc-dir 3
/* SUMMARY
/*	one HTG directory handle per Dovecot process
/* SYNOPSIS
/*	#include "htg-dc-dir.h"
/* DESCRIPTION
/*	See htg-dc-dir.h. Lookups are synchronous: every lookup is one LMDB
/*	read transaction on a memory map (microseconds, no network, no
/*	lock wait for readers), cheaper than handing the request to an
/*	auth-worker process.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"

#include "htg-dc-dir.h"

static struct htg_dir *dc_dir;
static char *dc_path;
static char *dc_state;
static int dc_flags;
static unsigned int dc_refcount;

const char *htg_dc_dir_path(void)
{
	return dc_refcount > 0 ? dc_path : NULL;
}

void htg_dc_dir_ref(const char *path, int flags)
{
	if (dc_refcount++ == 0) {
		/* the handle kept from this process's previous user is
		   reused if it is the same directory, opened writable
		   enough */
		if (dc_path != NULL &&
		    (strcmp(dc_path, path) != 0 ||
		     ((dc_flags & HTG_DIR_RDONLY) != 0 &&
		      (flags & HTG_DIR_RDONLY) == 0)))
			htg_dc_dir_deinit();
		if (dc_path == NULL) {
			dc_path = i_strdup(path);
			dc_flags = flags;
		}
		return;
	}
	/* a reader and a writer in one process share the writable handle */
	if ((flags & HTG_DIR_RDONLY) == 0)
		dc_flags &= ~HTG_DIR_RDONLY;
}

int htg_dc_dir_get(struct htg_dir **dir_r, const char **error_r)
{
	const char *error;

	i_assert(dc_refcount > 0);
	if (dc_dir == NULL &&
	    htg_dir_open(dc_path, dc_flags, &dc_dir, &error) < 0) {
		*error_r = t_strdup(error);
		return -1;
	}
	if (dc_state != NULL &&
	    htg_dir_set_state_path(dc_dir, dc_state) < 0) {
		*error_r = "out of memory";
		return -1;
	}
	*dir_r = dc_dir;
	return 1;
}

void htg_dc_dir_state(const char *state)
{
	if (state == NULL || *state == '\0' ||
	    (dc_state != NULL && strcmp(dc_state, state) == 0))
		return;
	i_free(dc_state);
	dc_state = i_strdup(state);
	if (dc_dir != NULL)
		(void)htg_dir_set_state_path(dc_dir, dc_state);
}

void htg_dc_dir_unref(void)
{
	i_assert(dc_refcount > 0);
	/* the handle stays open for the next user of this process (a pop3
	   process serves up to service_count sessions): mdb_env_open and
	   the map of the next session are saved; htg_dc_dir_deinit() closes
	   it when the module unloads */
	--dc_refcount;
}

void htg_dc_dir_deinit(void)
{
	if (dc_refcount > 0)
		return;		/* still in use: the process exit closes it */
	if (dc_dir != NULL)
		htg_dir_close(&dc_dir);
	i_free(dc_path);
	i_free(dc_state);
}
