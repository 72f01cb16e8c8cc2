"""htgaccount.py - the accounting of tests/htgfaults.py: what became of every
message a fault run offered (its module doc defines each figure), read from
the real things: every node's Maildir files, the directory's Message-ID
claims and audit events (psql, htgctl), the government mailbox over POP3.
"""

import hashlib
import json
import os
import re
import subprocess

import htglab
from htglab import ENV

ORIGINAL_NAME = b'filename="bericht.xml"'
# Postfix's Received: line of the submission hop: "with ESMTPSA id QUEUEID"
SUBMIT_QID_RE = re.compile(rb"with ESMTPSA id ([0-9A-Za-z]+)")
MSGID_RE = re.compile(rb"^Message-ID: <([^@>]+)@client\.example>", re.M | re.I)


class FaultError(Exception):
    pass


# --- what the lab holds ---------------------------------------------------------------

def mailbox_copies(prefix):
    """token -> [(node, mailbox, has original file name, submission queue
    ids)], from every node's Maildir files (new/ and cur/)."""
    found = {}
    for n in htglab.nodes():
        for root, dirs, files in os.walk(n.mail_root):
            if os.path.basename(root) not in ("new", "cur"):
                continue
            box = os.path.relpath(root, n.mail_root).split(os.sep)[0]
            for f in files:
                try:
                    with open(os.path.join(root, f), "rb") as fh:
                        data = fh.read(16384)
                except OSError:
                    continue        # moved new/ -> cur/ meanwhile
                m = MSGID_RE.search(data)
                if m and m.group(1).decode().startswith(prefix):
                    found.setdefault(m.group(1).decode(), []).append(
                        (n.i, box, ORIGINAL_NAME in data,
                         set(q.decode() for q in SUBMIT_QID_RE.findall(data))))
    return found


def claimed(tokens):
    """The tokens whose Message-ID has a claim in the directory (table
    htg.msgids, key SHA-256 of "account TAB <Message-ID>"): htg-milter
    writes it at end of message, before Postfix can answer 250."""
    keys = {hashlib.sha256(("%s\t<%s@client.example>" % (
        ENV["HTG_DEMO_USER"], t)).encode()).hexdigest(): t for t in tokens}
    r = subprocess.run(["psql", "-X", "-At", ENV["HTG_PG_URI"], "-c",
                        "SELECT encode(key, 'hex') FROM htg.msgids"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise FaultError("psql: %s" % r.stderr.strip())
    return {keys[k] for k in r.stdout.split() if k in keys}


def audit_events(prefix, since_iso):
    """token -> {event: [details]} for this run's Message-IDs."""
    r = htglab.ctl("audit", "--json", "--since", since_iso)
    if r.returncode != 0:
        raise FaultError("htgctl audit: %s" % r.stderr.strip())
    events = {}
    for e in json.loads(r.stdout or "[]"):
        mid = e.get("message_id") or ""
        if mid.startswith("<" + prefix):
            token = mid[1:].split("@", 1)[0]
            events.setdefault(token, {}).setdefault(e["event"], []).append(
                e.get("detail", ""))
    return events


def pop3_count():
    p = htglab.pop3_login(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"],
                          host=htglab.nodes()[0].host)
    try:
        return p.stat()[0]
    finally:
        p.quit()


def maildir_count(node, box):
    d = os.path.join(node.mail_root, box, "Maildir")
    return sum(len(os.listdir(os.path.join(d, s))) for s in ("new", "cur")
               if os.path.isdir(os.path.join(d, s)))


# --- accounting ---------------------------------------------------------------------

def account(load, started_iso, outages, drain_s):
    prefix = "flt" + load.run
    copies = mailbox_copies(prefix)
    events = audit_events(prefix, started_iso)
    claims = claimed(set(load.accepted) | set(copies))
    gov_node, gov_box = 2, ENV["HTG_GOV_USER"]
    acc = {"offered": len(load.offered), "accepted": len(load.accepted),
           "refused": len(load.refused), "delivered_once": 0, "lost": 0,
           "duplicated": 0, "misrouted": 0, "unchecked": 0, "audit_missing": 0,
           "submit_event_missing": 0, "blocked": len(load.blocked),
           "delivered_unacknowledged": 0, "acknowledged_by_reuse": 0,
           "attempts": len(load.replies),
           "4xx": sum(1 for r in load.replies if r[4] == "4xx"),
           "conn_failures": sum(1 for r in load.replies if r[4] == "conn"),
           "auth_5xx": sum(1 for r in load.replies if r[4] == "auth5xx"),
           "drain_s": None if drain_s is None else round(drain_s, 1),
           "problems": []}
    for token in sorted(set(load.reused) - set(copies)):
        acc["refused"] += 1
        acc["problems"].append("%s refused as a reuse of queue id %s, delivered "
                               "nowhere" % (token, load.reused[token][0]))
    for token in sorted(set(load.accepted) | set(copies)):
        got = copies.get(token, [])
        ev = events.get(token, {})
        delivers = len(ev.get("deliver", []))
        if token in load.reused:
            qid, node, code, text = load.reused[token]
            if (len(got) == 1 and qid in got[0][3] and token in claims
                    and not got[0][2] and delivers <= 1):
                acc["acknowledged_by_reuse"] += 1
                acc["problems"].append(
                    "%s: its 250 was lost; the retry on node %d was refused as "
                    "a reuse of queue id %s, the copy delivered once" % (
                        token, node + 1, qid))
            else:
                acc["refused"] += 1
                acc["problems"].append(
                    "%s refused as a reuse (%s %s) but the delivered copies are "
                    "%r" % (token, code, text, got))
            continue
        if token not in load.accepted:
            if token in claims and not any(o for _, _, o, _ in got):
                # checked by the milter; the client never saw its 250 (a
                # reply lost in the fault): reported, not a failure
                acc["delivered_unacknowledged"] += 1
                acc["problems"].append("%s delivered, its 250 never reached "
                                       "the client: %r" % (token, got))
            else:
                acc["unchecked"] += 1
                acc["problems"].append("%s delivered but never accepted" % token)
            continue
        if not got:
            acc["lost"] += 1
            acc["problems"].append("%s lost (accepted on node %d)" % (
                token, load.accepted[token][1] + 1))
            continue
        if len(got) > 1 or delivers > 1:
            acc["duplicated"] += 1
            acc["problems"].append("%s duplicated: %r, %d deliver events" % (
                token, got, delivers))
        else:
            acc["delivered_once"] += 1
        if not delivers:
            acc["audit_missing"] += 1
            acc["problems"].append("%s: in the mailbox, no deliver event" % token)
        if any((nd, box) != (gov_node, gov_box) for nd, box, _, _ in got):
            acc["misrouted"] += 1
            acc["problems"].append("%s misrouted: %r" % (token, got))
        if token not in claims or any(o for _, _, o, _ in got):
            acc["unchecked"] += 1
            acc["problems"].append("%s unchecked: claim %s, copies %r" % (
                token, token in claims, got))
        if not ev.get("submit"):
            acc["submit_event_missing"] += 1
            acc["problems"].append("%s: no submit audit event (accepted on "
                                   "node %d)" % (token, load.accepted[token][1] + 1))
    # refusals and 250s inside an outage window
    acc["outages"] = []
    for name, t_from, t_to, s_from, s_to in outages:
        # an attempt overlapping the window (Dovecot delays a failed
        # AUTH's answer by auth_failure_delay, 2 s)
        inside = [r for r in load.replies if r[0] >= t_from and r[7] <= t_to]
        w = {"what": name, "seconds": round(t_to - t_from, 1),
             "attempts": len(inside),
             "4xx": sum(1 for r in inside if r[4] == "4xx"),
             "conn": sum(1 for r in inside if r[4] == "conn"),
             "250": sum(1 for r in inside if r[4] == "ok"),
             "250_strict": sum(1 for r in inside if r[4] == "ok" and
                               s_from <= r[0] <= s_to),
             "5xx": sum(1 for r in inside if r[4] == "5xx"),
             "auth_5xx": sum(1 for r in inside if r[4] == "auth5xx"),
             "codes": sorted({"%s %s" % (r[5], r[6][:40]) for r in inside
                              if r[4] == "4xx"})[:6]}
        acc["outages"].append(w)
    for token in load.blocked:
        acc["problems"].append("%s: given up after 3 retries refused by a "
                               "pending claim (HTG-MSGID, 451 4.7.1)" % token)
    for token, (code, text) in sorted(load.refused.items()):
        acc["problems"].append("%s refused: %s %s" % (token, code, text))
    try:
        acc["pop3_gov_count"] = pop3_count()
        acc["maildir_gov_count"] = maildir_count(htglab.nodes()[1], gov_box)
    except Exception as e:
        acc["problems"].append("POP3 count: %s: %s" % (type(e).__name__, e))
    return acc


def failed(acc, strict_outage):
    """The pass condition: what failed (empty: passed). Missing audit
    events are reported, not counted here (see the module doc)."""
    bad = [k for k in ("refused", "lost", "duplicated", "misrouted", "unchecked")
           if acc[k]]
    if acc["auth_5xx"]:
        # the demo password is right: a 535 is the gateway's failure (a
        # directory outage must give 454, htg-passdb(3))
        outage = sum(w["auth_5xx"] for w in acc["outages"])
        bad.append("%d AUTH 5xx (%d during outages)" % (acc["auth_5xx"], outage))
    if acc["drain_s"] is None:
        bad.append("drain timed out")
    if acc["delivered_once"] != acc["accepted"]:
        bad.append("delivered once %d != accepted %d" % (acc["delivered_once"],
                                                         acc["accepted"]))
    if acc.get("pop3_gov_count") != acc.get("maildir_gov_count"):
        bad.append("POP3 count %s != Maildir count %s" % (
            acc.get("pop3_gov_count"), acc.get("maildir_gov_count")))
    for w in acc["outages"]:
        if w["5xx"]:
            bad.append("5xx during %s" % w["what"])
        if strict_outage and w["250_strict"]:
            bad.append("250 during %s" % w["what"])
    return bad


def report(name, acc, extra=""):
    print("== %s: offered %d, accepted %d (250), refused %d (5xx), delivered "
          "once %d, lost %d, duplicated %d, misrouted %d, unchecked %d; "
          "attempts %d (4xx %d, connection failures %d, 5xx to AUTH %d); "
          "audit: %d without deliver event, %d without submit event; "
          "blocked by a pending claim %d; 250 lost and the retry refused as "
          "a reuse of the delivered copy %d; "
          "drain %s s%s" % (
              name, acc["offered"], acc["accepted"], acc["refused"],
              acc["delivered_once"], acc["lost"], acc["duplicated"],
              acc["misrouted"], acc["unchecked"], acc["attempts"], acc["4xx"],
              acc["conn_failures"], acc["auth_5xx"], acc["audit_missing"],
              acc["submit_event_missing"], acc["blocked"],
              acc["acknowledged_by_reuse"], acc["drain_s"],
              extra), flush=True)
    for w in acc["outages"]:
        print("   outage %s: %.1f s, %d attempts: %d 4xx, %d connection "
              "failures, %d 250 (%d while nothing could take them), %d 5xx, "
              "%d 5xx to AUTH; %s" % (
                  w["what"], w["seconds"], w["attempts"], w["4xx"], w["conn"],
                  w["250"], w["250_strict"], w["5xx"], w["auth_5xx"],
                  "; ".join(w["codes"])),
              flush=True)
    print("   government mailbox: POP3 (via node 1) %s, Maildir (node 2) %s" % (
        acc.get("pop3_gov_count"), acc.get("maildir_gov_count")), flush=True)
    for p in acc["problems"][:20]:
        print("   " + p, flush=True)
