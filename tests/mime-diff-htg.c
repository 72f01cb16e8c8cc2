/*++
/* NAME
/*	mime-diff-htg 3
/* SUMMARY
/*	differential MIME test: the milter's side
/* SYNOPSIS
/*	#include "mime-diff.h"
/* DESCRIPTION
/*	md_htg() plays Postfix and htg-milter over one message:
/* .IP \(bu
/*	Postfix: line ends become CRLF (smtpd reads lines, the queue
/*	keeps records, delivery writes CRLF), the last line too (DATA
/*	ends with CRLF "." CRLF); the primary header is split
/*	as mime_state(3) does (is_header(): a label of printable ASCII
/*	without space or colon, optional white space, ":"; continuation
/*	lines begin with white space); the first other line ends the
/*	header and Postfix inserts the empty line before it; each field
/*	goes to the milter as milter8_header() sends it (label, value
/*	after one space, folds as LF).
/* .IP \(bu
/*	the milter: lib/htg-check gets the fields, the end of the header,
/*	the body in chunks and the end of the message, exactly as
/*	milter/milter-cb.c drives it; its verdict, header edits and
/*	rewritten body are applied the way Postfix's cleanup applies
/*	smfi_chgheader (the index-th field of that name), smfi_addheader
/*	(appended) and smfi_replacebody.
/* .PP
/*	The part tree the milter saw is taken from the MIME parser's trace
/*	hook (htg_mime_set_trace(), through htg-check-private.h), in
/*	offsets of the output message: where each part's header block
/*	and body begin, where the body ends, and the Content-Type,
/*	Content-Disposition and Content-Transfer-Encoding each part
/*	leaves with.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htg-check-private.h"
#include "mime-diff.h"

struct buf {
	char *data;
	size_t len, size;
};

static int buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->size) {
		size_t size = (b->len + len + 1) * 2;
		char *d = realloc(b->data, size);

		if (d == NULL)
			return -1;
		b->data = d;
		b->size = size;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static int collect(void *ctx, const void *data, size_t len)
{
	return buf_add(ctx, data, len);
}

/* --- Postfix's view of the primary header ---------------------------------- */

/* is_header(3): label length, or 0 when the line is no header field */
static size_t is_header(const char *p, size_t len)
{
	size_t i, label = 0;
	int space = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ':')
			return label > 0 ? label : 0;
		if (c == ' ' || c == '\t') {
			if (label == 0)
				return 0;
			space = 1;
			continue;
		}
		if (c == 0 || c >= 0x80 || c < 0x20 || c == 0x7f || space)
			return 0;
		label++;
	}
	return 0;
}

struct field {
	size_t start, len;		/* raw text in the message, CRLFs */
	char *text;			/* replaced text, or NULL */
	int deleted;
	char label[64];
};

#define FIELDS_MAX 400

struct split {
	struct field f[FIELDS_MAX];
	unsigned int n;
	size_t body;			/* where the body begins */
};

/* CRLF line ends everywhere, as Postfix delivers the message */
static int crlf(const unsigned char *in, size_t len, struct buf *b)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r') &&
		    buf_add(b, "\r", 1) < 0)
			return -1;
		if (buf_add(b, in + i, 1) < 0)
			return -1;
	}
	/* SMTP DATA ends with CRLF "." CRLF: the last line has its end */
	if (len > 0 && in[len - 1] != '\n')
		return buf_add(b, "\r\n", 2);
	return 0;
}

static int split_header(const char *m, size_t len, struct split *s)
{
	size_t p = 0;

	s->n = 0;
	while (p < len) {
		size_t start = p, label;
		const char *nl;

		label = is_header(m + p, len - p);
		if (label == 0)
			break;
		do {
			nl = memchr(m + p, '\n', len - p);
			p = nl != NULL ? (size_t)(nl - m) + 1 : len;
		} while (p < len && (m[p] == ' ' || m[p] == '\t'));
		if (s->n >= FIELDS_MAX || label >= sizeof(s->f[0].label))
			return -1;	/* not modelled: the caller skips it */
		memset(&s->f[s->n], 0, sizeof(s->f[0]));
		s->f[s->n].start = start;
		s->f[s->n].len = p - start;
		memcpy(s->f[s->n].label, m + start, label);
		s->n++;
	}
	/* an empty line ends the header; any other line is the body's
	   first line and Postfix inserts the empty line before it */
	if (p + 1 < len && m[p] == '\r' && m[p + 1] == '\n')
		p += 2;
	s->body = p;
	return 0;
}

/* milter8_header(): label, then the value after ":" and one space,
   CRs dropped (folds reach the milter as LF + white space) */
static char *milter_value(const char *m, const struct field *f)
{
	const char *p = memchr(m + f->start, ':', f->len);
	const char *end = m + f->start + f->len;
	char *v = malloc(f->len + 1), *o = v;

	if (v == NULL)
		return NULL;
	p++;
	if (p < end && *p == ' ')
		p++;
	for (; p < end; p++)
		if (*p != '\r')
			*o++ = *p;
	while (o > v && o[-1] == '\n')
		o--;
	*o = '\0';
	return v;
}

/* --- the milter's part tree ------------------------------------------------------ */

struct trace_state {
	struct htg_check *chk;
	struct buf *body;
	struct md_tree *tree;
};

static void tr_part_begin(void *ctx, unsigned int depth)
{
	struct trace_state *t = ctx;
	struct md_node *n;

	if (t->tree->count >= MD_NODES_MAX) {
		t->tree->overflow = 1;
		return;
	}
	n = &t->tree->node[t->tree->count++];
	memset(n, 0, sizeof(*n));
	n->depth = depth;
	n->hdr_off = t->body->len;	/* body-relative until the end */
	n->end_off = (size_t)-1;
}

static void param_value(const char *value, const char *param, char *dst,
			size_t size)
{
	const char *p = strstr(value, param);

	dst[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(param);
	snprintf(dst, size, "%.*s", (int)strcspn(p, "\""), p);
}

/* the type, disposition and encoding the part leaves with: what
   htg-check-part.c wrote (cb_part_headers) */
static void leaf_view(const struct check_part *p, struct md_node *n)
{
	snprintf(n->ctype, sizeof(n->ctype), "%.*s",
		 (int)strcspn(p->new_ctype, ";"), p->new_ctype);
	snprintf(n->disp, sizeof(n->disp), "%.*s",
		 (int)strcspn(p->new_cdisp, ";"), p->new_cdisp);
	param_value(p->new_cdisp, "filename=\"", n->filename,
		    sizeof(n->filename));
	param_value(p->new_ctype, "name=\"", n->name, sizeof(n->name));
	snprintf(n->cte, sizeof(n->cte), "%s", p->new_cte);
	n->n_ctype = 1;
	n->n_cdisp = 1;
	n->n_cte = p->new_cte[0] != '\0';
}

static void tr_body_begin(void *ctx, const struct htg_mime_part *part)
{
	struct trace_state *t = ctx;
	struct md_node *n;

	if (t->tree->overflow || t->tree->count == 0)
		return;
	n = &t->tree->node[t->tree->count - 1];
	n->body_off = t->body->len;
	if (strncmp(part->ctype->main, "multipart/", 10) == 0) {
		n->multipart = 1;
		snprintf(n->ctype, sizeof(n->ctype), "multipart/mixed");
		n->n_ctype = 1;
		return;
	}
	leaf_view(&t->chk->part, n);
}

static void tr_part_end(void *ctx, unsigned int depth)
{
	struct trace_state *t = ctx;

	for (unsigned int i = t->tree->count; i-- > 0;) {
		struct md_node *n = &t->tree->node[i];

		if (n->depth == depth && n->end_off == (size_t)-1) {
			n->end_off = t->body->len;
			return;
		}
	}
}

static const struct htg_mime_trace trace = {
	tr_part_begin, tr_body_begin, tr_part_end
};

/* --- the message as it leaves the milter ------------------------------------------- */

static struct field *nth_field(struct split *s, const char *name,
			       unsigned int index)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (!s->f[i].deleted && strcasecmp(s->f[i].label, name) == 0 &&
		    --index == 0)
			return &s->f[i];
	return NULL;
}

static int apply_edits(const char *m, struct split *s,
		       const struct htg_hdr_edit *e, unsigned int ne,
		       struct buf *out)
{
	struct buf added = { NULL, 0, 0 };
	int ret = 0;

	for (unsigned int i = 0; i < ne && ret == 0; i++) {
		struct field *f = nth_field(s, e[i].name, e[i].index);
		char line[400];

		snprintf(line, sizeof(line), "%s: %s\r\n", e[i].name, e[i].value);
		if (e[i].op == HTG_HDR_ADD || (e[i].op == HTG_HDR_CHANGE && f == NULL)) {
			ret = buf_add(&added, line, strlen(line));
		} else if (e[i].op == HTG_HDR_DELETE) {
			if (f != NULL)
				f->deleted = 1;
		} else {
			free(f->text);
			if ((f->text = strdup(line)) == NULL)
				ret = -1;
		}
	}
	for (unsigned int i = 0; i < s->n && ret == 0; i++) {
		if (s->f[i].deleted)
			continue;
		ret = s->f[i].text != NULL ?
		    buf_add(out, s->f[i].text, strlen(s->f[i].text)) :
		    buf_add(out, m + s->f[i].start, s->f[i].len);
	}
	if (ret == 0 && added.len > 0)
		ret = buf_add(out, added.data, added.len);
	if (ret == 0)
		ret = buf_add(out, "\r\n", 2);
	free(added.data);
	return ret;
}

static void free_split(struct split *s)
{
	for (unsigned int i = 0; i < s->n; i++)
		free(s->f[i].text);
}

void md_result_free(struct md_result *res)
{
	free(res->out);
	res->out = NULL;
}

/* the top-level entity as the milter left it */
static void root_view(struct htg_check *c, struct md_node *n, size_t hdrlen,
		      size_t total)
{
	memset(n, 0, sizeof(*n));
	n->hdr_off = 0;
	n->body_off = hdrlen;
	n->end_off = total;
	if (c->multipart) {
		n->multipart = 1;
		snprintf(n->ctype, sizeof(n->ctype), "multipart/mixed");
		n->n_ctype = 1;
		return;
	}
	leaf_view(&c->part, n);
}

int md_htg(const unsigned char *in, size_t inlen, size_t chunk,
	   struct md_result *res)
{
	struct htg_check_conf conf = {
		.header_domain = "htpoort.nl", .msgid_domain = "htpoort.nl",
		.max_depth = 8, .max_parts = 200
	};
	struct buf msg = { NULL, 0, 0 }, body = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct split *s = calloc(1, sizeof(*s));
	struct trace_state ts;
	const struct htg_verdict *v;
	const struct htg_hdr_edit *e;
	struct htg_check *c = NULL;
	unsigned int ne;
	int ret = -1;

	/* the nodes are set as they are made: no 100 KB memset a run */
	res->accepted = 0;
	res->verdict[0] = '\0';
	res->out = NULL;
	res->outlen = 0;
	res->ours.count = 0;
	res->ours.overflow = 0;
	if (s == NULL || crlf(in, inlen, &msg) < 0 || buf_add(&msg, "", 0) < 0)
		goto out;
	if (split_header(msg.data, msg.len, s) < 0) {
		/* more fields than modelled: count it as refused */
		snprintf(res->verdict, sizeof(res->verdict), "SKIP: header");
		ret = 0;
		goto out;
	}
	if ((c = htg_check_new(&conf, collect, &body)) == NULL)
		goto out;
	htg_check_set_rcpt(c, "dms@msa-smtp.htpoort.nl");
	ts.chk = c;
	ts.body = &body;
	ts.tree = &res->ours;
	res->ours.count = 1;		/* the root comes last */
	htg_mime_set_trace(c->mime, &trace, &ts);
	for (unsigned int i = 0; i < s->n; i++) {
		char *value = milter_value(msg.data, &s->f[i]);

		if (value == NULL)
			goto out;
		ret = htg_check_header(c, s->f[i].label, value);
		free(value);
		if (ret < 0)
			break;
	}
	ret = 0;
	if (!htg_check_verdict(c)->refused && htg_check_eoh(c) == 0) {
		size_t p = s->body, step = chunk != 0 ? chunk : msg.len + 1;

		while (p < msg.len) {
			size_t n = msg.len - p < step ? msg.len - p : step;

			if (htg_check_body(c, msg.data + p, n) < 0)
				break;
			p += n;
		}
		if (p >= msg.len)
			htg_check_eom(c);
	}
	v = htg_check_verdict(c);
	if (v->refused) {
		snprintf(res->verdict, sizeof(res->verdict), "%s: %s",
			 v->rule == HTG_RULE_COUNT ? "INTERNAL" :
			 htg_rule_get(v->rule)->name, v->detail);
		goto out;
	}
	res->accepted = 1;
	snprintf(res->verdict, sizeof(res->verdict), "accept");
	e = htg_check_edits(c, &ne);
	if (apply_edits(msg.data, s, e, ne, &out) < 0)
		goto fail;
	{
		size_t hdrlen = out.len;

		if (c->multipart ? buf_add(&out, body.data != NULL ? body.data : "",
					   body.len) < 0 :
		    buf_add(&out, msg.data + s->body, msg.len - s->body) < 0)
			goto fail;
		for (unsigned int i = 1; i < res->ours.count; i++) {
			struct md_node *n = &res->ours.node[i];

			n->hdr_off += hdrlen;
			n->body_off += hdrlen;
			n->end_off = n->end_off == (size_t)-1 ? out.len :
			    n->end_off + hdrlen;
		}
		root_view(c, &res->ours.node[0], hdrlen, out.len);
	}
	res->out = out.data;
	res->outlen = out.len;
	out.data = NULL;
	goto out;
fail:
	ret = -1;
	snprintf(res->verdict, sizeof(res->verdict), "INTERNAL: out of memory");
out:
	if (ret < 0 && res->verdict[0] == '\0')
		snprintf(res->verdict, sizeof(res->verdict), "INTERNAL: error");
	htg_check_free(&c);
	if (s != NULL)
		free_split(s);
	free(s);
	free(msg.data);
	free(body.data);
	free(out.data);
	return ret;
}

/* --- comparing the trees ------------------------------------------------------------- */

static int differ(char *why, size_t size, unsigned int i, const char *what,
		  const char *ours, const char *dc)
{
	snprintf(why, size, "part %u: %s: milter \"%.100s\", Dovecot \"%.100s\"",
		 i, what, ours, dc);
	return -1;
}

static int differ_n(char *why, size_t size, unsigned int i, const char *what,
		    size_t ours, size_t dc)
{
	snprintf(why, size, "part %u: %s: milter %zu, Dovecot %zu", i, what,
		 ours, dc);
	return -1;
}

/* RFC 2046 5.1.1: the line end before a delimiter belongs to it. The
   milter's trace says where the next delimiter line begins; Dovecot's
   body ends before that line end (or there, when the body is empty). */
static int end_agrees(const unsigned char *m, const struct md_node *o,
		      const struct md_node *d)
{
	size_t e = o->end_off;

	if (o->depth == 0)
		return d->end_off == e;
	/* an empty body, or a multipart whose close delimiter line took
	   its own line end (the milter drops any epilogue) */
	if (d->end_off == e)
		return e == o->body_off || o->multipart;
	if (e >= 2 && d->end_off == e - 2 && m[e - 2] == '\r' && m[e - 1] == '\n')
		return 1;
	return e >= 1 && d->end_off == e - 1 && m[e - 1] == '\n';
}

static int same_cte(const char *a, const char *b)
{
	if (*a == '\0')
		a = "7bit";
	if (*b == '\0')
		b = "7bit";
	return strcasecmp(a, b) == 0;
}

int md_compare(const unsigned char *m, size_t len, const struct md_tree *ours,
	       const struct md_tree *dc, char *why, size_t size)
{
	(void)len;
	if (ours->overflow || dc->overflow)
		return differ_n(why, size, 0, "more parts than compared",
				ours->count, dc->count);
	for (unsigned int i = 0; i < ours->count || i < dc->count; i++) {
		const struct md_node *o = &ours->node[i], *d = &dc->node[i];

		if (i >= ours->count)
			return differ_n(why, size, i, "a part only Dovecot sees, "
					"at offset", 0, d->hdr_off);
		if (i >= dc->count)
			return differ_n(why, size, i, "a part Dovecot does not "
					"see, at offset", o->hdr_off, 0);
		if (o->depth != d->depth)
			return differ_n(why, size, i, "depth", o->depth, d->depth);
		if (o->multipart != d->multipart)
			return differ_n(why, size, i, "multipart (2: message/rfc822)",
					(size_t)o->multipart, (size_t)d->multipart);
		if (o->hdr_off != d->hdr_off)
			return differ_n(why, size, i, "header offset", o->hdr_off,
					d->hdr_off);
		/* an empty body: Dovecot counts the empty line that ends
		   the header block as the delimiter's line end */
		if (o->body_off != d->body_off &&
		    !(o->end_off == o->body_off && d->end_off == d->body_off &&
		      d->body_off + 2 == o->body_off &&
		      memcmp(m + d->body_off, "\r\n", 2) == 0))
			return differ_n(why, size, i, "body offset", o->body_off,
					d->body_off);
		if (!end_agrees(m, o, d))
			return differ_n(why, size, i, "body end", o->end_off,
					d->end_off);
		if (strcasecmp(o->ctype, d->ctype) != 0)
			return differ(why, size, i, "Content-Type", o->ctype, d->ctype);
		if (o->n_ctype != d->n_ctype)
			return differ_n(why, size, i, "Content-Type fields",
					o->n_ctype, d->n_ctype);
		if (o->n_cdisp != d->n_cdisp)
			return differ_n(why, size, i, "Content-Disposition fields",
					o->n_cdisp, d->n_cdisp);
		if (o->n_cte != d->n_cte)
			return differ_n(why, size, i, "Content-Transfer-Encoding "
					"fields", o->n_cte, d->n_cte);
		if (!same_cte(o->cte, d->cte))
			return differ(why, size, i, "Content-Transfer-Encoding",
				      o->cte, d->cte);
		if (o->multipart)
			continue;
		if (strcasecmp(o->disp, d->disp) != 0)
			return differ(why, size, i, "Content-Disposition", o->disp,
				      d->disp);
		if (strcmp(o->filename, d->filename) != 0)
			return differ(why, size, i, "filename", o->filename,
				      d->filename);
		if (strcmp(o->name, d->name) != 0)
			return differ(why, size, i, "name", o->name, d->name);
	}
	return 0;
}
