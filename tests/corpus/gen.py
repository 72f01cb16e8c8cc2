#!/usr/bin/env python3
"""Generate the message corpus of the HTG message rules.

usage: tests/corpus/gen.py [OUTDIR]   (default: the directory of this script)

Writes OUTDIR/<expect>/<name>.eml, where <expect> is "accept" or the rule id
that must refuse the message (DESIGN.md section 2). Accepted messages carry
their expected number of renamed parts (HTG-FILENAME) in the name:
"<name>--r<N>.eml". tests/test-corpus.sh checks every file with the real
lib/htg-check code, whole and in small chunks. The files are committed;
rerun this script after changing it and commit the result.

Envelope of every message: RCPT TO:<dms@msa-smtp.htpoort.nl>, production
(To: <dms@htpoort.nl>).
"""

import base64
import os
import random
import shutil
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
FROM = "From: Ik <ik@mijnbedrijf.nl>\r\n"
TO = "To: <dms@htpoort.nl>\r\n"
COUNT = {}
RND = random.Random(2026)  # the corpus is reproducible byte for byte


def head(msgid=True, extra=""):
    h = FROM + TO + "Subject: corpus\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
    if msgid:
        h += "Message-ID: <corpus-%d@mijnbedrijf.nl>\r\n" % sum(COUNT.values())
    return h + extra


def b64(data, width=76):
    enc = base64.b64encode(data).decode()
    return "".join(enc[i:i + width] + "\r\n" for i in range(0, len(enc), width))


def qp(data):
    out, line = [], ""
    for byte in data:
        ch = chr(byte)
        if byte == 10:
            out.append(line + "\r\n")
            line = ""
            continue
        if byte == 13:
            continue
        enc = ch if (33 <= byte <= 126 and ch != "=") or ch == " " else "=%02X" % byte
        if len(line) + len(enc) > 75:
            out.append(line + "=\r\n")
            line = ""
        line += enc
    if line:
        out.append(line + "\r\n")
    return "".join(out)


def write(expect, name, data, renames=None):
    d = os.path.join(OUT, expect)
    os.makedirs(d, exist_ok=True)
    if expect == "accept":
        name += "--r%d" % renames
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name + ".eml"), "wb") as f:
        f.write(data)
    COUNT[expect] = COUNT.get(expect, 0) + 1


def single(ctype, cte, body, disp='attachment; filename="bericht.xml"', msgid=True,
           extra=""):
    h = head(msgid, extra) + "MIME-Version: 1.0\r\n"
    if ctype is not None:
        h += "Content-Type: %s\r\n" % ctype
    if cte is not None:
        h += "Content-Transfer-Encoding: %s\r\n" % cte
    if disp is not None:
        h += "Content-Disposition: %s\r\n" % disp
    return h + "\r\n" + body


def part(ctype, cte, body, disp=None, extra=""):
    h = ""
    if ctype is not None:
        h += "Content-Type: %s\r\n" % ctype
    if cte is not None:
        h += "Content-Transfer-Encoding: %s\r\n" % cte
    if disp is not None:
        h += "Content-Disposition: %s\r\n" % disp
    return h + extra + "\r\n" + body


def multipart(parts, boundary="==htg-b1==", preamble="This is a MIME message.\r\n",
              epilogue="", extra="", close=True):
    body = preamble
    for p in parts:
        body += "--%s\r\n%s" % (boundary, p)
    if close:
        body += "--%s--\r\n%s" % (boundary, epilogue)
    return (head(extra=extra) + "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n' % boundary + body)


XML = b"<?xml version='1.0' encoding='UTF-8'?>\n<bericht><id>42</id><naam>Caf\xc3\xa9</naam></bericht>\n"
EDI = b"UNA:+.? 'UNB+UNOC:3+SENDER+RECEIVER+261123:1000+1'UNH+1+CUSDEC:D:96B:UN'UNT+2+1'UNZ+1+1'\n"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256))
BIN = bytes(range(256)) * 4
TEXT = {
    "us-ascii": b"Aangifte 42\nRegel twee\n",
    "utf-8": "Aangifte 42 \u20ac caf\u00e9 \u4e2d\U0001F600\n".encode("utf-8"),
    "iso-8859-1": "Aangifte caf\u00e9 \u00fc\u00df\n".encode("iso-8859-1"),
    "iso-8859-15": "Aangifte \u20ac caf\u00e9\n".encode("iso-8859-15"),
}


def accepted():
    # every allowed type, base64
    for ctype, data, ext in (("application/xml", XML, "xml"),
                             ("application/edifact", EDI, "edi"),
                             ("application/pdf", PDF, "pdf"),
                             ("application/zip", ZIP, "zip"),
                             ("application/octet-stream", BIN, "bin")):
        write("accept", "single-%s-base64" % ext,
              single(ctype, "base64", b64(data),
                     'attachment; filename="bericht.%s"' % ext), 1)
    # text/plain in every charset and encoding that can carry it
    for cs, data in TEXT.items():
        for label in (cs, cs.upper()):
            write("accept", "text-%s-b64" % label, single(
                "text/plain; charset=%s" % label, "base64", b64(data)), 1)
        write("accept", "text-%s-qp" % cs, single(
            "text/plain; charset=\"%s\"" % cs, "quoted-printable", qp(data)), 1)
    write("accept", "text-ascii-7bit", single("text/plain; charset=us-ascii", "7bit",
                                              TEXT["us-ascii"].decode().replace("\n", "\r\n")), 1)
    write("accept", "text-utf8-7bit-ascii-only", single("text/plain; charset=utf-8", "7bit",
                                                        "plain ascii\r\n"), 1)
    write("accept", "xml-with-charset", single("application/xml; charset=utf-8", "base64",
                                               b64(XML)), 1)
    write("accept", "no-mime-headers", head() + "\r\nJust text.\r\n", 1)
    write("accept", "no-cte", single("text/plain", None, "seven bit\r\n"), 1)
    write("accept", "empty-cte", single("text/plain", "", "seven bit\r\n"), 1)
    write("accept", "cte-uppercase", single("application/pdf", "BASE64", b64(PDF)), 1)
    write("accept", "no-disposition", single("application/xml", "base64", b64(XML), disp=None), 1)
    write("accept", "inline-disposition", single("application/xml", "base64", b64(XML),
                                                 disp="inline"), 1)
    write("accept", "name-only", single('application/pdf; name="scan.pdf"', "base64", b64(PDF),
                                        disp=None), 1)
    write("accept", "missing-message-id", single("application/xml", "base64", b64(XML),
                                                 msgid=False), 1)
    write("accept", "empty-body", single("text/plain", "7bit", ""), 1)
    write("accept", "lf-line-ends", single("application/xml", "base64", b64(XML)).replace(
        "\r\n", "\n"), 1)
    write("accept", "b64-short-lines", single("application/pdf", "base64", b64(PDF, 20)), 1)
    write("accept", "b64-no-padding-needed", single("application/octet-stream", "base64",
                                                    b64(b"abc")), 1)
    write("accept", "b64-one-pad", single("application/octet-stream", "base64", b64(b"abcd")), 1)
    write("accept", "b64-two-pad", single("application/octet-stream", "base64", b64(b"abcde")), 1)
    write("accept", "qp-soft-breaks", single("text/plain; charset=utf-8", "quoted-printable",
                                             qp(("lang " * 60 + "\n").encode())), 1)
    write("accept", "qp-lowercase-hex", single("text/plain; charset=utf-8", "quoted-printable",
                                               "caf=c3=a9\r\n"), 1)
    write("accept", "utf8-4byte", single("text/plain; charset=utf-8", "base64",
                                         b64("\U0010FFFF \U0001F4E6".encode())), 1)
    write("accept", "display-names-and-comments", single(
        "application/xml", "base64", b64(XML), extra=""
    ).replace(FROM, 'From: "Ik, de verzender" <ik@mijnbedrijf.nl> (afdeling)\r\n').replace(
        TO, "To: Douane DMS <DMS@HTPOORT.NL>\r\n"), 1)
    write("accept", "folded-headers", single(
        'application/xml;\r\n charset=utf-8', "base64", b64(XML),
        disp='attachment;\r\n\tfilename="gevouwen.xml"'), 1)
    # HTG-FILENAME forms
    for name, disp in (
            ("rfc2231", "attachment; filename*=utf-8''factuur%20maart.pdf"),
            ("rfc2231-lang", "attachment; filename*=iso-8859-1'nl'caf%E9.pdf"),
            ("rfc2231-continuations",
             "attachment;\r\n filename*0*=utf-8''zeer%20lange;\r\n filename*1=\" naam \";"
             "\r\n filename*2=\"deel.pdf\""),
            ("rfc2231-out-of-order",
             'attachment; filename*1="deel.pdf"; filename*0="lange naam "'),
            ("rfc2047-b", 'attachment; filename="=?utf-8?B?ZmFjdHV1ciBtYWFydC5wZGY=?="'),
            ("rfc2047-q", 'attachment; filename="=?iso-8859-1?Q?caf=E9_rekening.pdf?="'),
            ("quoted-escapes", 'attachment; filename="a \\"quoted\\" name.pdf"'),
            ("injection-quotes", 'attachment; filename="evil\\"; x=\\".exe"'),
            ("injection-crlf-2231", "attachment; filename*=utf-8''evil%0D%0ABcc%3A%20x%40y.pdf"),
            ("injection-nul-2231", "attachment; filename*=utf-8''evil%00name.pdf"),
            ("ext-too-long", 'attachment; filename="archive.verylongext"'),
            ("ext-bad-chars", 'attachment; filename="report.p-f"'),
            ("ext-none", 'attachment; filename="README"'),
            ("ext-trailing-dot", 'attachment; filename="report."'),
            ("ext-double", 'attachment; filename="data.tar.gz"'),
            ("empty-filename", 'attachment; filename=""'),
            ("path-traversal", 'attachment; filename="../../etc/passwd.txt"'),
            ("windows-path", 'attachment; filename="C:\\\\temp\\\\factuur.pdf"'),
            ("long-name", 'attachment; filename="%s.pdf"' % ("x" * 300)),
            ("unquoted-token", "attachment; filename=token.pdf"),
            ("8bit-free-utf8-2231", "attachment; filename*=UTF-8''%E2%82%AC-rekening.pdf"),
    ):
        write("accept", "filename-" + name, single("application/pdf", "base64", b64(PDF),
                                                   disp=disp), 1)
    # multipart with extra attachments
    for n in (1, 2, 3, 5, 10):
        parts = [part("application/xml", "base64", b64(XML),
                      'attachment; filename="bericht.xml"')]
        for i in range(1, n):
            parts.append(part("application/pdf", "base64", b64(PDF),
                              'attachment; filename="bijlage-%d.pdf"' % i))
        write("accept", "multipart-%d-parts" % n, multipart(parts), n)
    write("accept", "multipart-mixed-types", multipart([
        part("text/plain; charset=utf-8", "quoted-printable", qp(TEXT["utf-8"])),
        part("application/edifact", "base64", b64(EDI), 'attachment; filename="x.edi"'),
        part("application/zip", "base64", b64(ZIP), 'attachment; filename="x.zip"'),
        part("application/octet-stream", "base64", b64(BIN), None)]), 4)
    write("accept", "multipart-nested", multipart([
        part("application/xml", "base64", b64(XML), 'attachment; filename="b.xml"'),
        'Content-Type: multipart/mixed; boundary="inner"\r\n\r\npreamble\r\n'
        "--inner\r\n" + part("application/pdf", "base64", b64(PDF), 'attachment; filename="c.pdf"')
        + "--inner\r\n" + part("text/plain", None, "tekst\r\n") + "--inner--\r\nepilogue\r\n"]), 3)
    depth = 8
    body = part("text/plain", None, "diep\r\n")
    for level in range(depth - 1, 0, -1):
        body = ('Content-Type: multipart/mixed; boundary="lvl%d"\r\n\r\n--lvl%d\r\n%s--lvl%d--\r\n'
                % (level, level, body, level))
    write("accept", "nesting-8-levels", multipart([body], boundary="lvl0"), 1)
    write("accept", "multipart-empty-part", multipart([part(None, None, "")]), 1)
    write("accept", "multipart-part-without-headers", multipart(["\r\nplain\r\n"]), 1)
    write("accept", "multipart-no-preamble", multipart(
        [part("application/xml", "base64", b64(XML))], preamble=""), 1)
    write("accept", "multipart-epilogue", multipart(
        [part("application/xml", "base64", b64(XML))], epilogue="trailing text\r\n"), 1)
    write("accept", "multipart-boundary-specials", multipart(
        [part("application/xml", "base64", b64(XML))], boundary="'()+_,-./:=? x"), 1)
    write("accept", "multipart-200-parts", multipart(
        [part("text/plain", None, "p%d\r\n" % i) for i in range(199)]), 199)
    write("accept", "multipart-lf", multipart(
        [part("application/xml", "base64", b64(XML), 'attachment; filename="lf.xml"')]
    ).replace("\r\n", "\n"), 1)
    write("accept", "part-with-description", multipart([part(
        "application/pdf", "base64", b64(PDF), 'attachment; filename="omschrijving.pdf"',
        extra="Content-Description: omschrijving.pdf\r\nContent-ID: <p1@x>\r\n")]), 1)
    write("accept", "big-attachment-256k", multipart([part(
        "application/octet-stream", "base64", b64(RND.randbytes(1 << 18)),
        'attachment; filename="groot.bin"')]), 1)


def refused():
    ok_xml = lambda **kw: single("application/xml", "base64", b64(XML), **kw)
    # HTG-HDR-FROM
    write("HTG-HDR-FROM", "missing", ok_xml().replace(FROM, ""))
    write("HTG-HDR-FROM", "twice", FROM + ok_xml())
    write("HTG-HDR-FROM", "two-addresses", ok_xml().replace(
        FROM, "From: <a@b.nl>, <c@d.nl>\r\n"))
    write("HTG-HDR-FROM", "group", ok_xml().replace(FROM, "From: team: a@b.nl, c@d.nl;\r\n"))
    write("HTG-HDR-FROM", "empty", ok_xml().replace(FROM, "From: \r\n"))
    write("HTG-HDR-FROM", "no-domain", ok_xml().replace(FROM, "From: <ik>\r\n"))
    write("HTG-HDR-FROM", "unbalanced", ok_xml().replace(FROM, "From: \"ik <ik@x.nl>\r\n"))
    # HTG-HDR-TO
    write("HTG-HDR-TO", "missing", ok_xml().replace(TO, ""))
    write("HTG-HDR-TO", "twice", TO + ok_xml())
    write("HTG-HDR-TO", "two-addresses", ok_xml().replace(
        TO, "To: <dms@htpoort.nl>, <ags@htpoort.nl>\r\n"))
    write("HTG-HDR-TO", "preprod-domain", ok_xml().replace(TO, "To: <dms@preprod.htpoort.nl>\r\n"))
    write("HTG-HDR-TO", "submit-domain", ok_xml().replace(TO, "To: <dms@msa-smtp.htpoort.nl>\r\n"))
    write("HTG-HDR-TO", "other-flow", ok_xml().replace(TO, "To: <ags@htpoort.nl>\r\n"))
    write("HTG-HDR-TO", "other-domain", ok_xml().replace(TO, "To: <dms@example.nl>\r\n"))
    write("HTG-HDR-TO", "group", ok_xml().replace(TO, "To: undisclosed-recipients:;\r\n"))
    write("HTG-HDR-TO", "prefix-flow", ok_xml().replace(TO, "To: <dmsx@htpoort.nl>\r\n"))
    # HTG-HDR-CC
    write("HTG-HDR-CC", "cc", "Cc: <x@htpoort.nl>\r\n" + ok_xml())
    write("HTG-HDR-CC", "cc-empty", "Cc:\r\n" + ok_xml())
    write("HTG-HDR-CC", "cc-lowercase", "cc: <x@htpoort.nl>\r\n" + ok_xml())
    write("HTG-HDR-CC", "bcc", "Bcc: <x@htpoort.nl>\r\n" + ok_xml())
    # HTG-MSGID
    write("HTG-MSGID", "no-brackets", ok_xml(msgid=False, extra="Message-ID: abc@x.nl\r\n"))
    write("HTG-MSGID", "no-at", ok_xml(msgid=False, extra="Message-ID: <abc>\r\n"))
    write("HTG-MSGID", "two-ids", ok_xml(msgid=False, extra="Message-ID: <a@x> <b@x>\r\n"))
    write("HTG-MSGID", "twice", "Message-ID: <dup@x.nl>\r\n" + ok_xml())
    write("HTG-MSGID", "empty", ok_xml(msgid=False, extra="Message-ID:\r\n"))
    # HTG-CT
    for t in ("text/html", "text/xml", "application/msword", "image/png",
              "application/vnd.ms-excel", "message/rfc822", "application/x-sh",
              "audio/mpeg", "video/mp4", "application/json"):
        write("HTG-CT", t.replace("/", "-"), single(t, "base64", b64(b"data")))
    for t in ("multipart/alternative", "multipart/related", "multipart/signed",
              "multipart/digest"):
        write("HTG-CT", t.replace("/", "-"), head() + "MIME-Version: 1.0\r\n"
              "Content-Type: %s; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n" % t)
    write("HTG-CT", "nested-html", multipart([part("application/xml", "base64", b64(XML)),
                                              part("text/html", None, "<p>x</p>\r\n")]))
    write("HTG-CT", "nested-alternative", multipart([
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n--alt\r\n\r\nx\r\n--alt--\r\n']))
    # HTG-CHARSET
    for cs in ("windows-1252", "Windows-1250", "cp1252", "CP850", "x-cp1252", "cp819",
               "ms-ansi"):
        write("HTG-CHARSET", "windows-" + cs, single("text/plain; charset=%s" % cs, "7bit",
                                                     "x\r\n"))
    for cs in ("koi8-r", "shift_jis", "gb2312", "iso-8859-2", "utf-16", "x-unknown", "utf-7"):
        write("HTG-CHARSET", "not-allowed-" + cs, single("text/plain; charset=%s" % cs, "7bit",
                                                         "x\r\n"))
    for name, raw in (("overlong-2", b"\xc0\x80"), ("overlong-3", b"\xe0\x80\x80"),
                      ("overlong-4", b"\xf0\x80\x80\x80"), ("surrogate", b"\xed\xa0\x80"),
                      ("above-10ffff", b"\xf4\x90\x80\x80"), ("f5", b"\xf5\x80\x80\x80"),
                      ("lone-continuation", b"a\x80b"), ("truncated-end", b"abc\xe2\x82"),
                      ("latin1-as-utf8", "caf\u00e9".encode("iso-8859-1")),
                      ("nul-in-text", b"a\x00b")):
        write("HTG-CHARSET", "utf8-" + name, single("text/plain; charset=utf-8", "base64",
                                                    b64(raw)))
    write("HTG-CHARSET", "ascii-8bit-b64", single("text/plain; charset=us-ascii", "base64",
                                                  b64("caf\u00e9".encode("utf-8"))))
    write("HTG-CHARSET", "ascii-default-8bit-qp", single("text/plain", "quoted-printable",
                                                         "caf=E9\r\n"))
    write("HTG-CHARSET", "latin1-c1", single("text/plain; charset=iso-8859-1",
                                             "quoted-printable", "=93quote=94\r\n"))
    write("HTG-CHARSET", "latin9-c1", single("text/plain; charset=iso-8859-15", "base64",
                                             b64(b"\x80 euro as cp1252")))
    write("HTG-CHARSET", "xml-windows", single("application/xml; charset=windows-1252",
                                               "base64", b64(XML)))
    write("HTG-CHARSET", "nested-bad-utf8", multipart([
        part("application/xml", "base64", b64(XML)),
        part("text/plain; charset=utf-8", "base64", b64(b"\xff\xfe"))]))
    # HTG-CTE
    for cte in ("8bit", "binary", "x-uuencode", "uuencode", "x-gzip64", "base-64", "7-bit"):
        write("HTG-CTE", "cte-" + cte, single("application/pdf", cte, b64(PDF)))
    write("HTG-CTE", "8bit-under-7bit", single("text/plain; charset=iso-8859-1", "7bit",
                                               "caf\xe9\r\n"))
    write("HTG-CTE", "8bit-under-default", single("text/plain", None, "caf\xe9\r\n"))
    for name, body in (("b64-bad-char", "JVBER!0=\r\n"), ("b64-pad-middle", "JV==ERi0\r\n"),
                       ("b64-after-pad", "JVBERg==QUJD\r\n"), ("b64-truncated", "JVBERi\r\n"),
                       ("b64-one-char", "J\r\n"), ("b64-three-pad", "JV===\r\n"),
                       ("b64-8bit", "JVBE\xe9Ri0=\r\n")):
        write("HTG-CTE", name, single("application/pdf", "base64", body))
    for name, body in (("qp-bad-hex", "a=G1b\r\n"), ("qp-short-escape", "a=4\r\n"),
                       ("qp-8bit", "caf\xe9\r\n"), ("qp-trailing-eq", "abc="),
                       ("qp-control", "a\x01b\r\n")):
        write("HTG-CTE", name, single("text/plain", "quoted-printable", body))
    write("HTG-CTE", "encoded-multipart", head() + "MIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n"
          "\r\n--b\r\n\r\nx\r\n--b--\r\n")
    write("HTG-CTE", "nested-8bit", multipart([part("application/xml", "8bit", "<x/>\r\n")]))
    # HTG-MIME
    write("HTG-MIME", "unterminated", multipart([part("application/xml", "base64", b64(XML))],
                                                close=False))
    write("HTG-MIME", "missing-final-boundary", multipart(
        [part("application/xml", "base64", b64(XML))], close=False) + "--==htg-b1==\r\n")
    write("HTG-MIME", "no-parts", head() + "MIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n")
    write("HTG-MIME", "no-delimiter-at-all", head() + "MIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=b\r\n\r\njust text\r\n")
    write("HTG-MIME", "no-boundary-param", head() + "MIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n")
    write("HTG-MIME", "empty-boundary", head() + "MIME-Version: 1.0\r\n"
          'Content-Type: multipart/mixed; boundary=""\r\n\r\n--\r\n\r\nx\r\n----\r\n')
    write("HTG-MIME", "boundary-too-long", multipart([part(None, None, "x\r\n")],
                                                     boundary="b" * 71))
    write("HTG-MIME", "boundary-bad-char", head() + "MIME-Version: 1.0\r\n"
          'Content-Type: multipart/mixed; boundary="a<b>"\r\n\r\n--a<b>\r\n\r\nx\r\n--a<b>--\r\n')
    write("HTG-MIME", "inner-not-closed", multipart([
        'Content-Type: multipart/mixed; boundary="inner"\r\n\r\n--inner\r\n\r\nx\r\n']))
    write("HTG-MIME", "boundary-overlap-prefix", multipart([
        'Content-Type: multipart/mixed; boundary="==htg-b1==x"\r\n\r\n--==htg-b1==x\r\n\r\n'
        'a\r\n--==htg-b1==x--\r\n']))
    write("HTG-MIME", "boundary-reuse", multipart([
        'Content-Type: multipart/mixed; boundary="==htg-b1=="\r\n\r\n--==htg-b1==\r\n\r\n'
        'a\r\n--==htg-b1==--\r\n']))
    for d in (9, 20, 100):
        body = part("text/plain", None, "diep\r\n")
        for level in range(d - 1, 0, -1):
            body = ('Content-Type: multipart/mixed; boundary="lvl%d"\r\n\r\n--lvl%d\r\n%s'
                    '--lvl%d--\r\n' % (level, level, body, level))
        write("HTG-MIME", "nesting-%d-levels" % d, multipart([body], boundary="lvl0"))
    write("HTG-MIME", "too-many-parts", multipart([part(None, None, "p\r\n")] * 201))
    write("HTG-MIME", "header-line-999", ok_xml(extra="X-Long: " + "a" * 991 + "\r\n"))
    write("HTG-MIME", "header-line-huge", ok_xml(extra="X-Long: " + "a" * 50000 + "\r\n"))
    write("HTG-MIME", "part-header-huge", multipart([part(
        "text/plain", None, "x\r\n", extra="".join("X-F%d: %s\r\n" % (i, "v" * 900)
                                                  for i in range(20)))]))
    write("HTG-MIME", "part-header-too-many-fields", multipart([part(
        "text/plain", None, "x\r\n", extra="".join("X-F%d: v\r\n" % i for i in range(70)))]))
    write("HTG-MIME", "body-line-too-long", single("text/plain", "7bit", "a" * 1200 + "\r\n"))
    write("HTG-MIME", "b64-line-too-long", single("application/pdf", "base64",
                                                  b64(RND.randbytes(3000), 4000)))
    write("HTG-MIME", "nul-in-body", single("text/plain", "7bit", "a\x00b\r\n"))
    write("HTG-MIME", "nul-in-part-header", multipart([part(
        "text/plain", None, "x\r\n", disp='attachment; filename="a\x00b.pdf"')]))
    write("HTG-MIME", "8bit-subject", ok_xml(extra="Subject: caf\xe9\r\n"))
    write("HTG-MIME", "8bit-from-display", ok_xml().replace(FROM, "From: J\xfcrgen <ik@x.nl>\r\n"))
    write("HTG-MIME", "8bit-part-header", multipart([part(
        "application/pdf", "base64", b64(PDF), disp='attachment; filename="caf\xe9.pdf"')]))
    write("HTG-MIME", "two-content-types", ok_xml(extra="Content-Type: text/plain\r\n"))
    write("HTG-MIME", "two-cte", ok_xml(extra="Content-Transfer-Encoding: 7bit\r\n"))
    write("HTG-MIME", "two-dispositions", ok_xml(extra="Content-Disposition: inline\r\n"))
    write("HTG-MIME", "part-two-content-types", multipart([part(
        "text/plain", None, "x\r\n", extra="Content-Type: application/pdf\r\n")]))
    write("HTG-MIME", "part-two-dispositions", multipart([part(
        "text/plain", None, "x\r\n", disp="attachment", extra="Content-Disposition: inline\r\n")]))
    write("HTG-MIME", "part-header-no-colon", multipart(["Content-Type text/plain\r\n\r\nx\r\n"]))
    write("HTG-MIME", "malformed-content-type", single('"application/xml', "base64", b64(XML)))
    write("HTG-CT", "content-type-no-subtype", single("application", "base64", b64(XML)))
    write("HTG-MIME", "content-type-unbalanced-comment", single("application/xml (x", "base64",
                                                                b64(XML)))


# --- whole header fields (issue 13 finding 3; htg-milter helper's block) ----
# A rule must read the whole unfolded field: what follows 1,200 bytes of
# folding white space (600 folds) decides as much as what precedes it.

FWS_1200 = "\r\n " * 600


def with_field(msg, old, new):
    assert old in msg
    return msg.replace(old, new, 1)


def whole_fields():
    ok = single("application/xml", "base64", b64(XML))
    write("HTG-HDR-TO", "second-address-after-1200-bytes-fws", with_field(
        ok, TO, "To: <dms@htpoort.nl>" + FWS_1200 + ", evil@example.org\r\n"))
    write("HTG-HDR-FROM", "second-address-after-1200-bytes-fws", with_field(
        ok, FROM, "From: <ik@mijnbedrijf.nl>" + FWS_1200 + ", <ceo@example.org>\r\n"))
    ok = single("application/xml", "base64", b64(XML))
    mid = ok[ok.index("Message-ID:"):ok.index("\r\n", ok.index("Message-ID:"))]
    write("HTG-MSGID", "second-id-after-1200-bytes-fws", with_field(
        ok, mid, mid + FWS_1200 + "<two@x.nl>"))
    write("HTG-CHARSET", "charset-after-1200-bytes-fws", single(
        "text/plain;" + FWS_1200 + "charset=windows-1252", "7bit", "x\r\n"))
    write("HTG-CTE", "cte-two-words", single("application/xml", "base64 gzip", b64(XML)))
    write("HTG-MIME", "subject-of-60000-bytes", with_field(
        single("application/xml", "base64", b64(XML)), "Subject: corpus\r\n",
        "Subject: corpus" + "\r\n x" * 20000 + "\r\n"))
    write("accept", "to-after-1200-bytes-fws", with_field(
        single("application/xml", "base64", b64(XML)), TO,
        "To: <dms@htpoort.nl>" + FWS_1200 + "\r\n"), 1)


# Issue 13 finding 1: a conforming receiver (RFC 2046 5.1.1, Dovecot's
# message-parser) splits at every line that BEGINS with "--" boundary.
EVIL = ("--bXtrailing\r\n"
        "Content-Type: application/x-msdownload\r\n"
        'Content-Disposition: attachment; filename="evil.exe"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(b"MZ\x90\x00" + bytes(60)))


def boundaries():
    # the attack of the issue: a 7bit text part hides a second part
    write("HTG-MIME", "hidden-part-bXtrailing", multipart([
        part("text/plain; charset=us-ascii", "7bit", "Zie bijlage.\r\n" + EVIL)],
        boundary="bX"))
    write("HTG-MIME", "hidden-part-in-preamble", multipart(
        [part("text/plain", None, "x\r\n")], boundary="bX", preamble=EVIL))
    write("HTG-MIME", "boundary-line-in-part-header", multipart([
        "Content-Type: text/plain\r\n--bX-x: y\r\n\r\nx\r\n"], boundary="bX"))
    write("HTG-MIME", "close-delimiter-trailing-text", multipart(
        [part("text/plain", None, "x\r\n")], boundary="bX", close=False)
        + "--bX--evil\r\n")
    write("HTG-MIME", "delimiter-trailing-text-after-space", multipart(
        [part("text/plain", None, "x\r\n--bX x\r\n")], boundary="bX"))
    write("HTG-MIME", "boundary-line-after-inner-close", multipart([
        'Content-Type: multipart/mixed; boundary="in"\r\n\r\n--in\r\n\r\na\r\n'
        "--in--\r\n" + EVIL], boundary="bX"))
    write("HTG-MIME", "boundary-inner-prefix-of-outer", multipart([
        'Content-Type: multipart/mixed; boundary="==htg"\r\n\r\n--==htg\r\n\r\n'
        'a\r\n--==htg--\r\n']))
    write("HTG-MIME", "boundary-overlap-grandparent", multipart([
        'Content-Type: multipart/mixed; boundary="mid"\r\n\r\n--mid\r\n'
        'Content-Type: multipart/mixed; boundary="==htg-b1==deep"\r\n\r\n'
        '--==htg-b1==deep\r\n\r\na\r\n--==htg-b1==deep--\r\n--mid--\r\n']))
    # the accept side: white space after a delimiter is transport padding;
    # lines that do not begin with "--" boundary are body
    write("accept", "delimiter-trailing-white-space", multipart(
        [part("text/plain", None, "x\r\n")], boundary="bX", close=False)
        .replace("--bX\r\n", "--bX \t\r\n") + "--bX--\t \r\n", 1)
    write("accept", "boundary-like-body-lines", multipart([part(
        "text/plain", None, "--bY\r\n-bX\r\n --bX\r\n--BX\r\n--b\r\n")],
        boundary="bX"), 1)
    write("accept", "nested-common-prefix", multipart([
        'Content-Type: multipart/mixed; boundary="==htg-b2=="\r\n\r\n--==htg-b2==\r\n'
        '\r\na\r\n--==htg-b2==--\r\n', part("text/plain", None, "b\r\n")]), 2)
    write("accept", "siblings-share-inner-boundary", multipart([
        'Content-Type: multipart/mixed; boundary="in"\r\n\r\n--in\r\n\r\na\r\n'
        '--in--\r\n',
        'Content-Type: multipart/mixed; boundary="in"\r\n\r\n--in\r\n\r\nb\r\n'
        '--in--\r\n', part("text/plain", None, "--in\r\n--inx\r\n")]), 3)


# Found by the differential fuzzer (tests/fuzz.sh mime-diff): a one-part
# message kept its Content-Transfer-Encoding field as it came, and Dovecot
# reads it otherwise than the first word the milter saw.
def cte_forms():
    pdf = b64(PDF)
    write("HTG-CTE", "cte-word-then-junk", single("application/pdf", "base64 junk", pdf))
    write("HTG-CTE", "cte-comment-first", single("application/pdf", "(x) base64", pdf))
    # Postfix hands the milter a value only up to a NUL byte: "base64"
    write("accept", "cte-nul-after-word", single("application/pdf", "base64\x00junk", pdf), 1)
    write("accept", "cte-upper-case-rewritten", single("application/pdf", " BASE64 ", pdf), 1)


# How the milter reads a multipart's Content-Type (the output always carries
# our own "multipart/mixed; boundary=..."; tests/mime-diff compares).
def ctype_forms():
    body = ("--==htg-b1==\r\n" + part("application/pdf", "base64", b64(PDF)) +
            "--==htg-b1==--\r\n")

    def mp(ctype):
        return head() + "MIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\n\r\n" + body
    write("accept", "boundary-param-upper-case", mp('multipart/mixed; BOUNDARY="==htg-b1=="'), 1)
    write("accept", "boundary-rfc2231-continuation",
          mp('multipart/mixed; boundary*0="==htg"; boundary*1="-b1=="'), 1)
    write("accept", "content-type-folded", mp('multipart/mixed;\r\n\tboundary="==htg-b1=="'), 1)
    write("accept", "content-type-mixed-case", mp('Multipart/MIXED; boundary="==htg-b1=="'), 1)


def main():
    for entry in os.listdir(OUT):
        path = os.path.join(OUT, entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
    accepted()
    refused()
    whole_fields()
    boundaries()
    cte_forms()
    ctype_forms()
    total = sum(COUNT.values())
    print("%d messages: %s" % (total, ", ".join("%s %d" % kv for kv in sorted(COUNT.items()))))


if __name__ == "__main__":
    main()
