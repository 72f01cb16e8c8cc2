#!/bin/sh
# faults.sh - every fault scenario of issue 6 during a load run, in one
# command (as root, against a running lab):
#
#   bench/faults.sh [LAB_ENV [ACCOUNTS [SECONDS [DOWN]]]]
#
# Defaults: lab/lab.env, 1000 accounts at 1/min each (submit, inject and
# pickup ~17/s each), 60 s per scenario, a part down for 5 s. For each of
# milter, policyd, dovecot-auth, lmtp, dovecot, qmgr, restart (htg-lab
# stop/start), htgctl (accounts and grants changed under load) and tmpfull
# (the milter's temp_dir on a full 64 KB tmpfs) it prints the accounting
# table of bench/load-run.py, then one line per scenario. Exit 1 when a
# scenario lost, duplicated or let through anything, or answered 5xx to a
# valid message. Extra options go to load-run.py via $LOAD_RUN_OPTS
# (e.g. LOAD_RUN_OPTS="--fault milter,qmgr").
#
# Keep LAB_ENV relative (or outside the lab directory): "htg-lab stop"
# kills every process whose command line names a path under the lab.
set -eu
here=$(dirname "$0")
env=${1:-lab/lab.env}
accounts=${2:-1000}
seconds=${3:-60}
down=${4:-5}
# shellcheck disable=SC2086
exec python3 "$here/load-run.py" --env "$env" --accounts "$accounts" \
	--duration "$seconds" --down "$down" --fault all ${LOAD_RUN_OPTS:-}
