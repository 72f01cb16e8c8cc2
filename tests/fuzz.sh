#!/bin/sh
# fuzz.sh - build and run the libFuzzer target of the MIME engine.
#
# usage: tests/fuzz.sh BUILD_DIR [libFuzzer options...]
#   e.g. tests/fuzz.sh build/default -runs=200000        (short, in check)
#        tests/fuzz.sh build/default -max_total_time=3600 -jobs=2   (long)
#
# BUILD_DIR is a configured build tree (for htg-config.h). The target is
# compiled straight from lib/ with clang -fsanitize=fuzzer,address,undefined
# into BUILD_DIR/fuzz/, seeded with tests/corpus; new inputs libFuzzer finds
# stay in BUILD_DIR/fuzz/corpus (never in the source tree).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
shift
out=$build/fuzz
mkdir -p "$out/corpus"
srcs="htg-check.c htg-check-part.c htg-check-file.c htg-mime.c htg-codec.c
htg-hdr.c htg-hdr-lex.c htg-hdr-addr.c htg-uuid.c htg-rules.c htg-msg.c"
set --  "$@"
files=""
for s in $srcs; do files="$files $top/lib/$s"; done
if [ ! -x "$out/fuzz-check" ] || [ -n "$(find "$top/lib" "$top/tests/fuzz-check.c" \
	-newer "$out/fuzz-check" -name '*.[ch]' | head -1)" ]; then
	clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I"$build" -I"$top/lib" \
		-o "$out/fuzz-check" "$top/tests/fuzz-check.c" $files
fi
# seed: every corpus message, with a first byte choosing the chunk size
if [ -z "$(ls "$out/corpus" 2>/dev/null | head -1)" ]; then
	i=0
	for f in "$top"/tests/corpus/*/*.eml; do
		i=$((i + 1))
		[ "$(wc -c <"$f")" -lt 65536 ] || continue
		{ printf '\\%03o' $((i % 64)) | xargs -0 printf; cat "$f"; } \
			>"$out/corpus/seed-$i"
	done
fi
exec "$out/fuzz-check" -max_len=65536 -timeout=10 "$out/corpus" "$@"
