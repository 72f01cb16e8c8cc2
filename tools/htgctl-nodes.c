/*++
/* NAME
/*	htgctl-nodes 3
/* SUMMARY
/*	htgctl export and import: nodes and home nodes
/* DESCRIPTION
/*	The one place where export and import touch the nodes of the
/*	gateway and the accounts' home nodes (htg-dir.h, "nodes and home
/*	nodes"). A build with HTGCTL_NODES 0 exports no node and refuses
/*	to import one, or an account with a home node: it never drops one
/*	silently (tools/test-htgctl-export.sh asks import which it is).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>

#include "htg-dir.h"
#include "htgctl.h"

#ifndef HTGCTL_NODES
#define HTGCTL_NODES 1
#endif

#if HTGCTL_NODES

int export_nodes(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		 const char **error_r)
{
	return htg_dir_node_iter(dir, cb, ctx, error_r);
}

/* node NAME ADDRESS: added, or already so; another address: refused */
int import_node(struct htg_dir *dir, const char *name, const char *address,
		const char **error_r)
{
	static char why[HTG_NODE_MAX * 2 + 64];
	char old[HTG_NODE_MAX];
	int ret = htg_dir_node_get(dir, name, old, sizeof(old), error_r);

	if (ret == 0)
		return htg_dir_node_set(dir, name, address, error_r);
	if (ret == 1 && strcmp(old, address) != 0) {
		snprintf(why, sizeof(why), "node %s exists with address %s",
			 name, old);
		*error_r = why;
		return 0;
	}
	return ret;
}

int import_home(struct htg_dir *dir, const char *user, const char *home,
		const char **error_r)
{
	return htg_dir_account_set_home(dir, user, home, error_r);
}

#else

int export_nodes(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		 const char **error_r)
{
	(void)dir, (void)cb, (void)ctx, (void)error_r;
	return 1;	/* this directory has no nodes yet */
}

static const char no_nodes[] = "this htgctl cannot write nodes or home "
	"nodes yet (htgctl-nodes.c, HTGCTL_NODES)";

int import_node(struct htg_dir *dir, const char *name, const char *address,
		const char **error_r)
{
	(void)dir, (void)name, (void)address;
	*error_r = no_nodes;
	return 0;
}

int import_home(struct htg_dir *dir, const char *user, const char *home,
		const char **error_r)
{
	(void)dir, (void)user;
	if (*home == '\0')
		return 1;
	*error_r = no_nodes;
	return 0;
}

#endif
