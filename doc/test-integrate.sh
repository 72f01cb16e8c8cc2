#!/bin/sh
# test-integrate.sh - doc/integrate.md and configs/integrate/ say the same:
# every snippet file appears in the guide word for word, as the fenced block
# after its "<!-- file: configs/integrate/NAME -->" line, and the guide has
# no such block for a file that does not exist. (The guide's blocks are
# what tests/integrate/debian12.sh applies to a Debian root.)
set -u
src=${srcdir:-.}
top=$src/..
doc=$src/integrate.md
d=$(mktemp -d /tmp/htg-test-integrate.XXXXXX)
trap 'rm -rf "$d"' EXIT
passed=0 failed=0
res() { if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1";
	else failed=$((failed + 1)); echo "FAIL $1"; fi; }

# the block after each marker, into $d/<name>
awk -v d="$d" '
	/^<!-- file: configs\/integrate\/[^ ]+ -->$/ {
		name = $3; sub(/^configs\/integrate\//, "", name); want = 1; next }
	want && /^```/ { want = 0; inblock = 1; out = d "/" name; printf "" > out; next }
	inblock && /^```$/ { inblock = 0; close(out); next }
	inblock { print > out }
' "$doc"

n=0
for f in "$top"/configs/integrate/*; do
	name=$(basename "$f")
	n=$((n + 1))
	[ -f "$d/$name" ]
	res "integrate.md has a block for configs/integrate/$name" $?
	[ -f "$d/$name" ] || continue
	cmp -s "$f" "$d/$name"
	rc=$?
	res "the block of $name is the file, word for word" $rc
	[ $rc = 0 ] || diff -u "$f" "$d/$name" | sed 's/^/  /' | head -20
done
for b in "$d"/*; do
	[ -f "$b" ] || continue
	[ -f "$top/configs/integrate/$(basename "$b")" ]
	res "configs/integrate/$(basename "$b") exists for its block" $?
done
[ "$n" -ge 4 ]
res "four snippet files at least (main.cf.htg, master.cf.htg, 90-htg.conf, government.cidr)" $?
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
