/*++
/* NAME
/*	respond 3
/* SUMMARY
/*	htg-respond: the delivered message, the answer, the SMTP session
/* DESCRIPTION
/*	See respond.h. The answer goes out as plain SMTP (EHLO, MAIL, RCPT,
/*	DATA with dot-stuffing, QUIT) to the gateway's own inbound service:
/*	Postfix then does what it does with every government answer.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "htg-hdr.h"
#include "respond.h"

/* --- the delivered message ------------------------------------------------ */

/* the value of parameter name= or filename= in a header line, if any */
static void keep_name(struct respond_msg *m, const char *line)
{
	const char *p = line;

	while ((p = strcasestr(p, "name=")) != NULL) {
		const char *v = p + 5, *end;

		p = v;
		if (*v == '"')
			end = strchr(++v, '"');
		else
			end = v + strcspn(v, "; \t\r\n");
		if (end == NULL || end == v)
			continue;
		if (m->nnames >= RESPOND_NAMES_MAX) {
			m->more_names++;
			continue;
		}
		/* a part has name= and filename=, often the same */
		snprintf(m->names[m->nnames], sizeof(m->names[0]), "%.*s",
			 (int)(end - v), v);
		if (m->nnames == 0 ||
		    strcmp(m->names[m->nnames], m->names[m->nnames - 1]) != 0)
			m->nnames++;
	}
}

int respond_read(FILE *in, struct respond_msg *m)
{
	char line[8192];
	int header = 1, cont = 0;

	if ((m->spool = tmpfile()) == NULL) {
		snprintf(m->error, sizeof(m->error), "tmpfile: %m");
		return -1;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		size_t len = strlen(line);
		int whole = len > 0 && line[len - 1] == '\n';

		m->size += len;
		if (fwrite(line, 1, len, m->spool) != len) {
			snprintf(m->error, sizeof(m->error), "spool: %m");
			return -1;
		}
		if (!cont) {
			if (header && (line[0] == '\n' ||
				       strcmp(line, "\r\n") == 0))
				header = 0;
			else if (header && strncasecmp(line, "Message-ID:",
						       11) == 0 &&
				 *m->msgid == '\0') {
				char v[sizeof(line)];

				snprintf(v, sizeof(v), "%.*s",
					 (int)strcspn(line + 11, "\r\n"),
					 line + 11);
				(void)htg_hdr_msgid(v, m->msgid,
						    sizeof(m->msgid));
			}
			else if (header && strncasecmp(line, "Subject:", 8) == 0) {
				const char *v = line + 8 + strspn(line + 8, " \t");

				snprintf(m->subject, sizeof(m->subject), "%.*s",
					 (int)strcspn(v, "\r\n"), v);
			}
			/* part headers too: attachment names as delivered */
			if (strcasestr(line, "name=") != NULL)
				keep_name(m, line);
		}
		cont = !whole;
	}
	if (ferror(in) || fflush(m->spool) != 0) {
		snprintf(m->error, sizeof(m->error), "read the message: %m");
		return -1;
	}
	rewind(m->spool);
	return 0;
}

/* --- SMTP -------------------------------------------------------------------- */

struct smtp {
	FILE *r, *w;
	char *error;
	size_t error_size;
};

/* the reply's code (last line), or -1 */
static int smtp_reply(struct smtp *s)
{
	char line[1024];

	for (;;) {
		if (fgets(line, sizeof(line), s->r) == NULL)
			return -1;
		if (strlen(line) < 4 || !isdigit((unsigned char)line[0]))
			return -1;
		if (line[3] != '-') {
			snprintf(s->error, s->error_size, "%.*s",
				 (int)strcspn(line, "\r\n"), line);
			return atoi(line);
		}
	}
}

__attribute__((format(printf, 3, 4)))
static int smtp_cmd(struct smtp *s, int want, const char *fmt, ...)
{
	va_list ap;
	int code;

	va_start(ap, fmt);
	vfprintf(s->w, fmt, ap);
	va_end(ap);
	fputs("\r\n", s->w);
	if (fflush(s->w) != 0)
		return -1;
	code = smtp_reply(s);
	return code / 100 == want / 100 ? 0 : -1;
}

static int smtp_connect(const char *server, struct smtp *s)
{
	char host[256];
	const char *colon = strrchr(server, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1;

	if (colon == NULL || (size_t)(colon - server) >= sizeof(host)) {
		snprintf(s->error, s->error_size, "bad server %s", server);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
	if (host[0] == '[') {	/* [::1]:25 */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		snprintf(s->error, s->error_size, "cannot resolve %s", host);
		return -1;
	}
	for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0 || (s->r = fdopen(fd, "r")) == NULL ||
	    (s->w = fdopen(dup(fd), "w")) == NULL) {
		snprintf(s->error, s->error_size, "connect %s: %m", server);
		return -1;
	}
	return smtp_reply(s) == 220 ? 0 : -1;
}

/* --- the answer ---------------------------------------------------------------- */

static void put_b64(FILE *w, FILE *in)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char b[57];
	size_t n;

	while ((n = fread(b, 1, sizeof(b), in)) > 0) {
		for (size_t i = 0; i < n; i += 3) {
			unsigned v = (unsigned)b[i] << 16 |
				(i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) |
				(i + 2 < n ? b[i + 2] : 0);

			fputc(t[v >> 18 & 63], w);
			fputc(t[v >> 12 & 63], w);
			fputc(i + 1 < n ? t[v >> 6 & 63] : '=', w);
			fputc(i + 2 < n ? t[v & 63] : '=', w);
		}
		fputs("\r\n", w);
	}
}

static void put_text(FILE *w, const struct respond_job *j, const char *when)
{
	const struct respond_msg *m = &j->msg;

	if (strcmp(j->mode, "refuse") == 0) {
		fprintf(w, "Uw bericht %s is functioneel afgewezen.\r\n"
			"(Gesimuleerd antwoord van de HTG-gateway voor "
			"berichtstroom %s.)\r\n", m->msgid, j->flow);
		return;
	}
	fprintf(w, "%s\r\n\r\nBericht: %s\r\nGrootte: %llu bytes\r\n"
		"Ontvangen: %s\r\nBerichtstroom: %s\r\nBijlagen zoals "
		"afgeleverd:", strcmp(j->mode, "echo") == 0 ?
		"Uw bericht retour (gesimuleerd antwoord van de HTG-gateway)" :
		"Ontvangstbevestiging (gesimuleerd antwoord van de HTG-gateway)",
		m->msgid, (unsigned long long)m->size, when, j->flow);
	for (unsigned int i = 0; i < m->nnames; i++)
		fprintf(w, "%s %s", i == 0 ? "" : ",", m->names[i]);
	if (m->nnames == 0)
		fputs(" geen", w);
	if (m->more_names > 0)
		fprintf(w, " (en %u meer)", m->more_names);
	fputs("\r\n", w);
}

/* the answer's header and body, dot-stuffed where a line could start
   with a dot (only the subject and names come from the message: a
   header line never starts with one, base64 neither) */
static void put_answer(FILE *w, const struct respond_job *j)
{
	const struct respond_msg *m = &j->msg;
	char date[64], when[64], boundary[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(w, "From: <%s@%s>\r\nTo: <%s>\r\nDate: %s\r\n"
		"Message-ID: %s\r\n", j->flow, j->header_domain, j->logical,
		date, j->answer_id);
	if (*m->msgid != '\0')
		fprintf(w, "In-Reply-To: %s\r\nReferences: %s\r\n", m->msgid,
			m->msgid);
	fprintf(w, "Subject: %s: %s\r\nX-HTG-Simulated: %s\r\n"
		"MIME-Version: 1.0\r\n",
		strcmp(j->mode, "refuse") == 0 ? "Afwijzing" :
		strcmp(j->mode, "echo") == 0 ? "Retour" : "Ontvangen",
		*m->subject != '\0' ? m->subject : "(geen onderwerp)",
		j->mode);
	if (strcmp(j->mode, "echo") != 0) {
		fputs("Content-Type: text/plain; charset=us-ascii\r\n"
		      "Content-Transfer-Encoding: 7bit\r\n\r\n", w);
		put_text(w, j, when);
		return;
	}
	snprintf(boundary, sizeof(boundary), "=_htg_%s", j->answer_id + 1);
	boundary[strcspn(boundary, "@")] = '\0';
	fprintf(w, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
		"--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
		"Content-Transfer-Encoding: 7bit\r\n\r\n", boundary, boundary);
	put_text(w, j, when);
	fprintf(w, "\r\n--%s\r\nContent-Type: application/octet-stream; "
		"name=\"bericht.eml\"\r\nContent-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; filename=\"bericht.eml\"\r\n"
		"\r\n", boundary);
	rewind(m->spool);
	put_b64(w, m->spool);
	fprintf(w, "\r\n--%s--\r\n", boundary);
}

int respond_send(const char *server, struct respond_job *j)
{
	struct smtp s = { NULL, NULL, j->msg.error, sizeof(j->msg.error) };
	int ret = -1;

	if (smtp_connect(server, &s) == 0 &&
	    smtp_cmd(&s, 250, "EHLO %s", j->header_domain) == 0 &&
	    smtp_cmd(&s, 250, "MAIL FROM:<%s@%s>", j->flow,
		     j->header_domain) == 0 &&
	    smtp_cmd(&s, 250, "RCPT TO:<%s>", j->logical) == 0 &&
	    smtp_cmd(&s, 354, "DATA") == 0) {
		put_answer(s.w, j);
		if (smtp_cmd(&s, 250, ".") == 0)
			ret = 0;
		(void)smtp_cmd(&s, 221, "QUIT");
	}
	if (s.r != NULL)
		fclose(s.r);
	if (s.w != NULL)
		fclose(s.w);
	return ret;
}
