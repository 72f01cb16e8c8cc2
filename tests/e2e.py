#!/usr/bin/env python3
"""End-to-end suites: real clients against a running lab.

usage: tests/e2e.py LAB_ENV [TEST_NAME | SUITE ...]

Loads every tests/e2e_*.py suite (each registers its tests with
htglab.test), runs them in file order against the lab described by LAB_ENV
(only the named tests, or all tests of a named suite, e.g. e2e_skeleton),
prints one "ok"/"FAIL"/"skip" line per test and "N passed, N failed" at the end.
"""

import glob
import importlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import htglab  # noqa: E402


def main():
    htglab.load_env(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "e2e_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])
    passed = failed = skipped = 0
    only = sys.argv[2:]
    for fn in htglab.TESTS:
        if only and fn.__name__ not in only and fn.__module__ not in only:
            continue
        t0 = time.time()
        try:
            fn()
            print("ok   %s (%.1f s)" % (fn.__name__, time.time() - t0), flush=True)
            passed += 1
        except htglab.Skip as e:
            print("skip %s: %s" % (fn.__name__, e), flush=True)
            skipped += 1
        except Exception as e:  # any exception is a failed test, never a crash
            print("FAIL %s: %s: %s" % (fn.__name__, type(e).__name__, e), flush=True)
            failed += 1
    if failed:
        print("logs: %s" % htglab.ENV["HTG_LOG_DIR"])
    if skipped:
        print("%d skipped" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
