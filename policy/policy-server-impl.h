#ifndef POLICY_SERVER_IMPL_H
#define POLICY_SERVER_IMPL_H

/*++
/* NAME
/*	policy-server-impl 3h
/* SUMMARY
/*	internals shared by policy-server.c and policy-listen.c
/* SYNOPSIS
/*	#include "policy-server-impl.h"
/*
/*	const char *server_kind_name(enum server_kind kind);
/*	void	server_close_listeners(struct server *server);
/*
/*	void	server_fit_nofile(struct server *server);
/*	void	server_accept(struct server *server, struct listener *l);
/*	void	server_accept_pause(struct server *server);
/*	void	server_accept_resume(struct server *server);
/*	int	server_conn_add(struct server *server, struct listener *l,
/*			int fd, const union sockaddr_any *sa, socklen_t len);
/* DESCRIPTION
/*	Not an API: the structures of the event loop (policy-server.c) and
/*	of its listening sockets (policy-listen.c), split by responsibility.
/*
/*	server_close_listeners() closes every listener and removes the unix
/*	socket files it created.
/*
/*	server_fit_nofile() raises RLIMIT_NOFILE to fit max_conns plus
/*	FD_MARGIN, or lowers max_conns to what the hard limit fits (logged).
/*	server_accept() takes the pending connections of a listener (at the
/*	connection limit: accepted and closed at once, so Postfix's client
/*	sees end-of-file and tempfails at once, never waits in the backlog);
/*	when accept() fails otherwise (EMFILE, ENFILE, ENOBUFS, ...) every
/*	listener leaves the epoll set (server_accept_pause) until a
/*	connection closes or a second has passed (server_accept_resume, from
/*	the event loop): a level-triggered listener would be ready again at
/*	once, and the loop would spin. server_conn_add() (policy-server.c)
/*	makes a connection of an accepted socket: 0, or -1 when it closed it.
/*--*/

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "htg-limits.h"
#include "policy-limits.h"
#include "policy-proto.h"
#include "policy-server.h"
#include "socketmap-proto.h"

#define CONN_IN_SIZE	4096
#define CONN_OUT_SIZE	16384
#define REPLY_MAX	1024	/* longest single answer we write */
#define LISTEN_MAX	8
/* descriptors besides the connections: stdio, epoll, signalfd, listeners,
   log files, the LMDB environment, one to accept-and-close at the limit */
#define FD_MARGIN	32
#define WARN_INTERVAL	10	/* seconds between two like warnings */

/* one object, every view of it: no type-punned casts */
union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_un sun;
	struct sockaddr_storage ss;
};

enum watch_type {
	WATCH_LISTENER,
	WATCH_CONN,
	WATCH_SIGNAL
};

struct watch {
	enum watch_type type;
};

struct listener {
	struct watch watch;
	int fd;
	enum server_kind kind;
	char *path;			/* unix socket path, or NULL */
	char *name;			/* for the log */
};

struct conn {
	struct watch watch;
	int fd;
	enum server_kind kind;
	char peer[80];
	struct conn *prev, *next;
	struct policy_conn_clock clock;	/* policy-limits.h */
	int partial;			/* a request is half read */
	int answered;			/* an answer left since conn_update */
	uint32_t events;		/* current epoll interest */
	int closing;			/* close once out is flushed */
	struct policy_parser *policy;
	struct sockmap_parser *sockmap;
	size_t in_pos, in_len, out_pos, out_len;
	char in[CONN_IN_SIZE];
	char out[CONN_OUT_SIZE];
};

struct server {
	struct policy_ctx *ctx;
	char *dir_path;
	time_t dir_last_try;
	int epfd;
	int max_conns, nconns;
	struct policy_limits limits;
	void (*on_hup)(struct server *, void *);
	void *on_hup_arg;
	int accept_paused;		/* listeners out of the epoll set */
	long long paused_at;
	int slot_freed;			/* a connection closed while paused */
	struct htg_warn_limit warn_accept, warn_full, warn_deadline;
	struct listener listeners[LISTEN_MAX];
	int nlisteners;
	struct conn *conns;
};

const char *server_kind_name(enum server_kind kind);
void server_close_listeners(struct server *server);
void server_fit_nofile(struct server *server);
void server_accept(struct server *server, struct listener *l);
void server_accept_pause(struct server *server);
void server_accept_resume(struct server *server);
int server_conn_add(struct server *server, struct listener *l, int fd,
		    const union sockaddr_any *sa, socklen_t len);

#endif
