-- envelope.lua - HTG-RCPT-ONE and HTG-ENVID (004 table 3), both sides.
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
local conn = h.start()

if h.envelope(conn, "Q1") ~= SMFIR_CONTINUE then
	error("HTG-RCPT-ONE: the first recipient was refused")
end
mt.rcptto(conn, "<dms@msa-smtp.htpoort.nl>")
h.expect(conn, SMFIR_REPLYCODE, "HTG-RCPT-ONE: a second recipient")
mt.abort(conn)

-- NOTIFY=SUCCESS without ENVID refused, with ENVID accepted
if h.envelope(conn, "Q2", nil, "NOTIFY=SUCCESS,FAILURE") ~= SMFIR_REPLYCODE then
	error("HTG-ENVID: NOTIFY=SUCCESS without ENVID was accepted")
end
mt.abort(conn)
if h.envelope(conn, "Q3", "ENVID=abc123", "NOTIFY=SUCCESS") ~= SMFIR_CONTINUE then
	error("HTG-ENVID: NOTIFY=SUCCESS with ENVID was refused")
end
mt.abort(conn)
if h.envelope(conn, "Q4", nil, "NOTIFY=FAILURE") ~= SMFIR_CONTINUE then
	error("HTG-ENVID: NOTIFY=FAILURE without ENVID was refused")
end
mt.disconnect(conn)
