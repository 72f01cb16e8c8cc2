"""loadlib.py - bench/load-run.py's lab, generator and accounting.

The lab a load run drives (its lab.env, htgctl, the Postfix queue), the
accounts it provisions (htgctl import), bench/htg-load started and
waited for, and the accounting of every operation against the mailboxes,
retention and audit (account_run(), the table print_table() prints).
What the accounting promises: the docstring of bench/load-run.py.
"""

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
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
