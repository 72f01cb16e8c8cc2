-- spool.lua - a rewritten body goes to an unlinked file in temp_dir; when
-- temp_dir cannot take it (missing, full) the message is tempfailed
-- (451 4.3.0), never accepted half-rewritten or unchecked. A temp_dir
-- missing at start is refused then (htg-milter -n, tests/test-daemon-conf.sh);
-- here it goes away while the milter runs.
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
local gone = os.getenv("MT_TMP") .. "/spool-gone"
os.execute("mkdir -p '" .. gone .. "'")
local conn = h.start("temp_dir=" .. gone)
assert(os.remove(gone), "cannot remove " .. gone)

h.envelope(conn, "SPOOL")
h.headers(conn, h.with(h.good, {
	{ "Message-ID", "<mt-spool@mijnbedrijf.nl>" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "multipart/mixed; boundary=\"b1\"" } }))
mt.bodystring(conn, "--b1\r\nContent-Type: application/xml\r\n" ..
	"Content-Transfer-Encoding: base64\r\n" ..
	"Content-Disposition: attachment; filename=\"aangifte.xml\"\r\n\r\n" ..
	"PGJlcmljaHQvPgo=\r\n--b1--\r\n")
local r = mt.getreply(conn)
if r == SMFIR_CONTINUE then
	mt.eom(conn)
	r = mt.getreply(conn)
	if r == SMFIR_REPLYCODE and
	   not mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
			    "HTG gateway temporarily unable to check the " ..
			    "message, try again later") then
		error("temp_dir unusable: not 451 4.3.0")
	end
	if mt.eom_check(conn, MT_BODYCHANGE) then
		error("temp_dir unusable: a body was replaced anyway")
	end
end
-- refused while the body streams there is no EOM to inspect: the reply
-- is tempfail()'s 451 4.3.0 and the log says action=tempfail
if r ~= SMFIR_REPLYCODE then
	error("temp_dir unusable: the message was not tempfailed")
end
mt.disconnect(conn)
