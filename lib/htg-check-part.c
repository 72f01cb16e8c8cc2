/*++
/* NAME
/*	htg-check-part 3
/* SUMMARY
/*	HTG rules of one MIME part: type, charset, transfer encoding, name
/* DESCRIPTION
/*	The per-part rules of 004 table 5 (HTG-CT, HTG-CHARSET, HTG-CTE),
/*	the file name replacement (HTG-FILENAME) and the streaming decode
/*	and validation of a leaf part's body. Called for the top-level
/*	entity by htg-check.c and for every body part by the MIME parser.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "htg-check-private.h"
#include "htg-hdr.h"
#include "htg-uuid.h"

/* 004 table 5: the Content-Type values of the SMTP-MSA/POP3 interface */
static const char *const allowed_leaf_types[] = {
	"text/plain", "application/edifact", "application/xml",
	"application/pdf", "application/zip", "application/octet-stream",
	NULL
};

/* Client text in a reply or log: printable ASCII, bounded. */
static const char *printable(const char *in, char *buf, size_t size)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)in[i];
		buf[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	buf[i] = '\0';
	return buf;
}

void check_default_ctype(struct htg_params *ct)
{
	/* RFC 2045 5.2, 004 table 5: missing means text/plain; us-ascii */
	memset(ct, 0, sizeof(*ct));
	strcpy(ct->main, "text/plain");
	strcpy(ct->param[0].name, "charset");
	strcpy(ct->param[0].value, "us-ascii");
	ct->param[0].value_len = 8;
	ct->count = 1;
}

/* word (case-insensitive) in a comma or space separated list */
static int list_contains(const char *list, const char *word)
{
	size_t n = strlen(word);

	while (list != NULL && *list != '\0') {
		size_t len;

		list += strspn(list, ", \t");
		len = strcspn(list, ", \t");
		if (len == n && n > 0 && strncasecmp(list, word, n) == 0)
			return 1;
		list += len;
	}
	return 0;
}

/* HTG-CT, 004 table 5: text/plain, application/edifact, application/xml,
   application/pdf, application/zip, application/octet-stream (or the
   operator's allowed_types). */
static int rule_ct(struct htg_check *c, const char *main)
{
	char buf[80];

	if (c->conf.allowed_types != NULL) {
		if (list_contains(c->conf.allowed_types, main))
			return 0;
	} else {
		for (const char *const *t = allowed_leaf_types; *t != NULL; t++)
			if (strcmp(main, *t) == 0)
				return 0;
	}
	return check_refuse(c, HTG_RULE_CT, "Content-Type %s is not allowed",
			    printable(main, buf, sizeof(buf)));
}

static int cte_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* HTG-CTE, 004 table 5: base64 (preferred), quoted-printable, 7bit;
   missing or empty means 7bit. The value is one RFC 2045 6.1 token
   with white space around it, nothing else: a receiver reads
   "(x) base64" or "base64 junk" its own way (Dovecot: base64 and
   none, where a first-word reading gives none and base64), and a
   one-part message keeps this field as it came. */
static int rule_cte(struct htg_check *c, const char *cte, enum check_cte *r,
		    char *norm, size_t size)
{
	char v[64], buf[64];
	size_t n = 0;

	norm[0] = '\0';
	if (cte == NULL)
		cte = "";
	while (cte_space((unsigned char)*cte))
		cte++;
	for (; cte[n] != '\0' && !cte_space((unsigned char)cte[n]) &&
	     n + 1 < sizeof(v); n++)
		v[n] = (char)tolower((unsigned char)cte[n]);
	v[n] = '\0';
	for (const char *p = cte + n; *p != '\0'; p++)
		if (!cte_space((unsigned char)*p))
			return check_refuse(c, HTG_RULE_CTE, "Content-Transfer-"
					    "Encoding must be one word (RFC "
					    "2045 6.1)");
	if (n == 0 || strcmp(v, "7bit") == 0)
		*r = CTE_7BIT;
	else if (strcmp(v, "base64") == 0)
		*r = CTE_BASE64;
	else if (strcmp(v, "quoted-printable") == 0)
		*r = CTE_QP;
	else
		return check_refuse(c, HTG_RULE_CTE, "Content-Transfer-Encoding "
				    "%s is not allowed (base64, "
				    "quoted-printable or 7bit)",
				    printable(v, buf, sizeof(buf)));
	if (n > 0)
		snprintf(norm, size, "%.30s", v);
	return 0;
}

/* HTG-CHARSET, 004 table 5 and note 9: us-ascii (the default), UTF-8,
   ISO-8859-1 and ISO-8859-15 at least; "Het is niet toegestaan om te
   refereren aan Windows Code Pages (CPxxxx)". Text parts are always
   validated; other parts when they name a charset. */
static int rule_charset(struct htg_check *c, const struct htg_params *ct,
			enum htg_charset *cs_r, int *validate_r, char *name,
			size_t size)
{
	const struct htg_param *p = htg_hdr_param_get(ct, "charset");
	char buf[80];

	*validate_r = 0;
	snprintf(name, size, "%s", htg_charset_name(HTG_CHARSET_US_ASCII));
	if (p == NULL) {
		*cs_r = HTG_CHARSET_US_ASCII;
		*validate_r = strncmp(ct->main, "text/", 5) == 0;
		return 0;
	}
	*cs_r = htg_charset_lookup(p->value);
	if (*cs_r == HTG_CHARSET_WINDOWS)
		return check_refuse(c, HTG_RULE_CHARSET, "charset %s is a "
				    "Windows code page",
				    printable(p->value, buf, sizeof(buf)));
	if (*cs_r == HTG_CHARSET_UNKNOWN &&
	    list_contains(c->conf.extra_charsets, p->value)) {
		size_t i;

		/* allowed by the operator, by name only */
		for (i = 0; p->value[i] != '\0' && i + 1 < size; i++)
			name[i] = (char)tolower((unsigned char)p->value[i]);
		name[i] = '\0';
		return 0;
	}
	if (*cs_r == HTG_CHARSET_UNKNOWN)
		return check_refuse(c, HTG_RULE_CHARSET, "charset %s is not "
				    "allowed (us-ascii, UTF-8, ISO-8859-1, "
				    "ISO-8859-15)",
				    printable(p->value, buf, sizeof(buf)));
	snprintf(name, size, "%s", htg_charset_name(*cs_r));
	*validate_r = 1;
	return 0;
}

int check_multipart_rules(struct htg_check *c, const struct htg_params *ct,
			  const char *cte)
{
	const struct htg_param *b = htg_hdr_param_get(ct, "boundary");
	enum check_cte kind;
	char norm[32], buf[80];

	/* 004 1.1, table 5: extra attachments travel in multipart/mixed */
	if (strcmp(ct->main, "multipart/mixed") != 0)
		return check_refuse(c, HTG_RULE_CT, "Content-Type %s is not "
				    "allowed (multipart/mixed carries extra "
				    "attachments)",
				    printable(ct->main, buf, sizeof(buf)));
	/* RFC 2045 6.4: a multipart is never encoded */
	if (rule_cte(c, cte, &kind, norm, sizeof(norm)) < 0)
		return -1;
	if (kind != CTE_7BIT)
		return check_refuse(c, HTG_RULE_CTE, "a multipart must not be "
				    "transfer-encoded (RFC 2045 6.4)");
	if (b == NULL || !htg_mime_boundary_ok(b->value))
		return check_refuse(c, HTG_RULE_MIME, "multipart without a "
				    "valid boundary");
	return 0;
}

/* Original names are logged, never sent back: printable ASCII, other
   bytes as \xNN, so the log line stays one line and readable. */
static void rename_record(struct htg_check *c, const struct htg_param *name,
			  const char *renamed)
{
	struct htg_rename *r;
	size_t o = 0;

	if (c->nrenames++ >= HTG_RENAMES_MAX)
		return;
	r = &c->renames[c->nrenames - 1];
	snprintf(r->renamed, sizeof(r->renamed), "%s", renamed);
	if (name == NULL) {
		strcpy(r->original, "-");
		return;
	}
	for (size_t i = 0; i < name->value_len && o + 5 < sizeof(r->original); i++) {
		unsigned char ch = (unsigned char)name->value[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			r->original[o++] = (char)ch;
		else
			o += (size_t)snprintf(r->original + o,
					      sizeof(r->original) - o,
					      "\\x%02x", ch);
	}
	r->original[o] = '\0';
}

/* HTG-FILENAME, 004 table 5: "HTG vervangt de bestandsnaam altijd door
   een uniek ID. Indien de parameter ontbreekt ... genereert HTG een
   unieke bestandsnaam met extensie .txt." The name is read from
   Content-Disposition filename, else Content-Type name (RFC 2231 and
   2047 forms decoded by htg_hdr_params), and never copied: only its
   extension survives, when it is 1-10 of [A-Za-z0-9]. */
static int part_rename(struct htg_check *c, const struct htg_params *ct,
		       const char *cdisp, char *renamed, size_t size)
{
	struct htg_params disp;
	const struct htg_param *name = NULL;
	const char *error;
	char uuid[HTG_UUID_LEN + 1], ext[16];

	if (cdisp != NULL && htg_hdr_params(cdisp, &disp, &error) == 0)
		name = htg_hdr_param_get(&disp, "filename");
	if (name == NULL || name->value_len == 0)
		name = htg_hdr_param_get(ct, "name");
	htg_filename_ext(name != NULL ? name->value : "",
			 name != NULL ? name->value_len : 0, ext, sizeof(ext));
	if (htg_uuid(uuid) < 0)
		return check_refuse(c, HTG_RULE_COUNT, "no randomness");
	snprintf(renamed, size, "%s.%s", uuid, ext);
	rename_record(c, name, renamed);
	return 0;
}

int check_part_begin(struct htg_check *c, const struct htg_params *ct,
		     const char *ctype_raw, const char *cte, const char *cdisp)
{
	struct check_part *p = &c->part;
	enum htg_charset cs;
	char renamed[64], csname[64];
	int n;

	(void)ctype_raw;
	memset(p, 0, sizeof(*p));
	if (rule_ct(c, ct->main) < 0 ||
	    rule_cte(c, cte, &p->cte, p->new_cte, sizeof(p->new_cte)) < 0 ||
	    rule_charset(c, ct, &cs, &p->validate_charset, csname,
			 sizeof(csname)) < 0 ||
	    part_rename(c, ct, cdisp, renamed, sizeof(renamed)) < 0)
		return -1;
	n = snprintf(p->new_ctype, sizeof(p->new_ctype), "%s", ct->main);
	if (htg_hdr_param_get(ct, "charset") != NULL || p->validate_charset)
		n += snprintf(p->new_ctype + n, sizeof(p->new_ctype) - (size_t)n,
			      "; charset=%s", csname);
	if (htg_hdr_param_get(ct, "name") != NULL)
		snprintf(p->new_ctype + n, sizeof(p->new_ctype) - (size_t)n,
			 "; name=\"%s\"", renamed);
	snprintf(p->new_cdisp, sizeof(p->new_cdisp),
		 "attachment; filename=\"%s\"", renamed);
	htg_b64_init(&p->b64);
	htg_qp_init(&p->qp);
	htg_charset_check_init(&p->cs, cs);
	return 0;
}

/* --- MIME parser callbacks -------------------------------------------------- */

static int out(struct htg_mime *m, const char *s)
{
	return htg_mime_output(m, s, strlen(s)) < 0 ? -1 : 0;
}

/* Fields regenerated by us are not copied: the rest pass as they were. */
static int regenerated(const char *name)
{
	return strcasecmp(name, "Content-Type") == 0 ||
	    strcasecmp(name, "Content-Transfer-Encoding") == 0 ||
	    strcasecmp(name, "Content-Disposition") == 0 ||
	    strcasecmp(name, "Content-Description") == 0 ||
	    strcasecmp(name, "Content-Location") == 0;
}

static int cb_part_headers(void *ctx, struct htg_mime *m,
			   const struct htg_mime_part *part)
{
	struct htg_check *c = ctx;
	const char *cte = NULL, *cdisp = NULL, *ctype = NULL;
	char line[400];

	for (unsigned int i = 0; i < part->nfields; i++) {
		const struct htg_mime_field *f = &part->fields[i];
		const char **slot =
		    strcasecmp(f->name, "Content-Transfer-Encoding") == 0 ? &cte :
		    strcasecmp(f->name, "Content-Disposition") == 0 ? &cdisp :
		    strcasecmp(f->name, "Content-Type") == 0 ? &ctype : NULL;

		if (slot == NULL)
			continue;
		if (*slot != NULL)
			return check_refuse(c, HTG_RULE_MIME, "body part %u has "
					    "more than one %s header",
					    part->index, f->name);
		*slot = f->value;
	}
	for (unsigned int i = 0; i < part->nfields; i++)
		if (!regenerated(part->fields[i].name) &&
		    htg_mime_output(m, part->fields[i].raw,
				    part->fields[i].raw_len) < 0)
			return -1;
	if (strncmp(part->ctype->main, "multipart/", 10) == 0) {
		if (check_multipart_rules(c, part->ctype, cte) < 0)
			return -1;
		snprintf(line, sizeof(line),
			 "Content-Type: multipart/mixed; boundary=\"%.70s\"\r\n",
			 htg_hdr_param_get(part->ctype, "boundary")->value);
		return out(m, line);
	}
	if (check_part_begin(c, part->ctype, ctype, cte, cdisp) < 0)
		return -1;
	snprintf(line, sizeof(line), "Content-Type: %s\r\n", c->part.new_ctype);
	if (out(m, line) < 0)
		return -1;
	if (c->part.new_cte[0] != '\0') {
		snprintf(line, sizeof(line), "Content-Transfer-Encoding: %s\r\n",
			 c->part.new_cte);
		if (out(m, line) < 0)
			return -1;
	}
	snprintf(line, sizeof(line), "Content-Disposition: %s\r\n",
		 c->part.new_cdisp);
	return out(m, line);
}

static int charset_check(struct htg_check *c, const unsigned char *data,
			 size_t len)
{
	const char *error;

	if (!c->part.validate_charset || len == 0)
		return 0;
	if (htg_charset_check(&c->part.cs, data, len, &error) < 0)
		return check_refuse(c, HTG_RULE_CHARSET, "bytes not valid in "
				    "%s: %s", htg_charset_name(c->part.cs.cs),
				    error);
	return 0;
}

static int cb_part_body(void *ctx, const unsigned char *data, size_t len)
{
	struct htg_check *c = ctx;
	unsigned char dec[HTG_MIME_LINE_MAX + 4];
	const char *error;
	long n;

	switch (c->part.cte) {
	case CTE_7BIT:
		/* 004 table 5: 7bit is "niet geschikt voor ... ASCII-waarden
		   boven 127"; all ASCII is valid in every allowed charset */
		for (size_t i = 0; i < len; i++)
			if (data[i] >= 0x80)
				return check_refuse(c, HTG_RULE_CTE, "8-bit byte "
						    "in a 7bit part");
		return 0;
	case CTE_BASE64:
		n = htg_b64_decode(&c->part.b64, data, len, dec, &error);
		if (n < 0)
			return check_refuse(c, HTG_RULE_CTE, "broken base64: %s",
					    error);
		return charset_check(c, dec, (size_t)n);
	case CTE_QP:
		n = htg_qp_decode(&c->part.qp, data, len, dec, &error);
		if (n < 0)
			return check_refuse(c, HTG_RULE_CTE, "broken "
					    "quoted-printable: %s", error);
		return charset_check(c, dec, (size_t)n);
	}
	return 0;
}

static int cb_part_end(void *ctx)
{
	struct htg_check *c = ctx;
	const char *error;

	if (c->part.cte == CTE_BASE64 &&
	    htg_b64_finish(&c->part.b64, &error) < 0)
		return check_refuse(c, HTG_RULE_CTE, "broken base64: %s", error);
	if (c->part.cte == CTE_QP && htg_qp_finish(&c->part.qp, &error) < 0)
		return check_refuse(c, HTG_RULE_CTE, "broken quoted-printable: "
				    "%s", error);
	if (c->part.validate_charset &&
	    htg_charset_check_finish(&c->part.cs, &error) < 0)
		return check_refuse(c, HTG_RULE_CHARSET, "bytes not valid in "
				    "%s: %s", htg_charset_name(c->part.cs.cs),
				    error);
	return 0;
}

static int cb_output(void *ctx, const void *data, size_t len)
{
	struct htg_check *c = ctx;

	/* a one-part message keeps its body: only headers change */
	if (!c->multipart || c->output == NULL)
		return 0;
	return c->output(c->output_ctx, data, len);
}

const struct htg_mime_callbacks check_mime_callbacks = {
	.part_headers = cb_part_headers,
	.part_body = cb_part_body,
	.part_end = cb_part_end,
	.output = cb_output,
};
