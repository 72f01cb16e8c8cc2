/* TEMPORARY (removed when the LMDB sides of these functions land from
   the helpers' branches: htg-dir-node.c): the PostgreSQL side only. */

#include "htg-config.h"

#include "htg-dir-private.h"

#define LMDB_TODO do { *error_r = "not on LMDB yet"; return -1; } while (0)

int htg_dir_node_set(struct htg_dir *dir, const char *name,
		     const char *address, const char **error_r)
{
	DIRP_PG(dir, dirpg_node_set(dir, name, address, error_r));
	LMDB_TODO;
}

int htg_dir_node_get(struct htg_dir *dir, const char *name, char *address_r,
		     size_t size, const char **error_r)
{
	DIRP_PG(dir, dirpg_node_get(dir, name, address_r, size, error_r));
	LMDB_TODO;
}

int htg_dir_node_del(struct htg_dir *dir, const char *name,
		     const char **error_r)
{
	DIRP_PG(dir, dirpg_node_del(dir, name, error_r));
	LMDB_TODO;
}

int htg_dir_node_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		      const char **error_r)
{
	DIRP_PG(dir, dirpg_node_iter(dir, cb, ctx, error_r));
	LMDB_TODO;
}

int htg_dir_account_set_home(struct htg_dir *dir, const char *user,
			     const char *node, const char **error_r)
{
	DIRP_PG(dir, dirpg_account_set_home(dir, user, node, error_r));
	LMDB_TODO;
}
