/*++
/* NAME
/*	htg-load-ops 3
/* SUMMARY
/*	htg-load: connections (plain or TLS), the messages, and one attempt
/*	of each operation (submit, inject, pickup)
/* DESCRIPTION
/*	See htg-load(1) in htg-load.c.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "htg-load.h"

/* --- a connection: plain or TLS, line reader ------------------------------- */

struct conn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t off, len;
	uint64_t deadline;	/* whole attempt */
};

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int conn_open(struct conn *c, int p)
{
	struct sockaddr_in sin;
	struct timeval tv;
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	c->ssl = NULL;
	c->off = c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	tv.tv_sec = (time_t)timeout_s;
	tv.tv_usec = (suseconds_t)((timeout_s - (double)tv.tv_sec) * 1e6);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static int conn_write(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (now_ns() > c->deadline)
			return -1;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, data,
					  len > 65536 ? 65536 : (int)len);
			if (r <= 0)
				return -1;
			n = r;
		} else {
			n = send(c->fd, data, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (now_ns() > c->deadline)
		return -1;
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, c->buf + c->len,
				 (int)(sizeof(c->buf) - c->len));
		if (r <= 0)
			return -1;
		n = r;
	} else {
		do
			n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return -1;
	}
	c->len += (size_t)n;
	return 0;
}

/* one line without CRLF into out (truncated to size); -1 on EOF/error */
static int conn_line(struct conn *c, char *out, size_t size)
{
	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);

		if (nl != NULL) {
			size_t l = (size_t)(nl - (c->buf + c->off));
			size_t k = l;

			if (k > 0 && c->buf[c->off + k - 1] == '\r')
				k--;
			if (size > 0) {
				size_t m = k < size - 1 ? k : size - 1;
				memcpy(out, c->buf + c->off, m);
				out[m] = '\0';
			}
			c->off += l + 1;
			return 0;
		}
		if (conn_fill(c) < 0)
			return -1;
	}
}

/* SMTP reply: code (0 on failure), the last line's text in reply */
static int smtp_reply(struct conn *c, char *reply, size_t size)
{
	char line[LINE_MAX_LEN];

	for (;;) {
		if (conn_line(c, line, sizeof(line)) < 0) {
			snprintf(reply, size, "connection lost");
			return 0;
		}
		if (strlen(line) < 3) {
			snprintf(reply, size, "bad reply: %s", line);
			return 0;
		}
		if (line[3] != '-') {
			cpy(reply, size, line);
			return atoi(line);
		}
	}
}

/* One command line (CRLF added), then its reply read by read_reply:
   SMTP code, POP3 status, or 0 when it could not be sent. */
static int conn_cmd(struct conn *c, char *reply, size_t size,
		    int (*read_reply)(struct conn *, char *, size_t),
		    const char *fmt, ...)
{
	char buf[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);

	if (n < 0 || (size_t)n >= sizeof(buf) - 2) {
		snprintf(reply, size, "command too long");
		return 0;
	}
	memcpy(buf + n, "\r\n", 2);
	if (conn_write(c, buf, (size_t)n + 2) < 0) {
		snprintf(reply, size, "write failed");
		return 0;
	}
	return read_reply(c, reply, size);
}

#define smtp_cmd(c, reply, size, ...) \
	conn_cmd(c, reply, size, smtp_reply, __VA_ARGS__)

static int start_tls(struct conn *c, char *reply, size_t size)
{
	c->ssl = SSL_new(ssl_ctx);
	if (c->ssl == NULL)
		return -1;
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, submit_domain);
	SSL_set1_host(c->ssl, submit_domain);
	if (c->len != c->off)	/* no pipelined plaintext after STARTTLS */
		return -1;
	if (SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		char eb[256];

		ERR_error_string_n(e, eb, sizeof(eb));
		snprintf(reply, size, "TLS handshake failed: %s", eb);
		ERR_clear_error();
		return -1;
	}
	if (SSL_version(c->ssl) != TLS1_3_VERSION) {
		snprintf(reply, size, "not TLS 1.3");
		return -1;
	}
	return 0;
}

/* --- messages -------------------------------------------------------------- */


static void msg_add(struct msg *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(m->data + m->len, m->cap - m->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf");
		if ((size_t)n < m->cap - m->len)
			break;
		m->cap = (m->cap + (size_t)n + 1) * 2;
		if ((m->data = realloc(m->data, m->cap)) == NULL)
			die("out of memory");
	}
	m->len += (size_t)n;
}

/* base64 lines of the shared filler: about bytes characters */
static void msg_base64(struct msg *m, size_t bytes)
{
	size_t done = 0, off = 0;

	while (done < bytes) {
		msg_add(m, "%.76s\r\n", filler + off);
		done += 78;
		off = (off + 76) % (sizeof(filler) - 80);
		off -= off % 4;
	}
}

void make_token(char *buf, size_t size, const struct job *j)
{
	snprintf(buf, size, "%c%s-%llu", j->op == OP_SUBMIT ? 's' : 'a',
		 run_id, (unsigned long long)j->seq);
}

void build_submission(struct msg *m, const struct job *j,
			     const char *token)
{
	const struct account *a = &accts[j->acct];
	char date[64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	msg_add(m, "From: <%s>\r\nTo: <%s@%s>\r\n", a->sender, a->flow,
		header_domain);
	if (j->kind == K_CC)
		msg_add(m, "Cc: <%s>\r\n", a->sender);
	msg_add(m, "Subject: load %s\r\nDate: %s\r\n"
		"Message-ID: <%s@load.example>\r\nMIME-Version: 1.0\r\n",
		token, date, token);
	if (j->kind == K_CHARSET) {
		msg_add(m, "Content-Type: text/plain; charset=windows-1252\r\n"
			"Content-Transfer-Encoding: 7bit\r\n"
			"Content-Disposition: attachment; "
			"filename=\"bericht-%s.txt\"\r\n\r\n", token);
		for (int i = 0; i < 120; i++)
			msg_add(m, "regel %03d van bericht %s, zonder bijzondere "
				"tekens maar met de verkeerde tekenset\r\n",
				i, token);
		return;
	}
	if (j->kind == K_ATTACH) {
		msg_add(m, "Content-Type: multipart/mixed; "
			"boundary=\"=_b_%s\"\r\n\r\n"
			"--=_b_%s\r\nContent-Type: application/xml\r\n"
			"Content-Transfer-Encoding: base64\r\n"
			"Content-Disposition: attachment; "
			"filename=\"bericht-%s.xml\"\r\n\r\n",
			token, token, token);
		msg_base64(m, 3000);
		msg_add(m, "--=_b_%s\r\nContent-Type: application/pdf; "
			"name=\"bijlage-%s.pdf\"\r\n"
			"Content-Transfer-Encoding: base64\r\n"
			"Content-Disposition: attachment; "
			"filename=\"bijlage-%s.pdf\"\r\n\r\n",
			token, token, token);
		msg_base64(m, 7000);
		msg_add(m, "--=_b_%s--\r\n", token);
		return;
	}
	msg_add(m, "Content-Type: application/xml\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; "
		"filename=\"bericht-%s.xml\"\r\n\r\n", token);
	msg_base64(m, 10000);
}

void build_answer(struct msg *m, const struct job *j, const char *token)
{
	const struct account *a = &accts[j->acct];

	msg_add(m, "From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
		"Subject: antwoord %s\r\n"
		"Message-ID: <%s@douane.overheid.nl>\r\n"
		"MIME-Version: 1.0\r\nContent-Type: application/xml\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n",
		a->logical, token, token);
	msg_base64(m, 2000);
}

/* dot-stuffing is not needed: no line of ours starts with '.' */

/* --- operations ------------------------------------------------------------ */


static int is_temp(int code)
{
	return code == 0 || (code >= 400 && code < 500);
}

/* One step of an SMTP dialogue: on an unexpected reply, to out. */
#define STEP(name, expr, want) do { \
		o->stage = name; \
		code = (expr); \
		o->code = code; \
		if (code != (want)) \
			goto out; \
	} while (0)

/* connect, with the deadline of the whole attempt; -1 (o says why) */
static int op_open(struct conn *c, struct outcome *o, int p)
{
	c->deadline = now_ns() + (uint64_t)(timeout_s * 4 * 1e9);
	o->stage = "connect";
	if (conn_open(c, p) < 0) {
		o->code = 0;
		snprintf(o->reply, sizeof(o->reply), "connect: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* after 354: the message and the final dot; the reply code (0: none) */
static int smtp_data(struct conn *c, struct outcome *o, const struct msg *m)
{
	o->stage = "eom";
	if (conn_write(c, m->data, m->len) < 0 ||
	    conn_write(c, ".\r\n", 3) < 0) {
		o->code = 0;
		snprintf(o->reply, sizeof(o->reply), "write failed");
		return 0;
	}
	return o->code = smtp_reply(c, o->reply, sizeof(o->reply));
}

/* QUIT when the server still talks; 1 final answer, 0 tempfail */
static int smtp_close(struct conn *c, int code)
{
	if (c->fd >= 0 && code != 0) {
		char dummy[REPLY_MAX];

		smtp_cmd(c, dummy, sizeof(dummy), "QUIT");
	}
	conn_close(c);
	return !is_temp(code);
}

/* returns 1 done (final answer), 0 tempfail */
int do_submit(const struct job *j, struct msg *m, struct outcome *o)
{
	const struct account *a = &accts[j->acct];
	struct conn c;
	char plain[1024], b64[1400];
	const char *sender = a->sender, *flow = a->flow;
	int code, n;

	if (op_open(&c, o, port[OP_SUBMIT]) < 0)
		return 0;
	STEP("greeting", smtp_reply(&c, o->reply, sizeof(o->reply)), 220);
	STEP("ehlo", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "EHLO load.example"), 250);
	STEP("starttls", smtp_cmd(&c, o->reply, sizeof(o->reply),
				  "STARTTLS"), 220);
	o->stage = "tls";
	if (start_tls(&c, o->reply, sizeof(o->reply)) < 0) {
		o->code = code = 0;
		goto out;
	}
	STEP("ehlo2", smtp_cmd(&c, o->reply, sizeof(o->reply),
			       "EHLO load.example"), 250);
	n = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, a->user, 0,
		     a->password);
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, n);
	STEP("auth", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "AUTH PLAIN %s", b64), 235);
	if (j->kind == K_SENDER)
		sender = accts[(j->acct + 1) % naccts].sender;
	if (j->kind == K_FLOW)
		flow = a->ungranted;
	STEP("mail", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "MAIL FROM:<%s>", sender), 250);
	STEP("rcpt", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "RCPT TO:<%s@%s>", flow, submit_domain), 250);
	STEP("data", smtp_cmd(&c, o->reply, sizeof(o->reply), "DATA"), 354);
	code = smtp_data(&c, o, m);
out:
	return smtp_close(&c, code);
}

int do_inject(const struct job *j, struct msg *m, struct outcome *o)
{
	const struct account *a = &accts[j->acct];
	struct conn c;
	int code;

	if (op_open(&c, o, port[OP_INJECT]) < 0)
		return 0;
	STEP("greeting", smtp_reply(&c, o->reply, sizeof(o->reply)), 220);
	STEP("ehlo", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "EHLO douane.overheid.nl"), 250);
	STEP("mail", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "MAIL FROM:<dms-inbox@douane.overheid.nl>"), 250);
	STEP("rcpt", smtp_cmd(&c, o->reply, sizeof(o->reply),
			      "RCPT TO:<%s>", a->logical), 250);
	STEP("data", smtp_cmd(&c, o->reply, sizeof(o->reply), "DATA"), 354);
	code = smtp_data(&c, o, m);
out:
	return smtp_close(&c, code);
}

/* POP3: 1 +OK, -1 -ERR, 0 no answer */
static int pop_status(struct conn *c, char *reply, size_t size)
{
	if (conn_line(c, reply, size) < 0) {
		snprintf(reply, size, "connection lost");
		return 0;
	}
	if (strncmp(reply, "+OK", 3) == 0)
		return 1;
	return strncmp(reply, "-ERR", 4) == 0 ? -1 : 0;
}

#define pop_cmd(c, reply, size, ...) \
	conn_cmd(c, reply, size, pop_status, __VA_ARGS__)

static void retr_add(struct outcome *o, const char *id)
{
	size_t need = o->retr_len + strlen(id) * 6 + 8;

	if (need > o->retr_cap) {
		o->retr_cap = need * 2;
		if ((o->retr = realloc(o->retr, o->retr_cap)) == NULL)
			die("out of memory");
	}
	o->retr_len += (size_t)snprintf(o->retr + o->retr_len,
					o->retr_cap - o->retr_len, "%s\"",
					o->retr_len ? ",": "");
	for (; *id != '\0'; id++) {
		unsigned char ch = (unsigned char)*id;
		if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
			continue;	/* never in our ids */
		o->retr[o->retr_len++] = (char)ch;
	}
	o->retr[o->retr_len++] = '"';
	o->retr[o->retr_len] = '\0';
}

/* a -ERR that Dovecot means as temporary */
static int pop_err_temp(const char *reply)
{
	return strstr(reply, "[SYS/TEMP]") != NULL ||
	       strstr(reply, "[IN-USE]") != NULL ||
	       strstr(reply, "[UNAVAILABLE]") != NULL;
}

int do_pickup(const struct job *j, struct outcome *o)
{
	const struct account *a = &accts[j->acct];
	struct conn c;
	char plain[1024], b64[1400], line[LINE_MAX_LEN];
	int r = 0, n, count = 0;

	o->retr_len = 0;
	if (o->retr != NULL)
		o->retr[0] = '\0';
	o->deleted = 0;
	if (op_open(&c, o, port[OP_PICKUP]) < 0)
		return 0;
#undef STEP
#define STEP(name, expr) do { \
		o->stage = name; \
		r = (expr); \
		o->code = r; \
		if (r != 1) \
			goto out; \
	} while (0)
	STEP("greeting", pop_status(&c, o->reply, sizeof(o->reply)));
	STEP("stls", pop_cmd(&c, o->reply, sizeof(o->reply), "STLS"));
	o->stage = "tls";
	if (start_tls(&c, o->reply, sizeof(o->reply)) < 0) {
		o->code = r = 0;
		goto out;
	}
	n = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, a->user, 0,
		     a->password);
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, n);
	STEP("auth", pop_cmd(&c, o->reply, sizeof(o->reply),
			     "AUTH PLAIN %s", b64));
	STEP("list", pop_cmd(&c, o->reply, sizeof(o->reply), "LIST"));
	for (;;) {
		if (conn_line(&c, line, sizeof(line)) < 0) {
			o->code = r = 0;
			snprintf(o->reply, sizeof(o->reply), "connection lost");
			goto out;
		}
		if (strcmp(line, ".") == 0)
			break;
		count++;
	}
	if (count > MAX_PICKUP)
		count = MAX_PICKUP;
	for (int i = 1; i <= count; i++) {
		char id[REPLY_MAX] = "", *p;
		int in_header = 1;

		STEP("retr", pop_cmd(&c, o->reply, sizeof(o->reply),
				     "RETR %d", i));
		for (;;) {
			if (conn_line(&c, line, sizeof(line)) < 0) {
				o->code = r = 0;
				snprintf(o->reply, sizeof(o->reply),
					 "connection lost");
				goto out;
			}
			if (strcmp(line, ".") == 0)
				break;
			if (line[0] == '\0')
				in_header = 0;
			if (in_header && id[0] == '\0' &&
			    strncasecmp(line, "Message-ID:", 11) == 0) {
				p = line + 11;
				p += strspn(p, " \t<");
				p[strcspn(p, ">")] = '\0';
				cpy(id, sizeof(id), p);
			}
		}
		retr_add(o, id[0] ? id : "?");
	}
	for (int i = 1; i <= count; i++)
		STEP("dele", pop_cmd(&c, o->reply, sizeof(o->reply),
				     "DELE %d", i));
	STEP("quit", pop_cmd(&c, o->reply, sizeof(o->reply), "QUIT"));
	o->deleted = count > 0;
	conn_close(&c);
	return 1;
out:
	if (c.fd >= 0 && r != 0) {
		char dummy[REPLY_MAX];
		/* RSET first: a QUIT after a failure must not apply DELEs */
		pop_cmd(&c, dummy, sizeof(dummy), "RSET");
		pop_cmd(&c, dummy, sizeof(dummy), "QUIT");
	}
	conn_close(&c);
	if (r == -1 && !pop_err_temp(o->reply) &&
	    strcmp(o->stage, "auth") == 0)
		return 1;	/* a final refusal */
	return 0;
#undef STEP
}
