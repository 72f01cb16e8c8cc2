-- headers.lua - HTG-HDR-CC, HTG-HDR-FROM, HTG-HDR-TO, HTG-MSGID syntax:
-- each refused with its reply text, and the conforming header accepted.
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
local conn = h.start()

local function refused_at_eom(qid, fields, code, xcode, text)
	h.envelope(conn, qid)
	local r = h.headers(conn, fields)
	if r == SMFIR_CONTINUE then
		mt.bodystring(conn, "x\r\n")
		h.expect(conn, SMFIR_CONTINUE, qid .. " body")
		mt.eom(conn)
		r = mt.getreply(conn)
	end
	if r ~= SMFIR_REPLYCODE then
		error(qid .. ": not refused")
	end
	mt.abort(conn)
end

refused_at_eom("CC", h.with(h.good, { { "Cc", "<x@htpoort.nl>" } }))
refused_at_eom("FROM2", h.with(h.good, { { "From", "<a@b.nl>" } }))
refused_at_eom("FROMGROUP", { { "From", "team: a@b.nl, c@d.nl;" },
	{ "To", "<dms@htpoort.nl>" } })
refused_at_eom("TOFLOW", { { "From", "<ik@mijnbedrijf.nl>" }, { "To", "<ags@htpoort.nl>" } })
refused_at_eom("TOENV", { { "From", "<ik@mijnbedrijf.nl>" }, { "To", "<dms@preprod.htpoort.nl>" } })
-- HTG-HDR-FROM: another account's address, nobody's address
refused_at_eom("FROMOTHER", { { "From", "<ander@bedrijf.nl>" }, { "To", "<dms@htpoort.nl>" } })
refused_at_eom("FROMNOBODY", { { "From", "<a@b.nl>" }, { "To", "<dms@htpoort.nl>" } })
refused_at_eom("MSGID", h.with(h.good, { { "Message-ID", "not-an-id" } }))

-- the conforming header passes; the Cc reply text carries the rule id
h.envelope(conn, "OK1")
if h.headers(conn, h.good) ~= SMFIR_CONTINUE then
	error("a conforming header was refused")
end
mt.bodystring(conn, "x\r\n")
h.expect(conn, SMFIR_CONTINUE, "body")
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "eom")
if not mt.eom_check(conn, MT_HDRADD, "Message-ID") then
	error("HTG-MSGID: no Message-ID added")
end
mt.disconnect(conn)
