/*++
/* NAME
/*	htg-dir-shared 3
/* SUMMARY
/*	the directory of more than one machine: which backend, local state
/* DESCRIPTION
/*	htg_dir_open() hands a postgresql:// URI to dirp_open_pg(): the
/*	handle then carries the PostgreSQL side (htg-dir-pg(3)) and every
/*	public function dispatches to it (DIRP_PG). Here too: this
/*	machine's state folder of such a directory (the pickup journal),
/*	the schema's migrations (htgctl init) and what a caller may ask
/*	of the backend.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"

/* A PostgreSQL directory: the handle holds the pool (htg-dir-pg.c);
   its local state (the pickup journal) is in $HTG_STATE_DIR, else
   HTG_STATE_DEFAULT. */
int dirp_open_pg(const char *uri, int flags, struct htg_dir **dir_r,
		 const char **error_r)
{
	struct htg_dir *dir = calloc(1, sizeof(*dir));
	const char *state = getenv(HTG_STATE_ENV);

	if (state == NULL || *state == '\0')
		state = HTG_STATE_DEFAULT;
	if (dir == NULL || (dir->path = strdup(uri)) == NULL ||
	    (dir->state_path = strdup(state)) == NULL) {
		if (dir != NULL)
			free(dir->path);
		free(dir);
		*error_r = "out of memory";
		return -1;
	}
	dir->rdonly = (flags & HTG_DIR_RDONLY) != 0;
	if (dirpg_open(dir, uri, flags, error_r) < 0) {
		free(dir->state_path);
		free(dir->path);
		free(dir);
		return -1;
	}
	*dir_r = dir;
	return 1;
}

const char *htg_dir_state_path(const struct htg_dir *dir)
{
	return dir->state_path != NULL ? dir->state_path : dir->path;
}

int htg_dir_set_state_path(struct htg_dir *dir, const char *path)
{
	char *copy;

	if (dir->pg == NULL)
		return 1;	/* LMDB: the directory's own folder */
	if ((copy = strdup(path)) == NULL)
		return -1;
	free(dir->state_path);
	dir->state_path = copy;
	return 1;
}

int htg_dir_text_exact(const struct htg_dir *dir)
{
	return dir->pg == NULL || dirpg_raw_text(dir);
}

int htg_dir_set_node_name(struct htg_dir *dir, const char *name)
{
	char n[HTG_NODE_MAX];

	if (!htg_dir_normalise(name, n, sizeof(n)))
		return 0;
	if (dir->pg != NULL)
		dirpg_set_host(dir, n);
	return 1;
}

int htg_dir_is_uri(const char *path)
{
	return dirpg_is_uri(path);
}

void htg_dir_set_answer_timeout(unsigned int msecs)
{
	dirpg_answer_timeout_ms = msecs;
}

int htg_dir_is_shared(const struct htg_dir *dir)
{
	return dir->pg != NULL;
}

int htg_dir_migrate(struct htg_dir *dir, int *from_r, int *to_r,
		    const char **error_r)
{
	*from_r = *to_r = 0;
	if (dir->pg == NULL)
		return 1;	/* LMDB: htg_dir_open() makes the tables */
	return dirpg_migrate(dir, from_r, to_r, error_r);
}
