/*++
/* NAME
/*	htg-dir-pg-flow 3
/* SUMMARY
/*	flows, responding flows, grants and nodes on PostgreSQL
/* DESCRIPTION
/*	The PostgreSQL side of htg-dir-flow(3) and htg-dir-node(3), with
/*	the refusals of the LMDB code (whose public functions check and
/*	normalise first): a grant needs its account and flow (one
/*	statement), a node with accounts homed there stays (foreign key).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

#define SQL_FOREIGN	"23503"

/* --- flows, responding flows, grants -------------------------------------- */

int dirpg_flow_get(struct htg_dir *dir, const char *flow, char *deliver_to_r,
		   size_t size, const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };

	if (!htg_dir_normalise(flow, key, sizeof(key)))
		return 0;
	return dirpg_lookup_value(dir, PGS_FLOW_GET, 1, p, deliver_to_r, size,
			       error_r);
}

static int flow_put(struct htg_dir *dir, const char *flow,
		    const char *deliver_to, int replace, const char **error_r)
{
	char key[HTG_USER_MAX], to[HTG_USER_MAX], cur[HTG_USER_MAX];
	const char *p[2] = { key, to };
	long count;

	/* checked by flow_put() of htg-dir-flow.c */
	NORMALISE(flow, key, "flow");
	NORMALISE(deliver_to, to, "deliver-to address");
	count = dirpg_run_count(dir, replace ? PGS_FLOW_SET : PGS_FLOW_ADD, 2,
				p, NULL, error_r);
	if (count < 0)
		return -1;
	if (count > 0)
		return 1;
	if (replace) {
		*error_r = dirp_err("no such flow: %s", key);
		return 0;
	}
	if (dirpg_run_value(dir, PGS_FLOW_GET, 1, p, cur, sizeof(cur),
			    error_r) < 0)
		return -1;
	*error_r = dirp_err("flow %s exists (delivers to %s); htgctl flow set "
			    "changes its target", key, cur);
	return 0;
}

int dirpg_flow_add(struct htg_dir *dir, const char *flow,
		   const char *deliver_to, const char **error_r)
{
	return flow_put(dir, flow, deliver_to, 0, error_r);
}

int dirpg_flow_set(struct htg_dir *dir, const char *flow,
		   const char *deliver_to, const char **error_r)
{
	return flow_put(dir, flow, deliver_to, 1, error_r);
}

int dirpg_flow_del(struct htg_dir *dir, const char *flow,
		   const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };
	long count;

	NORMALISE(flow, key, "flow");
	if ((count = dirpg_run_count(dir, PGS_FLOW_DEL, 1, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = dirp_err("no such flow: %s", key);
		return 0;
	}
	return 1;
}

int dirpg_flow_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		    const char **error_r)
{
	return dirpg_pair_iter(dir, PGS_FLOW_ITER, cb, ctx, error_r);
}

int dirpg_flow_respond_set(struct htg_dir *dir, const char *flow,
			   const char *mode, unsigned int delay,
			   const char **error_r)
{
	char key[HTG_USER_MAX], d[16];
	const char *p[3] = { key, mode, d };
	int off = strcmp(mode, "off") == 0;
	long count;

	NORMALISE(flow, key, "flow");
	if (!off && !htg_dir_respond_mode_ok(mode)) {
		*error_r = dirp_err("unknown respond mode: %s", mode);
		return 0;
	}
	snprintf(d, sizeof(d), "%u", delay);
	if (off) {
		int ret = dirpg_run_value(dir, PGS_RESPOND_OFF, 1, p, NULL, 0,
					  error_r);
		if (ret == 0)
			*error_r = dirp_err("no such flow: %s", key);
		return ret;
	}
	if ((count = dirpg_run_count(dir, PGS_RESPOND_SET, 3, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = dirp_err("no such flow: %s", key);
		return 0;
	}
	return 1;
}

int dirpg_flow_respond_get(struct htg_dir *dir, const char *flow,
			   char *mode_r, size_t size, unsigned int *delay_r,
			   const char **error_r)
{
	char key[HTG_USER_MAX];
	const char *p[1] = { key };
	struct dirpg_row row;
	int ret;

	if (!htg_dir_normalise(flow, key, sizeof(key)))
		return 0;
	if ((ret = dirpg_lookup(dir, PGS_RESPOND_GET, 1, p, &row,
				error_r)) <= 0)
		return ret;
	if (row.ncols != 2 || !htg_dir_respond_mode_ok(row.col[0]) ||
	    strlen(row.col[0]) >= size)
		return 0;
	memcpy(mode_r, row.col[0], strlen(row.col[0]) + 1);
	*delay_r = (unsigned int)strtoul(row.col[1], NULL, 10);
	return 1;
}

int dirpg_grant_check(struct htg_dir *dir, const char *user,
		      const char *flow, const char **error_r)
{
	char u[HTG_USER_MAX], f[HTG_USER_MAX];
	const char *p[2] = { u, f };

	if (!htg_dir_normalise(user, u, sizeof(u)) ||
	    !htg_dir_normalise(flow, f, sizeof(f)))
		return 0;
	return dirpg_lookup_value(dir, PGS_GRANT_CHECK, 2, p, NULL, 0, error_r);
}

int dirpg_grant_add(struct htg_dir *dir, const char *user, const char *flow,
		    const char **error_r)
{
	char u[HTG_USER_MAX], f[HTG_USER_MAX];
	const char *p[2] = { u, f };
	PGresult *res;
	int ret;

	NORMALISE(user, u, "user");
	NORMALISE(flow, f, "flow");
	if ((res = dirpg_run(dir, PGS_GRANT_ADD, 2, p, NULL, error_r)) == NULL)
		return -1;
	if (strcmp(dirpg_val(res, 0), "1") == 0) {
		ret = 1;
	} else if (strcmp(dirpg_val(res, 1), "t") != 0) {
		*error_r = dirp_err("no such account or flow: %s, %s", u, f);
		ret = 0;
	} else {
		*error_r = dirp_err("%s already has flow %s", u, f);
		ret = 0;
	}
	dirpg_pq.clear(res);
	return ret;
}

int dirpg_grant_del(struct htg_dir *dir, const char *user, const char *flow,
		    const char **error_r)
{
	char u[HTG_USER_MAX], f[HTG_USER_MAX];
	const char *p[2] = { u, f };
	long count;

	if (!htg_dir_normalise(user, u, sizeof(u)) ||
	    !htg_dir_normalise(flow, f, sizeof(f))) {
		*error_r = "invalid user or flow";
		return 0;
	}
	if ((count = dirpg_run_count(dir, PGS_GRANT_DEL, 2, p, NULL,
				     error_r)) < 0)
		return -1;
	if (count == 0) {
		*error_r = "no such grant";
		return 0;
	}
	return 1;
}

int dirpg_grant_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		     const char **error_r)
{
	return dirpg_pair_iter(dir, PGS_GRANT_ITER, cb, ctx, error_r);
}

/* --- nodes ----------------------------------------------------------------- */

int dirpg_node_set(struct htg_dir *dir, const char *name, const char *address,
		   const char **error_r)
{
	char n[HTG_NODE_MAX], a[HTG_NODE_MAX];
	const char *p[2] = { n, a };

	NORMALISE(name, n, "node");
	NORMALISE(address, a, "node address");
	return dirpg_run_count(dir, PGS_NODE_SET, 2, p, NULL, error_r) < 0 ?
		-1 : 1;
}

int dirpg_node_get(struct htg_dir *dir, const char *name, char *address_r,
		   size_t size, const char **error_r)
{
	char n[HTG_NODE_MAX];
	const char *p[1] = { n };

	if (!htg_dir_normalise(name, n, sizeof(n)))
		return 0;
	return dirpg_lookup_value(dir, PGS_NODE_GET, 1, p, address_r, size,
			       error_r);
}

int dirpg_node_del(struct htg_dir *dir, const char *name,
		   const char **error_r)
{
	char n[HTG_NODE_MAX];
	const char *p[1] = { n }, *state;
	long count;

	NORMALISE(name, n, "node");
	count = dirpg_run_count(dir, PGS_NODE_DEL, 1, p, &state, error_r);
	if (count < 0 && strcmp(state, SQL_FOREIGN) == 0) {
		*error_r = dirp_err("node %s is the home of accounts: "
				    "move them first (htgctl account home)", n);
		return 0;
	}
	if (count == 0) {
		*error_r = dirp_err("no such node: %s", n);
		return 0;
	}
	return count < 0 ? -1 : 1;
}

int dirpg_node_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		    const char **error_r)
{
	return dirpg_pair_iter(dir, PGS_NODE_ITER, cb, ctx, error_r);
}
