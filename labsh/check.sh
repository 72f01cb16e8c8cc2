# labsh/check.sh - "./htg-lab check", the whole test suite (sourced by htg-lab)

# Sum "N passed, N failed" lines of unit test logs into the totals.
PASSED=0 FAILED=0
count_log() {
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1) || true
	if [ -z "$line" ]; then
		FAILED=$((FAILED + 1))	# a test program that died counts as failed
		return
	fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	PASSED=$((PASSED + p)) FAILED=$((FAILED + f))
}

unit_tests() {	# build dir, label
	local b=$1 log
	if ! make -C "$b" -s check >"$b/check.out" 2>&1; then
		tail -40 "$b/check.out"
		say "$2 unit tests: failures (see $b/check.out)"
	fi
	for log in $(find "$b" -name 'test-*.log' ! -name test-suite.log | sort); do
		count_log "$log"
		grep -h '^FAIL' "$log" | sed "s|^|$2: $(basename "$log" .log): |" || true
	done
}

asan_build() {
	local b=$TOP/build/asan
	mkdir -p "$b"
	if [ ! -f "$b/Makefile" ] || [ "$TOP/configure" -nt "$b/Makefile" ]; then
		(cd "$b" && "$TOP/configure" --enable-werror \
			CC=clang \
			CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
			LDFLAGS="-fsanitize=address,undefined" >configure.out 2>&1) ||
			{ tail -20 "$b/configure.out"; die "asan configure failed"; }
	fi
	make -C "$b" -j2 -s >"$b/make.out" 2>&1 ||
		{ tail -30 "$b/make.out"; die "asan build failed"; }
}

# the suites the IPv6 lab of "check" runs (the whole suite: ./htg-lab start
# with HTG_HOST=::1, then tests/e2e.py)
E2E_IPV6_SUITES="e2e_skeleton e2e_sec_postfix e2e_submit_audit e2e_policy e2e_dovecot
	e2e_testlab"

# Start a lab with the exported HTG_* settings, run tests/e2e.py against it
# (all suites, or the ones named), count the result, stop the lab.
e2e_lab() {	# output file, suite...
	local out=$1
	shift
	"$0" stop >/dev/null 2>&1 || true
	if "$0" start >"$out.start" 2>&1; then
		set +e
		python3 "$TOP/tests/e2e.py" "$HTG_LAB_DIR/lab.env" "$@" | tee "$out"
		set -e
		count_log "$out"
	else
		cat "$out.start"
		FAILED=$((FAILED + 1))
		say "FAIL: the check lab ($HTG_LAB_DIR) did not start"
	fi
	"$0" stop >/dev/null 2>&1 || true
}

cmd_check() {
	local t0=$SECONDS rc
	[ "$(id -u)" = 0 ] || die "check needs root"
	ensure_packages
	ensure_users
	build
	say "unit tests"
	unit_tests "$BUILD" unit
	say "unit tests under ASan/UBSan"
	asan_build
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		unit_tests "$TOP/build/asan" asan

	# A short libFuzzer run of the MIME engine (the long run: doc/fuzzing.md)
	say "fuzzing the MIME engine (${HTG_FUZZ_RUNS:-200000} runs)"
	if "$TOP/tests/fuzz.sh" "$BUILD" -runs="${HTG_FUZZ_RUNS:-200000}" \
		>"$TOP/build/fuzz.out" 2>&1; then
		PASSED=$((PASSED + 1))
		grep -E '^Done [0-9]+ runs' "$TOP/build/fuzz.out" || true
	else
		FAILED=$((FAILED + 1))
		tail -40 "$TOP/build/fuzz.out"
		say "FAIL: the fuzzer found something (build/default/fuzz/, crash-* files)"
	fi
	# ... and of the differential MIME test (the milter against Dovecot's parser)
	say "fuzzing the differential MIME test (${HTG_FUZZ_DIFF_RUNS:-100000} runs)"
	if "$TOP/tests/fuzz.sh" "$BUILD" mime-diff -runs="${HTG_FUZZ_DIFF_RUNS:-100000}" \
		-artifact_prefix="$BUILD/fuzz/" >"$TOP/build/fuzz-mime-diff.out" 2>&1; then
		PASSED=$((PASSED + 1))
		grep -E '^Done [0-9]+ runs' "$TOP/build/fuzz-mime-diff.out" || true
	else
		FAILED=$((FAILED + 1))
		grep -E '^mime-diff: ' "$TOP/build/fuzz-mime-diff.out" || true
		tail -20 "$TOP/build/fuzz-mime-diff.out"
		say "FAIL: the milter and Dovecot disagree (build/default/fuzz/crash-*)"
	fi

	# The end-to-end suite runs against a lab of its own, on its own ports:
	# one node on LMDB, whatever the caller's environment asks for
	export HTG_LAB_NODES=1 HTG_DIRECTORY_BACKEND=lmdb
	export HTG_PG_PORT=${HTG_CHECK_PG_PORT:-20543}
	unset HTG_LAB_TEST_SHARED_LMDB HTG_PG_STANDBY_PORT
	local clab=${HTG_CHECK_LAB_DIR:-$TOP/build/lab-check}
	say "end-to-end suite (lab $clab)"
	export HTG_LAB_DIR=$clab HTG_SUBMISSION_PORT=${HTG_CHECK_SUBMISSION_PORT:-20587}
	export HTG_POP3_PORT=${HTG_CHECK_POP3_PORT:-20110}
	export HTG_INBOUND_PORT=${HTG_CHECK_INBOUND_PORT:-20025}
	export HTG_GOV_SMTP_PORT=${HTG_CHECK_GOV_SMTP_PORT:-$((HTG_INBOUND_PORT + 1))}
	export HTG_HOST=127.0.0.1
	e2e_lab "$TOP/build/e2e.out"

	# The same suite on a PostgreSQL directory (issue 15): one node and its
	# private cluster; HTG_CHECK_PG=no leaves it out
	if [ "${HTG_CHECK_PG:-yes}" != no ]; then
		export HTG_DIRECTORY_BACKEND=postgresql
		export HTG_LAB_DIR=${HTG_CHECK_PG_LAB_DIR:-$TOP/build/lab-check-pg}
		export HTG_SUBMISSION_PORT=${HTG_CHECK_PG_SUBMISSION_PORT:-24587}
		export HTG_POP3_PORT=${HTG_CHECK_PG_POP3_PORT:-24110}
		export HTG_INBOUND_PORT=${HTG_CHECK_PG_INBOUND_PORT:-24025}
		export HTG_GOV_SMTP_PORT=$((HTG_INBOUND_PORT + 1))
		export HTG_PG_PORT=${HTG_CHECK_PG_PG_PORT:-24543}
		say "end-to-end suite on PostgreSQL (lab $HTG_LAB_DIR)"
		e2e_lab "$TOP/build/e2e-pg.out"
		# ... and what needs more than one node: three nodes on it
		export HTG_LAB_NODES=3
		export HTG_LAB_DIR=${HTG_CHECK_N3_LAB_DIR:-$TOP/build/lab-check-n3}
		export HTG_SUBMISSION_PORT=${HTG_CHECK_N3_SUBMISSION_PORT:-25587}
		export HTG_POP3_PORT=${HTG_CHECK_N3_POP3_PORT:-25110}
		export HTG_INBOUND_PORT=${HTG_CHECK_N3_INBOUND_PORT:-25025}
		export HTG_GOV_SMTP_PORT=$((HTG_INBOUND_PORT + 1))
		export HTG_PG_PORT=${HTG_CHECK_N3_PG_PORT:-25543}
		say "three nodes on PostgreSQL (lab $HTG_LAB_DIR)"
		e2e_lab "$TOP/build/e2e-n3.out" e2e_nodes e2e_home
		export HTG_LAB_NODES=1 HTG_DIRECTORY_BACKEND=lmdb
		export HTG_PG_PORT=${HTG_CHECK_PG_PORT:-20543}
	fi

	# The multi-node lab (issue 15): three nodes and a PostgreSQL primary
	# with its standby, on a lab of its own: every node answers, node
	# kill/stop/start, pg stop/promote/start, faults under load with
	# accounting (tests/htgfaults.py: node 2 killed, the primary stopped and
	# the standby promoted; 0 lost, 0 duplicated, 0 unchecked), stop leaves
	# nothing; ~65 s.
	# HTG_CHECK_NODES=no leaves it out.
	if [ "${HTG_CHECK_NODES:-yes}" != no ]; then
		say "multi-node lab (tests/test-lab-nodes.py)"
		HTG_NODES_TEST_LAB_DIR=${HTG_CHECK_NODES_LAB_DIR:-$TOP/build/lab-check-nodes} \
		HTG_NODES_TEST_SUBMISSION_PORT=${HTG_CHECK_NODES_SUBMISSION_PORT:-22587} \
		HTG_NODES_TEST_POP3_PORT=${HTG_CHECK_NODES_POP3_PORT:-22110} \
		HTG_NODES_TEST_INBOUND_PORT=${HTG_CHECK_NODES_INBOUND_PORT:-22025} \
		HTG_NODES_TEST_PG_PORT=${HTG_CHECK_NODES_PG_PORT:-22543} \
			python3 "$TOP/tests/test-lab-nodes.py" | tee "$TOP/build/lab-nodes.out" || true
		count_log "$TOP/build/lab-nodes.out"
	fi

	# The core again over IPv6 (004 3.5, 4.5), on a second lab on ::1:
	# submission (TLS 1.3, AUTH, refusals), LMTP delivery, POP3 pickup,
	# the inbound service's mynetworks, TLS delivery to the government
	# side, the audit's remote addresses, POP3 logins and the policy
	# service; ~80 s. HTG_CHECK_IPV6=no leaves it out.
	if [ "${HTG_CHECK_IPV6:-yes}" != no ]; then
		local t6=$SECONDS
		export HTG_HOST=::1 HTG_LAB_DIR=${HTG_CHECK_LAB6_DIR:-$TOP/build/lab-check6}
		export HTG_SUBMISSION_PORT=${HTG_CHECK6_SUBMISSION_PORT:-21587}
		export HTG_POP3_PORT=${HTG_CHECK6_POP3_PORT:-21110}
		export HTG_INBOUND_PORT=${HTG_CHECK6_INBOUND_PORT:-21025}
		export HTG_GOV_SMTP_PORT=$((HTG_INBOUND_PORT + 1))
		say "end-to-end core over IPv6 (lab $HTG_LAB_DIR)"
		if grep -qi '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
			e2e_lab "$TOP/build/e2e-ipv6.out" $E2E_IPV6_SUITES
		else
			FAILED=$((FAILED + 1))
			say "FAIL: no IPv6 loopback (::1); HTG_CHECK_IPV6=no leaves the IPv6 run out"
		fi
		say "the IPv6 run took $((SECONDS - t6)) s"
	fi
	say "check took $((SECONDS - t0)) s"
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

