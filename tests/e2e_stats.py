"""Operational numbers (issue 14 item 7), through the lab's real Postfix,
htg-milter, htg-policyd and Dovecot:

- htgctl stats --json counts one accepted submission under (submit,
  htg-milter) and one refusal under its rule, per account with
  --by-account, in the window --since;
- a POP3 RETR and DELE show as retr/dele events (daemon dovecot), one
  more retention copy, one message less waiting;
- --prometheus is the text exposition format, checked line by line.
"""

import datetime
import json
import re
import uuid

from htglab import (ENV, test, check, ctl, expect_reply, gov_login,
                    htg_message, pop3_find, submit, wait_for_message, wait_until)

CC = "Cc: <iemand@mijnbedrijf.nl>\r\n"


def stats(*args):
    r = ctl("stats", "--json", *args)
    check(r.returncode == 0, "htgctl stats: %s %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def count(st, event, rule, daemon, account=None):
    return sum(c["count"] for c in st["counts"]
               if c["event"] == event and c["rule"] == rule
               and c["daemon"] == daemon
               and (account is None or c.get("account") == account))


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


@test
def stats_counts_submissions_per_rule_and_account():
    since = now_rfc3339()
    before = stats()
    ok_token, cc_token = uuid.uuid4().hex, uuid.uuid4().hex
    got = submit(htg_message(ok_token))
    check(got[0] == "ok", "submission: %r" % (got,))
    got = submit(htg_message(cc_token, extra_headers=CC))
    expect_reply(got, 550, "5.7.1", "HTG-HDR-CC")
    # the submit event is written when the session ended and the claim
    # is settled (htg-milter's settle thread): wait for it
    after = wait_until(lambda: (lambda st: st if count(st, "submit", "", "htg-milter")
                                > count(before, "submit", "", "htg-milter") else None)(stats()),
                       "the submit event")
    for key, want in ((("submit", "", "htg-milter"), 1),
                      (("refuse", "HTG-HDR-CC", "htg-milter"), 1)):
        d = count(after, *key) - count(before, *key)
        check(d == want, "%r: %d more, want %d" % (key, d, want))
    check(after["events"].get("refuse", 0) - before["events"].get("refuse", 0)
          == 1, "refuse total: %r -> %r" % (before["events"], after["events"]))
    # "which rule refused most today, for which account": one command
    user = ENV["HTG_DEMO_USER"]
    win = stats("--since", since, "--by-account")
    check(count(win, "submit", "", "htg-milter", user) == 1 and
          count(win, "refuse", "HTG-HDR-CC", "htg-milter", user) == 1 and
          all("account" in c for c in win["counts"]),
          "window since %s: %r" % (since, win["counts"]))
    today = ctl("stats", "--since", "today", "--by-account")
    check(today.returncode == 0 and re.search(
        r"^refuse\tHTG-HDR-CC\thtg-milter\t%s\t[1-9]" % re.escape(user),
        today.stdout, re.M), "text: %r" % today.stdout)
    # the window excludes what came before it
    later = stats("--since", now_rfc3339())
    check(count(later, "submit", "", "htg-milter") == 0,
          "--since now: %r" % later["counts"])
    # pickups: RETR and DELE, one copy more in retention, one less waiting
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"],
                           ok_token), "not delivered")
    mid = stats()
    p = gov_login()
    num = pop3_find(p, ok_token)
    check(num is not None, "not in the gov mailbox")
    p.retr(num)
    p.dele(num)
    p.quit()
    end = stats()
    for key in (("retr", "", "dovecot"), ("dele", "", "dovecot")):
        d = count(end, *key) - count(mid, *key)
        check(d == 1, "%r: %d more, want 1" % (key, d))
    check(end["retained"] == mid["retained"] + 1 and
          end["retained_bytes"] > mid["retained_bytes"],
          "retention: %r -> %r" % ((mid["retained"], mid["retained_bytes"]),
                                   (end["retained"], end["retained_bytes"])))
    check(mid["waiting"] >= 1 and end["waiting"] == mid["waiting"] - 1,
          "waiting: %d -> %d" % (mid["waiting"], end["waiting"]))


NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$"
                    % (NAME, LABEL, LABEL))


def parse_prometheus(text):
    """{name: (type, [(labels, value)])}; raises Failure on a bad line."""
    metrics, helps, current = {}, set(), None
    for line in text.splitlines():
        m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
        if m:
            kind, name, rest = m.groups()
            if kind == "HELP":
                check(name not in helps, "HELP twice: %s" % name)
                helps.add(name)
            else:
                check(name not in metrics, "TYPE twice: %s" % name)
                check(rest in ("counter", "gauge"), "type: %r" % line)
                metrics[name] = (rest, [])
                current = name
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        name = m.group(1)
        check(name == current, "sample %s outside its TYPE block" % name)
        check(name.startswith("htg_"), "name without htg_: %s" % name)
        metrics[name][1].append((m.group(2) or "", float(m.group(3))))
    for name, (kind, _) in metrics.items():
        check(name in helps, "no HELP: %s" % name)
        check((kind == "counter") == name.endswith("_total"),
              "%s %s: counters and only counters end in _total"
              % (kind, name))
    return metrics


@test
def stats_prometheus_text_format():
    token = uuid.uuid4().hex
    got = submit(htg_message(token, extra_headers=CC))
    expect_reply(got, 550, "5.7.1", "HTG-HDR-CC")
    r = ctl("stats", "--prometheus")
    check(r.returncode == 0, "stats --prometheus: %s" % r.stderr)
    m = parse_prometheus(r.stdout)
    for name in ("htg_directory_used_bytes", "htg_directory_fill_ratio",
                 "htg_retained_copies", "htg_retained_bytes",
                 "htg_messages_waiting", "htg_audit_events_total"):
        check(name in m, "missing %s" % name)
    refused = [v for labels, v in m["htg_audit_events_total"][1]
               if 'event="refuse"' in labels and 'rule="HTG-HDR-CC"' in labels
               and 'daemon="htg-milter"' in labels]
    check(refused and refused[0] >= 1, "refuse HTG-HDR-CC: %r"
          % (m["htg_audit_events_total"],))
    check(not any("account=" in l for l, _ in m["htg_audit_events_total"][1]),
          "account label without --by-account")
    r = ctl("stats", "--prometheus", "--by-account")
    m = parse_prometheus(r.stdout)
    check(all("account=" in l for l, _ in m["htg_audit_events_total"][1]),
          "--by-account: no account label")
