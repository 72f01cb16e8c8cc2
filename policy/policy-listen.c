/*++
/* NAME
/*	policy-listen 3
/* SUMMARY
/*	listening sockets of htg-policyd (unix and inet)
/* SYNOPSIS
/*	#include "policy-server.h"
/* DESCRIPTION
/*	server_listen_unix(), server_listen_inet(), server_chown_sockets()
/*	of policy-server.h, and server_close_listeners() and the accept path
/*	(server_fit_nofile, server_accept, server_accept_pause/resume) of
/*	policy-server-impl.h. A unix socket left by a daemon that was killed
/*	(kill -9 leaves its file) is removed at the next start, so a clean
/*	restart needs no manual step; a socket something still listens on is
/*	never taken over.
/*
/*	A unix socket is bound under umask 0177 (born 0600) and only then
/*	given its group and mode (htg-sockperm.h): never more open than
/*	configured, whatever the umask the daemon was started with.
/*
/*	At the connection limit a new client is accepted and closed at once:
/*	Postfix's policy client reads end-of-file, tries once more after
/*	smtpd_policy_service_retry_delay and then answers with
/*	smtpd_policy_service_default_action (our main.cf: 451 4.3.5); its
/*	socketmap client tempfails the lookup (451 4.3.0). Left in the
/*	listen queue instead, it would wait its whole timeout (100 s) for
/*	nothing. Only when accept() itself fails (no descriptor to take it)
/*	do clients wait in the queue, until a connection closes.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* accept4 */
#endif

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "htg-limits.h"
#include "htg-msg.h"
#include "htg-sockperm.h"
#include "policy-server-impl.h"

static struct listener *listener_add(struct server *s, int fd,
				     enum server_kind kind, const char *path,
				     const char *name)
{
	struct listener *l;
	struct epoll_event ev;

	if (s->nlisteners >= LISTEN_MAX)
		msg_panic("too many listeners");
	l = &s->listeners[s->nlisteners++];
	l->watch.type = WATCH_LISTENER;
	l->fd = fd;
	l->kind = kind;
	l->path = path != NULL ? strdup(path) : NULL;
	l->name = strdup(name);
	if (l->name == NULL || (path != NULL && l->path == NULL))
		msg_fatal("out of memory");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = l;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		msg_fatal("epoll_ctl: %m");
	return l;
}

/* A socket file left by a daemon that died is removed; a live one is not. */
static void unix_remove_stale(const char *path, const union sockaddr_any *sa)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			msg_fatal("stat %s: %m", path);
		return;
	}
	if (!S_ISSOCK(st.st_mode))
		msg_fatal("%s exists and is not a socket", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		msg_fatal("socket: %m");
	if (connect(fd, &sa->sa, sizeof(sa->sun)) == 0)
		msg_fatal("%s: another server is listening there", path);
	close(fd);
	if (unlink(path) < 0)
		msg_fatal("remove stale socket %s: %m", path);
	msg_info("removed stale socket %s", path);
}

void server_listen_unix(struct server *s, enum server_kind kind,
			const char *path, const struct htg_sockperm *perm)
{
	union sockaddr_any sa;
	char name[sizeof(sa.sun.sun_path) + 8];
	const char *error;
	mode_t old_umask;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun.sun_path))
		msg_fatal("socket path too long: %s", path);
	strcpy(sa.sun.sun_path, path);
	if (htg_sockperm_check_dir(path, &error) < 0)
		msg_warn("%s", error);
	unix_remove_stale(path, &sa);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		msg_fatal("socket: %m");
	/* born 0600: the umask must not decide who may connect */
	old_umask = htg_sockperm_umask();
	rc = bind(fd, &sa.sa, sizeof(sa.sun));
	umask(old_umask);
	if (rc < 0)
		msg_fatal("bind %s: %m", path);
	if (htg_sockperm_apply(path, (uid_t)-1, perm, &error) < 0)
		msg_fatal("%s", error);
	if (listen(fd, SOMAXCONN) < 0)
		msg_fatal("listen %s: %m", path);
	snprintf(name, sizeof(name), "unix:%s", path);
	listener_add(s, fd, kind, path, name);
	msg_info("%s service listening on %s (mode %04o, group %s)",
		 server_kind_name(kind), name, (unsigned)perm->mode,
		 *perm->group_name != '\0' ? perm->group_name : "unchanged");
}

void server_listen_inet(struct server *s, enum server_kind kind,
			const char *host_port)
{
	struct addrinfo hints, *res;
	char host[256], *port;
	int fd, on = 1, rc;

	if (strlen(host_port) >= sizeof(host))
		msg_fatal("bad address: %s", host_port);
	strcpy(host, host_port);
	if ((port = strrchr(host, ':')) == NULL || port[1] == '\0')
		msg_fatal("%s: expected host:port", host_port);
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		msg_fatal("%s: %s", host_port, gai_strerror(rc));
	fd = socket(res->ai_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		msg_fatal("socket: %m");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		msg_fatal("setsockopt SO_REUSEADDR: %m");
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
		msg_fatal("bind %s: %m", host_port);
	freeaddrinfo(res);
	if (listen(fd, SOMAXCONN) < 0)
		msg_fatal("listen %s: %m", host_port);
	listener_add(s, fd, kind, NULL, host_port);
	msg_info("%s service listening on inet:%s", server_kind_name(kind),
		 host_port);
}

void server_chown_sockets(struct server *s, uid_t uid, gid_t gid)
{
	for (int i = 0; i < s->nlisteners; i++)
		if (s->listeners[i].path != NULL &&
		    chown(s->listeners[i].path, uid, gid) < 0)
			msg_fatal("chown %s: %m", s->listeners[i].path);
}

void server_close_listeners(struct server *s)
{
	for (int i = 0; i < s->nlisteners; i++) {
		struct listener *l = &s->listeners[i];

		close(l->fd);
		if (l->path != NULL && unlink(l->path) < 0) {
			/* after dropping root, the socket directory may not
			   be ours: the next start removes the stale file */
			if (errno == EACCES || errno == EPERM)
				msg_info("cannot remove %s (%m); the next "
					 "start will", l->path);
			else if (errno != ENOENT)
				msg_warn("remove %s: %m", l->path);
		}
		free(l->path);
		free(l->name);
	}
	s->nlisteners = 0;
}

/* --- the accept path ----------------------------------------------------- */

void server_fit_nofile(struct server *s)
{
	long want = (long)s->max_conns + FD_MARGIN, old, hard, soft;

	soft = htg_nofile_raise(want, &old, &hard);
	if (soft > old)
		msg_info("RLIMIT_NOFILE raised from %ld to %ld for "
			 "max_connections %d", old, soft, s->max_conns);
	if (soft >= want)
		return;
	s->max_conns = soft > FD_MARGIN + 1 ? (int)(soft - FD_MARGIN) : 1;
	msg_warn("RLIMIT_NOFILE is %ld (hard limit %ld): too low for "
		 "max_connections %d plus %d; serving at most %d connections "
		 "(raise the hard limit, e.g. LimitNOFILE= in the unit)",
		 soft, hard, (int)(want - FD_MARGIN), FD_MARGIN, s->max_conns);
}

void server_accept_pause(struct server *s)
{
	if (s->accept_paused)
		return;
	for (int i = 0; i < s->nlisteners; i++)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listeners[i].fd, NULL);
	s->accept_paused = 1;
	s->paused_at = htg_now();
}

/* A listener that cannot be added back (ENOMEM) is tried again a second
   later; one added before is EEXIST then. */
void server_accept_resume(struct server *s)
{
	if (!s->accept_paused)
		return;
	for (int i = 0; i < s->nlisteners; i++) {
		struct epoll_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = &s->listeners[i];
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[i].fd,
			      &ev) < 0 && errno != EEXIST) {
			htg_warn_limited(&s->warn_accept, "epoll_ctl %s: %m: "
					 "not accepting for a second",
					 s->listeners[i].name);
			s->paused_at = htg_now();
			return;
		}
	}
	s->accept_paused = 0;
}

void server_accept(struct server *s, struct listener *l)
{
	while (!s->accept_paused) {
		union sockaddr_any sa;
		socklen_t len = sizeof(sa);
		int fd;

		fd = accept4(l->fd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM, anything else: the
			   client stays queued and the listener ready; retrying
			   before something changed would spin */
			htg_warn_limited(&s->warn_accept, "accept on %s: %m: "
					 "not accepting until a connection "
					 "closes (%d open)", l->name, s->nconns);
			server_accept_pause(s);
			return;
		}
		if (s->nconns >= s->max_conns) {
			htg_warn_limited(&s->warn_full, "%s: connection limit "
					 "%d reached: closing new connections "
					 "at once", l->name, s->max_conns);
			close(fd);
			continue;
		}
		server_conn_add(s, l, fd, &sa, len);
	}
}
