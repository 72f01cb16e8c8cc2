/*++
/* NAME
/*	policy-server 3
/* SUMMARY
/*	single-process epoll server for the policy and socketmap protocols
/* SYNOPSIS
/*	#include "policy-server.h"
/* DESCRIPTION
/*	See policy-server.h. Each lookup is a short LMDB read transaction
/*	(microseconds), so one process serves every Postfix client without
/*	threads; what must never happen is that one slow or hostile client
/*	holds memory, a slot or the loop: hence bounded buffers,
/*	back-pressure, a deadline per request, an idle timeout, a connection
/*	limit, and no accepting while out of descriptors (policy-listen.c).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* accept4 */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-msg.h"
#include "policy-audit.h"
#include "policy-log.h"
#include "policy-proto.h"
#include "policy-audit.h"
#include "policy-rules.h"
#include "policy-server-impl.h"
#include "policy-server.h"
#include "socketmap-maps.h"
#include "socketmap-proto.h"

const char *server_kind_name(enum server_kind kind)
{
	return kind == SERVER_POLICY ? "policy" : "socketmap";
}

struct server *server_new(struct policy_ctx *ctx, const char *dir_path,
			  int max_conns, const struct policy_limits *limits)
{
	static const struct htg_warn_limit warn_init =
		HTG_WARN_LIMIT_INIT(WARN_INTERVAL);
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		msg_fatal("out of memory");
	s->ctx = ctx;
	if (dir_path != NULL && (s->dir_path = strdup(dir_path)) == NULL)
		msg_fatal("out of memory");
	s->max_conns = max_conns;
	s->limits = *limits;
	s->warn_accept = s->warn_full = s->warn_deadline = warn_init;
	server_fit_nofile(s);
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		msg_fatal("epoll_create1: %m");
	return s;
}

/* --- directory ----------------------------------------------------------- */

void server_open_dir(struct server *s)
{
	const char *error = NULL;

	s->dir_last_try = time(NULL);
	/* written to: audit events of refusals (policy-audit.c) */
	if (htg_dir_open(s->dir_path, HTG_DIR_LAZYSYNC | HTG_DIR_CACHE,
			 &s->ctx->dir, &error) < 0)
		msg_warn("%s; will retry when a request needs it", error);
	else
		msg_info("directory %s open", s->dir_path != NULL ?
			 s->dir_path : "(default)");
}

static void server_want_dir(struct server *s)
{
	if (s->ctx->dir == NULL && time(NULL) != s->dir_last_try)
		server_open_dir(s);
}

/* --- connections -------------------------------------------------------- */

static void conn_close(struct server *s, struct conn *c)
{
	if (msg_verbose)
		msg_info("%s connection from %s closed", server_kind_name(c->kind),
			 c->peer);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	policy_parser_free(&c->policy);
	free(c->sockmap);
	free(c);
	s->nconns--;
	s->slot_freed = 1;
}

static void conn_peer(struct conn *c, const union sockaddr_any *sa,
		      socklen_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (sa->sa.sa_family == AF_UNIX || len <= sizeof(sa_family_t) ||
	    getnameinfo(&sa->sa, len, host, sizeof(host),
			port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(c->peer, sizeof(c->peer), "local");
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
}

int server_conn_add(struct server *s, struct listener *l, int fd,
		    const union sockaddr_any *sa, socklen_t len)
{
	struct epoll_event ev;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		msg_warn("out of memory, refusing a connection");
		close(fd);
		return -1;
	}
	c->watch.type = WATCH_CONN;
	c->fd = fd;
	c->kind = l->kind;
	c->clock.opened = c->clock.idle_since = htg_now();
	c->clock.busy_since = -1;
	conn_peer(c, sa, len);
	if (c->kind == SERVER_POLICY) {
		c->policy = policy_parser_new();
	} else {
		if ((c->sockmap = malloc(sizeof(*c->sockmap))) == NULL)
			msg_fatal("out of memory");
		sockmap_parser_init(c->sockmap);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = c->events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		msg_warn("epoll_ctl: %m");
		close(fd);
		policy_parser_free(&c->policy);
		free(c->sockmap);
		free(c);
		return -1;
	}
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (msg_verbose)
		msg_info("%s connection from %s", server_kind_name(c->kind),
			 c->peer);
	return 0;
}

static void conn_reply(struct conn *c, const char *data, size_t len)
{
	if (c->out_len + len > sizeof(c->out))
		msg_panic("conn_reply: output buffer overflow");
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static void policy_answer(struct conn *c, const char *action)
{
	char buf[REPLY_MAX];
	int n = snprintf(buf, sizeof(buf), "action=%s\n\n", action);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = snprintf(buf, sizeof(buf), "action=%s\n\n",
			     POLICY_ACTION_BROKEN);
	conn_reply(c, buf, (size_t)n);
}

static void policy_input(struct server *s, struct conn *c)
{
	size_t used;
	enum policy_status st;
	struct policy_decision dec;
	char line[POLICY_LOG_LINE_MAX];

	st = policy_parser_feed(c->policy, c->in + c->in_pos,
				c->in_len - c->in_pos, &used);
	c->in_pos += used;
	c->partial = (st == POLICY_MORE);
	switch (st) {
	case POLICY_MORE:
		return;
	case POLICY_READY:
		server_want_dir(s);
		policy_decide(s->ctx, policy_parser_request(c->policy), &dec);
		policy_audit(s->ctx->dir, policy_parser_request(c->policy),
			     &dec);
		policy_decision_format(policy_parser_request(c->policy), &dec,
				       line, sizeof(line));
		policy_log_line(line);
		policy_answer(c, dec.action);
		return;
	case POLICY_BAD:
		msg_warn("policy client %s: malformed request (%s): answering "
			 "\"%s\"", c->peer, policy_parser_error(c->policy),
			 POLICY_ACTION_BROKEN);
		policy_answer(c, POLICY_ACTION_BROKEN);
		return;
	case POLICY_FATAL:
		msg_warn("policy client %s: %s: answering \"%s\" and closing",
			 c->peer, policy_parser_error(c->policy),
			 POLICY_ACTION_BROKEN);
		policy_answer(c, POLICY_ACTION_BROKEN);
		c->closing = 1;
		return;
	}
}

static void sockmap_answer(struct conn *c, const char *status,
			   const char *text)
{
	char buf[REPLY_MAX];
	int n = sockmap_format(buf, sizeof(buf), status, text);

	if (n < 0)
		n = sockmap_format(buf, sizeof(buf), "TEMP", "reply too long");
	conn_reply(c, buf, (size_t)n);
}

static void sockmap_input(struct server *s, struct conn *c)
{
	size_t used;
	enum sockmap_status st;
	const char *name, *key, *status;
	char text[REPLY_MAX / 2];

	st = sockmap_parser_feed(c->sockmap, c->in + c->in_pos,
				 c->in_len - c->in_pos, &used);
	c->in_pos += used;
	c->partial = (st == SOCKMAP_MORE);
	switch (st) {
	case SOCKMAP_MORE:
		return;
	case SOCKMAP_READY:
		if (sockmap_split(c->sockmap->data, &name, &key) < 0) {
			msg_warn("socketmap client %s: query without map name",
				 c->peer);
			sockmap_answer(c, "PERM", "malformed query");
			return;
		}
		server_want_dir(s);
		status = sockmap_lookup(s->ctx, name, key, text, sizeof(text));
		if (msg_verbose)
			msg_info("socketmap %s: %s", name, status);
		sockmap_answer(c, status, text);
		return;
	case SOCKMAP_FATAL:
		msg_warn("socketmap client %s: %s: closing", c->peer,
			 c->sockmap->error);
		sockmap_answer(c, "TEMP", "protocol error");
		c->closing = 1;
		return;
	}
}

/* Answer as many buffered requests as the output buffer has room for. */
static void conn_process(struct server *s, struct conn *c)
{
	while (!c->closing && c->in_pos < c->in_len &&
	       c->out_len + REPLY_MAX <= sizeof(c->out)) {
		if (c->kind == SERVER_POLICY)
			policy_input(s, c);
		else
			sockmap_input(s, c);
	}
}

/* 0 ok, -1 connection is gone */
static int conn_flush(struct conn *c)
{
	if (c->out_len == 0)
		return 0;
	while (c->out_pos < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_pos,
				 c->out_len - c->out_pos, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno != EPIPE && errno != ECONNRESET)
				msg_warn("write to %s: %m", c->peer);
			return -1;
		}
		c->out_pos += (size_t)n;
	}
	c->out_pos = c->out_len = 0;
	c->answered = 1;
	return 0;
}

/* 0 ok, -1 connection is gone (EOF or error) */
static int conn_read(struct conn *c)
{
	ssize_t n;

	c->in_pos = c->in_len = 0;
	n = read(c->fd, c->in, sizeof(c->in));
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (errno != ECONNRESET)
			msg_warn("read from %s: %m", c->peer);
		return -1;
	}
	if (n == 0)
		return -1;
	c->in_len = (size_t)n;
	/* the deadline runs from the first byte; later bytes never extend it */
	if (c->clock.busy_since < 0)
		c->clock.busy_since = htg_now();
	return 0;
}

/* Busy until all input is answered and the answers have left; an
   answer sent restarts the deadline for what is still pending. */
static void conn_clock(struct conn *c)
{
	if (c->in_pos == c->in_len && !c->partial && c->out_len == 0) {
		if (c->clock.busy_since >= 0) {
			c->clock.busy_since = -1;
			c->clock.idle_since = htg_now();
		}
	} else if (c->answered && c->clock.busy_since >= 0) {
		c->clock.busy_since = htg_now();
	}
	c->answered = 0;
}

/* Read only when all input is answered and there is room for answers. */
static void conn_update(struct server *s, struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->closing && c->out_pos == c->out_len) {
		conn_close(s, c);
		return;
	}
	conn_clock(c);
	if (!c->closing && c->in_pos == c->in_len &&
	    c->out_len + REPLY_MAX <= sizeof(c->out))
		want |= EPOLLIN;
	if (c->out_pos < c->out_len)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = c->events = want;
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		msg_warn("epoll_ctl: %m");
		conn_close(s, c);
	}
}

/*
 * An event is handled in two phases: conn_input() reads and decides,
 * conn_output() sends. Between them the event loop writes the decision
 * log lines of the whole round at once (policy-log.h), so every answer
 * leaves after its log line. conn_input() returns 1 when the connection
 * is still open and needs conn_output(), 0 when it was closed.
 */
static int conn_input(struct server *s, struct conn *c, uint32_t events)
{
	if ((events & EPOLLERR) != 0) {
		conn_close(s, c);
		return 0;
	}
	if ((events & EPOLLOUT) != 0 && conn_flush(c) < 0) {
		conn_close(s, c);
		return 0;
	}
	if ((events & (EPOLLIN | EPOLLHUP)) != 0 && !c->closing &&
	    c->in_pos == c->in_len && conn_read(c) < 0) {
		conn_close(s, c);
		return 0;
	}
	conn_process(s, c);
	return 1;
}

static void conn_output(struct server *s, struct conn *c)
{
	if (conn_flush(c) < 0) {
		conn_close(s, c);
		return;
	}
	conn_update(s, c);
}

/* Once a second: deadlines (policy-limits.h), resuming a paused
   accept, the counts of rate-limited warnings. */
static void server_sweep(struct server *s, long long now)
{
	struct conn *c, *next;

	for (c = s->conns; c != NULL; c = next) {
		enum policy_conn_verdict v;

		next = c->next;
		v = policy_conn_check(&s->limits, &c->clock, now);
		if (v == POLICY_CONN_KEEP)
			continue;
		if (v == POLICY_CONN_REQUEST_TIMEOUT)
			htg_warn_limited(&s->warn_deadline, "%s client %s: %s "
					 "(%d s): closing",
					 server_kind_name(c->kind), c->peer,
					 policy_conn_verdict_name(v),
					 s->limits.request_timeout);
		else if (msg_verbose)
			msg_info("%s connection from %s: %s: closing",
				 server_kind_name(c->kind), c->peer,
				 policy_conn_verdict_name(v));
		conn_close(s, c);
	}
	if (s->accept_paused && now - s->paused_at >= 1)
		server_accept_resume(s);
	htg_warn_limit_flush(&s->warn_accept);
	htg_warn_limit_flush(&s->warn_full);
	htg_warn_limit_flush(&s->warn_deadline);
}

void server_on_hup(struct server *s, void (*fn)(struct server *, void *),
		   void *arg)
{
	s->on_hup = fn;
	s->on_hup_arg = arg;
}

void server_set_limits(struct server *s, const struct policy_limits *limits)
{
	s->limits = *limits;
}

void server_run(struct server *s, int signal_fd)
{
	struct watch sig_watch = { WATCH_SIGNAL };
	struct epoll_event ev, events[64];
	struct conn *ready[64];
	long long last_sweep = htg_now();

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &sig_watch;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, signal_fd, &ev) < 0)
		msg_fatal("epoll_ctl: %m");
	for (;;) {
		int n = epoll_wait(s->epfd, events, 64, 1000), nready = 0;
		long long now;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("epoll_wait: %m");
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;

			if (w->type == WATCH_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(signal_fd, &si, sizeof(si)) !=
				    (ssize_t)sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP && s->on_hup) {
					policy_log_flush();
					s->on_hup(s, s->on_hup_arg);
					continue;
				}
				msg_info("signal %u received, stopping",
					 si.ssi_signo);
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, signal_fd,
					  NULL);
				policy_log_flush();
				return;
			}
			if (w->type == WATCH_LISTENER)
				server_accept(s, (struct listener *)w);
			else if (conn_input(s, (struct conn *)w,
					    events[i].events))
				ready[nready++] = (struct conn *)w;
		}
		/* each fd is reported once per round: ready[] has no
		   duplicates, and only conn_output() closes them */
		policy_log_flush();
		for (int i = 0; i < nready; i++)
			conn_output(s, ready[i]);
		/* a slot is free again: take the waiting clients */
		if (s->accept_paused && s->slot_freed)
			server_accept_resume(s);
		s->slot_freed = 0;
		now = htg_now();
		if (now != last_sweep) {
			server_sweep(s, now);
			last_sweep = now;
		}
	}
}

void server_free(struct server **_s)
{
	struct server *s = *_s;

	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_close(s, s->conns);
	server_close_listeners(s);
	close(s->epfd);
	free(s->dir_path);
	free(s);
	*_s = NULL;
}
