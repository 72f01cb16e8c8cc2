#!/usr/bin/env python3
"""load-run.py - the whole gateway under load: capacity, faults, accounting.

usage:
  load-run.py [options]                      one load run + accounting
  load-run.py --find-max [--config NAME=ENV]...   rate search per lab config
  load-run.py --fault NAME[,NAME...]|all     load runs with a fault each

Provisions N accounts in a running lab (htgctl import: a password, a sender
address, a logical address, two granted flows each; 8 flows deliver to 4
government mailboxes), runs bench/htg-load against it, waits until the Postfix
queue is empty, then accounts for every operation:

  - every submission answered 250 is in its flow's government mailbox exactly
    once (Maildir files under HTG_MAIL_ROOT, matched by the unique token in
    its Message-ID) and satisfies the HTG rules on arrival: Message-ID
    present, no original file name left (bericht-/bijlage-TOKEN), one To
    address, no Cc/Bcc; a delivery in another mailbox is "misrouted";
  - every invalid submission was refused with its rule id ("RULE:" in the
    reply); one accepted, or delivered, is "unchecked";
  - every 4xx was retried; tempfailed-then-delivered counts those that ended
    delivered exactly once; "gave up" those that never got a final answer;
  - every government answer injected with 250 is in the account's mailbox or
    its retention exactly once;
  - every answer picked up with DELE (QUIT +OK) is in retention
    (htgctl retention list --json) and the audit holds its retr and dele
    (htgctl audit --json);
  - no 5xx (or POP3 -ERR) except the intended refusals of invalid messages.

Prints a table (offered, accepted, refused by rule id, tempfailed then
delivered, lost, duplicated, unchecked, ..., p50/p99 latency per operation,
the generator's own CPU) and writes OUT/summary.json. Exit status 1 when
anything was lost, duplicated, unchecked, misrouted, wrongly refused or not
accounted for.

Rates: --per-account R (interactions per account per second for each of
submit, inject and pickup; default 1/60, the spec's sizing, 004 1.3) times
--accounts, or --submit-rate/--inject-rate/--pickup-rate totals.

--find-max: for each --config NAME=LAB_ENV (default: the one --env lab,
named "lab"), runs steps of --step-seconds at rising rates (--start-rate,
times --step-factor) until p99 > 1 s for an operation or errors appear
(tempfails, give-ups, unexpected refusals, lost, duplicated, unchecked),
and reports the highest sustainable rate per config. A step that misses
only the latency target is tried once more (--no-confirm: not); latency
figures leave out the first --warmup seconds of arrivals. Each config is a lab
that is already running (e.g. a stock-ish and a tuned one on other ports).

--fault: each scenario runs the load for --duration seconds and, at a third
of it, breaks one part for --down seconds (see FAULTS in bench/loadfaults.py), then repairs
it. Expected: only 4xx while a part is down, 0 lost, 0 duplicated, 0
unchecked. Faults need root.

Keep the accounts file, the lab.env copy and the output outside the lab
directory: "htg-lab stop" (the gateway-restart fault) kills every process
whose command line names a path under it.
"""

import argparse
import json
import os
import secrets
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from loadlib import (Lab, account_run, cleanup_gov, fmt,  # noqa: E402
                     print_table, provision, settle, start_generator,
                     wait_generator)
from loadfaults import FAULTS, cpu_delta, cpu_snapshot, loadavg, run_fault  # noqa: E402

# --- one run ----------------------------------------------------------------------------


def one_run(args, lab, rates, duration, title, fault=None, out=None):
    run_id = "%x%s" % (int(time.time()), secrets.token_hex(2))
    out = out or os.path.join(args.out, "%s-%s" % (lab.name, run_id))
    os.makedirs(out, exist_ok=True)
    acct_file, rows = provision(lab, args.accounts, out)
    max_attempts = args.max_attempts
    t_start = time.time()
    la0 = loadavg()
    cpu0, w0 = cpu_snapshot(lab), time.time()
    p, log = start_generator(args, lab, out, acct_file, rates, duration, run_id,
                             max_attempts)
    cpu0["htg-load"] = 0.0
    fault_info = None
    if fault is not None:
        fault_info = run_fault(fault, lab, args, duration, p)
    # the generator's CPU: from its own getrusage (it is gone after wait)
    wait_generator(p, duration, args.drain)
    cpu1, w1 = cpu_snapshot(lab), time.time()
    la1 = loadavg()
    st = settle(lab, args.settle)
    with open(log) as f:
        ops = [json.loads(l) for l in f if l.strip()]
    extra = 0
    if fault_info and fault_info.get("error"):
        extra += 1
    res = account_run(lab, args, out, rows, ops, run_id, t_start, extra)
    res["loadavg"] = "%s at start, %s at end" % (la0, la1)
    if fault is None:
        cpu = cpu_delta(cpu0, cpu1, w1 - w0)
        g = res["generator"]
        cpu["htg-load"] = round((g.get("cpu_user_s") or 0) + (g.get("cpu_sys_s") or 0), 2)
        res["cpu_s"] = cpu
    res["settle_s"] = None if st is None else round(st, 1)
    if st is None:
        res["ok"] = False
        res["failures"] += 1
        res["settle_s"] = "queue not empty after %d s" % args.settle
    if fault_info:
        res["fault"] = fault_info
    res["out"] = out
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(res, f, indent=1)
    print_table(res, title)
    if not args.keep_mail:
        cleanup_gov(lab, run_id)
    return res


# --- modes ------------------------------------------------------------------------------


def rates_of(args, n=None):
    n = n if n is not None else args.accounts
    base = args.per_account * n
    return [args.submit_rate if args.submit_rate is not None else base,
            args.inject_rate if args.inject_rate is not None else base,
            args.pickup_rate if args.pickup_rate is not None else base]


def find_max(args, labs):
    report = []
    for lab in labs:
        rate, best, steps = args.start_rate, None, []
        while rate <= args.max_rate:
            for attempt in (1, 2):
                res = one_run(args, lab, [rate, rate, rate], args.step_seconds,
                              "find-max %s: %.1f/s each" % (lab.name, rate))
                p99 = max((res["latency_ms"][k]["p99"] or 0) for k in res["latency_ms"])
                c = res["counts"]
                errors = (res["failures"] + c["tempfails"] + c["gave_up"] +
                          c["answers_gave_up"] + c["pickups_failed"] + c["not_started"])
                good = p99 <= 1000 and errors == 0
                steps.append({"rate": rate, "p99_ms": p99, "errors": errors, "ok": good,
                              "p99_by_op": {k: res["latency_ms"][k]["p99"]
                                            for k in res["latency_ms"]},
                              "loadavg": res["loadavg"],
                              "generator_cpu_s": (res["generator"]["cpu_user_s"] or 0) +
                              (res["generator"]["cpu_sys_s"] or 0)})
                # a step that only missed the latency target gets one more
                # try: a shared machine stalls now and then
                if good or errors or attempt == 2 or not args.confirm:
                    break
            if not good:
                break
            best = rate
            rate = round(rate * args.step_factor, 2)
        report.append({"lab": lab.name, "best_rate": best, "steps": steps})
    print("\n== highest sustainable rate (p99 <= 1 s, no errors) ==")
    for r in report:
        print("%-12s %s" % (r["lab"], "none" if r["best_rate"] is None else
                            "%.1f submissions/s + %.1f injects/s + %.1f pickups/s "
                            "(= %d accounts at 1/min)" % (r["best_rate"], r["best_rate"],
                                                          r["best_rate"], r["best_rate"] * 60)))
        for s in r["steps"]:
            print("    %7.1f/s  p99 %7.0f ms (%s)  errors %d  %s  gen cpu %.1f s  (load %s)" % (
                s["rate"], s["p99_ms"], ", ".join("%s %s" % (k, fmt(v)) for k, v in
                                                  s["p99_by_op"].items()),
                s["errors"], "ok" if s["ok"] else "miss", s["generator_cpu_s"],
                s["loadavg"]))
    with open(os.path.join(args.out, "find-max.json"), "w") as f:
        json.dump(report, f, indent=1)
    return 0


def faults(args, lab, names):
    results = []
    for name in names:
        res = one_run(args, lab, rates_of(args), args.duration, "fault: " + name,
                      fault=name)
        c = res["counts"]
        results.append((name, res["ok"], c["tempfails"], c["lost"], c["duplicated"],
                        c["unchecked"], c["refused_unexpected"],
                        c["gave_up"] + c["answers_gave_up"] + c["pickups_failed"]))
    print("\n== faults ==")
    print("%-14s %-6s %9s %5s %5s %9s %10s %7s" % (
        "fault", "result", "tempfails", "lost", "dup", "unchecked", "unexp-5xx", "gave-up"))
    for r in results:
        print("%-14s %-6s %9d %5d %5d %9d %10d %7d" % (r[0], "ok" if r[1] else "FAIL", *r[2:]))
    return 0 if all(r[1] for r in results) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default=os.environ.get("HTG_LOAD_ENV", "lab/lab.env"),
                    help="the lab's lab.env (default lab/lab.env or $HTG_LOAD_ENV)")
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--per-account", type=float, default=1 / 60.0,
                    help="ops per account per second, each kind (default 1/60)")
    ap.add_argument("--submit-rate", type=float)
    ap.add_argument("--inject-rate", type=float)
    ap.add_argument("--pickup-rate", type=float)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--attach-share", type=float, default=0.3)
    ap.add_argument("--invalid-share", type=float, default=0.05)
    ap.add_argument("--fixed", action="store_true", help="fixed schedule, not Poisson")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-attempts", type=int, default=15)
    ap.add_argument("--drain", type=float, default=120)
    ap.add_argument("--settle", type=float, default=180)
    ap.add_argument("--out", default="/tmp/htg-load-%d" % int(time.time()))
    ap.add_argument("--htg-load", help="path of the htg-load binary")
    ap.add_argument("--keep-mail", action="store_true",
                    help="keep this run's messages in the government mailboxes")
    ap.add_argument("--find-max", action="store_true")
    ap.add_argument("--config", action="append", default=[],
                    help="NAME=LAB_ENV for --find-max (repeat; default the --env lab)")
    ap.add_argument("--start-rate", type=float, default=5)
    ap.add_argument("--step-factor", type=float, default=1.5)
    ap.add_argument("--max-rate", type=float, default=400)
    ap.add_argument("--step-seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=2,
                    help="arrivals in the first seconds are accounted but left out "
                    "of the latency figures (default 2)")
    ap.add_argument("--no-confirm", dest="confirm", action="store_false",
                    help="--find-max: stop at the first step over 1 s (default: "
                    "a step that only missed the latency target is tried once more)")
    ap.add_argument("--fault", help="comma-separated: %s, or all" % ", ".join(FAULTS))
    ap.add_argument("--down", type=float, default=5, help="seconds a part stays down")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    print("load-run: output in %s; load average %s" % (args.out, loadavg()), flush=True)
    if args.find_max:
        labs = [Lab(spec.split("=", 1)[1], spec.split("=", 1)[0]) for spec in args.config] \
            or [Lab(args.env)]
        return find_max(args, labs)
    lab = Lab(args.env)
    if args.fault:
        if os.geteuid() != 0:
            sys.exit("load-run: faults need root")
        names = list(FAULTS) if args.fault == "all" else args.fault.split(",")
        for n in names:
            if n not in FAULTS:
                sys.exit("load-run: unknown fault %s (%s)" % (n, ", ".join(FAULTS)))
        return faults(args, lab, names)
    res = one_run(args, lab, rates_of(args), args.duration, "load run")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
