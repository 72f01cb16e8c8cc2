"""htgctl against the mail user (issue 13, finding 2 and its Low items).

htgctl runs as root (the admin, the retention timer); the directory and the
mail homes belong to the mail user htg, who can plant symbolic links there
and write records into the directory. Each test plays htg with
`runuser -u htg --` and then runs htgctl as root, as the admin would: what
htg planted must never make root read, write, chown or unlink anything htg
could not. Also: names checked on input, Message-IDs from mail escaped in
text output, --json valid UTF-8, init's modes whatever the umask, and the
privilege drop itself (ids of the running process). Registered into
htglab.TESTS; run by tests/e2e.py.
"""

import json
import os
import pwd
import shlex
import shutil
import subprocess
import time
import uuid

from htglab import ENV, test, check, ctl, backend
from e2e_dovecot import Account, find, kept, lmtp_send

MAIL_USER = "htg"


def as_htg(*cmd):
    """Run cmd as the mail user: what htg itself can do."""
    r = subprocess.run(["runuser", "-u", MAIL_USER, "--"] + list(cmd),
                       capture_output=True, text=True)
    check(r.returncode == 0, "as htg: %s: %s" % (" ".join(cmd), r.stderr))
    return r


def htgctl_bin():
    return shlex.split(ENV["HTG_CTL"])[0]


def ctl_bytes(*args, directory=None, stdin=None):
    """htgctl as root; output as bytes (it may not be UTF-8)."""
    cmd = shlex.split(ENV["HTG_CTL"])
    if directory is not None:
        cmd = [cmd[0], "-d", directory]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True)


def scratch(name):
    """A fresh path in the lab directory (traversable by htg)."""
    path = os.path.join(ENV["HTG_LAB_DIR"], "sec-%s-%s" % (name,
                                                           uuid.uuid4().hex[:8]))
    return path


def root_secret(tag):
    """A file only root may read, outside the mail root."""
    path = scratch("secret")
    with open(path, "w") as f:
        f.write("ROOT-ONLY-%s\n" % tag)
    os.chmod(path, 0o600)
    return path


def mailbox_holds(acct, needle):
    for sub in ("new", "cur", "tmp"):
        d = acct.mail_dir("Maildir", sub)
        for n in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                if needle.encode() in f.read():
                    return True
    return False


def delete_one(acct, msgid):
    p = acct.login()
    p.dele(find(p, msgid))
    r = p.quit()
    check(r.startswith(b"+OK"), "QUIT: %r" % r)


@test
def sec_htgctl_restore_refuses_a_symlinked_copy():
    """htg replaces a kept copy by a link to a root-only file: restore
    must not copy that file into the mailbox (it was: open() as root)."""
    a = Account()
    msgid = a.deliver()
    delete_one(a, msgid)
    k = kept(a)
    check(len(k) == 1, "retention list: %r" % k)
    tag = uuid.uuid4().hex
    secret = root_secret(tag)
    try:
        as_htg("ln", "-sfn", secret, k[0]["path"])
        r = ctl("retention", "restore", a.user, msgid)
        check(not mailbox_holds(a, "ROOT-ONLY-" + tag),
              "a root-only file was restored into the mailbox")
        check(r.returncode == 1 and "symbolic link" in r.stderr,
              "restore through a link: %r" % r)
        check(len(kept(a)) == 1, "the record went although nothing was restored")
    finally:
        os.unlink(secret)


@test
def sec_htgctl_restore_refuses_an_inbox_outside_the_mail_root():
    """A forged record whose inbox is a root directory: nothing is written
    there (as htg it could not be anyway; the mail root check says why)."""
    a = Account()
    target = scratch("inbox")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(target, sub))
    tag = uuid.uuid4().hex[:10]
    copy = a.mail_dir("htg-retained", "forged-%s.eml" % tag)
    as_htg("mkdir", "-p", a.mail_dir("htg-retained"))
    as_htg("sh", "-c", "echo 'Message-ID: <f%s@x>' > %s" % (tag, shlex.quote(copy)))
    forge_record(a, "forged-" + tag, "<f%s@x>" % tag, copy, target, deadline=2**40)
    try:
        r = ctl("retention", "restore", a.user, "forged-" + tag)
        check(r.returncode == 1 and "not under the mail root" in r.stderr,
              "restore into %s: %r" % (target, r))
        check(os.listdir(os.path.join(target, "new")) == [] and
              os.listdir(os.path.join(target, "tmp")) == [],
              "a message was written outside the mail root")
    finally:
        shutil.rmtree(target)


@test
def sec_htgctl_hygiene_retain_refuses_a_symlinked_folder():
    """htg makes ~/htg-retained a link to a root directory: hygiene
    --retain must neither chown it (it did: chown() as root follows the
    link) nor link a message into it."""
    a = Account()
    msgid = a.deliver()
    p = a.login()
    p.retr(find(p, msgid))
    p.quit()
    target = scratch("retained")
    os.mkdir(target, 0o755)
    try:
        as_htg("ln", "-sfn", target, a.mail_dir("htg-retained"))
        r = ctl("hygiene", a.user, "--json", "--days", "7", "--retain",
                "--now", "@%d" % (int(time.time()) + 8 * 86400))
        st = os.stat(target)
        check(st.st_uid == 0 and st.st_gid == 0,
              "the root directory behind the link was chowned to %d:%d"
              % (st.st_uid, st.st_gid))
        check(os.listdir(target) == [], "a message was linked into it")
        check(r.returncode == 1, "hygiene --retain through a link: %r" % r)
        p = a.login()
        check(find(p, msgid) is not None, "the message left the inbox")
        p.quit()
    finally:
        os.unlink(a.mail_dir("htg-retained"))
        shutil.rmtree(target, ignore_errors=True)


@test
def sec_htgctl_symlinked_lock_mdb_is_not_written():
    """htg replaces lock.mdb by a link to a root file: htgctl as root must
    not write LMDB's lock header into it (a 31-byte file became 65,536)."""
    d = scratch("dir")
    subprocess.run(["install", "-d", "-o", MAIL_USER, "-g", MAIL_USER,
                    "-m", "2770", d], check=True)
    victim = scratch("victim")
    content = b"root's file of thirty-one bytes"
    with open(victim, "wb") as f:
        f.write(content)
    os.chmod(victim, 0o644)
    try:
        as_htg(htgctl_bin(), "-d", d, "account", "add", "x@bedrijf.nl")
        as_htg("ln", "-sf", victim, os.path.join(d, "lock.mdb"))
        r = ctl_bytes("account", "list", directory=d)
        with open(victim, "rb") as f:
            now = f.read()
        check(now == content and os.stat(victim).st_uid == 0,
              "root's file was written through lock.mdb: %d bytes"
              % len(now))
        check(r.returncode == 1, "htgctl opened the directory: %r" % r)
    finally:
        os.unlink(victim)
        shutil.rmtree(d)


def forge_record(acct, rid, msgid, path, restore_to, deadline):
    """Write a retention record straight into the directory, as htg can
    (the group may write it): mdb_load, key and value as htg-dir writes
    them (dirp_retained_encode)."""
    key = "%s\t%s" % (acct.user, rid)
    val = "%d\t%d\t%d\t%d\t%s\t%s\t%s" % (0, deadline, 10, 1, msgid, path,
                                           restore_to)

    def esc(s):
        return "".join("\\%02x" % ord(c) if c in "\\\t" else c for c in s)

    if backend() == "postgresql":
        # htg's credentials can write the table straight: psql as htg
        def lit(s):
            return "'" + str(s).replace("'", "''") + "'"
        q = ("INSERT INTO htg.retention (account, id, retained, deadline, "
             "message_id, size, uid, path, restore_to) VALUES (%s)" %
             ", ".join(lit(x) for x in (acct.user, rid, 0, deadline, msgid,
                                         10, 1, path, restore_to)))
        r = subprocess.run(["runuser", "-u", MAIL_USER, "--", "psql", "-qX",
                            ENV["HTG_PG_URI"], "-c", q],
                           capture_output=True, text=True)
        check(r.returncode == 0, "psql: %r" % r)
        check(any(x["id"] == rid for x in kept(acct)), "forged record not listed")
        return
    data = ("VERSION=3\nformat=print\ntype=btree\nHEADER=END\n %s\n %s\n"
            "DATA=END\n" % (esc(key), esc(val)))
    r = subprocess.run(["runuser", "-u", MAIL_USER, "--", "mdb_load", "-s",
                        "retention", ENV["HTG_DIRECTORY"]], input=data,
                       capture_output=True, text=True)
    check(r.returncode == 0, "mdb_load: %r" % r)
    check(any(x["id"] == rid for x in kept(acct)), "forged record not listed")


@test
def sec_htgctl_purge_leaves_files_outside_the_mail_root():
    """Records name the file purge unlinks; htg can write records. A path
    outside the mail root, or through a link below it, loses its record
    but never its file (as root, purge unlinked it)."""
    a = Account()
    victim = scratch("victim")
    with open(victim, "w") as f:
        f.write("root's\n")
    os.chmod(victim, 0o644)
    outside = scratch("outside")
    os.mkdir(outside, 0o755)
    behind = os.path.join(outside, "behind")
    with open(behind, "w") as f:
        f.write("root's too\n")
    as_htg("mkdir", "-p", a.mail_dir())
    as_htg("ln", "-sfn", outside, a.mail_dir("link"))
    try:
        forge_record(a, "out1", "<o1@x>", victim, "", deadline=1)
        forge_record(a, "out2", "<o2@x>", a.mail_dir("..", "..", os.path.basename(victim)),
                     "", deadline=1)
        forge_record(a, "out3", "<o3@x>", a.mail_dir("link", "behind"), "",
                     deadline=1)
        r = ctl("retention", "purge", a.user, "--now", "@1000")
        check(os.path.exists(victim), "purge unlinked a file outside the mail root")
        check(os.path.exists(behind), "purge unlinked a file behind a link")
        check(r.returncode == 0 and "purged 3 " in r.stdout,
              "purge: %r" % r)
        check("not under the mail root" in r.stderr and
              "symbolic link" in r.stderr, "no warning: %r" % r.stderr)
        check(kept(a) == [], "forged records not forgotten: %r" % kept(a))
    finally:
        if os.path.exists(victim):
            os.unlink(victim)
        os.unlink(a.mail_dir("link"))
        shutil.rmtree(outside)


@test
def sec_htgctl_init_modes_whatever_the_umask():
    """init as root: the directory is htg's, 2770; its files htg's, 0660;
    with umask 077 and 000 alike (what the readers need: Dovecot's auth
    process reaches it through the group)."""
    htg = pwd.getpwnam(MAIL_USER)
    for mask in (0o077, 0o000):
        d = scratch("init")
        try:
            r = subprocess.run(shlex.split(htgctl_bin()) +
                               ["-d", d, "init", "--owner", MAIL_USER],
                               capture_output=True, text=True,
                               preexec_fn=lambda m=mask: os.umask(m))
            check(r.returncode == 0, "init (umask %03o): %r" % (mask, r))
            r = subprocess.run(shlex.split(htgctl_bin()) +
                               ["-d", d, "account", "add", "u@bedrijf.nl"],
                               capture_output=True, text=True,
                               preexec_fn=lambda m=mask: os.umask(m))
            check(r.returncode == 0, "account add (umask %03o): %r" % (mask, r))
            st = os.stat(d)
            check(st.st_uid == htg.pw_uid and st.st_gid == htg.pw_gid and
                  st.st_mode & 0o7777 == 0o2770,
                  "umask %03o: directory %o %d:%d" % (mask, st.st_mode & 0o7777,
                                                      st.st_uid, st.st_gid))
            for n in ("data.mdb", "lock.mdb"):
                st = os.stat(os.path.join(d, n))
                check(st.st_uid == htg.pw_uid and st.st_gid == htg.pw_gid and
                      st.st_mode & 0o7777 == 0o660,
                      "umask %03o: %s %o %d:%d" % (mask, n, st.st_mode & 0o7777,
                                                   st.st_uid, st.st_gid))
        finally:
            shutil.rmtree(d, ignore_errors=True)


@test
def sec_htgctl_drops_root_for_good():
    """While htgctl works (import, waiting on stdin with the directory
    open), all its user and group ids are the directory owner's, its
    groups the owner's, and it holds no capability."""
    htg = pwd.getpwnam(MAIL_USER)
    groups = sorted(os.getgrouplist(MAIL_USER, htg.pw_gid))
    cmd = shlex.split(ENV["HTG_CTL"])
    p = subprocess.Popen(cmd + ["import"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        opened = False
        while time.time() < deadline and not opened:
            try:
                fds = os.listdir("/proc/%d/fd" % p.pid)
                # LMDB: its data file; PostgreSQL: a connection
                opened = any(os.readlink("/proc/%d/fd/%s" % (p.pid, fd))
                             .endswith("/data.mdb") or
                             (backend() == "postgresql" and
                              os.readlink("/proc/%d/fd/%s" % (p.pid, fd))
                              .startswith("socket:")) for fd in fds)
            except OSError:
                pass
            if not opened:
                time.sleep(0.05)
        check(opened, "htgctl import never opened the directory")
        with open("/proc/%d/status" % p.pid) as f:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in f
                          if ":\t" in line)
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    uids = status["Uid"].split()
    gids = status["Gid"].split()
    check(uids == [str(htg.pw_uid)] * 4,
          "uids (real, effective, saved, fs): %r" % uids)
    check(gids == [str(htg.pw_gid)] * 4, "gids: %r" % gids)
    check(sorted(int(g) for g in status["Groups"].split()) == groups,
          "groups: %r, want %r" % (status["Groups"], groups))
    check(int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0,
          "capabilities: %r %r" % (status["CapEff"], status["CapPrm"]))


@test
def sec_htgctl_root_owned_directory_is_refused():
    """As root, htgctl would have to stay root to use a directory that root
    owns: refused, with the way out named."""
    d = scratch("rootdir")
    os.mkdir(d, 0o755)
    try:
        r = ctl_bytes("account", "add", "x@bedrijf.nl", directory=d)
        check(r.returncode == 1 and b"owned by root" in r.stderr and
              b"htgctl init" in r.stderr, "root-owned directory: %r" % r)
        check(os.listdir(d) == [], "files created: %r" % os.listdir(d))
    finally:
        shutil.rmtree(d)


@test
def sec_htgctl_refuses_names_that_leave_the_mail_root():
    """Account names become mail homes (mail_home = <mail root>/%u):
    '../../etc/x@y.nl' and 'x@y.nl;rm' are refused with exit 1, and so are
    flows with quotes or 8-bit bytes."""
    for name in ("../../etc/x@y.nl", "x@y.nl;rm", "etc/passwd@y.nl",
                 '"a/../b"@y.nl'):
        r = ctl("account", "add", name)
        check(r.returncode == 1 and "invalid account name" in r.stderr,
              "account %r: %r" % (name, r))
    r = ctl("account", "list", "--json")
    check(all("/" not in a["user"] and ";" not in a["user"]
              for a in json.loads(r.stdout)), "a bad name got in")
    for flow in ('d"ms', "d'ms", "dms\u00e9"):
        r = ctl("flow", "add", flow, "--deliver-to", "dms@overheid.nl")
        check(r.returncode == 1 and "invalid flow name" in r.stderr,
              "flow %r: %r" % (flow, r))


@test
def sec_htgctl_message_ids_from_mail_are_escaped():
    """A Message-ID from inbound mail with a terminal escape and bytes that
    are not UTF-8: the text audit shows no control byte, --json is valid
    UTF-8 and valid JSON."""
    a = Account()
    tag = uuid.uuid4().hex[:10]
    msgid = b"<\x1b]0;pwned\x07\x1b[2J\xff\xc3(" + tag.encode() + b"@x>"
    msg = (b"From: <dms-inbox@douane.overheid.nl>\r\nTo: <" +
           a.address.encode() + b">\r\nSubject: x\r\nMessage-ID: " + msgid +
           b"\r\n\r\nbody\r\n")
    lmtp_send(a.address, msg)
    r = ctl_bytes("audit", a.user)
    check(r.returncode == 0, "audit: %r" % r)
    check(tag.encode() in r.stdout, "event not listed: %r" % r.stdout)
    check(not any(c < 0x20 and c not in (0x09, 0x0a) or c == 0x7f
                  for c in r.stdout), "control bytes in text: %r" % r.stdout)
    check(b"\\x1b]0;pwned\\x07" in r.stdout, "not escaped as \\xNN: %r" % r.stdout)
    r = ctl_bytes("audit", a.user, "--json")
    check(r.returncode == 0, "audit --json: %r" % r)
    try:
        ev = json.loads(r.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        check(False, "--json is not UTF-8 JSON: %s: %r" % (e, r.stdout))
    check(ev[0]["message_id"] == "<\x1b]0;pwned\x07\x1b[2J\ufffd\ufffd(" + tag
          + "@x>", "message_id: %r" % ev[0]["message_id"])
