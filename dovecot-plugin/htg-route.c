/*++
/* NAME
/*	htg-route 3
/* SUMMARY
/*	where an account is served: here, or proxied to its home node
/* DESCRIPTION
/*	See htg-route.h. Kept apart from the passdb driver (which needs
/*	Dovecot's auth process) so that a unit test can check the fields
/*	for every kind of account and service.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-route.h"

#define DEFAULT_POP3_PORT 110
#define DEFAULT_LMTP_PORT 24
/* above the 10 s in which Postfix's Dovecot SASL client wants an answer
   (htg-passdb(3)) */
#define DEFAULT_WAIT_SECS 15
#define MAX_WAIT_SECS 120

static int parse_port(const char *s, unsigned int *port_r)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);

	if (*s < '0' || *s > '9' || *end != '\0' || n == 0 || n > 65535)
		return -1;
	*port_r = (unsigned int)n;
	return 0;
}

int htg_route_parse_args(const char *args, char *path, size_t path_size,
			 struct htg_route_settings *set_r,
			 const char **error_r)
{
	static char err[160];
	const char *p = args, *word;
	size_t len;
	int first = 1;

	memset(set_r, 0, sizeof(*set_r));
	set_r->pop3_port = DEFAULT_POP3_PORT;
	set_r->lmtp_port = DEFAULT_LMTP_PORT;
	set_r->wait_secs = DEFAULT_WAIT_SECS;
	path[0] = '\0';
	for (;;) {
		char w[HTG_PATH_MAX];

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		word = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		len = (size_t)(p - word);
		if (len >= sizeof(w)) {
			*error_r = "argument too long";
			return -1;
		}
		memcpy(w, word, len);
		w[len] = '\0';
		if (first) {
			if (len >= path_size) {
				*error_r = "directory path too long";
				return -1;
			}
			memcpy(path, w, len + 1);
			first = 0;
		} else if (strncmp(w, "node=", 5) == 0) {
			if (!htg_dir_normalise(w + 5, set_r->node,
					       sizeof(set_r->node))) {
				*error_r = "invalid node=";
				return -1;
			}
		} else if (strncmp(w, "pop3_port=", 10) == 0) {
			if (parse_port(w + 10, &set_r->pop3_port) < 0) {
				*error_r = "invalid pop3_port=";
				return -1;
			}
		} else if (strncmp(w, "lmtp_port=", 10) == 0) {
			if (parse_port(w + 10, &set_r->lmtp_port) < 0) {
				*error_r = "invalid lmtp_port=";
				return -1;
			}
		} else if (strncmp(w, "wait=", 5) == 0) {
			char *end;
			unsigned long n = strtoul(w + 5, &end, 10);

			if (w[5] < '0' || w[5] > '9' || *end != '\0' ||
			    n > MAX_WAIT_SECS) {
				*error_r = "invalid wait= (0-120 seconds)";
				return -1;
			}
			set_r->wait_secs = (unsigned int)n;
		} else {
			snprintf(err, sizeof(err), "unknown argument: %.100s",
				 w);
			*error_r = err;
			return -1;
		}
	}
	if (path[0] == '\0') {
		*error_r = "args must begin with the HTG directory path";
		return -1;
	}
	return 0;
}

static int is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

int htg_route_fields(struct htg_dir *dir, const struct htg_route_settings *set,
		     const char *service, const struct htg_account *acct,
		     char *buf, size_t size, const char **error_r)
{
	char host[HTG_NODE_MAX], self[HTG_NODE_MAX] = "";
	int lmtp, ret, n;

	buf[0] = '\0';
	if (strcmp(service, "pop3") == 0)
		lmtp = 0;
	else if (strcmp(service, "lmtp") == 0)
		lmtp = 1;
	else
		return 0;	/* submissions: any node (Postfix SASL) */
	if (acct->home[0] == '\0' || strcmp(acct->home, set->node) == 0)
		return 0;
	ret = htg_dir_node_get(dir, acct->home, host, sizeof(host), error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "the account's home node is not in the "
				"directory";
		return -1;
	}
	/* the hop leaves from this node's own address, if it is one */
	if (set->node[0] != '\0' &&
	    htg_dir_node_get(dir, set->node, self, sizeof(self), error_r) < 0)
		return -1;
	if (!is_ip(self))
		self[0] = '\0';
	n = snprintf(buf, size, "proxy_maybe=y\thost=%s\tport=%u\t%s"
		     "starttls=yes%s%s", host,
		     lmtp ? set->lmtp_port : set->pop3_port,
		     lmtp ? "protocol=lmtp\t" : "",
		     lmtp ? "" : "\tproxy_mech=plain",
		     self[0] != '\0' ? "\tsource_ip=" : "");
	if (n > 0 && (size_t)n < size && self[0] != '\0')
		n += snprintf(buf + n, size - (size_t)n, "%s", self);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		*error_r = "proxy fields too long";
		return -1;
	}
	return 1;
}
