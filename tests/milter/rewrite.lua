-- rewrite.lua - HTG-FILENAME and the body rules at end of message: the
-- headers a one-part message leaves with, a multipart body replaced, a
-- broken body refused with its rule id, a Message-ID reused refused.
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
-- Postfix's queue as postqueue -j shows it: queue ids ONE and COMMITTED
local conn = h.start("postqueue=" .. os.getenv("MT_SCRIPTS") .. "/postqueue-stub",
	"msgid_commit_wait=0")

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

-- the transaction ends (Postfix: ABORT after the reply); queue id ONE is
-- in the queue, so the claim is final: the same Message-ID again from the
-- same account is HTG-MSGID, naming the queue id that used it
mt.abort(conn)
h.envelope(conn, "AGAIN")
h.headers(conn, h.with(h.good, { { "Message-ID", "<mt-one@mijnbedrijf.nl>" } }))
mt.bodystring(conn, "x\r\n")
mt.getreply(conn)
mt.eom(conn)
h.expect(conn, SMFIR_REPLYCODE, "HTG-MSGID reuse")
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1",
		"HTG-MSGID: Message-ID already used by this account " ..
		"(accepted as queue id ONE)") then
	error("HTG-MSGID: wrong reply text")
end
mt.abort(conn)

-- a message Postfix never committed (queue id LOST is not in the queue:
-- cleanup failed after our end of message): its retry is accepted
local function plain(qid, id)
	h.envelope(conn, qid)
	h.headers(conn, h.with(h.good, { { "Message-ID", id } }))
	mt.bodystring(conn, "x\r\n")
	mt.getreply(conn)
	mt.eom(conn)
	return mt.getreply(conn)
end
if plain("LOST", "<mt-lost@mijnbedrijf.nl>") ~= SMFIR_CONTINUE then
	error("LOST: first try refused")
end
mt.abort(conn)
if plain("RETRY", "<mt-lost@mijnbedrijf.nl>") ~= SMFIR_CONTINUE then
	error("HTG-MSGID: the retry of a message never committed was refused")
end
mt.abort(conn)

-- while a transaction with the Message-ID has not ended, another one
-- waits for it, then gets 451 (never a second accept)
local conn2 = mt.connect("unix:" .. os.getenv("MT_SOCK"), 100, 0.1)
if plain("COMMITTED", "<mt-busy@mijnbedrijf.nl>") ~= SMFIR_CONTINUE then
	error("COMMITTED: refused")
end
h.envelope(conn2, "BUSY")
h.headers(conn2, h.with(h.good, { { "Message-ID", "<mt-busy@mijnbedrijf.nl>" } }))
mt.bodystring(conn2, "x\r\n")
mt.getreply(conn2)
mt.eom(conn2)
h.expect(conn2, SMFIR_REPLYCODE, "HTG-MSGID busy")
if not mt.eom_check(conn2, MT_SMTPREPLY, "451", "4.7.1",
		"HTG-MSGID: a message with this Message-ID (queue id COMMITTED) is being " ..
		"accepted right now; try again later") then
	error("HTG-MSGID: a pending claim did not give 451 4.7.1")
end
mt.disconnect(conn2)
-- COMMITTED's transaction ends: in the queue, final; the reuse is refused
mt.abort(conn)
if plain("REUSE", "<mt-busy@mijnbedrijf.nl>") ~= SMFIR_REPLYCODE then
	error("HTG-MSGID: reuse after a committed message accepted")
end
mt.abort(conn)

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
