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
/* DESCRIPTION
/*	Not an API: the structures of the event loop (policy-server.c) and
/*	of its listening sockets (policy-listen.c), split by responsibility.
/*
/*	server_close_listeners() closes every listener and removes the unix
/*	socket files it created.
/*--*/

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "policy-proto.h"
#include "policy-server.h"
#include "socketmap-proto.h"

#define CONN_IN_SIZE	4096
#define CONN_OUT_SIZE	16384
#define REPLY_MAX	1024	/* longest single answer we write */
#define LISTEN_MAX	8

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
	time_t last_active;
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
	int max_conns, idle_timeout, nconns;
	time_t last_refusal_log;
	struct listener listeners[LISTEN_MAX];
	int nlisteners;
	struct conn *conns;
};

const char *server_kind_name(enum server_kind kind);
void server_close_listeners(struct server *server);

#endif
