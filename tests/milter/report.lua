-- report.lua - mode = report: a would-be refusal is logged and the message
-- accepted. A rule on the header's shape (here Cc) lets the check go on, so
-- the message is still rewritten (issue 16); any other rule (here a content
-- type) leaves it unchanged; a conforming one is rewritten as always.
local h = dofile(os.getenv("MT_SCRIPTS") .. "/common.lua")
local conn = h.start("mode=report")

h.envelope(conn, "REPORT1")
if h.headers(conn, h.with(h.good, { { "Cc", "<x@htpoort.nl>" } })) ~= SMFIR_CONTINUE then
	error("report mode refused a Cc at the header")
end
mt.bodystring(conn, "x\r\n")
h.expect(conn, SMFIR_CONTINUE, "body")
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "report mode: eom")
if not mt.eom_check(conn, MT_HDRADD, "Message-ID") or
   not mt.eom_check(conn, MT_HDRADD, "Content-Disposition") then
	error("report mode: a reported Cc stopped the rewriting")
end

-- a content type no rule allows: reported, the message passes unchanged
h.envelope(conn, "REPORT4")
if h.headers(conn, h.with(h.good, { { "MIME-Version", "1.0" },
		{ "Content-Type", "application/x-msdownload" } })) ~= SMFIR_CONTINUE then
	error("report mode refused a content type")
end
mt.bodystring(conn, "x\r\n")
h.expect(conn, SMFIR_CONTINUE, "body")
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "report mode: eom (content type)")
if mt.eom_check(conn, MT_HDRCHANGE) or mt.eom_check(conn, MT_HDRADD) then
	error("report mode changed a message whose content it would have refused")
end

-- a second recipient is reported, not refused
if h.envelope(conn, "REPORT2") ~= SMFIR_CONTINUE then
	error("first RCPT")
end
mt.rcptto(conn, "<dms@msa-smtp.htpoort.nl>")
h.expect(conn, SMFIR_CONTINUE, "report mode: second RCPT")
mt.abort(conn)

-- a conforming message is still rewritten
h.envelope(conn, "REPORT3")
h.headers(conn, h.with(h.good, { { "Message-ID", "<report-3@mijnbedrijf.nl>" } }))
mt.bodystring(conn, "x\r\n")
mt.getreply(conn)
mt.eom(conn)
h.expect(conn, SMFIR_CONTINUE, "eom")
if not mt.eom_check(conn, MT_HDRADD, "Content-Disposition") then
	error("report mode: a conforming message was not rewritten")
end
mt.disconnect(conn)
