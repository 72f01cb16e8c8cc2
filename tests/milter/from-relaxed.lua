-- from-relaxed.lua - from_owner_check = no: HTG-HDR-FROM then takes a
-- From address that the authenticated account does not own (one address
-- is still required).
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
local conn = h.start("mode=enforce", "from_owner_check=no")

h.envelope(conn, "RELAX1")
if h.headers(conn, { { "From", "<ander@bedrijf.nl>" },
		     { "To", "<dms@htpoort.nl>" } }) ~= SMFIR_CONTINUE then
	error("RELAX1: another account's From refused although relaxed")
end
mt.bodystring(conn, "x\r\n")
h.expect(conn, SMFIR_CONTINUE, "RELAX1 body")
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "RELAX1 eom")
mt.abort(conn)

h.envelope(conn, "RELAX2")
local r = h.headers(conn, { { "From", "<a@b.nl>, <c@d.nl>" },
			    { "To", "<dms@htpoort.nl>" } })
if r == SMFIR_CONTINUE then
	mt.bodystring(conn, "x\r\n")
	h.expect(conn, SMFIR_CONTINUE, "RELAX2 body")
	mt.eom(conn)
	r = mt.getreply(conn)
end
if r ~= SMFIR_REPLYCODE then
	error("RELAX2: two From addresses accepted")
end
mt.disconnect(conn)
