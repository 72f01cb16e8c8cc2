#!/usr/bin/env python3
"""Shared helpers of the end-to-end suites (tests/e2e*.py).

Real clients against a running lab: smtplib for the submission and inbound
ports, poplib for POP3, htgctl for the directory. ENV holds lab.env.
"""

import base64
import json  # noqa: F401
import os  # noqa: F401
import poplib
import shlex
import smtplib
import socket
import ssl
import subprocess
import time
import uuid  # noqa: F401  (used by suites)

ENV = {}
TIMEOUT = 30          # above Dovecot's auth failure delay
DELIVERY_WAIT = 30    # seconds a message may take through the queue


ENV_PATH = None     # the lab.env file ENV came from


def load_env(path):
    global ENV_PATH
    ENV_PATH = os.path.abspath(path)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            ENV[key] = shlex.split(value)[0] if value else ""


def ctl(*args, stdin=None):
    cmd = shlex.split(ENV["HTG_CTL"]) + list(args)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True)


def tls_context(max_tls12=False):
    ctx = ssl.create_default_context(cafile=ENV["HTG_CA_FILE"])
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


# --- the lab's address ------------------------------------------------------------
# HTG_HOST is an IPv4 or an IPv6 address as is (127.0.0.1, ::1): smtplib,
# poplib and socket.create_connection take either. Postfix writes an IPv6
# address in brackets ([::1]:587 in master.cf, [::1]/128 in mynetworks).

def host_is_ipv6():
    return ":" in ENV["HTG_HOST"]


def postfix_service(port):
    """master.cf's name of the lab's inet service on port: [host]:port."""
    return "[%s]:%s" % (ENV["HTG_HOST"], port)


# --- the lab's nodes ---------------------------------------------------------------
# HTG_LAB_NODES=N labs: node i on its own address (HTG_NODES), same ports,
# own Postfix, Dovecot, mail storage and logs (lab.env HTG_NODE_<i>_*). A
# one-node lab is node 1 with the top-level keys. The client helpers take
# host= (a node's address; default HTG_HOST, node 1).

class Node:
    """One gateway node: number i, address host, its directory (dir),
    log_dir, mail_root, postfix_config, dovecot_config, and ctl (htgctl's
    command line with its mail root)."""

    def __init__(self, i):
        self.i = i
        if "HTG_NODE_%d_HOST" % i in ENV:
            get = lambda k: ENV["HTG_NODE_%d_%s" % (i, k)]  # noqa: E731
            self.dir = get("DIR")
        else:           # one node: the lab itself
            get = lambda k: ENV["HTG_" + k]  # noqa: E731
            self.dir = ENV["HTG_LAB_DIR"]
        self.host = get("HOST")
        self.log_dir = get("LOG_DIR")
        self.mail_root = get("MAIL_ROOT")
        self.postfix_config = get("POSTFIX_CONFIG")
        self.dovecot_config = get("DOVECOT_CONFIG")
        self.ctl = get("CTL")

    def __repr__(self):
        return "node %d (%s)" % (self.i, self.host)


def nodes():
    """The lab's nodes, node 1 first."""
    count = len(ENV.get("HTG_NODES", ENV["HTG_HOST"]).split())
    return [Node(i) for i in range(1, count + 1)]


def lab(*args):
    """./htg-lab ARGS on this lab (e.g. lab("node", "kill", "2"),
    lab("pg", "promote")): the CompletedProcess, output captured."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, HTG_LAB_DIR=ENV["HTG_LAB_DIR"])
    return subprocess.run([os.path.join(top, "htg-lab")] + list(args), env=env,
                          capture_output=True, text=True)


# --- SMTP helpers -------------------------------------------------------------

def smtp_connect(port=None, host=None):
    s = smtplib.SMTP(host or ENV["HTG_HOST"], int(port or ENV["HTG_SUBMISSION_PORT"]),
                     timeout=TIMEOUT)
    s.ehlo("client.example")
    return s


def smtp_submission(user=None, password=None, auth=True, host=None):
    s = smtp_connect(host=host)
    s.starttls(context=tls_context())
    s.ehlo("client.example")
    if auth:
        s.user = user or ENV["HTG_DEMO_USER"]
        s.password = password or ENV["HTG_DEMO_PASSWORD"]
        s.auth("PLAIN", s.auth_plain)
    return s


def cmd(s, line):
    code, msg = s.docmd(line)
    return code, msg.decode("utf-8", "replace")


def flow_rcpt(flow=None):
    return "%s@%s" % (flow or ENV["HTG_DEMO_FLOW"], ENV["HTG_SUBMIT_DOMAIN"])


def htg_message(token, extra_headers="", to=None):
    """A message that satisfies the HTG rules (004 tables 4 and 5)."""
    to = to or "%s@%s" % (ENV["HTG_DEMO_FLOW"], ENV["HTG_HEADER_DOMAIN"])
    body = base64.b64encode(("<bericht id='%s'/>\n" % token).encode()).decode()
    return ("From: <%s>\r\n"
            "To: <%s>\r\n"
            "%s"
            "Subject: e2e %s\r\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
            "Message-ID: <%s@client.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: application/xml\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"bericht.xml\"\r\n"
            "\r\n%s\r\n") % (ENV["HTG_DEMO_SENDER"], to, extra_headers, token,
                             token, body)


def submit(message, sender=None, rcpt=None, user=None, password=None,
           mail_args="", host=None):
    """One submission in its own session (as user, default the demo
    account; to node address host, default HTG_HOST): (stage, code, text)
    of the first refusal, or ('ok', 250, ...)."""
    s = smtp_submission(user, password, host=host)
    try:
        code, msg = cmd(s, ("MAIL FROM:<%s> %s" % (
            sender or ENV["HTG_DEMO_SENDER"], mail_args)).strip())
        if code != 250:
            return "MAIL", code, msg
        code, msg = cmd(s, "RCPT TO:<%s>" % (rcpt or flow_rcpt()))
        if code != 250:
            return "RCPT", code, msg
        try:
            code, msg = s.data(message.encode())
        except smtplib.SMTPDataError as e:
            return "DATA", e.smtp_code, e.smtp_error.decode("utf-8", "replace")
        return ("ok" if code == 250 else "DATA"), code, msg.decode()
    finally:
        try:
            s.quit()
        except Exception:
            pass


# --- POP3 helpers ----------------------------------------------------------------

def pop3_login(user, password, ctx=None, host=None):
    p = poplib.POP3(host or ENV["HTG_HOST"], int(ENV["HTG_POP3_PORT"]),
                    timeout=TIMEOUT)
    p.stls(context=ctx or tls_context())
    token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    p._shortcmd("AUTH PLAIN " + token)
    return p


def pop3_find(p, token):
    """Message number whose text contains token, or None."""
    _, listing, _ = p.list()
    for entry in listing:
        num = int(entry.split()[0])
        _, lines, _ = p.top(num, 40)
        if any(token.encode() in l for l in lines):
            return num
    return None


def wait_for_message(user, password, token):
    deadline = time.time() + DELIVERY_WAIT
    while time.time() < deadline:
        p = pop3_login(user, password)
        num = pop3_find(p, token)
        p.quit()
        if num is not None:
            return True
        time.sleep(0.3)
    return False


class AccountSetting:
    """htgctl account CMD USER ON while the block runs, then OFF (the demo
    account unless USER is given): account mode report|enforce, account
    translate on|off."""

    def __init__(self, cmd, on, off, user=None):
        self.cmd, self.on, self.off = cmd, on, off
        self.user = user or ENV["HTG_DEMO_USER"]

    def __enter__(self):
        r = ctl("account", self.cmd, self.user, self.on)
        check(r.returncode == 0, "account %s: %s" % (self.cmd, r.stderr))

    def __exit__(self, *exc):
        ctl("account", self.cmd, self.user, self.off)
        return False


def wait_until(fn, what, timeout=30):
    """fn()'s first true value, polled; a failed check after timeout."""
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got:
            return got
        check(time.time() < deadline, "timed out waiting for " + what)
        time.sleep(0.2)


def gov_login():
    return pop3_login(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"])


def demo_login():
    return pop3_login(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"])


def pop3_delete(login, token):
    p = login()
    num = pop3_find(p, token)
    if num is not None:
        p.dele(num)
    p.quit()


# --- test registry -------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failure(Exception):
    pass


class Skip(Exception):
    """A test that cannot run on this lab (e.g. it needs a second IPv4
    loopback address on an IPv6 lab); e2e.py reports it, never as passed."""


def skip(why):
    raise Skip(why)


def backend():
    """The lab's directory: "lmdb" or "postgresql" (lab.env)."""
    return ENV.get("HTG_DIRECTORY_BACKEND", "lmdb")


def lmdb_only(what):
    """Skip a test of what only the LMDB directory has (its map, its
    files)."""
    if backend() != "lmdb":
        skip("%s: LMDB only (this lab's directory is %s)" % (what, backend()))


def journal_dir():
    """Where node 1's pickup journal is: the LMDB directory's own
    folder, or a PostgreSQL directory's local state folder."""
    return ENV.get("HTG_JOURNAL_DIR") or os.path.join(ENV["HTG_DIRECTORY"],
                                                      "journal")


def daemon_env():
    """The environment htg-lab starts node 1's htg-milter and htg-policyd
    with: HTG_STATE_DIR, the node's local state (the pickup journal and
    the audit spool of a PostgreSQL directory), for a test that starts
    one again."""
    d = ENV.get("HTG_JOURNAL_DIR")
    state = os.path.dirname(d) if d else os.path.join(ENV["HTG_LAB_DIR"], "state")
    return dict(os.environ, HTG_STATE_DIR=state)


def check(cond, what):
    if not cond:
        raise Failure(what)


def expect_reply(got, code, dsn, rule):
    stage, c, text = got
    check(c == code and text.startswith(dsn) and (rule is None or rule + ":" in text),
          "expected %d %s %s, got %s %s %r" % (code, dsn, rule, stage, c, text))


def inbound_send(token, rcpt, host=None):
    s = smtplib.SMTP(host or ENV["HTG_HOST"], int(ENV["HTG_INBOUND_PORT"]),
                     timeout=TIMEOUT)
    msg = ("From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
           "Subject: antwoord %s\r\nMessage-ID: <%s@douane.overheid.nl>\r\n"
           "\r\nAntwoord %s\r\n") % (rcpt, token, token, token)
    s.sendmail("dms-inbox@douane.overheid.nl", [rcpt], msg)
    s.quit()
