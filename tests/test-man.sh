#!/bin/sh
# test-man.sh - every man page of the project renders without a groff
# warning (an unescaped backslash in an example, a bad macro).
set -u
top=${srcdir:-.}/..
passed=0 failed=0
for f in "$top"/milter/*.[578] "$top"/policy/*.[578] "$top"/tools/*.[578] \
	 "$top"/dovecot-plugin/*.[578]; do
	[ -f "$f" ] || continue
	out=$(groff -man -ww -z "$f" 2>&1)
	if [ -z "$out" ]; then
		passed=$((passed + 1)); echo "ok   $f"
	else
		failed=$((failed + 1)); echo "FAIL $f"; echo "$out" | sed 's/^/  /'
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
