#!/bin/sh
# autogen.sh - generate configure and Makefile.in from a git checkout
set -e
cd "$(dirname "$0")"
# Debian ships dovecot.m4 with dovecot-dev; copy it so aclocal finds DC_DOVECOT.
if [ ! -f m4/dovecot.m4 ] && [ -f /usr/share/aclocal/dovecot.m4 ]; then
	cp /usr/share/aclocal/dovecot.m4 m4/dovecot.m4
fi
autoreconf -fi
