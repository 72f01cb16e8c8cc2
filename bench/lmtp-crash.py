#!/usr/bin/env python3
"""lmtp-crash - kill -9 Dovecot's lmtp right after it saved a message, before
Postfix reads its 250, and count the copies (issue 6, exactly-once LMTP).

usage: bench/lmtp-crash.py [LAB_ENV] [-n ATTEMPTS]

The random "lmtp" fault of load-run.py rarely lands in the window that makes
Postfix deliver twice (the mailbox commit done, the 250 not yet read): in
eight runs today it never did. This script aims at it. For each attempt it
makes an account, sends one message through the lab's inbound Postfix port,
watches the account's Maildir new/ in a tight loop and, the moment the
message file appears, kill -9's every lmtp process of the lab's Dovecot.
Then it flushes Postfix's queue until the message has left it, and counts
the copies in the mailbox. Where the kill landed is read back from the
Dovecot log (the htg plugin logs a retry it recognised):

  retry skipped (done)       killed after the directory commit
  retry skipped (in INBOX)   killed between the Maildir and directory commits
  retry delivered            killed before the Maildir commit
  no retry                   the 250 was out before the kill

Every attempt must end with exactly one copy. Prints one line per attempt
and a summary; exit 1 when any attempt ended with 0 or 2+ copies. As root,
against a running lab (./htg-lab start). Not part of ./htg-lab check: where
the kill lands depends on timing (the outcome must not).
"""

import argparse
import os
import smtplib
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import htglab  # noqa: E402  (lab.env, htgctl: the e2e suites' helpers)
from htglab import ENV  # noqa: E402
sys.path.insert(0, HERE)
import loadfaults as LR  # noqa: E402  (load-run.py's /proc and kill helpers)


def ctl(*args, stdin=None):
    r = htglab.ctl(*args, stdin=stdin)
    if r.returncode != 0:
        sys.exit("htgctl %s: %s" % (" ".join(args), r.stderr.strip()))


def lmtp_pids(master):
    return [pid for pid, comm in LR.proc_children(master) if comm == "lmtp"]


def dovecot_master():
    return LR.read_pid(os.path.join(ENV["HTG_LAB_DIR"], "dovecot/run/master.pid"))


def in_queue(address):
    r = subprocess.run(["postqueue", "-c", ENV["HTG_POSTFIX_CONFIG"], "-j"],
                       capture_output=True, text=True)
    return address in r.stdout


def flush():
    subprocess.run(["postqueue", "-c", ENV["HTG_POSTFIX_CONFIG"], "-f"],
                   capture_output=True)


def copies(maildir, token):
    n = 0
    for sub in ("new", "cur"):
        if not os.path.isdir(os.path.join(maildir, sub)):
            continue
        for name in os.listdir(os.path.join(maildir, sub)):
            with open(os.path.join(maildir, sub, name), "rb") as f:
                if token.encode() in f.read():
                    n += 1
    return n


def attempt(i, log):
    tag = uuid.uuid4().hex[:10]
    user = "crash-%s@crash.test" % tag
    address = "box-%s@postbus.crash.test" % tag
    ctl("account", "add", user, "--password-stdin", stdin="pw-%s\n" % tag)
    ctl("address", "add", address, user)
    maildir = os.path.join(ENV["HTG_LAB_DIR"], "mail", user, "Maildir")
    token = uuid.uuid4().hex
    msgid = "<%s@overheid.example>" % token
    msg = ("From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
           "Subject: crash %d\r\nMessage-ID: %s\r\n\r\nbody %s\r\n"
           % (address, i, msgid, token))
    s = smtplib.SMTP(ENV["HTG_HOST"], int(ENV["HTG_INBOUND_PORT"]), timeout=30)
    s.sendmail("dms-inbox@douane.overheid.nl", [address], msg)
    s.quit()
    new = os.path.join(maildir, "new")
    master = dovecot_master()
    killed = 0
    flush()
    # the lmtp processes, found before the message arrives (a /proc scan
    # takes milliseconds; the window is shorter), rescanned now and then
    pids, rescan = lmtp_pids(master), time.time() + 0.05
    t_end = time.time() + 60
    while time.time() < t_end:
        try:
            arrived = bool(os.listdir(new))
        except FileNotFoundError:
            arrived = False
        if arrived:
            for pid in pids + lmtp_pids(master):
                killed += LR.kill9(pid)
            break
        if time.time() > rescan:
            pids, rescan = lmtp_pids(master), time.time() + 0.05
    # let Postfix retry until the message has left its queue
    t_end = time.time() + 60
    while in_queue(address) and time.time() < t_end:
        flush()
        time.sleep(0.5)
    time.sleep(0.3)
    n = copies(maildir, token)
    log_now = log_text(log)
    if "Message-ID %s was delivered to" % msgid in log_now:
        where = "retry skipped (done)"
    elif "Message-ID %s is already in" % msgid in log_now:
        where = "retry skipped (in INBOX)"
    elif "Message-ID %s: an earlier delivery was cut off" % msgid in log_now:
        where = "retry delivered"
    else:
        where = "no retry"
    ctl("address", "del", address)
    ctl("account", "del", user)
    return n, where, killed


def log_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("env", nargs="?", default="lab/lab.env")
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    htglab.load_env(args.env)
    log = os.path.join(ENV["HTG_LOG_DIR"], "dovecot.log")
    summary = {}
    bad = 0
    for i in range(args.n):
        n, where, killed = attempt(i, log)
        print("attempt %2d: killed %d lmtp, %-26s copies %d%s"
              % (i + 1, killed, where, n, "" if n == 1 else "  <-- WRONG"),
              flush=True)
        summary[where] = summary.get(where, 0) + 1
        bad += n != 1
    print("summary: %s; attempts with != 1 copy: %d"
          % (", ".join("%s %d" % kv for kv in sorted(summary.items())), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
