#!/bin/sh
# fuzz.sh - build and run a libFuzzer target of the MIME engine.
#
# usage: tests/fuzz.sh BUILD_DIR [check|mime-diff] [libFuzzer options...]
#   e.g. tests/fuzz.sh build/default -runs=200000        (short, in check)
#        tests/fuzz.sh build/default mime-diff -runs=50000 (short, in check)
#        tests/fuzz.sh build/default -max_total_time=3600 -jobs=2   (long)
#
# Targets: "check" (default, tests/fuzz-check.c: whole vs chunked verdicts)
# and "mime-diff" (tests/fuzz-mime-diff.c: the milter's part tree against
# Dovecot's lib-mail parser on every accepted message).
#
# BUILD_DIR is a configured build tree (for htg-config.h). The target is
# compiled straight from lib/ with clang -fsanitize=fuzzer,address,undefined
# into BUILD_DIR/fuzz/, seeded with tests/corpus; new inputs libFuzzer finds
# stay in BUILD_DIR/fuzz/corpus[-mime-diff] (never in the source tree).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
shift
target=check
case ${1:-} in
check|mime-diff) target=$1; shift ;;
esac
out=$build/fuzz
srcs="htg-check.c htg-check-part.c htg-check-file.c htg-mime.c htg-codec.c
htg-hdr.c htg-hdr-lex.c htg-hdr-addr.c htg-uuid.c htg-rules.c htg-msg.c"
files=""
for s in $srcs; do files="$files $top/lib/$s"; done
san="-g -O1 -std=gnu11 -fsanitize=address,undefined -fno-sanitize-recover=all"
newer() {	# rebuild when a source is newer than the binary
	[ ! -x "$1" ] || [ -n "$(find "$top/lib" "$top/tests" -maxdepth 1 \
		-newer "$1" -name '*.[ch]' | head -1)" ]
}
if [ $target = check ]; then
	bin=$out/fuzz-check corpus=$out/corpus
	mkdir -p "$corpus"
	if newer "$bin"; then
		clang $san -fsanitize=fuzzer -I"$build" -I"$top/lib" \
			-o "$bin" "$top/tests/fuzz-check.c" $files
	fi
else
	bin=$out/fuzz-mime-diff corpus=$out/corpus-mime-diff
	mkdir -p "$corpus" "$out/obj"
	if newer "$bin"; then
		# Dovecot's side with Dovecot's headers and config.h only
		. /usr/lib/dovecot/dovecot-config
		clang $san -fsanitize=fuzzer-no-link -DHAVE_CONFIG_H \
			$LIBDOVECOT_INCLUDE -c -o "$out/obj/mime-diff-dc.o" \
			"$top/tests/mime-diff-dc.c"
		clang $san -fsanitize=fuzzer -I"$build" -I"$top/lib" \
			-o "$bin" "$top/tests/fuzz-mime-diff.c" \
			"$top/tests/mime-diff-htg.c" "$out/obj/mime-diff-dc.o" \
			$files -L"$dovecot_pkglibdir" -ldovecot \
			-Wl,-rpath,"$dovecot_pkglibdir"
	fi
fi
# seed: every corpus message, with a first byte choosing the chunk size
if [ -z "$(ls "$corpus" 2>/dev/null | head -1)" ]; then
	i=0
	for f in "$top"/tests/corpus/*/*.eml; do
		i=$((i + 1))
		[ "$(wc -c <"$f")" -lt 65536 ] || continue
		{ printf '\\%03o' $((i % 64)) | xargs -0 printf; cat "$f"; } \
			>"$corpus/seed-$i"
	done
fi
exec "$bin" -max_len=65536 -timeout=10 "$corpus" "$@"
