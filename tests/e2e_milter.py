"""Milter suite: every htg-milter rule through the lab's real Postfix.

Messages come from tests/corpus (each with a fresh Message-ID, so the
suite can run again against the same lab), replies are checked for code,
enhanced status code and rule id, and accepted messages are read back from
the government mailbox over POP3 to check what they left with.
"""

import os
import re
import signal
import smtplib
import socket
import subprocess
import time
import uuid

from htglab import (ENV, TIMEOUT, test, check, expect_reply, cmd, flow_rcpt,
                    smtp_submission, submit, wait_for_message, gov_login,
                    pop3_find, daemon_env)

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
UUID_NAME = re.compile(r'filename="[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-'
                       r'[0-9a-f]{12}\.[A-Za-z0-9]{1,10}"')


def corpus(rel, token=None):
    """A corpus message with a fresh Message-ID and the token in Subject."""
    with open(os.path.join(CORPUS, rel), "rb") as f:
        msg = f.read().decode("latin-1")
    token = token or uuid.uuid4().hex
    msg = re.sub(r"Message-ID: <corpus-\d+@", "Message-ID: <%s@" % token, msg, count=1)
    return msg.replace("Subject: corpus", "Subject: corpus " + token, 1), token


def fetch_gov(token):
    """The delivered message (bytes) from the government mailbox, deleted."""
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "message not delivered")
    p = gov_login()
    num = pop3_find(p, token)
    _, lines, _ = p.retr(num)
    p.dele(num)
    p.quit()
    return b"\r\n".join(lines)


REFUSALS = [
    ("HTG-HDR-FROM/two-addresses.eml", 550, "5.6.0", "HTG-HDR-FROM"),
    ("HTG-HDR-TO/other-flow.eml", 550, "5.6.0", "HTG-HDR-TO"),
    ("HTG-HDR-TO/preprod-domain.eml", 550, "5.6.0", "HTG-HDR-TO"),
    ("HTG-HDR-CC/cc.eml", 550, "5.7.1", "HTG-HDR-CC"),
    ("HTG-MSGID/no-brackets.eml", 550, "5.7.1", "HTG-MSGID"),
    ("HTG-CT/text-html.eml", 554, "5.6.1", "HTG-CT"),
    ("HTG-CT/multipart-alternative.eml", 554, "5.6.1", "HTG-CT"),
    ("HTG-CHARSET/windows-windows-1252.eml", 554, "5.6.1", "HTG-CHARSET"),
    ("HTG-CHARSET/utf8-overlong-2.eml", 554, "5.6.1", "HTG-CHARSET"),
    ("HTG-CTE/cte-8bit.eml", 554, "5.6.0", "HTG-CTE"),
    ("HTG-CTE/b64-bad-char.eml", 554, "5.6.0", "HTG-CTE"),
    ("HTG-CTE/qp-bad-hex.eml", 554, "5.6.0", "HTG-CTE"),
    ("HTG-MIME/unterminated.eml", 554, "5.6.0", "HTG-MIME"),
    ("HTG-MIME/nesting-20-levels.eml", 554, "5.6.0", "HTG-MIME"),
    ("HTG-MIME/8bit-subject.eml", 554, "5.6.0", "HTG-MIME"),
]


def make_refusal_test(rel, code, dsn, rule):
    def fn():
        msg, _ = corpus(rel)
        expect_reply(submit(msg), code, dsn, rule)
    fn.__name__ = "milter_refuses_" + rel.replace("/", "_").replace("-", "_")[:-4].lower()
    return fn


for _case in REFUSALS:
    test(make_refusal_test(*_case))


@test
def milter_envid_required_for_notify_success():
    """HTG-ENVID (004 table 3): NOTIFY=SUCCESS without ENVID is 555 5.5.4."""
    s = smtp_submission()
    try:
        cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
        got = cmd(s, "RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE" % flow_rcpt())
        cmd(s, "RSET")
        c1, _ = cmd(s, "MAIL FROM:<%s> ENVID=env-%s" % (ENV["HTG_DEMO_SENDER"],
                                                     uuid.uuid4().hex))
        c2, m2 = cmd(s, "RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE" % flow_rcpt())
        cmd(s, "RSET")
        cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
        c3, m3 = cmd(s, "RCPT TO:<%s> NOTIFY=FAILURE" % flow_rcpt())
    finally:
        s.quit()
    expect_reply(("RCPT",) + got, 555, "5.5.4", "HTG-ENVID")
    check(c1 == 250 and c2 == 250, "with ENVID: %d %s" % (c2, m2))
    check(c3 == 250, "NOTIFY=FAILURE without ENVID: %d %s" % (c3, m3))


@test
def milter_message_id_reuse_refused():
    """HTG-MSGID: the same account may not use a Message-ID twice."""
    msg, token = corpus("accept/single-xml-base64--r1.eml")
    got = submit(msg)
    check(got[0] == "ok", "first submission: %r" % (got,))
    expect_reply(submit(msg), 550, "5.7.1", "HTG-MSGID")
    fetch_gov(token)


@test
def milter_inserts_missing_message_id():
    msg, token = corpus("accept/missing-message-id--r1.eml")
    got = submit(msg)
    check(got[0] == "ok", "refused: %r" % (got,))
    data = fetch_gov(token)
    ids = re.findall(rb"(?im)^Message-ID:\s*<([^>]+)>", data)
    check(len(ids) == 1, "Message-IDs: %r" % ids)
    check(re.match(rb"[0-9a-f-]{36}@" + re.escape(ENV["HTG_HEADER_DOMAIN"].encode()),
                   ids[0]) is not None, "inserted Message-ID %r" % ids[0])


@test
def milter_renames_every_attachment():
    """HTG-FILENAME: every leaf leaves with attachment; filename=<UUID>.<ext>,
    and no original name survives (also in RFC 2231 / 2047 forms)."""
    msg, token = corpus("accept/multipart-nested--r3.eml")
    check(submit(msg)[0] == "ok", "multipart refused")
    data = fetch_gov(token)
    text = data.decode("latin-1")
    names = UUID_NAME.findall(text)
    check(len(names) == 3, "renamed parts: %r" % names)
    rest = UUID_NAME.sub("", text)      # new names could end in "b.xml"
    check("b.xml" not in rest and "c.pdf" not in rest, "an original name survived")
    for rel, ext in (("accept/filename-rfc2231-continuations--r1.eml", "pdf"),
                     ("accept/filename-rfc2047-b--r1.eml", "pdf"),
                     ("accept/filename-injection-crlf-2231--r1.eml", "pdf"),
                     ("accept/filename-ext-too-long--r1.eml", "txt")):
        msg, token = corpus(rel)
        check(submit(msg)[0] == "ok", rel + " refused")
        data = fetch_gov(token).decode("latin-1")
        found = UUID_NAME.findall(data)
        check(len(found) == 1 and found[0].endswith("." + ext + '"'),
              "%s: %r" % (rel, found))
        rest = UUID_NAME.sub("", data)
        for original in ("lange", "factuur", "evil", "archive"):
            check(original not in rest, "%s: %r survived" % (rel, original))


def milter_pid():
    with open(os.path.join(ENV["HTG_LAB_DIR"], "run", "htg-milter.pid")) as f:
        return int(f.read().strip())


def wait_socket(path, present, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) == present:
            if not present:
                return True
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return True
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.1)
    return False


@test
def milter_down_means_tempfail_not_accept():
    """milter_default_action = tempfail: with htg-milter dead nothing is
    accepted unchecked (4xx); after a restart mail flows again."""
    lab = ENV["HTG_LAB_DIR"]
    sock = os.path.join(lab, "run", "milter.sock")
    os.kill(milter_pid(), signal.SIGKILL)
    os.unlink(sock)
    try:
        msg, _ = corpus("accept/single-pdf-base64--r1.eml")
        try:
            stage, code, text = submit(msg)
        except smtplib.SMTPResponseException as e:
            # Postfix checks its milters at STARTTLS already: 454 4.3.0
            stage, code, text = "STARTTLS", e.smtp_code, e.smtp_error.decode()
        check(400 <= code < 500, "with the milter down: %s %d %s" % (stage, code, text))
    finally:
        subprocess.run([os.path.join(lab, "prefix", "sbin", "htg-milter"), "-c",
                        os.path.join(lab, "etc", "htg-milter.conf")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, env=daemon_env())
        check(wait_socket(sock, True), "htg-milter did not come back")
    msg, token = corpus("accept/single-pdf-base64--r1.eml")
    got = submit(msg)
    check(got[0] == "ok", "after restart: %r" % (got,))
    fetch_gov(token)
