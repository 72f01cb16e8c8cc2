"""Smoke test of the capacity tooling (issue 6): bench/htg-load driven by
bench/load-run.py against this lab for a few seconds.

Not a benchmark (figures live in bench/, README "Capacity"): it keeps the
generator and its accounting working as the gateway changes. A short run
at a low rate must account for every operation: 0 lost, 0 duplicated,
0 unchecked, every invalid message refused with its rule id, every
pickup found in retention and audit. Registered into htglab.TESTS; run by
tests/e2e.py.
"""

import os
import subprocess
import sys

import htglab
from htglab import test, check

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@test
def load_generator_accounts_for_every_operation():
    """20 accounts, 2 submissions, answers and pickups per second for 6 s."""
    out = "/tmp/htg-e2e-load-%d" % os.getpid()
    cmd = [sys.executable, os.path.join(TOP, "bench", "load-run.py"),
           "--env", htglab.ENV_PATH, "--accounts", "20",
           "--submit-rate", "2", "--inject-rate", "2", "--pickup-rate", "2",
           "--duration", "6", "--drain", "60", "--settle", "60",
           "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    tail = "\n".join(r.stdout.splitlines()[-25:]) + r.stderr[-500:]
    check(r.returncode == 0 and "RESULT: ok (0 failures)" in r.stdout,
          "load-run rc=%d:\n%s" % (r.returncode, tail))
    for line in r.stdout.splitlines():
        if line.startswith(("  lost", "  duplicated", "  unchecked")):
            check(line.split()[-1] == "0", "load-run: %s" % line.strip())
    subprocess.run(["rm", "-rf", out], check=False)
