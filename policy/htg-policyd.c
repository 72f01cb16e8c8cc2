/*++
/* NAME
/*	htg-policyd 8
/* SUMMARY
/*	HTG policy delegation and socketmap server for Postfix
/* SYNOPSIS
/*	htg-policyd [-f] [-n] [-v] [-c config_file] [-o key=value ...]
/*	htg-policyd -V | --version
/* DESCRIPTION
/*	htg-policyd answers two kinds of Postfix clients from the HTG LMDB
/*	directory, read live (no reload, no postmap):
/* .IP \(bu
/*	smtpd(8) check_policy_service requests (SMTPD_POLICY_README) of the
/*	submission service. It decides the rules HTG-SENDER (MAIL FROM is an
/*	address owned by the authenticated account), HTG-RCPT-FLOW (RCPT TO is
/*	<flow>@<submit domain>, the flow exists and the account is granted
/*	it) and HTG-SIZE (the account's size limit), and refuses an
/*	unauthenticated RCPT with HTG-AUTH as a backstop; in depth it also
/*	checks HTG-TLS (encryption_protocol of the submission service's
/*	policy_context) and HTG-RCPT-ONE (recipient_count at DATA and
/*	END-OF-MESSAGE), and optionally a per-account rate (HTG-RATE, off by
/*	default). Otherwise it answers DUNNO, never a permit. A malformed request is answered with
/*	DEFER_IF_PERMIT; an oversized one also closes the connection.
/* .IP \(bu
/*	socketmap_table(5) lookups by the maps "mailbox" (address -> owning
/*	account, for virtual_mailbox_maps), "domain" (for
/*	virtual_mailbox_domains), "flow" (<flow>@<submit domain> -> deliver-to
/*	address, for virtual_alias_maps) and "sender_login" (address ->
/*	account, for smtpd_sender_login_maps). A directory error is TEMP.
/* .PP
/*	Every policy decision is logged on one line with the queue id, the
/*	account, the client address, the rule id and the action.
/*
/*	One process serves all connections (epoll, non-blocking sockets,
/*	bounded per-connection buffers). When started as root it binds its
/*	sockets, writes its pid file and then runs as the configured user.
/*	SIGTERM or SIGINT stops it cleanly and removes its sockets. SIGHUP
/*	reloads the configuration file between two rounds of the event loop:
/*	a bad file keeps the old settings (errors logged with file:line);
/*	the sockets, socket_mode, socket_group, user, pid_file, directory
/*	and max_connections need a restart; the log is reopened.
/*
/*	Options:
/* .IP "-c config_file"
/*	Read this file instead of the default
/*	$sysconfdir/htg/htg-policyd.conf (a missing default file is not an
/*	error, the daemon warns and runs on defaults and -o; a missing -c
/*	file is).
/* .IP -f
/*	Stay in the foreground.
/* .IP -n
/*	Check the configuration and exit: 0 and silent when good, else 1
/*	and one "file:line: key: ..." line per error on stderr. Every value
/*	is checked (numbers and ranges, times in plain seconds, names); a
/*	bad one is never replaced by a default.
/* .IP "-V, --version"
/*	Print "htg-policyd VERSION" and exit.
/* .IP -v
/*	Verbose logging (repeat for more).
/* .IP "-o key=value"
/*	Override a configuration parameter; applied after the file.
/* CONFIGURATION PARAMETERS
/*	Postfix main.cf syntax, "key = value".
/* .IP "directory (default: $HTG_DIRECTORY, else /var/lib/htg/directory)"
/*	The LMDB directory, opened read-only.
/* .IP "policy_socket (default: /run/htg/policy)"
/*	UNIX-domain socket for policy requests; empty disables it.
/* .IP "socketmap_socket (default: /run/htg/socketmap)"
/*	UNIX-domain socket for socketmap lookups; empty disables it.
/* .IP "socket_mode (default: 0660)"
/*	Octal permissions of both sockets; a mode that grants anything to
/*	others (e.g. 0666) is refused: any local user could ask who owns an
/*	address or what a flow delivers to.
/* .IP "socket_group (default: postfix)"
/*	Group of both sockets: Postfix's smtpd, cleanup and trivial-rewrite
/*	run as user postfix and must be able to connect. Empty keeps the
/*	group of the creating process. The sockets are born 0600 (umask
/*	0177 around bind) and get group and mode before the daemon drops
/*	root, so they are never more open than configured.
/* .IP "policy_inet, socketmap_inet (default: empty)"
/*	Optional TCP listeners, host:port (e.g. 127.0.0.1:10040). There is
/*	no authentication: bind to loopback only.
/* .IP "environment (default: production)"
/*	production or preproduction; selects the submission domain
/*	msa-smtp.htpoort.nl or msa-smtp.preprod.htpoort.nl.
/* .IP "submit_domain (default: from environment)"
/*	Overrides the submission domain of flow addresses.
/* .IP "log_file (default: empty: syslog, facility mail)"
/*	Append log lines to this file instead; reopened on SIGHUP.
/* .IP "user (default: empty)"
/*	When started as root, run as this user after binding.
/* .IP "pid_file (default: empty)"
/*	Write the process id here; removed at exit.
/* .IP "max_connections (default: 1024)"
/*	Connections beyond this are accepted and closed at once (Postfix
/*	tempfails). RLIMIT_NOFILE is raised to fit them (soft up to hard);
/*	when the hard limit is lower, fewer are served and the log says so.
/* .IP "request_timeout (default: 100)"
/*	Seconds from the first byte of a request (policy or socketmap) until
/*	its answer has left; a slower client is disconnected. Postfix waits
/*	smtpd_policy_service_timeout (100 s) for an answer.
/* .IP "idle_timeout (default: 600)"
/*	Seconds after which a connection without a pending request is closed
/*	(above Postfix's smtpd_policy_service_max_idle, 300 s).
/* .IP "max_ttl (default: 1200)"
/*	Seconds after which a connection is closed at its next idle moment;
/*	0 disables (above Postfix's smtpd_policy_service_max_ttl, 1000 s).
/* .IP "tls_protocol_min (default: TLSv1.3)"
/*	HTG-TLS minimum: TLSv1.1, TLSv1.2 or TLSv1.3; empty disables the
/*	rule.
/* .IP "tls_policy_context (default: empty, every request)"
/*	HTG-TLS applies only to requests with this policy_context.
/* .IP "rate_limit, rate_window, rate_accounts (default: 0, 3600, 10000)"
/*	HTG-RATE: messages per account per window; 0 is off.
/* SEE ALSO
/*	htgctl(8), htg-milter(8), postconf(5) check_policy_service,
/*	socketmap_table(5), SMTPD_POLICY_README
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-daemon.h"
#include "htg-dir.h"
#include "htg-msg.h"
#include "policy-log.h"
#include "policy-rules.h"
#include "policy-server.h"

#ifndef HTG_POLICYD_CONF
#define HTG_POLICYD_CONF "/etc/htg/htg-policyd.conf"
#endif

static const char *const policyd_keys[] = {
	"directory", "policy_socket", "socketmap_socket", "socket_mode",
	"socket_group",
	"policy_inet", "socketmap_inet", "environment", "submit_domain",
	"log_file", "user", "pid_file", "max_connections", "idle_timeout",
	"request_timeout", "max_ttl", "tls_protocol_min", "tls_policy_context", "rate_limit", "rate_window",
	"rate_accounts", NULL
};

/* What htg-policyd.conf(5) sets, checked (htg-conf.h); conf owns the
   strings. The event loop is one thread: a reload replaces it whole
   between two rounds. */
struct policyd_set {
	struct htg_conf *conf;
	const char *env, *submit_domain, *tls_min, *tls_context;
	int rate_limit, rate_window, rate_accounts, max_connections;
	struct policy_limits limits;
	const char *directory, *policy_sock, *sockmap_sock, *policy_inet;
	const char *sockmap_inet, *log_file, *pid_file;
	struct htg_sockperm perm;
	struct htg_daemon_user user;
};

/* read at start only: a change on SIGHUP is logged as "needs restart" */
static const char *const restart_keys[] = {
	"directory", "policy_socket", "socketmap_socket", "socket_mode",
	"socket_group", "policy_inet", "socketmap_inet", "user", "pid_file",
	"max_connections", NULL
};

/* "host:port" or "[v6]:port" (server_listen_inet() resolves the host) */
static void check_host_port(struct htg_conf *conf, const char *key)
{
	const char *v = htg_conf_get(conf, key, ""), *colon = strrchr(v, ':');
	char *end;
	long port;

	if (*v == '\0')
		return;
	if (colon == NULL || colon == v) {
		htg_conf_bad(conf, key, "\"%s\" is not host:port", v);
		return;
	}
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1 ||
	    port > 65535)
		htg_conf_bad(conf, key, "\"%s\": the port is not 1-65535", v);
}

static struct policyd_set *settings_parse(struct htg_conf *conf)
{
	static const char *const envs[] = { "production", "preproduction",
					    NULL };
	/* the names OpenSSL reports (Postfix's encryption_protocol) that
	   policy_tls_version() orders; TLS 1.0 cannot be a minimum of HTG */
	static const char *const tls[] = { "TLSv1.1", "TLSv1.2", "TLSv1.3",
					   NULL };
	struct policyd_set *s = calloc(1, sizeof(*s));
	const char *error, *v;

	if (s == NULL)
		msg_fatal("out of memory");
	s->conf = conf;
	s->env = envs[htg_conf_enum(conf, "environment", envs, 0)];
	s->submit_domain = htg_conf_domain(conf, "submit_domain",
					   policy_env_submit_domain(s->env));
	/* empty: HTG-TLS off */
	v = htg_conf_get(conf, "tls_protocol_min", NULL);
	s->tls_min = v != NULL && *v == '\0' ? "" :
		tls[htg_conf_enum(conf, "tls_protocol_min", tls, 2)];
	s->tls_context = htg_conf_get(conf, "tls_policy_context", "");
	s->rate_limit = (int)htg_conf_int(conf, "rate_limit", 0, 0, 1000000);
	s->rate_window = (int)htg_conf_seconds(conf, "rate_window", 3600, 1,
					   1000000);
	s->rate_accounts = (int)htg_conf_int(conf, "rate_accounts", 10000, 1,
					     1000000);
	s->max_connections = (int)htg_conf_int(conf, "max_connections", 1024,
					       1, 1000000);
	s->limits.request_timeout = (int)htg_conf_seconds(conf, "request_timeout",
						      100, 1, 1000000);
	s->limits.idle_timeout = (int)htg_conf_seconds(conf, "idle_timeout", 600,
						   1, 1000000);
	s->limits.max_ttl = (int)htg_conf_seconds(conf, "max_ttl", 1200, 0,
					      1000000);
	s->directory = htg_conf_get(conf, "directory", NULL);
	s->policy_sock = htg_conf_get(conf, "policy_socket", "/run/htg/policy");
	s->sockmap_sock = htg_conf_get(conf, "socketmap_socket",
				       "/run/htg/socketmap");
	s->policy_inet = htg_conf_get(conf, "policy_inet", "");
	s->sockmap_inet = htg_conf_get(conf, "socketmap_inet", "");
	check_host_port(conf, "policy_inet");
	check_host_port(conf, "socketmap_inet");
	if (*s->policy_sock == '\0' && *s->sockmap_sock == '\0' &&
	    *s->policy_inet == '\0' && *s->sockmap_inet == '\0')
		htg_conf_fail(conf, "%s: no socket configured (policy_socket, "
			      "socketmap_socket, policy_inet, socketmap_inet)",
			      htg_conf_where(conf, "policy_socket"));
	s->log_file = htg_conf_get(conf, "log_file", "");
	s->pid_file = htg_conf_get(conf, "pid_file", "");
	if (htg_sockperm_parse(htg_conf_get(conf, "socket_mode", "0660"),
			       htg_conf_get(conf, "socket_group", "postfix"),
			       &s->perm, &error) < 0)
		htg_conf_fail(conf, "%s: %s", htg_conf_where(conf,
			strncmp(error, "socket_group", 12) == 0 ?
			"socket_group" : "socket_mode"), error);
	(void)htg_daemon_user(conf, &s->user);
	return s;
}

static void settings_free(struct policyd_set **_s)
{
	struct policyd_set *s = *_s;

	if (s == NULL)
		return;
	htg_conf_free(&s->conf);
	free(s);
	*_s = NULL;
}

/* The live part of the settings into the rules' context. */
static void settings_apply(const struct policyd_set *s,
			   const struct policyd_set *old, struct policy_ctx *ctx)
{
	ctx->submit_domain = s->submit_domain;
	ctx->tls_min = s->tls_min;
	ctx->tls_context = s->tls_context;
	if (old == NULL || old->rate_limit != s->rate_limit ||
	    old->rate_window != s->rate_window ||
	    old->rate_accounts != s->rate_accounts) {
		policy_rate_free(&ctx->rate);
		if (s->rate_limit > 0)
			ctx->rate = policy_rate_new((unsigned)s->rate_limit,
						    (unsigned)s->rate_window,
						    (size_t)s->rate_accounts);
	}
}

static void settings_log(const struct policyd_set *s, const char *what)
{
	char rate[64] = "off";

	if (s->rate_limit > 0)
		snprintf(rate, sizeof(rate), "%d per %d s", s->rate_limit,
			 s->rate_window);
	msg_info("%s: environment %s, submit domain %s, TLS minimum %s "
		 "(policy context %s), rate limit %s, request_timeout %d, "
		 "idle_timeout %d, max_ttl %d, log %s", what, s->env,
		 s->submit_domain, *s->tls_min != '\0' ? s->tls_min : "off",
		 *s->tls_context != '\0' ? s->tls_context : "any", rate,
		 s->limits.request_timeout, s->limits.idle_timeout,
		 s->limits.max_ttl,
		 *s->log_file != '\0' ? s->log_file : "syslog");
}

struct policyd {
	struct htg_daemon daemon;
	struct policyd_set *set;
	struct policy_ctx ctx;
};

/* SIGHUP, from the event loop (server_on_hup) */
static void policyd_reload(struct server *server, void *arg)
{
	struct policyd *p = arg;
	struct policyd_set *s;
	const char *error;

	msg_info("SIGHUP: reloading %s", p->daemon.config);
	s = settings_parse(htg_daemon_conf(&p->daemon));
	if (htg_conf_error_count(s->conf) > 0) {
		/* logrotate still needs the log reopened, before the errors */
		if (msg_open_log(p->set->log_file, &error) < 0)
			msg_error("reload: %s", error);
		policy_log_reopen(p->set->log_file);
		(void)htg_daemon_reload_report(s->conf);
		settings_free(&s);
		return;
	}
	htg_daemon_restart_keys(p->set->conf, s->conf, restart_keys);
	if (msg_open_log(s->log_file, &error) < 0) {
		msg_error("reload: %s: the old settings stay in force", error);
		settings_free(&s);
		return;
	}
	policy_log_reopen(s->log_file);
	settings_apply(s, p->set, &p->ctx);
	server_set_limits(server, &s->limits);
	/* the old strings are no longer referenced by ctx */
	settings_free(&p->set);
	p->set = s;
	settings_log(s, "reloaded");
}

int main(int argc, char **argv)
{
	static struct policyd p = { .daemon = {
		.name = "htg-policyd", .config = HTG_POLICYD_CONF,
		.keys = policyd_keys,
	} };
	struct policyd_set *s;
	struct server *server;
	sigset_t set;
	int sigfd, listeners = 0;

	htg_daemon_args(&p.daemon, argc, argv);
	s = p.set = settings_parse(htg_daemon_conf(&p.daemon));
	htg_daemon_checked(&p.daemon, s->conf);
	htg_daemon_log(&p.daemon, s->log_file);
	htg_daemon_signals();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if ((sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		msg_fatal("signalfd: %m");
	settings_apply(s, NULL, &p.ctx);
	server = server_new(&p.ctx, s->directory, s->max_connections,
			    &s->limits);
	if (*s->policy_sock != '\0' && ++listeners)
		server_listen_unix(server, SERVER_POLICY, s->policy_sock,
				   &s->perm);
	if (*s->sockmap_sock != '\0' && ++listeners)
		server_listen_unix(server, SERVER_SOCKETMAP, s->sockmap_sock,
				   &s->perm);
	if (*s->policy_inet != '\0' && ++listeners)
		server_listen_inet(server, SERVER_POLICY, s->policy_inet);
	if (*s->sockmap_inet != '\0' && ++listeners)
		server_listen_inet(server, SERVER_SOCKETMAP, s->sockmap_inet);

	htg_daemon_detach(&p.daemon);
	policy_log_open(s->log_file);
	htg_daemon_pid_file(&p.daemon, s->pid_file);
	/* the sockets stay ours: chown lets the daemon remove them later
	   when their directory belongs to it too; their group (socket_group)
	   stays who may connect */
	if (s->user.set && geteuid() == 0)
		server_chown_sockets(server, s->user.uid, (gid_t)-1);
	htg_daemon_drop(&s->user, s->log_file);
	server_open_dir(server);
	msg_info("started: version %s", PACKAGE_VERSION);
	settings_log(s, "settings");
	server_on_hup(server, policyd_reload, &p);
	htg_daemon_ready(&p.daemon);

	server_run(server, sigfd);

	server_free(&server);
	htg_dir_close(&p.ctx.dir);
	policy_rate_free(&p.ctx.rate);
	policy_log_close();
	htg_daemon_free(&p.daemon);
	msg_info("stopped");
	settings_free(&p.set);
	close(sigfd);
	return 0;
}
