/*++
/* NAME
/*	htg-policyd 8
/* SUMMARY
/*	HTG policy delegation and socketmap server for Postfix
/* SYNOPSIS
/*	htg-policyd [-f] [-v] [-c config_file] [-o key=value ...]
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
/*	SIGTERM or SIGINT stops it cleanly and removes its sockets.
/*
/*	Options:
/* .IP "-c config_file"
/*	Read this file instead of the default
/*	$sysconfdir/htg/htg-policyd.conf (a missing default file is not an
/*	error; a missing -c file is).
/* .IP -f
/*	Stay in the foreground.
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
/* .IP "log_file (default: empty, standard error)"
/*	Append log lines to this file.
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
/*	HTG-TLS minimum; empty disables the rule.
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

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-conf.h"
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

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-f] [-v] [-c config_file] "
		"[-o key=value ...]\n", prog);
	exit(2);
}

/* A number in [min, 1000000]; def when the key is not set. */
static int parse_number(const struct htg_conf *conf, const char *key,
			int def, int min)
{
	long long n = htg_conf_get_int(conf, key, -1);
	const char *v = htg_conf_get(conf, key, "");

	if (*v == '\0')
		return def;
	if (n < min || n > 1000000)
		msg_fatal("%s: expected a number from %d to 1000000, not \"%s\"",
			  key, min, v);
	return (int)n;
}

static int parse_positive(const struct htg_conf *conf, const char *key,
			  int def)
{
	return parse_number(conf, key, def, 1);
}

/* The defence-in-depth and optional rules (policy-rules.h). */
static void rules_setup(const struct htg_conf *conf, struct policy_ctx *ctx)
{
	int limit = parse_number(conf, "rate_limit", 0, 0);

	ctx->tls_min = htg_conf_get(conf, "tls_protocol_min", "TLSv1.3");
	if (*ctx->tls_min != '\0' && policy_tls_version(ctx->tls_min) < 0)
		msg_fatal("tls_protocol_min: expected e.g. TLSv1.3 or empty, "
			  "not \"%s\"", ctx->tls_min);
	ctx->tls_context = htg_conf_get(conf, "tls_policy_context", "");
	if (limit > 0)
		ctx->rate = policy_rate_new((unsigned)limit,
					    (unsigned)parse_positive(conf,
						"rate_window", 3600),
					    (size_t)parse_positive(conf,
						"rate_accounts", 10000));
}

/* Fork into the background; the parent exits once the child reports
   ready on the pipe (so a pid file is there when the start command ends). */
static int daemonize(void)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid > 0) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() < 0)
		msg_fatal("setsid: %m");
	if (chdir("/") < 0)
		msg_fatal("chdir /: %m");
	return fds[1];
}

static void detach_stdio(int keep_stderr)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		msg_fatal("open /dev/null: %m");
	dup2(fd, 0);
	dup2(fd, 1);
	if (!keep_stderr)
		dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static void write_pid_file(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		msg_fatal("open pid file %s: %m", path);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) < 0)
		msg_fatal("write pid file %s: %m", path);
}

static void drop_privileges(const char *user, struct server *server)
{
	struct passwd *pw;

	if (user == NULL || *user == '\0')
		return;
	if ((pw = getpwnam(user)) == NULL)
		msg_fatal("user \"%s\" not found", user);
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			msg_warn("not root: ignoring user = %s", user);
		return;
	}
	/* the sockets stay ours: chown lets the daemon remove them later
	   when their directory belongs to it too; their group (socket_group)
	   stays who may connect */
	server_chown_sockets(server, pw->pw_uid, (gid_t)-1);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0)
		msg_fatal("initgroups %s: %m", user);
	if (setgid(pw->pw_gid) < 0)
		msg_fatal("setgid %ld: %m", (long)pw->pw_gid);
	if (setuid(pw->pw_uid) < 0)
		msg_fatal("setuid %ld: %m", (long)pw->pw_uid);
	if (setuid(0) == 0)
		msg_fatal("could drop privileges only partially");
}

static int signals_setup(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		msg_fatal("sigprocmask: %m");
	/* SIGHUP: nothing to reload, the directory is read live */
	sigdelset(&set, SIGHUP);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		msg_fatal("signalfd: %m");
	return fd;
}

static struct htg_conf *load_config(int argc, char **argv, int *foreground)
{
	struct htg_conf *conf = htg_conf_new(policyd_keys);
	const char *config = NULL, *error;
	char **overrides = calloc((size_t)argc + 1, sizeof(char *));
	int ch, noverrides = 0;

	if (overrides == NULL)
		msg_fatal("out of memory");
	while ((ch = getopt(argc, argv, "c:fvo:")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			*foreground = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (config != NULL || access(HTG_POLICYD_CONF, F_OK) == 0) {
		if (config == NULL)
			config = HTG_POLICYD_CONF;
		if (htg_conf_load(conf, config, &error) < 0)
			msg_fatal("%s", error);
	}
	for (int i = 0; i < noverrides; i++)
		if (htg_conf_set(conf, overrides[i], &error) < 0)
			msg_fatal("-o %s", error);
	free(overrides);
	return conf;
}

int main(int argc, char **argv)
{
	struct htg_conf *conf;
	struct policy_ctx ctx = { .dir = NULL };
	struct server *server;
	struct policy_limits limits;
	const char *env, *policy_sock, *sockmap_sock, *pid_file, *log_file;
	const char *policy_inet, *sockmap_inet;
	int foreground = 0, ready_fd = -1, sigfd, listeners = 0;
	struct htg_sockperm perm;
	const char *error;

	msg_init(argv[0], NULL);
	conf = load_config(argc, argv, &foreground);
	log_file = htg_conf_get(conf, "log_file", "");
	msg_init(argv[0], log_file);

	env = htg_conf_get(conf, "environment", "production");
	ctx.submit_domain = policy_env_submit_domain(env);
	if (ctx.submit_domain == NULL)
		msg_fatal("environment: expected production or preproduction, "
			  "not \"%s\"", env);
	ctx.submit_domain = htg_conf_get(conf, "submit_domain",
					 ctx.submit_domain);
	if (*ctx.submit_domain == '\0')
		msg_fatal("submit_domain must not be empty");
	rules_setup(conf, &ctx);
	if (htg_sockperm_parse(htg_conf_get(conf, "socket_mode", "0660"),
			       htg_conf_get(conf, "socket_group", "postfix"),
			       &perm, &error) < 0)
		msg_fatal("%s", error);
	policy_sock = htg_conf_get(conf, "policy_socket", "/run/htg/policy");
	sockmap_sock = htg_conf_get(conf, "socketmap_socket",
				    "/run/htg/socketmap");
	policy_inet = htg_conf_get(conf, "policy_inet", "");
	sockmap_inet = htg_conf_get(conf, "socketmap_inet", "");
	pid_file = htg_conf_get(conf, "pid_file", "");

	sigfd = signals_setup();
	limits.request_timeout = parse_positive(conf, "request_timeout", 100);
	limits.idle_timeout = parse_positive(conf, "idle_timeout", 600);
	limits.max_ttl = parse_number(conf, "max_ttl", 1200, 0);
	server = server_new(&ctx, htg_conf_get(conf, "directory", NULL),
			    parse_positive(conf, "max_connections", 1024),
			    &limits);
	if (*policy_sock != '\0' && ++listeners)
		server_listen_unix(server, SERVER_POLICY, policy_sock, &perm);
	if (*sockmap_sock != '\0' && ++listeners)
		server_listen_unix(server, SERVER_SOCKETMAP, sockmap_sock, &perm);
	if (*policy_inet != '\0' && ++listeners)
		server_listen_inet(server, SERVER_POLICY, policy_inet);
	if (*sockmap_inet != '\0' && ++listeners)
		server_listen_inet(server, SERVER_SOCKETMAP, sockmap_inet);
	if (listeners == 0)
		msg_fatal("no socket configured");

	if (!foreground) {
		ready_fd = daemonize();
		detach_stdio(*log_file == '\0' && isatty(2) == 0);
	}
	policy_log_open(log_file);
	if (*pid_file != '\0')
		write_pid_file(pid_file);
	drop_privileges(htg_conf_get(conf, "user", ""), server);
	server_open_dir(server);
	msg_info("started: environment %s, submit domain %s, TLS minimum %s "
		 "(policy context %s), rate limit %s", env, ctx.submit_domain,
		 *ctx.tls_min != '\0' ? ctx.tls_min : "off",
		 *ctx.tls_context != '\0' ? ctx.tls_context : "any",
		 ctx.rate != NULL ? htg_conf_get(conf, "rate_limit", "") : "off");
	if (ready_fd >= 0) {
		if (write(ready_fd, "1", 1) != 1)
			msg_warn("cannot notify the parent process: %m");
		close(ready_fd);
	}

	server_run(server, sigfd);

	server_free(&server);
	htg_dir_close(&ctx.dir);
	policy_rate_free(&ctx.rate);
	policy_log_close();
	if (*pid_file != '\0' && unlink(pid_file) < 0 && errno != ENOENT)
		msg_info("cannot remove %s: %m", pid_file);
	msg_info("stopped");
	htg_conf_free(&conf);
	close(sigfd);
	return 0;
}
