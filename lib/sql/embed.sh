#!/bin/sh
# embed.sh FILE.sql... - the migrations as C (htg-dir-pg-schema.c):
# each file NNN-name.sql becomes { NNN, "name", "<its text>" }, in the
# order given (the Makefile gives them sorted).
set -eu
printf '/* made by lib/sql/embed.sh from lib/sql/*.sql: do not edit */\n'
printf '#include "htg-config.h"\n#include "htg-dir-pg.h"\n\n'
printf 'const struct dirpg_migration dirpg_migrations[] = {\n'
n=0
for f in "$@"; do
	base=$(basename "$f" .sql)
	version=$(printf '%s' "$base" | sed 's/^0*\([0-9][0-9]*\)-.*/\1/')
	name=${base#*-}
	printf '\t{ %s, "%s",\n' "$version" "$name"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
	n=$((n + 1))
done
printf '};\nconst unsigned int dirpg_migrations_count = %d;\n' "$n"
