#!/bin/sh
# test-miltertest.sh - drive the real htg-milter binary with miltertest
# (Debian package miltertest) and the Lua scripts in tests/milter/.
set -u
top_builddir=${top_builddir:-..}
scripts=$(cd "${srcdir:-.}/milter" && pwd)
milter=$(cd "$top_builddir/milter" && pwd)/htg-milter
htgctl=$(cd "$top_builddir/tools" && pwd)/htgctl
if ! command -v miltertest >/dev/null; then
	echo "miltertest not installed (Debian package miltertest): skipped"
	echo "0 passed, 0 failed"
	exit 77
fi
t=$(mktemp -d /tmp/htg-miltertest.XXXXXX)
# temp_dir must be on disk (a tmpfs /tmp would be refused): the build tree
sp=$(mktemp -d "$PWD/htg-miltertest-spool.XXXXXX")
trap 'rm -rf "$t" "$sp"' EXIT
# as root, htgctl works as the directory's owner: init gives it to one
if [ "$(id -u)" = 0 ]; then
	chmod 0755 "$t"
	"$htgctl" -d "$t/dir" init --owner nobody >/dev/null || exit 1
fi
"$htgctl" -d "$t/dir" account add demo@mijnbedrijf.nl </dev/null || exit 1
# HTG-HDR-FROM: the From address must be one of the account's own
"$htgctl" -d "$t/dir" address add ik@mijnbedrijf.nl demo@mijnbedrijf.nl || exit 1
"$htgctl" -d "$t/dir" account add other@bedrijf.nl </dev/null || exit 1
"$htgctl" -d "$t/dir" address add ander@bedrijf.nl other@bedrijf.nl || exit 1
passed=0 failed=0
for s in "$scripts"/*.lua; do
	name=$(basename "$s" .lua)
	[ "$name" = common ] && continue
	if MT_SCRIPTS=$scripts MT_MILTER=$milter MT_SOCK=$t/$name.sock \
	   MT_DIRECTORY=$t/dir MT_TMP=$sp MT_LOG=$t/$name.log \
	   timeout 60 miltertest -s "$s" >"$t/$name.out" 2>&1; then
		passed=$((passed + 1)); echo "ok   $name"
	else
		failed=$((failed + 1)); echo "FAIL $name"
		sed 's/^/  /' "$t/$name.out" "$t/$name.log" 2>/dev/null | tail -20
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
