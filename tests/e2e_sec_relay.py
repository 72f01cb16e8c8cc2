"""Message-ID claims of a relayed flow (issue 13, finding 8), through the
lab's real Postfix to a government party's SMTP server (govside.py):

- a message whose client never saw the 250 (the connection dropped after
  the final dot) is committed and relayed at once; its retry is refused
  (550 HTG-MSGID naming the queue id) and the party gets it once. Postfix
  relays within milliseconds, before htg-milter's first look at the queue
  (and the lab's milter cannot ask postqueue at all), so the proof comes
  from the commit recipient the milter adds to relayed mail: its delivery
  through the htgcommit pipe (htgctl committed) makes the claim final;
- a message that Postfix never committed (a later milter fails it after
  our end of message) may be retried: accepted, and the party gets it once.
"""

import os
import pwd
import re
import shutil
import tempfile
import time
import uuid

from htglab import (ENV, test, check, ctl, htg_message, expect_reply, flow_rcpt,
                    submit)
from govside import GovServer, make_cert, postqueue, queue_entry
from e2e_sec_milter import (SecondMilter, send_and_drop, message_id,
                            submit_retrying, restart_milter)

FLOW = "relayclaim"


class RelayedFlow:
    """A flow delivered to the government test server, which runs while
    the block does; .server records what it got."""

    def __enter__(self):
        ctl("flow", "add", FLOW, "--deliver-to",
            "ontvanger@" + ENV["HTG_GOV_SMTP_DOMAIN"])
        ctl("grant", ENV["HTG_DEMO_USER"], FLOW)
        self.dir = tempfile.mkdtemp(prefix="htg-sec-relay.")
        self.server = GovServer(int(ENV["HTG_GOV_SMTP_PORT"]),
                                *make_cert(self.dir, "good", signed=True))
        self.server.start()
        self.rcpt = flow_rcpt(FLOW)
        return self

    def message(self, token):
        return htg_message(token, to="%s@%s" % (FLOW, ENV["HTG_HEADER_DOMAIN"]))

    def got(self, token):
        return sum(token in m for s in self.server.sessions
                   for m in s["messages"])

    def wait_got(self, token, n=1, timeout=60):
        deadline, flushed = time.time() + timeout, time.time()
        while self.got(token) < n:
            check(time.time() < deadline, "the party did not get %s" % token)
            if time.time() - flushed > 3:   # a dead-host throttle of an
                postqueue("-f")             # earlier test: lift it
                flushed = time.time()
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.server.stop()
        ctl("revoke", ENV["HTG_DEMO_USER"], FLOW)
        ctl("flow", "del", FLOW)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def queued_for(token_qid, timeout=90):
    """Wait until queue id qid has left Postfix's queue. A Postfix reload
    (SecondMilter) can leave a delivered file to the next queue manager,
    which skips it while the old one finishes ("still being delivered"):
    a flush now and then has it looked at again."""
    deadline, flushed = time.time() + timeout, time.time()
    while queue_entry(token_qid) is not None:
        check(time.time() < deadline, "%s still queued" % token_qid)
        if time.time() - flushed > 5:
            postqueue("-f")
            flushed = time.time()
        time.sleep(0.2)


@test
def sec_relay_msgid_connection_lost_after_commit_not_delivered_twice():
    """The client drops the connection after the final dot; Postfix
    commits and relays the message at once. The retry gets 550 HTG-MSGID
    with the queue id, and the government party gets the message once
    (was: the retry was taken for a retry of a failed message, 250, and
    the party got it twice)."""
    token = uuid.uuid4().hex
    with RelayedFlow() as f:
        msg = f.message(token)
        send_and_drop(msg, rcpt=f.rcpt)
        f.wait_got(token)
        stage, code, text = submit_retrying(msg, rcpt=f.rcpt)
        expect_reply((stage, code, text), 550, "5.7.1", "HTG-MSGID")
        m = re.search(r"accepted as queue id (\w+)", text)
        check(m, "reply: %r" % text)
        queued_for(m.group(1))
        check(f.got(token) == 1, "the party got the message %d times" % f.got(token))
        # the proof came through Postfix: the commit recipient's delivery
        with open(os.path.join(ENV["HTG_LOG_DIR"], "postfix.log"),
                  errors="replace") as log:
            proof = [l for l in log if m.group(1) in l and "htgcommit" in l]
        check(any("status=sent" in l and "claim final" in l for l in proof),
              "no htgcommit delivery of %s: %r" % (m.group(1), proof))


@test
def sec_relay_msgid_retry_after_failure_after_eom_accepted():
    """Postfix fails the relayed message after htg-milter's end of message
    (a later milter tempfails it: no commit, no commit recipient
    delivered): the retry with the same Message-ID is accepted and the
    party gets the message once."""
    token = uuid.uuid4().hex
    with RelayedFlow() as f:
        msg = f.message(token)
        with SecondMilter() as m:
            m.armed[message_id(msg)] = "tempfail"
            stage, code, text = submit_retrying(msg, rcpt=f.rcpt)
            check(code == 451 and "test milter" in text,
                  "first try: %s %d %s" % (stage, code, text))
            got = submit_retrying(msg, rcpt=f.rcpt)
            check(got[0] == "ok", "retry: %r" % (got,))
        qid = got[2].split()[-1]
        f.wait_got(token)
        queued_for(qid)
        check(f.got(token) == 1, "the party got the message %d times" % f.got(token))
        # the accepted retry is final: a reuse is refused
        expect_reply(submit_retrying(msg, rcpt=f.rcpt), 550, "5.7.1", "HTG-MSGID")


FD_PROBE = """#!/bin/sh
exec /usr/bin/python3 -c '
import os
fds = []
for fd in sorted(int(x) for x in os.listdir("/proc/self/fd")):
    try:
        fds.append("%d %s" % (fd, os.readlink("/proc/self/fd/%d" % fd)))
    except OSError:
        pass                      # the listing itself, closed by now
open("OUT.tmp", "w").write("\\n".join(fds) + "\\n")
os.rename("OUT.tmp", "OUT")
'
exit 1
"""


@test
def sec_milter_postqueue_gets_no_descriptor_of_the_milter():
    """The postqueue the milter runs for Message-ID claims (here a probe in
    its place) inherits no descriptor beyond 0-2: not libmilter's listening
    and session sockets, not the log file (was: a hung postqueue kept
    them open until it was killed)."""
    d = tempfile.mkdtemp(prefix="htg-sec-fds.")
    user = pwd.getpwnam(ENV.get("HTG_DAEMON_USER", "htg"))
    out = os.path.join(d, "fds")
    probe = os.path.join(d, "postqueue")
    with open(probe, "w") as f:
        f.write(FD_PROBE.replace("OUT", out))
    os.chmod(probe, 0o755)
    os.chmod(d, 0o755)
    os.chown(d, user.pw_uid, user.pw_gid)
    try:
        restart_milter("postqueue=" + probe)
        got = submit(htg_message(uuid.uuid4().hex))
        check(got[0] == "ok", "submission: %r" % (got,))
        deadline = time.time() + 15
        while not os.path.exists(out):
            check(time.time() < deadline, "the milter never ran postqueue")
            time.sleep(0.1)
        with open(out) as f:
            fds = f.read().split("\n")
        extra = [l for l in fds if l and int(l.split()[0]) > 2]
        check(not extra, "postqueue inherited: %r" % extra)
    finally:
        restart_milter()
        shutil.rmtree(d, ignore_errors=True)
