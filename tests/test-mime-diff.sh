#!/bin/sh
# test-mime-diff.sh - the differential MIME test over the whole corpus:
# every message the milter accepts must have the same part tree for the
# milter and for Dovecot's lib-mail parser (tests/mime-diff.c), with the
# body at once and byte by byte.
set -u
DIFF=${MIME_DIFF:-./mime-diff}
dir=${srcdir:-.}/corpus
rc=0
for chunk in 0 1; do
	out=$("$DIFF" -c $chunk "$dir"/*/*.eml) || rc=1
	printf '%s\n' "$out" | grep -v ' agree \| refused ' || true
	echo "chunk $chunk: $(printf '%s\n' "$out" | grep -c ' agree ') accepted and" \
		"agreeing, $(printf '%s\n' "$out" | grep -c ' refused ') refused," \
		"$(printf '%s\n' "$out" | grep -c ' DISAGREE ') disagreeing"
done
# the accepted corpus must really be compared, not refused wholesale
n=$(ls "$dir"/accept/*.eml | wc -l)
m=$("$DIFF" "$dir"/accept/*.eml | grep -c ' agree ')
[ "$n" = "$m" ] || { echo "only $m of $n accepted messages compared"; rc=1; }
[ $rc = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $rc
