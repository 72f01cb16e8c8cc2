#ifndef POLICY_SERVER_H
#define POLICY_SERVER_H

/*++
/* NAME
/*	policy-server 3h
/* SUMMARY
/*	single-process epoll server for the policy and socketmap protocols
/* SYNOPSIS
/*	#include "policy-server.h"
/*
/*	struct server *server_new(struct policy_ctx *ctx,
/*			const char *dir_path, int max_conns,
/*			const struct policy_limits *limits);
/*	void	server_listen_unix(struct server *server,
/*			enum server_kind kind, const char *path,
/*			const struct htg_sockperm *perm);
/*	void	server_listen_inet(struct server *server,
/*			enum server_kind kind, const char *host_port);
/*	void	server_chown_sockets(struct server *server, uid_t uid,
/*			gid_t gid);
/*	void	server_open_dir(struct server *server);
/*	void	server_on_hup(struct server *server,
/*			void (*fn)(struct server *, void *), void *arg);
/*	void	server_set_limits(struct server *server,
/*			const struct policy_limits *limits);
/*	void	server_run(struct server *server, int signal_fd);
/*	void	server_free(struct server **server);
/* DESCRIPTION
/*	One process serves every connection with non-blocking sockets and
/*	level-triggered epoll. Each connection has bounded input and output
/*	buffers; when the client does not read its answers, the server stops
/*	reading its requests (no unbounded queue). A request must be read and
/*	answered within limits->request_timeout seconds of its first byte, a
/*	connection idle for limits->idle_timeout seconds is closed, and so is
/*	an idle one older than limits->max_ttl (policy-limits.h). Beyond
/*	max_conns new connections are accepted and closed at once (the
/*	Postfix client tempfails); server_new() raises RLIMIT_NOFILE to fit
/*	them, or lowers max_conns to what the hard limit allows and says so.
/*	When accept() fails (out of descriptors), the server stops accepting
/*	until a connection closes; warnings of such floods are rate-limited.
/*
/*	server_listen_unix() removes a stale socket left at path (fatal when
/*	something still listens there, or when path is not a socket), binds
/*	under umask 0177, applies perm's group and mode (htg-sockperm.h)
/*	and listens. server_chown_sockets() gives the unix sockets to the
/*	user the daemon becomes (gid (gid_t)-1 keeps the group). server_listen_inet() takes "host:port" or
/*	"[v6]:port". Errors while setting up are fatal.
/*
/*	server_open_dir() opens the directory read-only into ctx->dir; on
/*	failure it warns and the server tries again (at most once a second)
/*	when a request needs it, answering "temporary failure" meanwhile.
/*
/*	server_run() returns when signal_fd (a signalfd) delivers SIGTERM or
/*	SIGINT; on SIGHUP it calls the function given to server_on_hup()
/*	(the reload, between two rounds of the event loop) and goes on.
/*	server_set_limits() replaces the limits (checked at the next
/*	sweep, for every connection).
/*	server_free() closes everything and removes the unix sockets.
/*--*/

#include <sys/types.h>

#include "htg-sockperm.h"
#include "policy-limits.h"
#include "policy-rules.h"

enum server_kind {
	SERVER_POLICY,
	SERVER_SOCKETMAP
};

struct server;

struct server *server_new(struct policy_ctx *ctx, const char *dir_path,
			  int max_conns, const struct policy_limits *limits);
void server_listen_unix(struct server *server, enum server_kind kind,
			const char *path, const struct htg_sockperm *perm);
void server_listen_inet(struct server *server, enum server_kind kind,
			const char *host_port);
void server_chown_sockets(struct server *server, uid_t uid, gid_t gid);
void server_open_dir(struct server *server);
void server_on_hup(struct server *server,
		   void (*fn)(struct server *, void *), void *arg);
void server_set_limits(struct server *server,
		       const struct policy_limits *limits);
void server_run(struct server *server, int signal_fd);
void server_free(struct server **server);

#endif
