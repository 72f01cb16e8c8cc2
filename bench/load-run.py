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
of it, breaks one part for --down seconds (see FAULTS below), then repairs
it. Expected: only 4xx while a part is down, 0 lost, 0 duplicated, 0
unchecked. Faults need root.

Keep the accounts file, the lab.env copy and the output outside the lab
directory: "htg-lab stop" (the gateway-restart fault) kills every process
whose command line names a path under it.
"""

import argparse
import base64  # noqa: F401
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
GOV = 4          # government mailboxes
FLOWS = 8        # flows, FLOWS / GOV per mailbox

# --- the lab ---------------------------------------------------------------------


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    return env


class Lab:
    def __init__(self, env_path, name="lab"):
        self.name = name
        self.env_path = os.path.abspath(env_path)
        self.env = load_env(env_path)
        e = self.env
        self.dir = e["HTG_LAB_DIR"]
        self.ctl_cmd = shlex.split(e["HTG_CTL"])
        self.prefix = os.path.join(self.dir, "prefix")
        self.mail_root = e["HTG_MAIL_ROOT"]
        self.postfix_config = e.get("HTG_POSTFIX_CONFIG",
                                    os.path.join(self.dir, "etc/postfix"))
        self.dovecot_config = e.get(
            "HTG_DOVECOT_CONFIG", os.path.join(self.dir, "etc/dovecot/dovecot.conf"))
        self.run = os.path.join(self.dir, "run")
        if not e.get("HTG_HOST", "").startswith("127."):
            sys.exit("load-run: the lab must listen on loopback")

    def ctl(self, *args, stdin=None, check=True):
        p = subprocess.run(self.ctl_cmd + list(args), input=stdin,
                           capture_output=True, text=True, timeout=600)
        if check and p.returncode != 0:
            raise RuntimeError("htgctl %s: %s" % (" ".join(args), p.stderr.strip()))
        return p

    def queue_empty(self):
        p = subprocess.run(["postqueue", "-c", self.postfix_config, "-p"],
                           capture_output=True, text=True, timeout=60)
        return "Mail queue is empty" in p.stdout

    def queue_flush(self):
        subprocess.run(["postqueue", "-c", self.postfix_config, "-f"],
                       capture_output=True, timeout=60)


def account_rows(n):
    """(user, sender, logical, flow, ungranted) of account i, deterministic."""
    for i in range(n):
        yield ("b%05d@load.example" % i, "s%05d@load.example" % i,
               "nl%09d@postbus.load.example" % i, "lf%d" % (i % FLOWS),
               "lf%d" % ((i + FLOWS // 2) % FLOWS))


def gov_of_flow(flow):
    return int(flow[2:]) % GOV


def provision(lab, n, out):
    """Accounts file (with passwords) in OUT; imports when the lab lacks them."""
    cache = os.path.join(lab.dir, "load-accounts.tsv")
    rows = []
    if os.path.exists(cache):
        with open(cache) as f:
            rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    if len(rows) < n:
        t0 = time.time()
        old = len(rows)
        lines = []
        if old == 0:    # htgctl refuses to add what exists: once
            for g in range(GOV):
                lines.append("account\tgov%d@gov.load.example\t%s" % (g, secrets.token_hex(12)))
                lines.append("address\tinbox%d@gov.load.example\tgov%d@gov.load.example" % (g, g))
            for k in range(FLOWS):
                lines.append("flow\tlf%d\tinbox%d@gov.load.example" % (k, k % GOV))
        for i, (user, sender, logical, flow, ungranted) in enumerate(account_rows(n)):
            if i < old:
                continue
            pw = secrets.token_hex(12)
            rows.append([user, pw, sender, logical, flow, ungranted])
            lines += ["account\t%s\t%s" % (user, pw),
                      "address\t%s\t%s" % (sender, user),
                      "address\t%s\t%s" % (logical, user),
                      "grant\t%s\t%s" % (user, flow),
                      "grant\t%s\tlf%d" % (user, (i + 1) % FLOWS)]
        lab.ctl("import", stdin="\n".join(lines) + "\n")
        # readers (Dovecot auth as dovecot, daemons as htg) need the files
        d = lab.env["HTG_DIRECTORY"]
        if d.startswith("postgresql://"):
            d = None    # a database: nothing of ours to chown
        else:
            subprocess.run(["chown", "-R", "htg:htg", d])
        for fn in os.listdir(d) if d else []:
            if fn.endswith(".mdb"):
                os.chmod(os.path.join(lab.env["HTG_DIRECTORY"], fn), 0o660)
        fd = os.open(cache + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for r in rows:
                f.write("\t".join(r) + "\n")
        os.rename(cache + ".tmp", cache)
        print("load-run: provisioned %d accounts in %.1f s (htgctl import)"
              % (n - old, time.time() - t0), flush=True)
    path = os.path.join(out, "accounts.tsv")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for r in rows[:n]:
            f.write("\t".join(r) + "\n")
    return path, {r[0]: r for r in rows[:n]}


# --- running the generator -----------------------------------------------------------


def generator_path(args):
    for p in (args.htg_load, os.path.join(TOP, "build/default/bench/htg-load")):
        if p and os.access(p, os.X_OK):
            return p
    sys.exit("load-run: htg-load not found (build it: make -C build/default, "
             "or --htg-load PATH)")


def start_generator(args, lab, out, acct_file, rates, duration, run_id,
                    max_attempts):
    env_copy = os.path.join(out, "lab.env")
    shutil.copyfile(lab.env_path, env_copy)
    log = os.path.join(out, "ops.jsonl")
    cmd = [generator_path(args), "-e", env_copy, "-a", acct_file, "-o", log,
           "-d", str(duration), "-S", "%.4f" % rates[0], "-I", "%.4f" % rates[1],
           "-P", "%.4f" % rates[2], "-c", str(args.concurrency),
           "--attach-share", str(args.attach_share),
           "--invalid-share", str(args.invalid_share), "--seed", str(args.seed),
           "--run-id", run_id, "--max-attempts", str(max_attempts),
           "--drain", str(args.drain)]
    if args.fixed:
        cmd.append("--fixed")
    with open(os.path.join(out, "generator.out"), "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    return p, log


def wait_generator(p, duration, drain):
    try:
        p.wait(timeout=duration + drain + 600)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise RuntimeError("htg-load did not stop")
    if p.returncode != 0:
        raise RuntimeError("htg-load failed (exit %d)" % p.returncode)


def settle(lab, timeout):
    """Wait until the Postfix queue is empty (deliveries done)."""
    t0 = time.time()
    flushed = t0 - 5
    while time.time() - t0 < timeout:
        if lab.queue_empty():
            time.sleep(0.5)     # LMTP commits are done when Postfix removed the file
            return time.time() - t0
        if time.time() - flushed > 10:
            lab.queue_flush()   # deferred mail after a fault: try now
            flushed = time.time()
        time.sleep(0.5)
    return None


# --- accounting ----------------------------------------------------------------------


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def header_block(path):
    with open(path, "rb") as f:
        data = f.read()
    head, _, _ = data.partition(b"\n\n")
    if len(head) == len(data):
        head, _, _ = data.partition(b"\r\n\r\n")
    return data, head.decode("utf-8", "replace")


def header_values(head, name):
    out, cur = [], None
    for line in head.splitlines():
        if line[:1] in (" ", "\t") and cur is not None:
            out[-1] += " " + line.strip()
            continue
        k, sep, v = line.partition(":")
        cur = None
        if sep and k.strip().lower() == name.lower():
            out.append(v.strip())
            cur = True
    return out


def msgid_token(head):
    ids = header_values(head, "Message-ID")
    if len(ids) != 1:
        return None, len(ids)
    v = ids[0].strip().lstrip("<").rstrip(">")
    return v.split("@", 1)[0], 1


def maildir_files(d):
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        try:
            for fn in os.listdir(p):
                yield os.path.join(p, fn)
        except FileNotFoundError:
            pass


def account_run(lab, args, out, rows, ops, run_id, t_start, extra_fail=None):
    """Everything the docstring promises; returns the summary dict."""
    res = {"run_id": run_id, "lab": lab.name}
    sub_prefix, ans_prefix = "s%s-" % run_id, "a%s-" % run_id
    summary = next((o for o in ops if o["op"] == "summary"), {})
    res["generator"] = {k: summary.get(k) for k in
                        ("wall_s", "cpu_user_s", "cpu_sys_s", "max_rss_kb",
                         "concurrency", "accounts")}
    for k in ("submit", "inject", "pickup"):
        res.setdefault("rates", {})[k] = (summary.get(k) or {}).get("rate")

    # deliveries to the government mailboxes
    gov_hits = {}      # token -> list of (gov, path, violations)
    for g in range(GOV):
        d = os.path.join(lab.mail_root, "gov%d@gov.load.example" % g, "Maildir")
        for path in maildir_files(d):
            try:
                data, head = header_block(path)
            except FileNotFoundError:
                continue
            tok, nids = msgid_token(head)
            if tok is None or not tok.startswith(sub_prefix):
                continue
            bad = []
            if nids != 1:
                bad.append("message-id")
            if (b"bericht-" + tok.encode()) in data or (b"bijlage-" + tok.encode()) in data:
                bad.append("original-filename")
            tos = header_values(head, "To")
            if len(tos) != 1 or tos[0].count("@") != 1:
                bad.append("to")
            if header_values(head, "Cc") or header_values(head, "Bcc"):
                bad.append("cc")
            gov_hits.setdefault(tok, []).append((g, path, bad))

    # answers in the accounts' mailboxes and retention
    ans_hits = {}      # token -> count
    other_in_mailboxes = 0
    for user in rows:
        base = os.path.join(lab.mail_root, user)
        if not os.path.isdir(base):
            continue
        files = list(maildir_files(os.path.join(base, "Maildir")))
        rd = os.path.join(base, "htg-retained")
        if os.path.isdir(rd):
            files += [os.path.join(rd, fn) for fn in os.listdir(rd)]
        for path in files:
            try:
                _, head = header_block(path)
            except FileNotFoundError:
                continue
            tok, _ = msgid_token(head)
            if tok is None:
                continue
            if tok.startswith(ans_prefix):
                ans_hits[tok] = ans_hits.get(tok, 0) + 1
            elif not tok.startswith("a"):
                other_in_mailboxes += 1     # e.g. a bounce (DSN) to a sender

    c = {k: 0 for k in (
        "offered", "accepted", "refused_expected", "tempfailed_then_delivered",
        "lost", "duplicated", "unchecked", "misrouted", "refused_unexpected",
        "wrong_rule", "gave_up", "gave_up_but_delivered", "not_started",
        "delivered_without_250", "answers_offered", "answers_accepted",
        "answers_lost", "answers_duplicated", "answers_gave_up",
        "pickups", "pickups_ok", "pickups_failed", "picked_up",
        "picked_not_in_retention", "picked_not_in_audit", "tempfails")}
    refused_by_rule, tempfail_kinds, unexpected = {}, {}, []
    lat = {"submit": [], "inject": [], "pickup": []}
    warm = getattr(args, "warmup", 0)
    submitted_tokens = set()
    picked = []        # (account, message-id) deleted
    for o in ops:
        op = o["op"]
        if op == "summary":
            continue
        if o.get("stage") == "not-started":
            c["not_started"] += 1
            if op == "submit":
                c["offered"] += 1
            continue
        if "lat_ms" in o and o.get("sched_s", 0) >= warm:
            lat[op].append(o["lat_ms"])
        if o.get("attempts", 1) > 1 or "tf_code" in o:
            c["tempfails"] += 1
            key = "%s %s %s" % (op, o.get("tf_stage"), o.get("tf_code"))
            tempfail_kinds[key] = tempfail_kinds.get(key, 0) + 1
        code, final = o.get("code", 0), o.get("final")
        if op == "submit":
            c["offered"] += 1
            tok = o["token"]
            submitted_tokens.add(tok)
            hits = gov_hits.get(tok, [])
            row = rows[o["account"]]
            want_gov = gov_of_flow(row[4])
            if o["expect"]:
                if 200 <= code < 300 or hits:
                    c["unchecked"] += 1
                    unexpected.append(o)
                elif final and 500 <= code < 600:
                    if (o["expect"] + ":") in o["reply"]:
                        c["refused_expected"] += 1
                        refused_by_rule[o["expect"]] = refused_by_rule.get(o["expect"], 0) + 1
                    else:
                        c["wrong_rule"] += 1
                        unexpected.append(o)
                else:
                    c["gave_up"] += 1
                continue
            if 200 <= code < 300:
                c["accepted"] += 1
                if not hits:
                    c["lost"] += 1
                    unexpected.append(o)
                    continue
                if len(hits) > 1:
                    c["duplicated"] += len(hits) - 1
                    unexpected.append(o)
                if any(h[0] != want_gov for h in hits):
                    c["misrouted"] += 1
                if any(h[2] for h in hits):
                    c["unchecked"] += 1
                    unexpected.append(dict(o, violations=[h[2] for h in hits]))
                if len(hits) == 1 and o.get("attempts", 1) > 1:
                    c["tempfailed_then_delivered"] += 1
            elif final:
                c["refused_unexpected"] += 1
                unexpected.append(o)
                if hits:
                    c["delivered_without_250"] += len(hits)
            else:
                c["gave_up"] += 1
                if hits:
                    c["gave_up_but_delivered"] += 1
                    if len(hits) > 1:
                        c["duplicated"] += len(hits) - 1
        elif op == "inject":
            c["answers_offered"] += 1
            n = ans_hits.get(o["token"], 0)
            if 200 <= code < 300:
                c["answers_accepted"] += 1
                if n == 0:
                    c["answers_lost"] += 1
                    unexpected.append(o)
                elif n > 1:
                    c["answers_duplicated"] += n - 1
                    unexpected.append(o)
            elif final:
                c["refused_unexpected"] += 1
                unexpected.append(o)
            else:
                c["answers_gave_up"] += 1
        else:
            c["pickups"] += 1
            if final and code == 1:
                c["pickups_ok"] += 1
                if o.get("deleted"):
                    for mid in o.get("retr", []):
                        picked.append((o["account"], mid))
            elif final:
                c["refused_unexpected"] += 1
                unexpected.append(o)
            else:
                c["pickups_failed"] += 1
    # delivered submissions that no submission of this run answered 250
    for tok in gov_hits:
        if tok not in submitted_tokens:
            c["delivered_without_250"] += 1

    # picked up and deleted: retention and audit
    if picked:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start - 5))
        kept = set()
        for r in json.loads(lab.ctl("retention", "list", "--json").stdout or "[]"):
            kept.add((r["account"], r["message_id"].strip("<>")))
        audit = {}
        for ev in ("retr", "dele"):
            for r in json.loads(lab.ctl("audit", "--json", "--event", ev,
                                        "--since", since).stdout or "[]"):
                audit.setdefault((r["account"], r["message_id"].strip("<>")), set()).add(ev)
        for acct, mid in picked:
            if not mid.startswith(ans_prefix):
                continue
            c["picked_up"] += 1
            if (acct, mid) not in kept:
                c["picked_not_in_retention"] += 1
                unexpected.append({"op": "pickup", "account": acct, "missing": "retention", "id": mid})
            if audit.get((acct, mid), set()) != {"retr", "dele"}:
                c["picked_not_in_audit"] += 1
                unexpected.append({"op": "pickup", "account": acct, "missing": "audit", "id": mid})

    res["counts"] = c
    res["refused_by_rule"] = refused_by_rule
    res["tempfails_by_stage"] = tempfail_kinds
    res["other_messages_in_account_mailboxes"] = other_in_mailboxes
    res["latency_ms"] = {k: {"n": len(v), "p50": pct(v, 50), "p99": pct(v, 99),
                             "max": max(v) if v else None} for k, v in lat.items()}
    fails = (c["lost"] + c["duplicated"] + c["unchecked"] + c["misrouted"] +
             c["refused_unexpected"] + c["wrong_rule"] + c["delivered_without_250"] +
             c["answers_lost"] + c["answers_duplicated"] + c["picked_not_in_retention"] +
             c["picked_not_in_audit"])
    if extra_fail:
        fails += extra_fail
    res["failures"] = fails
    res["ok"] = fails == 0
    with open(os.path.join(out, "unexpected.jsonl"), "w") as f:
        for o in unexpected:
            f.write(json.dumps(o) + "\n")
    return res


def cleanup_gov(lab, run_id):
    """Remove this run's deliveries from the government mailboxes (bounded lab)."""
    pre = "s%s-" % run_id
    n = 0
    for g in range(GOV):
        d = os.path.join(lab.mail_root, "gov%d@gov.load.example" % g, "Maildir")
        for path in maildir_files(d):
            try:
                _, head = header_block(path)
                tok, _ = msgid_token(head)
                if tok and tok.startswith(pre):
                    os.unlink(path)
                    n += 1
            except FileNotFoundError:
                pass
    return n


def fmt(v):
    return "-" if v is None else ("%.0f" % v if v >= 100 else "%.1f" % v)


def print_table(res, title):
    c, L = res["counts"], res["latency_ms"]
    g = res["generator"]
    print("\n== %s (lab %s, run %s) ==" % (title, res["lab"], res["run_id"]))
    rates = res.get("rates", {})
    print("rates/s: submit %s, inject %s, pickup %s; load average %s" % (
        rates.get("submit"), rates.get("inject"), rates.get("pickup"),
        res.get("loadavg", "?")))
    rows = [
        ("submissions offered", c["offered"]),
        ("  accepted (250)", c["accepted"]),
        ("  refused with the expected rule id", c["refused_expected"]),
    ]
    for rule, n in sorted(res["refused_by_rule"].items()):
        rows.append(("    " + rule, n))
    rows += [
        ("  tempfailed, then delivered once", c["tempfailed_then_delivered"]),
        ("  lost (250, not delivered)", c["lost"]),
        ("  duplicated (extra copies)", c["duplicated"]),
        ("  unchecked (invalid accepted / rules broken on arrival)", c["unchecked"]),
        ("  misrouted", c["misrouted"]),
        ("  refused unexpectedly (5xx)", c["refused_unexpected"]),
        ("  refused with the wrong rule id", c["wrong_rule"]),
        ("  delivered without a 250", c["delivered_without_250"]),
        ("  gave up after retries (never acknowledged)", c["gave_up"]),
        ("  not started (generator drain limit)", c["not_started"]),
        ("answers injected / accepted", "%d / %d" % (c["answers_offered"], c["answers_accepted"])),
        ("  answers lost / duplicated / gave up", "%d / %d / %d" % (
            c["answers_lost"], c["answers_duplicated"], c["answers_gave_up"])),
        ("pickups / ok / failed after retries", "%d / %d / %d" % (
            c["pickups"], c["pickups_ok"], c["pickups_failed"])),
        ("  answers picked up and deleted", c["picked_up"]),
        ("  ... not in retention / not in audit", "%d / %d" % (
            c["picked_not_in_retention"], c["picked_not_in_audit"])),
        ("operations with a tempfail (retried)", c["tempfails"]),
    ]
    for k, v in rows:
        print("%-58s %s" % (k, v))
    for k, v in sorted(res["tempfails_by_stage"].items()):
        print("  tempfail at %-44s %d" % (k, v))
    print("%-10s %8s %10s %10s %10s" % ("latency", "n", "p50 ms", "p99 ms", "max ms"))
    for op in ("submit", "inject", "pickup"):
        x = L[op]
        print("%-10s %8d %10s %10s %10s" % (op, x["n"], fmt(x["p50"]), fmt(x["p99"]), fmt(x["max"])))
    cpu = (g.get("cpu_user_s") or 0) + (g.get("cpu_sys_s") or 0)
    if g.get("wall_s"):
        print("generator: %.1f s wall, %.2f s CPU (%.1f %% of one core), peak RSS %s kB" % (
            g["wall_s"], cpu, 100 * cpu / g["wall_s"], g.get("max_rss_kb")))
    if "cpu_s" in res:
        c2 = res["cpu_s"]
        print("CPU seconds during the run (%s s, 2 cores = %s CPU-s): %s; machine busy %s %%"
              % (c2["wall_s"], round(2 * c2["wall_s"]), ", ".join(
                  "%s %s" % (k, c2[k]) for k in ("postfix", "dovecot", "htg-milter",
                                                 "htg-policyd", "htg-load") if k in c2),
                 None if c2["machine_busy_share"] is None else
                 round(100 * c2["machine_busy_share"])))
    for k in ("settle_s", "fault"):
        if k in res:
            print("%s: %s" % (k, res[k]))
    print("RESULT: %s (%d failures)" % ("ok" if res["ok"] else "FAIL", res["failures"]))
    sys.stdout.flush()


def proc_table():
    """pid -> (ppid, comm, cpu seconds of itself and its reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    t = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        cpu = sum(int(x) for x in rest[11:15]) / tick   # utime stime cutime cstime
        t[int(d)] = (int(rest[1]), comm, cpu)
    return t


def cpu_snapshot(lab, gen_pid=None):
    """CPU seconds so far of each part of the gateway (process trees) and of
    the whole machine: per-connection processes that exited are in their
    master's cutime/cstime."""
    t = proc_table()
    kids = {}
    for pid, (ppid, _, _) in t.items():
        kids.setdefault(ppid, []).append(pid)

    def tree(root):
        if root is None or root not in t:
            return 0.0
        total, todo = 0.0, [root]
        while todo:
            p = todo.pop()
            total += t[p][2]
            todo += kids.get(p, [])
        return total
    snap = {
        "postfix": tree(postfix_master(lab)),
        "dovecot": tree(dovecot_master(lab)),
        "htg-milter": tree(read_pid(os.path.join(lab.run, "htg-milter.pid"))),
        "htg-policyd": tree(read_pid(os.path.join(lab.run, "htg-policyd.pid"))),
    }
    if gen_pid:
        snap["htg-load"] = tree(gen_pid)
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    snap["machine_busy"] = (sum(v) - v[3] - v[4]) / tick
    snap["machine_all"] = sum(v) / tick
    return snap


def cpu_delta(a, b, wall):
    out = {k: round(b[k] - a.get(k, 0), 2) for k in b if not k.startswith("machine")
           if k in a}
    all_ = b["machine_all"] - a["machine_all"]
    out["machine_busy_share"] = round((b["machine_busy"] - a["machine_busy"]) / all_, 3) \
        if all_ > 0 else None
    out["wall_s"] = round(wall, 1)
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


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


# --- faults ---------------------------------------------------------------------------


def proc_children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            rest = st[st.rindex(")") + 2:].split()
            if int(rest[1]) == ppid:
                out.append((int(d), st[st.index("(") + 1:st.rindex(")")]))
        except (OSError, ValueError):
            pass
    return out


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "\nState:\tZ" not in f.read()
    except OSError:
        return False


def kill9(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def wait_sock(path, timeout=15):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def start_daemon(lab, name, conf=None):
    conf = conf or os.path.join(lab.dir, "etc", name + ".conf")
    with open(os.path.join(lab.dir, "log", "startup.log"), "a") as log:
        subprocess.run([os.path.join(lab.prefix, "sbin", name), "-c", conf],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30)


def kill_daemon(lab, name):
    pid = read_pid(os.path.join(lab.run, name + ".pid"))
    ok = pid is not None and kill9(pid)
    t0 = time.time()
    while pid and alive(pid) and time.time() - t0 < 5:
        time.sleep(0.02)
    return pid if ok else None


def restart_milter(lab, conf=None):
    sock = os.path.join(lab.run, "milter.sock")
    try:
        os.unlink(sock)
    except FileNotFoundError:
        pass
    start_daemon(lab, "htg-milter", conf)
    return wait_sock(sock)


def restart_policyd(lab):
    for s in ("policy.sock", "socketmap.sock"):
        try:
            os.unlink(os.path.join(lab.run, s))
        except FileNotFoundError:
            pass
    start_daemon(lab, "htg-policyd")
    return wait_sock(os.path.join(lab.run, "socketmap.sock"))


def dovecot_master(lab):
    return read_pid(os.path.join(lab.dir, "dovecot/run/master.pid"))


def postfix_master(lab):
    return read_pid(os.path.join(lab.dir, "spool/postfix/pid/master.pid"))


def kill_children_named(master, names, repeat_s, every=0.5):
    """kill -9 every child of master whose name is in names, for repeat_s."""
    killed = 0
    t_end = time.time() + repeat_s
    while True:
        for pid, comm in proc_children(master or -1):
            if comm in names and kill9(pid):
                killed += 1
        if time.time() >= t_end:
            return killed
        time.sleep(every)


def port_open(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def fault_milter(lab, args):
    pid = kill_daemon(lab, "htg-milter")
    time.sleep(args.down)
    return {"killed": pid, "restarted": restart_milter(lab)}


def fault_policyd(lab, args):
    pid = kill_daemon(lab, "htg-policyd")
    time.sleep(args.down)
    return {"killed": pid, "restarted": restart_policyd(lab)}


def fault_dovecot_auth(lab, args):
    n = kill_children_named(dovecot_master(lab), ("auth", "auth-worker"), args.down)
    return {"killed": n, "respawned_by": "dovecot master"}


def fault_lmtp(lab, args):
    n = kill_children_named(dovecot_master(lab), ("lmtp",), args.down, every=0.2)
    return {"killed": n, "respawned_by": "dovecot master"}


def fault_dovecot(lab, args):
    m = dovecot_master(lab)
    kids = [p for p, _ in proc_children(m or -1)]
    for p in [m] + kids:
        if p:
            kill9(p)
    # grandchildren (none normally) and stragglers of this instance
    time.sleep(args.down)
    with open(os.path.join(lab.dir, "log", "startup.log"), "a") as log:
        r = subprocess.run(["dovecot", "-c", lab.dovecot_config],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30)
    t0 = time.time()
    while not port_open(lab.env["HTG_POP3_PORT"]) and time.time() - t0 < 15:
        time.sleep(0.1)
    return {"killed": 1 + len(kids), "restart_rc": r.returncode,
            "up": port_open(lab.env["HTG_POP3_PORT"])}


def fault_qmgr(lab, args):
    n = kill_children_named(postfix_master(lab), ("qmgr",), args.down, every=1.0)
    return {"killed": n, "respawned_by": "postfix master"}


def lab_cmd(lab, what):
    env = dict(os.environ, HTG_LAB_DIR=lab.dir,
               HTG_SUBMISSION_PORT=lab.env["HTG_SUBMISSION_PORT"],
               HTG_POP3_PORT=lab.env["HTG_POP3_PORT"],
               HTG_INBOUND_PORT=lab.env["HTG_INBOUND_PORT"],
               HTG_ENVIRONMENT=lab.env.get("HTG_ENVIRONMENT", "production"))
    t0 = time.time()
    r = subprocess.run([os.path.join(TOP, "htg-lab"), what], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    return r.returncode, time.time() - t0, r.stderr[-500:]


def fault_restart(lab, args):
    rc1, t1, e1 = lab_cmd(lab, "stop")
    time.sleep(args.down)
    rc2, t2, e2 = lab_cmd(lab, "start")
    info = {"stop_rc": rc1, "stop_s": round(t1, 1), "start_rc": rc2, "start_s": round(t2, 1)}
    if rc1 or rc2:
        info["error"] = (e1 + e2).strip()
    return info


def fault_htgctl(lab, args):
    """Directory writes under load: accounts, addresses and grants come and go."""
    n, t_end, i = 0, time.time() + args.down * 2, 0
    while time.time() < t_end:
        u = "churn%d@churn.load.example" % i
        lab.ctl("account", "add", u, "--password-stdin", stdin=secrets.token_hex(8) + "\n")
        lab.ctl("address", "add", "c%d@churn.load.example" % i, u)
        lab.ctl("grant", u, "lf%d" % (i % FLOWS))
        lab.ctl("revoke", u, "lf%d" % (i % FLOWS))
        lab.ctl("account", "del", u)
        # grant and revoke a flow the load does not use, on a load account
        la = "b%05d@load.example" % (i % args.accounts)
        lab.ctl("grant", la, "lf%d" % ((i % args.accounts + 2) % FLOWS))
        lab.ctl("revoke", la, "lf%d" % ((i % args.accounts + 2) % FLOWS))
        n += 7
        i += 1
    return {"htgctl_changes": n}


def fault_tmpfull(lab, args):
    """The milter's temp_dir on a tiny full tmpfs for --down seconds."""
    mnt = "/run/htg-load-tmpfull-%d" % os.getpid()
    os.makedirs(mnt, exist_ok=True)
    info = {"mount": mnt}
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", mnt],
                       check=True, timeout=30)
        try:
            with open(os.path.join(mnt, "fill"), "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass
        conf = os.path.join(lab.dir, "etc", "htg-milter-tmpfull.conf")
        with open(os.path.join(lab.dir, "etc", "htg-milter.conf")) as f:
            lines = [l for l in f if not l.startswith("temp_dir")]
        with open(conf, "w") as f:
            f.writelines(lines + ["temp_dir = %s\n" % mnt])
        # a graceful switch: the milter with the full temp dir
        kill_daemon(lab, "htg-milter")
        info["full_milter_up"] = restart_milter(lab, conf)
        time.sleep(args.down)
        kill_daemon(lab, "htg-milter")
        info["milter_restored"] = restart_milter(lab)
        os.unlink(conf)
    finally:
        r = subprocess.run(["umount", mnt], capture_output=True, timeout=30)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
        try:
            os.rmdir(mnt)
        except OSError:
            pass
    return info


FAULTS = {
    "milter": fault_milter,
    "policyd": fault_policyd,
    "dovecot-auth": fault_dovecot_auth,
    "lmtp": fault_lmtp,
    "dovecot": fault_dovecot,
    "qmgr": fault_qmgr,
    "restart": fault_restart,
    "htgctl": fault_htgctl,
    "tmpfull": fault_tmpfull,
}


def run_fault(name, lab, args, duration, gen):
    time.sleep(duration / 3.0)
    t0 = time.time()
    try:
        info = FAULTS[name](lab, args)
    except Exception as e:     # the run is still accounted for
        info = {"error": repr(e)}
    info["name"] = name
    info["at_s"] = round(duration / 3.0, 1)
    info["took_s"] = round(time.time() - t0, 1)
    return info


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
