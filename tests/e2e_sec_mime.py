"""Security suite, MIME structure (issue 13 finding 1 and the class).

A conforming receiver (RFC 2046 5.1.1; Dovecot's lib-mail message-parser)
splits a multipart at every line that BEGINS with "--" boundary. A line
with more than white space after the boundary would hide a body part from
every rule, so the real Postfix + htg-milter must refuse it 554 5.6.0
HTG-MIME; the accept side is delivered with the structure the milter saw.
"""

import re

from htglab import test, check, expect_reply, submit
from e2e_milter import corpus, fetch_gov, UUID_NAME


@test
def sec_mime_hidden_part_after_boundary_prefix_refused():
    """The attack of the issue: a 7bit text part holding the line
    "--bXtrailing" and the header of an application/x-msdownload part
    "evil.exe" (accepted as one text part before the fix)."""
    msg, _ = corpus("HTG-MIME/hidden-part-bXtrailing.eml")
    check("--bXtrailing\r\nContent-Type: application/x-msdownload" in msg and
          'filename="evil.exe"' in msg, "not the attack of the issue")
    expect_reply(submit(msg), 554, "5.6.0", "HTG-MIME")


@test
def sec_mime_boundary_prefix_lines_refused():
    """The same line in the preamble, in a part header, after an inner
    close, with text after the white space or after the closing "--"; and
    nested boundaries that are prefixes of one another."""
    for rel in ("HTG-MIME/hidden-part-in-preamble.eml",
                "HTG-MIME/boundary-line-in-part-header.eml",
                "HTG-MIME/boundary-line-after-inner-close.eml",
                "HTG-MIME/delimiter-trailing-text-after-space.eml",
                "HTG-MIME/close-delimiter-trailing-text.eml",
                "HTG-MIME/boundary-inner-prefix-of-outer.eml",
                "HTG-MIME/boundary-overlap-grandparent.eml"):
        msg, _ = corpus(rel)
        got = submit(msg)
        check(got[1] == 554 and got[2].startswith("5.6.0") and "HTG-MIME:" in got[2],
              "%s: %r" % (rel, got))


@test
def sec_mime_padding_and_lookalike_lines_accepted():
    """White space after a delimiter is transport padding; lines that do
    not begin with "--" boundary are body. Delivered with one renamed part
    each, the look-alike lines intact inside the part."""
    msg, token = corpus("accept/boundary-like-body-lines--r1.eml")
    check(submit(msg)[0] == "ok", "look-alike lines refused")
    data = fetch_gov(token)
    check(len(UUID_NAME.findall(data.decode("latin-1"))) == 1, "parts changed")
    for line in (b"--bY", b"-bX", b" --bX", b"--BX", b"--b"):
        check(re.search(rb"(?m)^" + re.escape(line) + rb"\r?$", data) is not None,
              "line %r lost" % line)
    msg, token = corpus("accept/delimiter-trailing-white-space--r1.eml")
    check(submit(msg)[0] == "ok", "padded delimiters refused")
    data = fetch_gov(token)
    check(re.search(rb"(?m)^--bX--\r?$", data) is not None, "close delimiter missing")


@test
def sec_mime_cte_as_the_milter_read_it():
    """Content-Transfer-Encoding (found by the differential fuzzer): one word
    only, and a one-part message leaves with the field as the milter read it."""
    for rel in ("HTG-CTE/cte-word-then-junk.eml", "HTG-CTE/cte-comment-first.eml"):
        msg, _ = corpus(rel)
        expect_reply(submit(msg), 554, "5.6.0", "HTG-CTE")
    msg, token = corpus("accept/cte-upper-case-rewritten--r1.eml")
    check(submit(msg)[0] == "ok", "refused")
    data = fetch_gov(token)
    ctes = re.findall(rb"(?im)^Content-Transfer-Encoding:[^\r\n]*", data)
    check(ctes == [b"Content-Transfer-Encoding: base64"], "CTE fields %r" % ctes)
