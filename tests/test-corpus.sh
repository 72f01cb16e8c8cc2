#!/bin/sh
# test-corpus.sh - every corpus message gets exactly its expected outcome.
#
# tests/corpus/<expect>/<name>.eml: <expect> is "accept" or the refusing
# rule id; accepted names end in "--r<N>" = parts renamed (HTG-FILENAME).
# Each message is checked whole-ish (4096-byte chunks) and byte by byte:
# the verdict must not depend on where chunks end. check-message also
# fails on any original file name that survives a rewrite.
set -u
CHECK=${CHECK_MESSAGE:-./check-message}
dir=${srcdir:-.}/corpus
passed=0 failed=0
for f in "$dir"/*/*.eml; do
	expect=$(basename "$(dirname "$f")")
	name=$(basename "$f" .eml)
	ok=1
	for chunk in 4096 1; do
		out=$("$CHECK" -c $chunk "$f")
		rc=$?
		line=$(printf '%s\n' "$out" | tail -1)
		verdict=${line#"$f "}
		case $expect in
		accept)
			want="renames=${name##*--r}"
			case $verdict in
			"accept $want "*) ;;
			*) ok=0 ;;
			esac ;;
		*)
			case $verdict in
			"$expect: "*) ;;
			*) ok=0 ;;
			esac ;;
		esac
		[ $rc -le 1 ] && ! printf '%s\n' "$out" | grep -q ' LEAK ' || ok=0
		[ $ok = 1 ] || break
	done
	if [ $ok = 1 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $expect/$name (chunk $chunk): $out"
	fi
done
echo "corpus: $passed messages as expected"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
