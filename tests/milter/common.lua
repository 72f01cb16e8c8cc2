-- common.lua - shared by the miltertest scripts: start the real htg-milter
-- binary on a private socket and run a transaction against it.
local M = {}

-- start htg-milter; extra, extra2, extra3: more "-o key=value" (later
-- ones win)
function M.start(extra, extra2, extra3)
	local sock = os.getenv("MT_SOCK")
	mt.startfilter(os.getenv("MT_MILTER"), "-f", "-c", "/dev/null",
		"-o", "socket=unix:" .. sock,
		"-o", "directory=" .. os.getenv("MT_DIRECTORY"),
		"-o", "temp_dir=" .. os.getenv("MT_TMP"),
		"-o", "log_file=" .. os.getenv("MT_LOG"),
		-- miltertest connects as the caller: no group change, so that
		-- make check also runs as a user outside group postfix
		"-o", "socket_group=",
		"-o", extra or "mode=enforce",
		"-o", extra2 or extra or "mode=enforce",
		"-o", extra3 or extra2 or extra or "mode=enforce")
	local conn = mt.connect("unix:" .. sock, 100, 0.1)
	if conn == nil then
		error("cannot connect to htg-milter")
	end
	return conn
end

function M.expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		error(what .. ": unexpected reply " .. tostring(got))
	end
end

-- connect, MAIL (with args), RCPT; the account is demo@mijnbedrijf.nl
function M.envelope(conn, qid, mailargs, rcptargs)
	-- htg-milter has no connect/helo callbacks: libmilter negotiates
	-- SMFIP_NOCONNECT and SMFIP_NOHELO, so the transaction starts at MAIL
	mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", "demo@mijnbedrijf.nl")
	if mailargs then
		mt.mailfrom(conn, "<ik@mijnbedrijf.nl>", mailargs)
	else
		mt.mailfrom(conn, "<ik@mijnbedrijf.nl>")
	end
	M.expect(conn, SMFIR_CONTINUE, "MAIL")
	if rcptargs then
		mt.rcptto(conn, "<dms@msa-smtp.htpoort.nl>", rcptargs)
	else
		mt.rcptto(conn, "<dms@msa-smtp.htpoort.nl>")
	end
	return mt.getreply(conn)
end

-- header fields {name, value} one by one, then EOH; returns the last reply
function M.headers(conn, fields)
	for _, f in ipairs(fields) do
		mt.header(conn, f[1], f[2])
		local r = mt.getreply(conn)
		if r ~= SMFIR_CONTINUE then
			return r
		end
	end
	mt.eoh(conn)
	return mt.getreply(conn)
end

M.good = {
	{ "From", "Ik <ik@mijnbedrijf.nl>" },
	{ "To", "<dms@htpoort.nl>" },
	{ "Subject", "miltertest" },
}

function M.with(fields, extra)
	local t = {}
	for _, f in ipairs(fields) do table.insert(t, f) end
	for _, f in ipairs(extra) do table.insert(t, f) end
	return t
end

return M
