/*++
/* NAME
/*	htg-dir-pg-migrate 3
/* SUMMARY
/*	the PostgreSQL directory's schema: its version and migrations
/* DESCRIPTION
/*	The schema is lib/sql/NNN-name.sql, compiled in (sql/embed.sh makes
/*	htg-dir-pg-schema.c); htg.schema_version keeps a row per migration
/*	applied. A handle opened without HTG_DIR_NOSCHEMA refuses a
/*	database whose version is below the newest this code knows (run
/*	htgctl init); htgctl init applies each missing migration in one
/*	transaction with its row, under an advisory lock so that two
/*	htgctl init never race. Migrations only add: a node still on the
/*	previous version keeps working during a rolling upgrade.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir-private.h"
#include "htg-dir-pg.h"

/* the newest version the code knows */
int dirpg_schema_latest(void)
{
	int v = 0;

	for (unsigned int i = 0; i < dirpg_migrations_count; i++)
		if (dirpg_migrations[i].version > v)
			v = dirpg_migrations[i].version;
	return v;
}

/* the version the database has: >= 0, -1 error */
int dirpg_schema_version(struct dirpg_conn *c, const char **error_r)
{
	static const char *const q[] = {
		"SELECT to_regclass('htg.schema_version') IS NOT NULL",
		"SELECT coalesce(max(version), 0) FROM htg.schema_version",
	};
	int v = 0;

	for (int i = 0; i < 2; i++) {
		PGresult *res = dirpg_pq.exec(dirpg_pgconn(c), q[i]);

		if (res == NULL ||
		    dirpg_pq.result_status(res) != PGRES_TUPLES_OK) {
			*error_r = dirp_err("PostgreSQL directory: schema "
					    "version: %s", dirpg_pq.error_message(
					    dirpg_pgconn(c)));
			if (res != NULL)
				dirpg_pq.clear(res);
			return -1;
		}
		if (i == 0)
			v = strcmp(dirpg_pq.getvalue(res, 0, 0), "t") == 0;
		else
			v = atoi(dirpg_pq.getvalue(res, 0, 0));
		dirpg_pq.clear(res);
		if (v == 0)
			break;
	}
	return v;
}

/* Apply every migration above the database's version, each in one
   transaction with its version row; an advisory lock keeps two htgctl
   init apart. */
int dirpg_migrate(struct htg_dir *dir, int *from_r, int *to_r,
		  const char **error_r)
{
	struct dirpg_conn *c = dirpg_get(dir, error_r);
	int v, ret = 1;

	if (c == NULL)
		return -1;
	if (dirpg_cmd(c, "SELECT pg_advisory_lock(4741)", error_r) < 0) {
		dirpg_put(dir, c);
		return -1;
	}
	if ((v = dirpg_schema_version(c, error_r)) < 0)
		ret = -1;
	*from_r = *to_r = v;
	for (unsigned int i = 0; ret > 0 && i < dirpg_migrations_count; i++) {
		const struct dirpg_migration *m = &dirpg_migrations[i];
		char row[160];

		if (m->version <= v)
			continue;
		snprintf(row, sizeof(row), "INSERT INTO htg.schema_version "
			 "(version, name) VALUES (%d, '%s')", m->version,
			 m->name);
		if (dirpg_cmd(c, "BEGIN", error_r) < 0 ||
		    dirpg_cmd(c, "CREATE SCHEMA IF NOT EXISTS htg", error_r) < 0 ||
		    dirpg_cmd(c, "CREATE TABLE IF NOT EXISTS htg.schema_version "
			      "(version integer PRIMARY KEY, name text NOT NULL, "
			      "applied timestamptz NOT NULL DEFAULT now())",
			      error_r) < 0 ||
		    dirpg_cmd(c, m->sql, error_r) < 0 ||
		    dirpg_cmd(c, row, error_r) < 0 ||
		    dirpg_cmd(c, "COMMIT", error_r) < 0) {
			const char *e = *error_r;

			*error_r = dirp_err("migration %d (%s): %s", m->version,
					    m->name, e);
			(void)dirpg_cmd(c, "ROLLBACK", &e);
			ret = -1;
			break;
		}
		*to_r = m->version;
	}
	(void)dirpg_cmd(c, "SELECT pg_advisory_unlock(4741)", error_r);
	dirpg_put(dir, c);
	return ret;
}
