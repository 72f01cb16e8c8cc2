#!/bin/sh
# test-version.sh - one version: configure.ac's AC_INIT (PACKAGE_VERSION,
# what every program prints with -V), debian/changelog's top entry (the
# packages' version; source format 3.0 (native): no Debian revision) and
# NEWS's first entry must be the same, so they cannot drift apart.
# Run by make check with srcdir and PACKAGE_VERSION set.
set -u
: "${srcdir:?}" "${PACKAGE_VERSION:?}"
fail=0
# every check says "ok:" or "FAIL:"; the last line counts them as
# htg-lab check counts every test program: "N passed, N failed"
nok=0 nfail=0
ok() { printf 'ok: %s\n' "$*"; nok=$((nok + 1)); }
bad() { printf 'FAIL: %s\n' "$*"; nfail=$((nfail + 1)); fail=1; }
changelog=$srcdir/debian/changelog
if [ -f "$changelog" ]; then
	# first line: "htg-gateway (0.1.0) unstable; urgency=medium"
	deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog")
	if [ "$deb" != "$PACKAGE_VERSION" ]; then
		bad "debian/changelog says '$deb', configure.ac '$PACKAGE_VERSION'"
		echo "      (dch -v $PACKAGE_VERSION, or change AC_INIT)"
		fail=1
	else
		ok "debian/changelog $deb"
	fi
else
	bad "$changelog missing"
	fail=1
fi
# NEWS: the first line that starts with "htg-gateway " names the version
news=$(sed -n 's/^htg-gateway \([^ ]*\).*/\1/p' "$srcdir/NEWS" 2>/dev/null | head -n 1)
if [ "$news" != "$PACKAGE_VERSION" ]; then
	bad "NEWS's first entry is '$news', configure.ac '$PACKAGE_VERSION'"
	fail=1
else
	ok "NEWS $news"
fi
echo "$nok passed, $nfail failed"
exit $fail
