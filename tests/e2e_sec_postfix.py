#!/usr/bin/env python3
"""End-to-end: who may talk to our sockets, and who may submit (issue 13,
finding 6), through the lab's real Postfix.

- the milter, policy and socketmap sockets are 0660 group postfix, whatever
  the umask: another local user (nobody) gets EACCES, Postfix still works;
- local submission (sendmail/postdrop) is refused, for root too, while
  Postfix's own DSNs still arrive;
- the inbound service takes mail only from the government hosts
  (mynetworks: the lab's address alone; on an IPv4 lab a client on
  127.0.0.2 is a stranger, an IPv6 lab skips that part) and only for
  the directory's addresses (no relay, no flows);
- delivery to a government destination is TLS 1.3 with a verified
  certificate: a server without STARTTLS, with a certificate of another CA
  or with another name gets nothing (the message is deferred), the lab CA's
  certificate for the configured name gets it.
"""

import grp
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import uuid

from htglab import (ENV, TIMEOUT, test, check, ctl, cmd, flow_rcpt,
                    htg_message, submit, inbound_send, wait_for_message,
                    pop3_delete, demo_login, host_is_ipv6, skip)
from govside import GovServer, postqueue, queue_entry, make_cert

SOCKETS = ("milter.sock", "policy.sock", "socketmap.sock")


def lab(*parts):
    return os.path.join(ENV["HTG_LAB_DIR"], *parts)


def connect_as(path, *setpriv):
    """Connect to a unix socket as another user (setpriv arguments):
    'ok' or the errno name."""
    probe = ("import errno, socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n"
             "    s.connect(sys.argv[1]); print('ok')\n"
             "except OSError as e:\n"
             "    print(errno.errorcode.get(e.errno, str(e.errno)))\n")
    # /usr/bin/python3: the system one, which any user may run
    r = subprocess.run(["setpriv"] + list(setpriv) + ["/usr/bin/python3", "-c", probe, path],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return r.stdout.strip() or r.stderr.strip()


NOBODY = ("--reuid=nobody", "--regid=nogroup", "--clear-groups")
POSTFIX_GROUP = ("--reuid=nobody", "--regid=postfix", "--clear-groups")


def valid_submission_delivered():
    token = uuid.uuid4().hex
    got = submit(htg_message(token))
    check(got[0] == "ok", "a valid submission was refused: %r" % (got,))
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "a valid submission was not delivered")


@test
def sec_sockets_closed_to_other_local_users():
    """Finding 6: the lab's milter, policy and socketmap sockets are 0660
    group postfix; nobody gets EACCES, a process of group postfix connects;
    Postfix (user postfix) still submits and delivers through them."""
    postfix_gid = grp.getgrnam("postfix").gr_gid
    for name in SOCKETS:
        path = lab("run", name)
        st = os.stat(path)
        check(stat.S_ISSOCK(st.st_mode), "%s is not a socket" % path)
        check(st.st_mode & 0o007 == 0 and st.st_mode & 0o060 == 0o060,
              "%s has mode %04o" % (name, st.st_mode & 0o7777))
        check(st.st_gid == postfix_gid, "%s: group %d, not postfix" % (name, st.st_gid))
        got = connect_as(path, *NOBODY)
        check(got == "EACCES", "nobody connecting to %s: %s" % (name, got))
        got = connect_as(path, *POSTFIX_GROUP)
        check(got == "ok", "group postfix connecting to %s: %s" % (name, got))
    st = os.stat(lab("run"))
    check(st.st_mode & 0o007 == 0, "run directory has mode %04o" % (st.st_mode & 0o7777))
    valid_submission_delivered()


def start_daemon(argv, sock, umask=0):
    """Run argv in the foreground under umask until sock appears; the
    process (or None when it exited) and its output."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: os.umask(umask))
    deadline = time.time() + 15
    while not os.path.exists(sock):
        if proc.poll() is not None:
            return None, proc.stdout.read().decode(errors="replace")
        check(time.time() < deadline, "%s did not create %s" % (argv[0], sock))
        time.sleep(0.05)
    return proc, ""


def stop_daemon(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@test
def sec_sockets_mode_whatever_the_umask():
    """A second htg-policyd and htg-milter started as root under umask 000
    (as a careless init script would) still make 0660 htg:postfix sockets
    that nobody cannot use; socket_mode=0666 is refused at start."""
    postfix_gid = grp.getgrnam("postfix").gr_gid
    d = tempfile.mkdtemp(prefix="htg-sec-sock.")
    os.chmod(d, 0o755)
    policyd = [lab("prefix", "sbin", "htg-policyd"), "-f", "-c",
               lab("etc", "htg-policyd.conf"), "-o", "pid_file=",
               "-o", "log_file=" + os.path.join(d, "policyd.log")]
    milter = [lab("prefix", "sbin", "htg-milter"), "-f", "-c",
              lab("etc", "htg-milter.conf"), "-o", "pid_file=",
              "-o", "directory=none", "-o", "temp_dir=" + d,
              "-o", "log_file=" + os.path.join(d, "milter.log")]
    try:
        for what, argv, sock in (
                ("policyd", policyd + ["-o", "policy_socket=%s/p.sock" % d,
                                       "-o", "socketmap_socket=%s/m.sock" % d],
                 os.path.join(d, "m.sock")),
                ("milter", milter + ["-o", "socket=unix:%s/x.sock" % d],
                 os.path.join(d, "x.sock"))):
            proc, out = start_daemon(argv, sock)
            check(proc is not None, "%s did not start: %s" % (what, out))
            try:
                st = os.stat(sock)
                check(st.st_mode & 0o7777 == 0o660 and st.st_gid == postfix_gid,
                      "%s socket under umask 000: mode %04o gid %d"
                      % (what, st.st_mode & 0o7777, st.st_gid))
                got = connect_as(sock, *NOBODY)
                check(got == "EACCES", "nobody connecting to the %s: %s" % (what, got))
            finally:
                stop_daemon(proc)
            # a mode that opens the socket to everyone is refused
            bad = argv + ["-o", "socket_mode=0666"]
            if os.path.exists(sock):
                os.unlink(sock)
            proc, out = start_daemon(bad, sock)
            if proc is not None:
                stop_daemon(proc)
            check(proc is None, "%s started with socket_mode=0666" % what)
            logs = out
            for log in ("policyd.log", "milter.log"):
                if os.path.exists(os.path.join(d, log)):
                    logs += open(os.path.join(d, log), errors="replace").read()
            check("socket_mode" in logs, "%s: no word about socket_mode: %r"
                  % (what, logs[-300:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- local submission ---------------------------------------------------------

def sendmail_in_lab(setpriv, rcpt, message):
    """Postfix's sendmail against the lab's Postfix, as setpriv's user.
    Non-root users may name a config directory other than /etc/postfix only
    when /etc/postfix/main.cf allows it (alternate_config_directories);
    this machine has none and the lab never touches /etc/postfix. So the
    lab's directory is bind-mounted over /etc/postfix in a private mount
    namespace that ends with the command."""
    script = 'mount --bind "$1" /etc/postfix && shift && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
            "sh", ENV["HTG_POSTFIX_CONFIG"]]
    if setpriv:
        argv += ["setpriv"] + list(setpriv)
    argv += ["/usr/sbin/sendmail", "-f", ENV["HTG_DEMO_SENDER"], rcpt]
    return subprocess.run(argv, input=message, capture_output=True, text=True,
                          timeout=TIMEOUT)


def queued_with(token):
    r = subprocess.run(["postqueue", "-c", ENV["HTG_POSTFIX_CONFIG"], "-j"],
                       capture_output=True, text=True)
    ids = [json.loads(l)["queue_id"] for l in r.stdout.splitlines() if l.strip()]
    for qid in ids:
        c = subprocess.run(["postcat", "-c", ENV["HTG_POSTFIX_CONFIG"], "-q", qid],
                           capture_output=True, text=True, errors="replace")
        if token in c.stdout:
            return qid
    return None


@test
def sec_local_submission_refused():
    """Finding 6: sendmail as an unprivileged user (nobody) and as root
    is refused (authorized_submit_users is empty): a message to a flow
    would otherwise reach the government side with no HTG rule checked
    and any sender. Postfix's own DSNs (bounce daemon -> cleanup, not
    pickup) still arrive."""
    token = uuid.uuid4().hex
    msg = ("From: <iemand@elders.example>\nTo: <%s@%s>\nSubject: lokaal %s\n\n"
           "ongecontroleerd %s\n") % (ENV["HTG_DEMO_FLOW"], ENV["HTG_HEADER_DOMAIN"],
                                      token, token)
    for who, setpriv in (("nobody", NOBODY), ("root", None)):
        r = sendmail_in_lab(setpriv, flow_rcpt(), msg)
        check(r.returncode != 0 and "not allowed to submit mail" in r.stderr,
              "sendmail as %s: exit %d, %r" % (who, r.returncode, r.stderr.strip()))
    check(queued_with(token) is None, "the local message is in the queue")
    # a DSN of Postfix's own: SUCCESS notice for a submission, to the sender
    dsn_token = uuid.uuid4().hex
    s = smtplib.SMTP(ENV["HTG_HOST"], int(ENV["HTG_SUBMISSION_PORT"]), timeout=TIMEOUT)
    try:
        s.ehlo("client.example")
        s.starttls(context=ssl.create_default_context(cafile=ENV["HTG_CA_FILE"]))
        s.ehlo("client.example")
        s.user, s.password = ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"]
        s.auth("PLAIN", s.auth_plain)
        code, text = cmd(s, "MAIL FROM:<%s> ENVID=%s RET=HDRS"
                         % (ENV["HTG_DEMO_SENDER"], dsn_token))
        check(code == 250, "MAIL: %d %s" % (code, text))
        code, text = cmd(s, "RCPT TO:<%s> NOTIFY=SUCCESS" % flow_rcpt())
        check(code == 250, "RCPT: %d %s" % (code, text))
        code, text = s.data(htg_message(dsn_token + "x").encode())
        check(code == 250, "DATA: %d %s" % (code, text))
    finally:
        s.quit()
    check(wait_for_message(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"], dsn_token),
          "no success DSN in the sender's mailbox")
    pop3_delete(demo_login, dsn_token)


# --- the inbound service ---------------------------------------------------------

def inbound_session(source, rcpts):
    """MAIL + one RCPT per address on the inbound service from source: the
    replies [(code, text)] of MAIL and each RCPT (a refusal before RCPT
    repeats for the rest)."""
    s = smtplib.SMTP(ENV["HTG_HOST"], int(ENV["HTG_INBOUND_PORT"]), timeout=TIMEOUT,
                     source_address=(source, 0))
    try:
        s.ehlo("mta.overheid.example")
        replies = [cmd(s, "MAIL FROM:<dms-inbox@douane.overheid.nl>")]
        for r in rcpts:
            replies.append(cmd(s, "RCPT TO:<%s>" % r))
        return replies
    finally:
        try:
            s.quit()
        except Exception:
            pass


@test
def sec_inbound_only_from_government_hosts():
    """Finding 6: a client that is not a government host (127.0.0.2; the
    lab's government network is 127.0.0.1/32) is refused at RCPT, even
    for an account's own address; a government host gets 250 for it and
    its answer is delivered."""
    if host_is_ipv6():
        skip("needs a second loopback address beside the government host; "
             "IPv6 loopback is ::1 alone (run it on an IPv4 lab)")
    r = inbound_session("127.0.0.2", [ENV["HTG_DEMO_LOGICAL"]])
    code, text = r[-1]
    check(code == 554 and text.startswith("5.7.1") and "Client host rejected" in text,
          "stranger's RCPT: %d %s" % (code, text))
    r = inbound_session(ENV["HTG_HOST"], [ENV["HTG_DEMO_LOGICAL"]])
    check(r[-1][0] == 250, "government host's RCPT: %r" % (r[-1],))
    token = uuid.uuid4().hex
    inbound_send(token, ENV["HTG_DEMO_LOGICAL"])
    check(wait_for_message(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"], token),
          "the government's answer was not delivered")
    pop3_delete(demo_login, token)


@test
def sec_inbound_is_no_relay():
    """Finding 6: a government host cannot relay through the gateway: a
    recipient the lab can route (the TLS government destination) or any
    other outside domain is 554 5.7.1 Relay access denied; a flow address
    is refused (flows are for the submission service)."""
    outside = "iemand@" + ENV["HTG_GOV_SMTP_DOMAIN"]
    r = inbound_session(ENV["HTG_HOST"], [outside, "victim@example.org", flow_rcpt()])
    for (code, text), what in zip(r[1:], (outside, "victim@example.org")):
        check(code == 554 and text.startswith("5.7.1") and "Relay access denied" in text,
              "relay to %s: %d %s" % (what, code, text))
    code, text = r[3]
    check(code == 550 and text.startswith("5.7.1"), "flow address: %d %s" % (code, text))


# --- TLS to the government side ----------------------------------------------------

def attempt(server, qid, reason):
    """Flush the queue (also lifts the destination's dead-host throttle)
    until server has seen a session and qid is deferred with reason."""
    postqueue("-f")
    deadline = time.time() + 60
    while True:
        e = queue_entry(qid)
        why = " ".join(r.get("delay_reason", "") for r in e["recipients"]) if e else ""
        if server.sessions and e and e["queue_name"] == "deferred" and \
                re.search(reason, why) and "temporarily suspended" not in why:
            return why
        check(not any(s["messages"] for s in server.sessions),
              "the server got the message (%s expected): %r" % (reason, server.sessions))
        check(time.time() < deadline, "no deferral (%s) of %s: %r, %d sessions"
              % (reason, qid, e, len(server.sessions)))
        if e and e["queue_name"] == "deferred" and "temporarily suspended" in why:
            postqueue("-f")
        time.sleep(0.3)


@test
def sec_smtp_tls_to_government_verified():
    """Finding 6: a flow's message to a government destination (the lab
    routes HTG_GOV_SMTP_DOMAIN to a test server on HTG_GOV_SMTP_PORT,
    smtp_tls_policy: secure, match=that name, TLS 1.3) is deferred by a
    server without STARTTLS, by one whose certificate another CA signed
    and by one with the lab CA's certificate for another name; none of
    them gets the message, nor one that offers TLS 1.2 at most. A server
    with the lab CA's certificate for the name gets it, over TLS 1.3."""
    port = int(ENV["HTG_GOV_SMTP_PORT"])
    flow = "tlsproef"
    ctl("flow", "add", flow, "--deliver-to", "ontvanger@" + ENV["HTG_GOV_SMTP_DOMAIN"])
    ctl("grant", ENV["HTG_DEMO_USER"], flow)
    d = tempfile.mkdtemp(prefix="htg-sec-tls.")
    qid = None
    logf = os.path.join(ENV["HTG_LOG_DIR"], "postfix.log")
    log_start = os.path.getsize(logf)
    try:
        other_ca = make_cert(d, "other-ca", signed=False)
        good = make_cert(d, "good", signed=True)
        wrong_name = (lab("ssl", "server.pem"), lab("ssl", "server.key"))
        token = uuid.uuid4().hex
        server = GovServer(port)
        server.start()
        try:
            got = submit(htg_message(token, to="%s@%s" % (flow, ENV["HTG_HEADER_DOMAIN"])),
                         rcpt=flow_rcpt(flow))
            check(got[0] == "ok", "submission refused: %r" % (got,))
            qid = re.search(r"queued as ([0-9A-Za-z]+)", got[2]).group(1)
            attempt(server, qid, "TLS is required, but was not offered")
        finally:
            server.stop()
        check(all(not s["messages"] for s in server.sessions),
              "a server without STARTTLS got the message in clear")
        for what, (crt, key), tls12, reason in (
                ("another CA", other_ca, False, "Server certificate not verified"),
                ("another name", wrong_name, False, "Server certificate not verified"),
                ("TLS 1.2 at most", good, True, "Cannot start TLS")):
            server = GovServer(port, crt, key, max_tls12=tls12)
            server.start()
            try:
                attempt(server, qid, reason)
            finally:
                server.stop()
            check(all(not s["messages"] for s in server.sessions),
                  "a server with a certificate for %s got the message" % what)
        server = GovServer(port, *good)
        server.start()
        try:
            postqueue("-f")
            deadline = time.time() + 60
            while not any(s["messages"] for s in server.sessions):
                check(time.time() < deadline, "not delivered to the verified server: "
                      "%r, sessions %r" % (queue_entry(qid), server.sessions))
                time.sleep(0.2)
        finally:
            server.stop()
        sess = [s for s in server.sessions if s["messages"]][0]
        check(sess["tls"] == "TLSv1.3", "delivered over %r" % sess["tls"])
        check(token in sess["messages"][0], "another message was delivered")
        deadline = time.time() + 10
        while queue_entry(qid) is not None and time.time() < deadline:
            time.sleep(0.2)
        check(queue_entry(qid) is None, "still queued after delivery")
        qid = None
        with open(logf, errors="replace") as f:
            f.seek(log_start)
            log = f.read()
        peer = re.escape("%s[%s]:%d" % (ENV["HTG_HOST"], ENV["HTG_HOST"], port))
        for why in (r"certificate verification failed for %s: self-signed" % peer,
                    r"certificate verification failed for %s: num=62:hostname "
                    r"mismatch" % peer,
                    r"Verified TLS connection established to %s: TLSv1\.3" % peer):
            check(re.search(why, log), "not in the log: %s" % why)
    finally:
        if qid is not None:
            subprocess.run(["postsuper", "-c", ENV["HTG_POSTFIX_CONFIG"], "-d", qid],
                           capture_output=True)
        ctl("revoke", ENV["HTG_DEMO_USER"], flow)
        ctl("flow", "del", flow)
        shutil.rmtree(d, ignore_errors=True)
