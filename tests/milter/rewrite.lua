-- rewrite.lua - HTG-FILENAME and the body rules at end of message: the
-- headers a one-part message leaves with, a multipart body replaced, a
-- broken body refused with its rule id, a Message-ID reused refused.
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
local conn = h.start()

-- one part: Content-Disposition replaced, body untouched
h.envelope(conn, "ONE")
h.headers(conn, h.with(h.good, {
	{ "Message-ID", "<mt-one@mijnbedrijf.nl>" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "application/pdf; name=\"geheim.pdf\"" },
	{ "Content-Transfer-Encoding", "base64" },
	{ "Content-Disposition", "attachment; filename=\"geheim.pdf\"" } }))
mt.bodystring(conn, "JVBERi0=\r\n")
h.expect(conn, SMFIR_CONTINUE, "body")
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "eom")
if not mt.eom_check(conn, MT_HDRCHANGE, "Content-Disposition") or
   not mt.eom_check(conn, MT_HDRCHANGE, "Content-Type") then
	error("HTG-FILENAME: headers not changed")
end
if mt.eom_check(conn, MT_HDRCHANGE, "Content-Disposition",
		"attachment; filename=\"geheim.pdf\"") then
	error("HTG-FILENAME: the original name survived")
end
if mt.eom_check(conn, MT_BODYCHANGE) then
	error("a one-part body was replaced")
end
-- the Content-Transfer-Encoding leaves as the milter read it (issue 13)
if not mt.eom_check(conn, MT_HDRCHANGE, "Content-Transfer-Encoding", "base64") then
	error("Content-Transfer-Encoding not rewritten")
end

-- the same Message-ID again from the same account: HTG-MSGID
h.envelope(conn, "AGAIN")
h.headers(conn, h.with(h.good, { { "Message-ID", "<mt-one@mijnbedrijf.nl>" } }))
mt.bodystring(conn, "x\r\n")
mt.getreply(conn)
mt.eom(conn)
h.expect(conn, SMFIR_REPLYCODE, "HTG-MSGID reuse")
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
		"HTG-MSGID: Message-ID already used by this account") then
	error("HTG-MSGID: wrong reply text")
end

-- multipart: the body is replaced
h.envelope(conn, "MULTI")
h.headers(conn, h.with(h.good, {
	{ "Message-ID", "<mt-multi@mijnbedrijf.nl>" },
	{ "Content-Type", "multipart/mixed; boundary=\"b1\"" } }))
mt.bodystring(conn, "--b1\r\nContent-Type: application/xml\r\n" ..
	"Content-Transfer-Encoding: base64\r\n" ..
	"Content-Disposition: attachment; filename=\"aangifte.xml\"\r\n\r\n" ..
	"PGJlcmljaHQvPgo=\r\n--b1--\r\n")
h.expect(conn, SMFIR_CONTINUE, "body")
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "eom")
if not mt.eom_check(conn, MT_BODYCHANGE) then
	error("HTG-FILENAME: multipart body not replaced")
end

-- broken base64: HTG-CTE with its reply
h.envelope(conn, "BROKEN")
h.headers(conn, h.with(h.good, {
	{ "Message-ID", "<mt-broken@mijnbedrijf.nl>" },
	{ "Content-Type", "application/pdf" },
	{ "Content-Transfer-Encoding", "base64" } }))
mt.bodystring(conn, "JV*ERi0=\r\n")
local r = mt.getreply(conn)
if r == SMFIR_CONTINUE then
	mt.eom(conn)
	r = mt.getreply(conn)
end
if r ~= SMFIR_REPLYCODE then
	error("HTG-CTE: broken base64 accepted")
end
mt.disconnect(conn)
