"""htgctl export | htgctl import (issue 15) on the lab's live directory:
the records its daemons wrote themselves (htg-milter's Message-ID claims
and submit events, Dovecot's LMTP delivery records, deliver, retr and dele
events, a retention copy after DELE) besides the lab's accounts, flows and
grants, copied into a new directory.

- export skips no row (every record the daemons wrote is one import
  takes) and holds every kind the traffic made;
- the copy exports byte for byte what the lab did;
- a second import of the same export changes nothing.
"""

import os
import shlex
import shutil
import subprocess
import uuid

from htglab import (ENV, check, gov_login, htg_message, pop3_delete, submit,
                    test, wait_for_message, wait_until)

MAIL_USER = "htg"


def htgctl(directory, *args, stdin=None):
    """htgctl on directory; output as bytes (audit fields come from mail
    and need not be UTF-8)."""
    cmd = [shlex.split(ENV["HTG_CTL"])[0], "-d", directory]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True)


def lab_export():
    cmd = shlex.split(ENV["HTG_CTL"]) + ["export"]
    r = subprocess.run(cmd, capture_output=True)
    check(r.returncode == 0, "export of the lab: %r" % (r.stderr,))
    check(b"malformed" not in r.stderr, "export skipped rows: %r" % (r.stderr,))
    return r.stdout


def kinds(export):
    return set(line.split(b"\t", 1)[0] for line in export.splitlines())


@test
def export_import_copies_the_lab_directory():
    token = uuid.uuid4().hex
    got = submit(htg_message(token))
    check(got[0] == "ok", "submission: %r" % (got,))
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "the message did not arrive")
    pop3_delete(gov_login, token)
    # the milter writes the submit event when it settles the claim
    exp = wait_until(lambda: (lambda e: e if token.encode() in e and
                              b"\tsubmit\t" in e else None)(lab_export()),
                     "the submit event in the export")
    want = {b"htg-export", b"account-record", b"address", b"flow", b"grant",
            b"audit", b"retained", b"msgid", b"delivery", b"end"}
    check(want <= kinds(exp), "kinds: %r" % (sorted(kinds(exp)),))
    copy = os.path.join(ENV["HTG_LAB_DIR"], "export-%s" % uuid.uuid4().hex[:8])
    try:
        r = htgctl(copy, "init", "--owner", MAIL_USER)
        check(r.returncode == 0, "init: %r" % (r.stderr,))
        r = htgctl(copy, "import", stdin=exp)
        check(r.returncode == 0, "import: %r" % (r.stderr,))
        r = htgctl(copy, "export")
        check(r.returncode == 0 and r.stdout == exp,
              "the copy exports other bytes: %r" % (r.stderr,))
        r = htgctl(copy, "import", stdin=exp)
        check(r.returncode == 0, "second import: %r" % (r.stderr,))
        r = htgctl(copy, "export")
        check(r.returncode == 0 and r.stdout == exp,
              "a second import changed the copy: %r" % (r.stderr,))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
