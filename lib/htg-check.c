/*++
/* NAME
/*	htg-check 3
/* SUMMARY
/*	the HTG message rules over one message, streaming
/* DESCRIPTION
/*	See htg-check.h. Each rule is one function named after its id and
/*	citing the spec (004 = Koppelvlakbeschrijving HTG SMTP-MSA en POP3
/*	v1.3.1). The per-part rules and the body decoding live in
/*	htg-check-part.c; this file holds the message-level rules and the
/*	glue to the MIME parser.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htg-check-private.h"
#include "htg-hdr.h"
#include "htg-uuid.h"

/* --- verdicts --------------------------------------------------------- */

/* The rules a report mode lets the check go past: they judge the shape
   of the top-level header only, so the rest (Message-ID, MIME, renaming)
   is decided exactly as for a conforming message. */
static int reportable(enum htg_rule_id rule)
{
	return rule == HTG_RULE_HDR_CC || rule == HTG_RULE_HDR_FROM ||
		rule == HTG_RULE_HDR_TO;
}

void htg_check_set_report(struct htg_check *c, htg_check_report_fn *fn,
			  void *ctx)
{
	c->report = fn;
	c->report_ctx = ctx;
}

int check_refuse(struct htg_check *c, enum htg_rule_id rule,
		 const char *fmt, ...)
{
	va_list ap;

	if (c->verdict.refused)
		return -1;	/* the first refusal stands */
	if (c->report != NULL && reportable(rule)) {
		char detail[sizeof(c->verdict.detail)];

		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
		c->report(c->report_ctx, rule, detail);
		return 0;	/* as if it had passed */
	}
	c->verdict.refused = 1;
	c->verdict.rule = rule;
	va_start(ap, fmt);
	vsnprintf(c->verdict.detail, sizeof(c->verdict.detail), fmt, ap);
	va_end(ap);
	return -1;
}

int check_edit(struct htg_check *c, enum htg_hdr_op op, const char *name,
	       unsigned int index, const char *value)
{
	struct htg_hdr_edit *e;

	if (c->nedits >= CHECK_EDITS_MAX)
		return check_refuse(c, HTG_RULE_COUNT, "too many header edits");
	e = &c->edits[c->nedits++];
	e->op = op;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->index = index;
	if (value != NULL && strlen(value) >= sizeof(e->value))
		return check_refuse(c, HTG_RULE_COUNT, "header value too long");
	snprintf(e->value, sizeof(e->value), "%s", value != NULL ? value : "");
	return 0;
}

/* --- construction ------------------------------------------------------- */

struct htg_check *htg_check_new(const struct htg_check_conf *conf,
				htg_check_output_fn *output, void *ctx)
{
	struct htg_check *c = calloc(1, sizeof(*c));
	struct htg_mime_limits lim;

	if (c == NULL)
		return NULL;
	c->conf = *conf;
	if (c->conf.header_field_max == 0)
		c->conf.header_field_max = HTG_HEADER_FIELD_MAX;
	c->output = output;
	c->output_ctx = ctx;
	lim.max_depth = conf->max_depth;
	lim.max_parts = conf->max_parts;
	lim.max_part_header = 0;
	c->mime = htg_mime_new(&lim, &check_mime_callbacks, c);
	if (c->mime == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void htg_check_free(struct htg_check **_c)
{
	struct htg_check *c = *_c;

	if (c == NULL)
		return;
	htg_mime_free(&c->mime);
	free(c->top.from);
	free(c->top.to);
	free(c->top.msgid);
	free(c->top.ctype);
	free(c->top.cte);
	free(c->top.cdisp);
	free(c);
	*_c = NULL;
}

int htg_check_set_rcpt(struct htg_check *c, const char *rcpt)
{
	if (strlen(rcpt) >= sizeof(c->rcpt))
		return -1;
	snprintf(c->rcpt, sizeof(c->rcpt), "%s", rcpt);
	return 0;
}

int htg_check_set_account(struct htg_check *c, const char *account)
{
	if (strlen(account) >= sizeof(c->account))
		return -1;
	snprintf(c->account, sizeof(c->account), "%s", account);
	return 0;
}

const struct htg_verdict *htg_check_verdict(const struct htg_check *c)
{
	return &c->verdict;
}

const struct htg_hdr_edit *htg_check_edits(const struct htg_check *c,
					   unsigned int *count_r)
{
	*count_r = c->nedits;
	return c->edits;
}

int htg_check_body_rewritten(const struct htg_check *c)
{
	return c->multipart;
}

const struct htg_rename *htg_check_renames(const struct htg_check *c,
					   unsigned int *count_r,
					   unsigned int *total_r)
{
	*count_r = c->nrenames < HTG_RENAMES_MAX ? c->nrenames : HTG_RENAMES_MAX;
	*total_r = c->nrenames;
	return c->renames;
}

const char *htg_check_msgid(const struct htg_check *c)
{
	return c->msgid;
}

/* --- top-level header fields ---------------------------------------------- */

/* The first field of a name is kept whole for the rules at the end of
   the header; its size is bounded by header_field_max (checked before). */
static int keep_value(struct htg_check *c, char **dst, const char *value)
{
	if (*dst != NULL)
		return 0;
	if ((*dst = strdup(value)) == NULL)
		return check_refuse(c, HTG_RULE_COUNT, "out of memory");
	return 0;
}

/* RFC 5322 2.1.1 (998 characters a line) and 2.2 (US-ASCII only; 8-bit
   text needs RFC 2047 encoded words): HTG-MIME. DESIGN 2 "header line
   or field too long": a field longer than header_field_max (Postfix's
   header_size_limit) is refused, never truncated, so every rule reads
   the whole field. Postfix's cleanup keeps appending a field's lines
   while it is shorter than its limit (60000 with milters) and drops
   the rest, so a field that reaches the limit may have been cut before
   we see it: it is refused too (">="). */
static int rule_mime_header_field(struct htg_check *c, const char *name,
				  const char *value)
{
	/* "Name: value": libmilter strips the space after the colon */
	size_t line = strlen(name) + 2;

	if (line + strlen(value) >= c->conf.header_field_max)
		return check_refuse(c, HTG_RULE_MIME, "%.32s header field of "
				    "%zu bytes or more", name,
				    c->conf.header_field_max);
	for (const char *p = value; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch >= 0x80)
			return check_refuse(c, HTG_RULE_MIME, "8-bit byte in the "
					    "%s header (RFC 2047 encoding needed)",
					    name);
		line = (ch == '\n') ? 0 : line + 1;
		if (line > 998)
			return check_refuse(c, HTG_RULE_MIME, "%s header line "
					    "longer than 998 characters", name);
	}
	return 0;
}

/* HTG-HDR-CC, 004 table 4: "Aangezien een mail slechts een ontvanger
   heeft, is het gebruik van Cc (en Bcc) niet toegestaan." Postfix's
   cleanup removes Bcc before a milter sees it; the submission service's
   header_checks refuse it there, this is the backstop. */
static int rule_hdr_cc(struct htg_check *c, const char *name)
{
	if (strcasecmp(name, "Cc") == 0 || strcasecmp(name, "Bcc") == 0)
		return check_refuse(c, HTG_RULE_HDR_CC, "%s header: Cc and "
				    "Bcc are not allowed, a message has "
				    "exactly one recipient", name);
	return 0;
}

int htg_check_header(struct htg_check *c, const char *name, const char *value)
{
	struct check_top *t = &c->top;

	if (c->verdict.refused)
		return -1;
	if (rule_mime_header_field(c, name, value) < 0 ||
	    rule_hdr_cc(c, name) < 0)
		return -1;
	if (strcasecmp(name, "From") == 0) {
		if (t->from_count++ == 0)
			return keep_value(c, &t->from, value);
	} else if (strcasecmp(name, "To") == 0) {
		if (t->to_count++ == 0)
			return keep_value(c, &t->to, value);
	} else if (strcasecmp(name, "Message-ID") == 0) {
		if (t->msgid_count++ == 0)
			return keep_value(c, &t->msgid, value);
	} else if (strcasecmp(name, "Content-Type") == 0) {
		if (t->ctype_count++ == 0)
			return keep_value(c, &t->ctype, value);
	} else if (strcasecmp(name, "Content-Transfer-Encoding") == 0) {
		if (t->cte_count++ == 0)
			return keep_value(c, &t->cte, value);
	} else if (strcasecmp(name, "Content-Disposition") == 0) {
		if (t->cdisp_count++ == 0)
			return keep_value(c, &t->cdisp, value);
	} else if (strcasecmp(name, "Content-Description") == 0) {
		t->cdesc_count++;
	} else if (strcasecmp(name, "Content-Location") == 0) {
		t->cloc_count++;
	} else if (strcasecmp(name, "MIME-Version") == 0) {
		t->mimever_count++;
	}
	return 0;
}

/* --- end of header: the message-level rules ---------------------------------- */

/* HTG-HDR-FROM, 004 table 4: "From: Adres van de verzender van het
   bericht" - one From field holding exactly one address (RFC 5322
   3.6.2 allows several only with a Sender field; HTG has one sender),
   and that address is the sender's: one the authenticated account owns
   in the directory (DESIGN 2; 004 3.1 "De verzender authenticeert
   zich"), unless the operator relaxed it (from_owner NULL). */
static int rule_hdr_from(struct htg_check *c)
{
	char addr[256], owner[256];
	int n;

	if (c->top.from_count != 1)
		return check_refuse(c, HTG_RULE_HDR_FROM, "%s From header",
				    c->top.from_count == 0 ? "no" : "more than one");
	n = htg_hdr_addresses(c->top.from, addr, sizeof(addr));
	if (n != 1)
		return check_refuse(c, HTG_RULE_HDR_FROM, "the From header "
				    "must hold exactly one address");
	if (c->conf.from_owner == NULL)
		return 0;
	n = c->conf.from_owner(c->conf.from_owner_ctx, addr, owner,
			       sizeof(owner));
	if (n < 0)
		return check_refuse(c, HTG_RULE_COUNT, "directory lookup of "
				    "the From address failed");
	if (n == 0 || c->account[0] == '\0' ||
	    strcasecmp(owner, c->account) != 0)
		return check_refuse(c, HTG_RULE_HDR_FROM, "the From address is "
				    "not an address of the authenticated "
				    "account");
	return 0;
}

/* HTG-HDR-TO, 004 table 4: "To: Adres van de ontvanger ...
   <berichtsoort>@htpoort.nl / <berichtsoort>@preprod.htpoort.nl": one
   To field, one address, the same flow as the envelope recipient
   (<berichtsoort>@msa-smtp...), at this environment's header domain. */
static int rule_hdr_to(struct htg_check *c)
{
	char addr[256];
	const char *at, *rat;
	size_t flow_len;

	if (c->top.to_count != 1)
		return check_refuse(c, HTG_RULE_HDR_TO, "%s To header",
				    c->top.to_count == 0 ? "no" : "more than one");
	if (htg_hdr_addresses(c->top.to, addr, sizeof(addr)) != 1)
		return check_refuse(c, HTG_RULE_HDR_TO, "the To header must "
				    "hold exactly one address");
	at = strrchr(addr, '@');
	if (at == NULL || strcasecmp(at + 1, c->conf.header_domain) != 0)
		return check_refuse(c, HTG_RULE_HDR_TO, "To must be "
				    "<message flow>@%s", c->conf.header_domain);
	rat = strrchr(c->rcpt, '@');
	flow_len = (size_t)(at - addr);
	if (rat == NULL || (size_t)(rat - c->rcpt) != flow_len ||
	    strncasecmp(addr, c->rcpt, flow_len) != 0)
		return check_refuse(c, HTG_RULE_HDR_TO, "To must name the same "
				    "message flow as the envelope recipient");
	return 0;
}

/* HTG-MSGID, 004 table 4: "Message-ID: Een unieke identificatie van het
   bericht ... Indien een message-ID ontbreekt voegt HTG een eigen
   message-ID toe." A present one must be one RFC 5322 3.6.4 msg-id;
   uniqueness per account is decided by the caller, which owns the
   directory (htg_dir_msgid_claim). */
static int rule_msgid(struct htg_check *c)
{
	char uuid[HTG_UUID_LEN + 1];

	if (c->top.msgid_count > 1)
		return check_refuse(c, HTG_RULE_MSGID, "more than one "
				    "Message-ID header");
	if (c->top.msgid_count == 1) {
		if (htg_hdr_msgid(c->top.msgid, c->msgid, sizeof(c->msgid)) != 1)
			return check_refuse(c, HTG_RULE_MSGID, "malformed "
					    "Message-ID");
		return 0;
	}
	if (htg_uuid(uuid) < 0)
		return check_refuse(c, HTG_RULE_COUNT, "no randomness");
	snprintf(c->msgid, sizeof(c->msgid), "<%s@%s>", uuid,
		 c->conf.msgid_domain);
	return check_edit(c, HTG_HDR_ADD, "Message-ID", 0, c->msgid);
}

/* Remove every field of a name (highest index first: indexes are those
   of the message as received). */
static int delete_all(struct htg_check *c, const char *name, unsigned int n)
{
	for (unsigned int i = n; i > 0; i--)
		if (check_edit(c, HTG_HDR_DELETE, name, i, NULL) < 0)
			return -1;
	return 0;
}

/* The top-level entity: a multipart/mixed container or one leaf part. */
static int top_entity(struct htg_check *c)
{
	struct check_top *t = &c->top;
	struct htg_params ct;
	const char *error;
	char value[256];

	if (t->ctype_count > 1 || t->cte_count > 1 || t->cdisp_count > 1)
		return check_refuse(c, HTG_RULE_MIME, "more than one "
				    "Content-Type, Content-Transfer-Encoding "
				    "or Content-Disposition header");
	if (t->ctype_count == 1) {
		if (htg_hdr_params(t->ctype, &ct, &error) < 0)
			return check_refuse(c, HTG_RULE_MIME, "malformed "
					    "Content-Type: %s", error);
	} else {
		check_default_ctype(&ct);
	}
	if (t->mimever_count == 0 &&
	    check_edit(c, HTG_HDR_ADD, "MIME-Version", 0, "1.0") < 0)
		return -1;
	if (strncmp(ct.main, "multipart/", 10) == 0) {
		const struct htg_param *b;

		if (check_multipart_rules(c, &ct, t->cte_count ? t->cte : NULL) < 0)
			return -1;
		b = htg_hdr_param_get(&ct, "boundary");
		c->multipart = 1;
		snprintf(value, sizeof(value), "multipart/mixed; boundary=\"%.70s\"",
			 b->value);
		/* every Content-* field it leaves with is ours (the 7bit
		   Content-Transfer-Encoding of a multipart goes) */
		if (check_edit(c, HTG_HDR_CHANGE, "Content-Type", 1, value) < 0 ||
		    delete_all(c, "Content-Disposition", t->cdisp_count) < 0 ||
		    delete_all(c, "Content-Transfer-Encoding", t->cte_count) < 0)
			return -1;
		if (htg_mime_begin(c->mime, b->value) < 0)
			return check_refuse(c, HTG_RULE_MIME, "%s",
					    htg_mime_error(c->mime));
		return 0;
	}
	/* one leaf part: its header fields are top-level fields */
	if (check_part_begin(c, &ct, t->ctype_count ? t->ctype : NULL,
			     t->cte_count ? t->cte : NULL,
			     t->cdisp_count ? t->cdisp : NULL) < 0)
		return -1;
	if (check_edit(c, t->ctype_count ? HTG_HDR_CHANGE : HTG_HDR_ADD,
		       "Content-Type", 1, c->part.new_ctype) < 0 ||
	    check_edit(c, t->cdisp_count ? HTG_HDR_CHANGE : HTG_HDR_ADD,
		       "Content-Disposition", 1, c->part.new_cdisp) < 0 ||
	    delete_all(c, "Content-Description", t->cdesc_count) < 0 ||
	    delete_all(c, "Content-Location", t->cloc_count) < 0)
		return -1;
	/* The Content-Transfer-Encoding leaves as we read it (one word,
	   lower case), or goes when it said nothing (7bit): the receiver
	   must decode the body the way we checked it, whatever the
	   original field held that the milter never saw (Postfix hands a
	   milter each value only up to a NUL byte). */
	if (t->cte_count == 1 &&
	    check_edit(c, c->part.new_cte[0] != '\0' ? HTG_HDR_CHANGE :
		       HTG_HDR_DELETE, "Content-Transfer-Encoding", 1,
		       c->part.new_cte[0] != '\0' ? c->part.new_cte : NULL) < 0)
		return -1;
	if (htg_mime_begin(c->mime, NULL) < 0)
		return check_refuse(c, HTG_RULE_MIME, "%s", htg_mime_error(c->mime));
	return 0;
}

int htg_check_eoh(struct htg_check *c)
{
	if (c->verdict.refused)
		return -1;
	c->eoh = 1;
	if (rule_hdr_from(c) < 0 || rule_hdr_to(c) < 0 || rule_msgid(c) < 0 ||
	    top_entity(c) < 0)
		return -1;
	return 0;
}

/* --- body ------------------------------------------------------------------ */

/* A stop of the MIME parser is either its own structure error (HTG-MIME)
   or a refusal a callback already recorded. */
static int mime_stopped(struct htg_check *c)
{
	const char *error = htg_mime_error(c->mime);

	if (!c->verdict.refused)
		check_refuse(c, error != NULL ? HTG_RULE_MIME : HTG_RULE_COUNT,
			     "%s", error != NULL ? error : "output failed");
	return -1;
}

int htg_check_body(struct htg_check *c, const void *data, size_t len)
{
	if (c->verdict.refused)
		return -1;
	if (!c->eoh && htg_check_eoh(c) < 0)
		return -1;
	if (htg_mime_feed(c->mime, data, len) < 0)
		return mime_stopped(c);
	return 0;
}

int htg_check_eom(struct htg_check *c)
{
	if (c->verdict.refused)
		return -1;
	if (!c->eoh && htg_check_eoh(c) < 0)
		return -1;
	if (htg_mime_end(c->mime) < 0)
		return mime_stopped(c);
	return 0;
}

/* --- envelope rules ------------------------------------------------------------ */

int htg_mail_has_envid(char *const *argv)
{
	for (int i = 1; argv != NULL && argv[i] != NULL; i++)
		if (strncasecmp(argv[i], "ENVID=", 6) == 0)
			return 1;
	return 0;
}

/* HTG-ENVID, 004 table 3: "Als een ontvangstbevestiging wordt gevraagd
   moet een uniek ID worden meegegeven (envelope ID)": NOTIFY with
   SUCCESS (RFC 3461 4.1) needs ENVID on MAIL (RFC 3461 4.4). */
int htg_rule_envid(int mail_has_envid, char *const *argv)
{
	for (int i = 1; argv != NULL && argv[i] != NULL; i++) {
		const char *p;

		if (strncasecmp(argv[i], "NOTIFY=", 7) != 0)
			continue;
		for (p = argv[i] + 7; *p != '\0';) {
			size_t n = strcspn(p, ",");

			if (n == 7 && strncasecmp(p, "SUCCESS", 7) == 0)
				return !mail_has_envid;
			p += n;
			if (*p == ',')
				p++;
		}
	}
	return 0;
}

/* HTG-RCPT-ONE, 004 table 3: "Elke mail heeft precies een ontvanger." */
int htg_rule_rcpt_one(unsigned int accepted_so_far)
{
	return accepted_so_far >= 1;
}
