#!/bin/sh
# test-debs.sh - the packaging test: build the Debian packages from a
# clean export of the committed tree (what a fresh clone holds: git
# archive HEAD) and run lintian on the result. Not part of make check
# (about 2 minutes with the unit tests, which dpkg-buildpackage runs).
#
# usage: tests/test-debs.sh [OUTDIR]     (default: build/debs)
#        DEB_BUILD_OPTIONS=nocheck tests/test-debs.sh    (skip make check)
#
# Passes when dpkg-buildpackage succeeds and lintian reports no error and
# no warning that debian/*.lintian-overrides does not justify. The .debs,
# the .changes, the build log and lintian's report stay in OUTDIR.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/debs}
for tool in git dpkg-buildpackage lintian; do
	command -v $tool >/dev/null 2>&1 ||
		{ echo "test-debs: $tool missing (htg-lab installs it)" >&2; exit 1; }
done
# every file of debian/ travels with make dist (Makefile.am debian_files)
missing=
for f in $(git -C "$top" ls-files debian); do
	grep -q "[[:space:]]$f\( \|$\)" "$top/Makefile.am" || missing="$missing $f"
done
[ -z "$missing" ] ||
	{ echo "test-debs: FAIL: not in Makefile.am debian_files:$missing"; exit 1; }
rm -rf "$out"
mkdir -p "$out/src"
git -C "$top" archive --format=tar HEAD | tar -xf - -C "$out/src"
[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
	echo "test-debs: note: uncommitted changes are not part of this build"
echo "test-debs: dpkg-buildpackage -us -uc -b in $out/src"
start=$(date +%s)
if ! (cd "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -40 "$out/build.log"
	echo "test-debs: FAIL: dpkg-buildpackage (log: $out/build.log)"
	exit 1
fi
echo "test-debs: built in $(( $(date +%s) - start )) s:"
ls "$out"/*.deb | sed 's|.*/|  |'
changes=$(ls "$out"/*.changes)
# --pedantic shows the P: tags too; only E: and W: fail the test
lintian --display-info --pedantic --show-overrides "$changes" >"$out/lintian.txt" 2>&1 || true
grep -E '^[EWIPO]: ' "$out/lintian.txt" | sed 's/^/  /' || true
e=$(grep -c '^E: ' "$out/lintian.txt" || true)
w=$(grep -c '^W: ' "$out/lintian.txt" || true)
i=$(grep -c '^I: ' "$out/lintian.txt" || true)
p=$(grep -c '^P: ' "$out/lintian.txt" || true)
o=$(grep -c '^O: ' "$out/lintian.txt" || true)
echo "test-debs: lintian $changes: $e errors, $w warnings, $i info, $p pedantic, $o overridden"
if [ "$e" != 0 ] || [ "$w" != 0 ]; then
	echo "test-debs: FAIL: fix them or justify each in debian/*.lintian-overrides"
	exit 1
fi
echo "test-debs: PASS"
