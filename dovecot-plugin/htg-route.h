#ifndef HTG_ROUTE_H
#define HTG_ROUTE_H

/*++
/* NAME
/*	htg-route 3h
/* SUMMARY
/*	where an account is served: here, or proxied to its home node
/* SYNOPSIS
/*	#include "htg-route.h"
/* DESCRIPTION
/*	More than one machine (issue 15): an account's mailbox lives on
/*	its home node (htg-dir-node(3)). The htg passdb of every node
/*	asks htg_route_fields() what to add to a successful lookup:
/*	nothing when the account is served here (no home, or this node's
/*	own), else Dovecot's proxy fields for the home node:
/* .IP "POP3 (an authentication)"
/*	proxy_maybe=y host=ADDRESS port=POP3_PORT starttls=yes
/*	proxy_mech=plain [source_ip=OWN_ADDRESS]
/* .IP "LMTP (lmtp_proxy = yes: a lookup per RCPT)"
/*	proxy_maybe=y host=ADDRESS port=LMTP_PORT protocol=lmtp
/*	starttls=yes [source_ip=OWN_ADDRESS]
/* .PP
/*	Every value comes from the directory or the passdb's args, never
/*	from the client: a client cannot pick the host. starttls=yes
/*	(without any-cert) verifies the home node's certificate against
/*	the configured CA (ssl_ca for pop3-login, which is chrooted;
/*	ssl_client_ca_file for lmtp) and its name against the address;
/*	the POP3 hop begins with STLS, as our pre-TLS login plugin on the
/*	home node demands. source_ip makes the hop come from this node's
/*	own address, which the home node lists in login_trusted_networks
/*	(so that it accepts the proxy's XCLIENT: the client's real
/*	address, the session id and the TTL that stops proxy loops).
/*	proxy_maybe: should the address be this node's after all (a
/*	wrong node= setting), Dovecot serves the login here instead of
/*	looping (auth_request_proxy_finish(): host equal to the local IP,
/*	port to the local port).
/*
/*	Services other than pop3 and lmtp (Postfix's SASL "smtp", doveadm)
/*	get no proxy fields: submissions are accepted on any node.
/*
/*	The passdb's args: DIRECTORY [node=NAME] [pop3_port=N]
/*	[lmtp_port=N]. node is this node's name in the directory; without
/*	it every account with a home is proxied with proxy_maybe, and
/*	Dovecot's address comparison alone decides (an LMTP delivery over
/*	the unix socket then takes one hop to this node's own inet
/*	listener). The ports are those of the POP3 and the inet LMTP
/*	listeners, the same on every node (defaults 110 and 24).
/*
/*	No Dovecot headers here: the unit test (test-htg-route) runs it
/*	against a real LMDB directory.
/*--*/

#include <stddef.h>

#include "htg-dir.h"

struct htg_route_settings {
	char node[HTG_NODE_MAX];	/* "" = unknown */
	unsigned int pop3_port, lmtp_port;
	/* passdb: how long a login waits for an unreadable directory
	   (htg-passdb(3)), seconds; 0 = answer the failure at once */
	unsigned int wait_secs;
};

/* Split the passdb args into the directory path (into path) and the
   settings: 0, or -1 with *error_r. */
int htg_route_parse_args(const char *args, char *path, size_t path_size,
			 struct htg_route_settings *set_r,
			 const char **error_r);

/* The fields (tab-separated "key=value") to add to a lookup of acct for
   service: 1 proxied (fields in buf), 0 served here (buf ""), -1 error
   (the home node is not in the directory: a temporary failure rather
   than a delivery or login on the wrong node). */
int htg_route_fields(struct htg_dir *dir, const struct htg_route_settings *set,
		     const char *service, const struct htg_account *acct,
		     char *buf, size_t size, const char **error_r);

#endif
