"""Security suite for htg-milter (issue 13, findings 3, 7 and 8), through
the lab's real Postfix:

- header fields are read whole (no truncated copy decides a rule), up to
  what Postfix keeps of a field (60,000 bytes with milters); a field
  reaching it is refused (HTG-MIME);
- the From address must be owned by the authenticated account
  (HTG-HDR-FROM), unless the milter is configured with from_owner_check=no;
- a message that Postfix never committed (a failure after our end of
  message, a connection lost before the commit) may be retried with its
  Message-ID; a committed one is never delivered twice (HTG-MSGID).

The failure after our end of message comes from a second milter, listed
after htg-milter in the submission service's smtpd_milters for the test:
a minimal Sendmail milter (protocol 6) in this file that tempfails the end
of message of the Message-IDs a test arms, on 127.0.0.1's unix socket.
"""

import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid

from htglab import (ENV, test, check, expect_reply, cmd, flow_rcpt, ctl,
                    htg_message, smtp_submission, submit, wait_for_message,
                    gov_login, daemon_env)

FWS_1200 = "\r\n " * 600    # 1,200 bytes of folding white space as a milter
                             # gets it (LF folds; 1,800 on the wire)


def lab_path(*parts):
    return os.path.join(ENV["HTG_LAB_DIR"], *parts)


def with_header(msg, name, value):
    """msg with the first field `name` replaced by `name: value`."""
    head, sep, body = msg.partition("\r\n\r\n")
    out, done = [], False
    for line in head.split("\r\n"):
        if not done and line.lower().startswith(name.lower() + ":"):
            out.append("%s: %s" % (name, value))
            done = True
        else:
            out.append(line)
    check(done, "no %s field" % name)
    return "\r\n".join(out) + sep + body


def gov_count(token):
    """How many messages in the government mailbox carry token."""
    p = gov_login()
    try:
        n = 0
        _, listing, _ = p.list()
        for entry in listing:
            _, lines, _ = p.top(int(entry.split()[0]), 40)
            if any(token.encode() in l for l in lines):
                n += 1
        return n
    finally:
        p.quit()


def gov_delete(token):
    p = gov_login()
    try:
        _, listing, _ = p.list()
        for entry in listing:
            num = int(entry.split()[0])
            _, lines, _ = p.top(num, 40)
            if any(token.encode() in l for l in lines):
                p.dele(num)
    finally:
        p.quit()


def submit_retrying(msg, rcpt=None):
    """submit() as a client retries: again after a 451 HTG-MSGID (an
    earlier transaction with the Message-ID not settled yet), 3 times."""
    for _ in range(3):
        got = submit(msg, rcpt=rcpt)
        if not (got[1] == 451 and "HTG-MSGID:" in got[2]):
            return got
    return got


def delivered_once(token):
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "message %s not delivered" % token)
    n = gov_count(token)
    gov_delete(token)
    check(n == 1, "message %s delivered %d times" % (token, n))


# --- finding 3: whole header fields -------------------------------------------

@test
def sec_milter_to_second_address_after_fws_refused():
    """To: <flow>@htpoort.nl + 1,200 bytes of FWS + , evil@example.org: the
    rule reads the whole field (was: a 1,000-byte copy, accepted)."""
    token = uuid.uuid4().hex
    to = "<%s@%s>%s, evil@example.org" % (ENV["HTG_DEMO_FLOW"],
                                          ENV["HTG_HEADER_DOMAIN"], FWS_1200)
    expect_reply(submit(with_header(htg_message(token), "To", to)),
                 550, "5.6.0", "HTG-HDR-TO")


@test
def sec_milter_from_second_address_after_fws_refused():
    token = uuid.uuid4().hex
    frm = "<%s>%s, <ceo@example.org>" % (ENV["HTG_DEMO_SENDER"], FWS_1200)
    expect_reply(submit(with_header(htg_message(token), "From", frm)),
                 550, "5.6.0", "HTG-HDR-FROM")


@test
def sec_milter_second_message_id_after_fws_refused():
    """A second msg-id past 1,000 bytes (was: never seen, never claimed)."""
    token = uuid.uuid4().hex
    mid = "<%s@client.example>%s<second-%s@client.example>" % (token, FWS_1200,
                                                              token)
    expect_reply(submit(with_header(htg_message(token), "Message-ID", mid)),
                 550, "5.7.1", "HTG-MSGID")


@test
def sec_milter_long_to_field_read_whole():
    """A 50 KB To field (one address, folded) is read whole and passes."""
    token = uuid.uuid4().hex
    to = "<%s@%s>%s" % (ENV["HTG_DEMO_FLOW"], ENV["HTG_HEADER_DOMAIN"],
                        "\r\n " * 25000)
    got = submit(with_header(htg_message(token), "To", to))
    check(got[0] == "ok", "90 KB To field: %r" % (got,))
    delivered_once(token)


@test
def sec_milter_field_at_header_size_limit_refused():
    """A 120 KB Subject: with milters Postfix keeps 60,000 bytes of a field
    (cleanup_message.c KLUDGE_HEADER_LIMIT); the milter refuses a field
    that reaches that limit instead of judging a cut copy (HTG-MIME,
    DESIGN 2 "header line or field too long"; was: accepted, cut)."""
    token = uuid.uuid4().hex
    subject = "e2e %s%s" % (token, "\r\n x" * 40000)
    expect_reply(submit(with_header(htg_message(token), "Subject", subject)),
                 554, "5.6.0", "HTG-MIME")


# --- finding 7: the From address owned by the account --------------------------

def other_account():
    """A second account owning one address; returns (user, address)."""
    user = "sec-%s@bedrijf.example" % uuid.uuid4().hex[:10]
    address = "afzender-%s@bedrijf.example" % uuid.uuid4().hex[:10]
    r = ctl("account", "add", user, "--password-stdin", stdin="x" * 16 + "\n")
    check(r.returncode == 0, "account add: %s" % r.stderr)
    r = ctl("address", "add", address, user)
    check(r.returncode == 0, "address add: %s" % r.stderr)
    return user, address


@test
def sec_milter_from_of_other_account_refused():
    """HTG-HDR-FROM (004 table 4, DESIGN 2): the demo account may not put
    another account's address in From (MAIL FROM is its own)."""
    user, address = other_account()
    try:
        token = uuid.uuid4().hex
        msg = with_header(htg_message(token), "From", "<%s>" % address)
        expect_reply(submit(msg), 550, "5.6.0", "HTG-HDR-FROM")
        msg = with_header(htg_message(token), "From",
                          "<nobody-%s@example.org>" % token[:8])
        expect_reply(submit(msg), 550, "5.6.0", "HTG-HDR-FROM")
    finally:
        ctl("account", "del", user)


def milter_pid():
    with open(lab_path("run", "htg-milter.pid")) as f:
        return int(f.read().strip())


def wait_socket(path, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    return False


def restart_milter(*overrides):
    """Restart the lab's htg-milter (started by htg-lab) with -o overrides."""
    sock = lab_path("run", "milter.sock")
    pid = milter_pid()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    if os.path.exists(sock):
        os.unlink(sock)
    argv = [lab_path("prefix", "sbin", "htg-milter"), "-c",
            lab_path("etc", "htg-milter.conf")]
    for o in overrides:
        argv += ["-o", o]
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, env=daemon_env())
    check(wait_socket(sock), "htg-milter did not come back")


@test
def sec_milter_from_relaxed_by_configuration():
    """from_owner_check = no: another account's From address is taken."""
    user, address = other_account()
    token = uuid.uuid4().hex
    try:
        restart_milter("from_owner_check=no")
        msg = with_header(htg_message(token), "From", "<%s>" % address)
        got = submit(msg)
        check(got[0] == "ok", "relaxed: %r" % (got,))
    finally:
        restart_milter()
        ctl("account", "del", user)
    delivered_once(token)
    # and enforced again after the restart
    msg = with_header(htg_message(uuid.uuid4().hex), "From", "<%s>" % address)
    expect_reply(submit(msg), 550, "5.6.0", "HTG-HDR-FROM")


# --- finding 8: a retry of a message never committed ----------------------------

class TestMilter:
    """A Sendmail milter (protocol 6) that tempfails the end of message of
    armed Message-IDs, once each; "hold" waits for release() first."""

    def __init__(self, path):
        self.path = path
        self.armed = {}              # msgid -> "tempfail" | "hold"
        self.released = threading.Event()
        self.connections = 0
        self.lock = threading.Lock()
        if os.path.exists(path):
            os.unlink(path)
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        os.chmod(path, 0o666)
        self.srv.listen(16)
        self.stopping = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def stop(self):
        self.stopping = True
        self.srv.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def accept_loop(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    @staticmethod
    def read_packet(c):
        hdr = b""
        while len(hdr) < 4:
            chunk = c.recv(4 - len(hdr))
            if not chunk:
                return None, None
            hdr += chunk
        n = struct.unpack(">I", hdr)[0]
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                return None, None
            data += chunk
        return data[:1], data[1:]

    @staticmethod
    def send(c, cmd, data=b""):
        c.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def serve(self, c):
        msgid = None
        try:
            while True:
                cmd, data = self.read_packet(c)
                if cmd is None or cmd == b"Q":
                    return
                if cmd == b"O":
                    _, _, proto = struct.unpack(">III", data[:12])
                    # no connect/helo/mail/rcpt/body/unknown/data events
                    want = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x100 | 0x200
                    self.send(c, b"O", struct.pack(">III", 6, 0, proto & want))
                elif cmd in (b"D", b"A"):
                    if cmd == b"A":
                        msgid = None
                elif cmd == b"L":
                    name, _, value = data.partition(b"\0")
                    if name.lower() == b"message-id":
                        msgid = value.rstrip(b"\0").strip().decode("latin-1")
                    self.send(c, b"c")
                elif cmd == b"E":
                    with self.lock:
                        action = self.armed.pop(msgid, None)
                    if action == "hold":
                        self.released.wait(60)
                    if action is not None:
                        self.send(c, b"y", b"451 4.3.0 test milter: failure "
                                  b"after htg-milter's end of message\0")
                    else:
                        self.send(c, b"c")
                    msgid = None
                else:
                    self.send(c, b"c")
        except OSError:
            return
        finally:
            c.close()


def submission_service():
    out = subprocess.run(["postconf", "-c", lab_path("etc", "postfix"), "-M"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if "smtpd_milters=" in line and line.split()[1] == "inet":
            return line.split()[0]
    raise AssertionError("no submission service in master.cf")


def set_milters(value):
    conf = lab_path("etc", "postfix")
    subprocess.run(["postconf", "-c", conf, "-P",
                    "%s/inet/smtpd_milters=%s" % (submission_service(), value)],
                   check=True)
    subprocess.run(["postfix", "-c", conf, "reload"], check=True,
                   capture_output=True)


class SecondMilter:
    """The test milter listed after htg-milter while the block runs."""

    def __enter__(self):
        self.ours = "unix:" + lab_path("run", "milter.sock")
        self.m = TestMilter(lab_path("run", "test-second-milter.sock"))
        set_milters("%s,unix:%s" % (self.ours, self.m.path))
        try:
            # until an smtpd process of the new configuration serves us
            deadline = time.time() + 30
            while time.time() < deadline:
                before = self.m.connections
                s = smtp_submission()
                s.quit()
                if self.m.connections > before:
                    return self.m
                time.sleep(0.2)
            raise AssertionError("Postfix did not take the second milter")
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc):
        set_milters(self.ours)
        # smtpd processes of the old configuration exit after a reload;
        # the test milter serves until three sessions in a row no longer
        # reach it, so that no later test meets it or its absence
        deadline, quiet = time.time() + 30, 0
        while time.time() < deadline and quiet < 3:
            before = self.m.connections
            try:
                smtp_submission().quit()
            except Exception:
                pass
            quiet = quiet + 1 if self.m.connections == before else 0
        self.m.stop()
        return False


def message_id(msg):
    for line in msg.split("\r\n"):
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no Message-ID")


@test
def sec_milter_msgid_retry_after_failure_after_eom_accepted():
    """Postfix fails the message after htg-milter's end of message (a later
    milter tempfails: cleanup removes the queue file, 451): the client's
    retry with the same Message-ID is accepted (was: 550 HTG-MSGID
    forever), and the message arrives once."""
    token = uuid.uuid4().hex
    msg = htg_message(token)
    with SecondMilter() as m:
        m.armed[message_id(msg)] = "tempfail"
        stage, code, text = submit(msg)
        check(code == 451 and "test milter" in text,
              "first try: %s %d %s" % (stage, code, text))
        got = submit_retrying(msg)
        check(got[0] == "ok", "retry: %r" % (got,))
    delivered_once(token)
    # the retry that was accepted is final: a reuse is refused
    expect_reply(submit(msg), 550, "5.7.1", "HTG-MSGID")


@test
def sec_milter_msgid_same_connection_retry_and_reuse():
    """On one connection: 451 after our end of message, the retry (RSET,
    same message) gets 250, the same message again gets 550 HTG-MSGID
    naming the queue id it was accepted as; delivered once."""
    token = uuid.uuid4().hex
    msg = htg_message(token)
    with SecondMilter() as m:
        m.armed[message_id(msg)] = "tempfail"
        s = smtp_submission()
        try:
            replies = []
            for _ in range(3):
                cmd(s, "RSET")
                cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
                cmd(s, "RCPT TO:<%s>" % flow_rcpt())
                code, _ = cmd(s, "DATA")
                check(code == 354, "DATA: %d" % code)
                s.send(msg.encode() + b".\r\n")
                code, text = s.getreply()
                replies.append((code, text.decode()))
        finally:
            s.quit()
    check(replies[0][0] == 451, "first: %r" % (replies[0],))
    check(replies[1][0] == 250, "retry: %r" % (replies[1],))
    qid = replies[1][1].split()[-1]
    check(replies[2][0] == 550 and "HTG-MSGID:" in replies[2][1] and
          qid in replies[2][1], "reuse: %r (queued as %s)" % (replies[2], qid))
    delivered_once(token)


def send_and_drop(msg, rcpt=None):
    """Send the message up to the final dot and close the connection
    without reading the reply to it."""
    s = smtp_submission()
    cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
    cmd(s, "RCPT TO:<%s>" % (rcpt or flow_rcpt()))
    code, _ = cmd(s, "DATA")
    check(code == 354, "DATA: %d" % code)
    s.send(msg.encode() + b".\r\n")
    s.sock.close()
    s.sock = s.file = None


@test
def sec_milter_msgid_connection_lost_before_commit_retry_accepted():
    """The client is gone before Postfix committed (a later milter holds
    the end of message, then fails it): the retry is accepted, once."""
    token = uuid.uuid4().hex
    msg = htg_message(token)
    with SecondMilter() as m:
        m.armed[message_id(msg)] = "hold"
        send_and_drop(msg)
        m.released.set()
        got = submit_retrying(msg)
        check(got[0] == "ok", "retry after a lost connection: %r" % (got,))
    delivered_once(token)


@test
def sec_milter_msgid_connection_lost_after_commit_not_delivered_twice():
    """The client is gone after the final dot but Postfix committed the
    message (smtpd waits for cleanup, not for the client): the message is
    delivered; its retry is refused with the queue id it was accepted as,
    so it is never delivered twice."""
    token = uuid.uuid4().hex
    msg = htg_message(token)
    send_and_drop(msg)
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "the committed message was not delivered")
    stage, code, text = submit_retrying(msg)
    expect_reply((stage, code, text), 550, "5.7.1", "HTG-MSGID")
    check("accepted as queue id" in text, "reply: %r" % text)
    delivered_once(token)


@test
def sec_milter_msgid_reuse_while_first_connection_idles_refused():
    """The first client keeps its connection open after the 250 (its
    transaction has not ended for libmilter): the claim is final as soon
    as the milter sees the commit, so a reuse on another connection is
    refused at once, naming the queue id (not 451 until the first client
    goes away), and the message arrives once."""
    token = uuid.uuid4().hex
    msg = htg_message(token)
    first = smtp_submission()
    try:
        first.sendmail(ENV["HTG_DEMO_SENDER"], [flow_rcpt()], msg.encode())
        t0 = time.time()
        stage, code, text = submit(msg)
        took = time.time() - t0
    finally:
        first.quit()
    expect_reply((stage, code, text), 550, "5.7.1", "HTG-MSGID")
    check("accepted as queue id" in text, "reply: %r" % text)
    check(took < 10, "the reuse waited %.1f s for the first transaction" % took)
    delivered_once(token)


@test
def sec_milter_nul_in_a_header_field_is_not_a_blind_spot():
    """Postfix hands a milter a header value only up to a NUL byte, while a
    receiver may read past it: To: <flow>@htpoort.nl NUL , evil@example.org
    was one address for the milter and two for the government side. The
    submission service's cleanup strips NUL (message_strip_characters), so
    the milter and the receiver read the same field: two addresses,
    refused."""
    token = uuid.uuid4().hex
    to = "<%s@%s>\x00, evil@example.org" % (ENV["HTG_DEMO_FLOW"],
                                           ENV["HTG_HEADER_DOMAIN"])
    expect_reply(submit(with_header(htg_message(token), "To", to)),
                 550, "5.6.0", "HTG-HDR-TO")
