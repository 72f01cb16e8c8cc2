/*++
/* NAME
/*	htg-milter 8
/* SUMMARY
/*	HTG message rules inside Postfix (Sendmail milter protocol)
/* SYNOPSIS
/*	htg-milter [-c config] [-f] [-n] [-v] [-o key=value ...]
/*	htg-milter -V | --version
/* DESCRIPTION
/*	htg-milter is attached to the submission service with smtpd_milters.
/*	It decides the HTG rules that need the message itself, and answers
/*	each refusal as "<code> <x.y.z> <RULE-ID>: <text>" (see htg-rules.h,
/*	DESIGN.md section 2). Postfix must run it with
/*	milter_default_action = tempfail: when htg-milter is down, mail is
/*	deferred (4xx), never accepted unchecked.
/*
/*	The rules (HTG-RCPT-ONE, HTG-ENVID, HTG-HDR-FROM, HTG-HDR-TO,
/*	HTG-HDR-CC, HTG-MSGID, HTG-CT, HTG-CHARSET, HTG-CTE, HTG-MIME) and the
/*	HTG-FILENAME rewrite live in lib/htg-check; milter-cb.c is the glue
/*	to libmilter. See htg-milter(8) for what each rule refuses.
/*
/*	Every decision is logged on one line with the queue id, the account
/*	({auth_authen}), the rule id and the action.
/* OPTIONS
/* .IP "-c config"
/*	configuration file (default /etc/htg/htg-milter.conf). A file given
/*	with -c must exist; a missing default file is a warning (defaults
/*	and -o apply).
/* .IP -f
/*	stay in the foreground (without -f: fork, and the starting process
/*	exits 0 once the milter is ready, 1 if it failed).
/* .IP -n
/*	check the configuration and exit: 0 and silent when good, else 1
/*	and one "file:line: key: ..." line per error on stderr.
/* .IP "-V, --version"
/*	print "htg-milter VERSION" and exit.
/* .IP -v
/*	more logging.
/* .IP "-o key=value"
/*	override a configuration parameter.
/* CONFIGURATION PARAMETERS
/* .IP "socket (default: unix:/run/htg/milter.sock)"
/*	libmilter connection spec: unix:/path or inet:port@127.0.0.1.
/* .IP "socket_mode (default: 0660)"
/*	octal permissions of a unix socket; a mode that grants anything to
/*	others (e.g. 0666) is refused: any local user could claim
/*	Message-IDs for any account.
/* .IP "socket_group (default: postfix)"
/*	group of a unix socket (Postfix's smtpd and cleanup run as user
/*	postfix); empty keeps the group of the creating process.
/*	libmilter binds the socket itself (smfi_opensocket): htg-milter
/*	calls it under umask 0177, so the socket is born 0600, then sets
/*	owner, group and mode, all before it drops root. The socket is never
/*	more open than configured, whatever the umask it was started with.
/* .IP "user (default: empty)"
/*	when started as root, run as this user after creating the socket
/*	(which it owns, so libmilter can remove it at exit).
/* .IP "log_file (default: empty: syslog, facility mail)"
/*	a path: append to that file instead; reopened on SIGHUP.
/* .IP "pid_file (default: none)"
/* .IP "mode (default: enforce)"
/*	enforce, or report: log what would be refused, accept it.
/* .IP "directory (default: $HTG_DIRECTORY)"
/*	the LMDB directory (used Message-IDs); "none" disables that check.
/* .IP "environment (default: production)"
/*	production or preproduction: the To header domain.
/* .IP "header_domain, msgid_domain, msgid_window (30 days)"
/* .IP "temp_dir (default: /var/spool/htg)"
/*	where rewritten bodies are spooled: a directory on disk (tmpfs and
/*	ramfs are refused).
/* .IP "max_depth (8), max_parts (200)"
/*	HTG-MIME limits. See htg-milter.conf(5).
/* .IP "max_sessions (default: 256)"
/*	MTA sessions served at once; a session beyond is closed at option
/*	negotiation and Postfix tempfails it (milter_default_action).
/* .IP "timeout (default: 1800)"
/*	libmilter's read/write timeout (smfi_settimeout), seconds.
/* .IP "audit (yes)"
/*	the submission audit: an event per accepted message ("submit",
/*	when its transaction has ended, with its Message-ID claim's
/*	settling), per refusal ("refuse")
/*	and per would-be refusal ("report"); no: none (the log lines stay).
/*	An event the directory does not take (a failover after the 250)
/*	is kept in the audit spool of HTG_STATE_DIR, the pickup journal,
/*	and written once later: by the next audit write of this node that
/*	succeeds, or by htgctl (htg-audit-spool(3), doc/scale.md).
/* .IP "from_owner_check (yes)"
/*	HTG-HDR-FROM: the From address is owned by the account.
/* .IP "commit_recipient (default: htg-commit@htg-commit.invalid)"
/*	added (NOTIFY=NEVER) to every message of a flow that is relayed,
/*	not delivered to a mailbox: Postfix's transport map routes it to
/*	htgctl committed (pipe), which makes the Message-ID claim final.
/*	Empty: not added (doc/milter.md "Message-ID claims").
/* .IP "header_field_max (60000)"
/*	longest header field read whole; longer is refused. See
/*	htg-milter.conf(5).
/* RESOURCES
/*	RLIMIT_NOFILE is raised to the hard limit at start (each session
/*	needs its socket and, while a body is rewritten, a spool file);
/*	when the hard limit cannot fit max_sessions, fewer are served and
/*	the log says so. What libmilter decides itself (its accept loop, its
/*	pool of worker threads, when an idle session is closed) is in
/*	htg-milter(8) and doc/milter.md.
/* SIGNALS
/*	SIGTERM and SIGINT stop the milter after the current callbacks.
/*	SIGHUP reloads the configuration file: a bad file keeps the old
/*	settings (errors logged with file:line); socket, socket_mode,
/*	socket_group, user, pid_file, directory, max_sessions and timeout
/*	need a restart; the log is reopened (milter-settings.c).
/* CHECKS
/*	Every value is checked (numbers and their ranges, times in plain
/*	seconds, yes/no, names); a bad one is an error with file:line,
/*	never a default.
/* SEE ALSO
/*	htg-policyd(8), htgctl(8), Postfix MILTER_README
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-daemon.h"
#include "htg-limits.h"
#include "htg-milter.h"
#include "htg-msg.h"
#include "htg-sockperm.h"
#include "milter-settings.h"

static const char *const milter_keys[] = {
	"socket", "socket_mode", "socket_group", "user", "log_file", "pid_file", "mode",
	"directory", "environment", "header_domain", "msgid_domain",
	"msgid_window", "temp_dir", "max_depth", "max_parts", "allowed_types",
	"extra_charsets", "max_sessions", "timeout",
	"from_owner_check", "audit", "header_field_max",
	"postqueue", "postfix_config_dir", "msgid_pending_timeout",
	"msgid_commit_wait", "commit_recipient", "node", NULL
};

#ifndef HTG_MILTER_CONF
#define HTG_MILTER_CONF "/etc/htg/htg-milter.conf"
#endif

/* descriptors besides the sessions: stdio, log, LMDB, listener, libmilter's
   pipe and spare; each session: its socket and perhaps a spool file */
#define FD_MARGIN	64
#define FD_PER_SESSION	2

/* The MTA sessions in progress, counted from option negotiation (the
   first callback of a session) to xxfi_close. A set, not a counter:
   libmilter may call xxfi_close twice for a session (SMFIC_QUIT_NC) or
   for a session refused at negotiation. */
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static SMFICTX **sessions;
static int max_sessions, nsessions;
static struct htg_warn_limit warn_sessions = HTG_WARN_LIMIT_INIT(10);

static int session_enter(SMFICTX *ctx)
{
	int ok = 0;

	pthread_mutex_lock(&sessions_lock);
	for (int i = 0; i < max_sessions && !ok; i++) {
		if (sessions[i] == NULL) {
			sessions[i] = ctx;
			nsessions++;
			ok = 1;
		}
	}
	pthread_mutex_unlock(&sessions_lock);
	return ok;
}

static void session_leave(SMFICTX *ctx)
{
	pthread_mutex_lock(&sessions_lock);
	for (int i = 0; i < max_sessions; i++) {
		if (sessions[i] == ctx) {
			sessions[i] = NULL;
			nsessions--;
			break;
		}
	}
	pthread_mutex_unlock(&sessions_lock);
}

/* Beyond max_sessions the session ends at negotiation: libmilter closes
   it without a reply, Postfix applies milter_default_action = tempfail
   (451 4.7.1 for the SMTP session) and the slot costs nothing more. */
static sfsistat limit_negotiate(SMFICTX *ctx, unsigned long f0,
				unsigned long f1, unsigned long f2,
				unsigned long f3, unsigned long *pf0,
				unsigned long *pf1, unsigned long *pf2,
				unsigned long *pf3)
{
	sfsistat r;

	if (!session_enter(ctx)) {
		htg_warn_limited(&warn_sessions, "max_sessions %d reached (%d "
				 "in progress): closing a new MTA session "
				 "(Postfix tempfails it)", max_sessions,
				 nsessions);
		return SMFIS_TEMPFAIL;
	}
	r = milter_desc.xxfi_negotiate(ctx, f0, f1, f2, f3, pf0, pf1, pf2,
				       pf3);
	if (r != SMFIS_CONTINUE && r != SMFIS_ALL_OPTS)
		session_leave(ctx);
	return r;
}

static sfsistat limit_close(SMFICTX *ctx)
{
	sfsistat r = milter_desc.xxfi_close(ctx);

	session_leave(ctx);
	return r;
}

/*
 * libmilter's listener (listener.c, sendmail 8.14 to 8.17) retries at once
 * when accept() fails with EMFILE, ENFILE, ENOBUFS or ENOMEM: no pause, no
 * log line, and poll() finds the listener ready again at once: 100 % CPU
 * for as long as the process is out of descriptors. libmilter has no
 * setting for it; this accept() takes the place of libc's for libmilter
 * (the linker binds libmilter's call to the program's definition). Out of
 * descriptors, it frees a reserve descriptor, accepts the waiting client
 * and closes it at once (Postfix sees end-of-file at negotiation and
 * tempfails, milter_default_action), then takes the reserve again; it
 * answers EAGAIN, on which libmilter polls again, which blocks once no
 * client waits. Without a reserve (another thread took the descriptor) it
 * sleeps 100 ms: a few retries a second, not a spin.
 */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;
static struct htg_warn_limit warn_accept = HTG_WARN_LIMIT_INIT(10);

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int conn = accept4(fd, addr, len, 0), error = errno, took = 0;

	if (conn >= 0 || (error != EMFILE && error != ENFILE &&
			  error != ENOBUFS && error != ENOMEM))
		return conn;
	htg_warn_limited(&warn_accept, "accept: %s: closing new MTA connections "
			 "at once (Postfix tempfails them) until descriptors "
			 "are free (%d sessions)", strerror(error), nsessions);
	pthread_mutex_lock(&reserve_lock);
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (reserve_fd >= 0 && (error == EMFILE || error == ENFILE)) {
		close(reserve_fd);
		if ((conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			close(conn);
			took = 1;
		}
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&reserve_lock);
	if (!took)
		usleep(100000);
	errno = EAGAIN;
	return -1;
}

/* RLIMIT_NOFILE up to the hard limit: a descriptor is cheap, and
   libmilter's accept loop has no good answer to EMFILE (above). */
static void resources_init(void)
{
	long want = (long)max_sessions * FD_PER_SESSION + FD_MARGIN;
	long old, hard, soft;

	soft = htg_nofile_raise(0x7fffffffL, &old, &hard);
	if (soft > old)
		msg_info("RLIMIT_NOFILE raised from %ld to %ld", old, soft);
	if (soft < want) {
		max_sessions = soft > FD_MARGIN + FD_PER_SESSION ?
			(int)((soft - FD_MARGIN) / FD_PER_SESSION) : 1;
		msg_warn("RLIMIT_NOFILE is %ld (hard limit %ld): too low for "
			 "max_sessions %ld; serving at most %d sessions (raise "
			 "the hard limit, e.g. LimitNOFILE= in the unit)",
			 soft, hard, (want - FD_MARGIN) / FD_PER_SESSION,
			 max_sessions);
	}
	if ((sessions = calloc((size_t)max_sessions, sizeof(*sessions))) == NULL)
		msg_fatal("out of memory");
	if ((reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		msg_fatal("open /dev/null: %m");
}

/* After dropping privileges: the directory holds the used Message-IDs. */
/* The directory's fill warnings (80 % of map-max and up) into our log,
   beside the decisions, not to a stderr nobody reads after daemon(). */
static void directory_warning(const char *text)
{
	msg_warn("%s", text);
}

static void directory_open(struct milter_set *s)
{
	const char *path = s->directory, *error;
	struct htg_dir *dir = NULL;

	if (path != NULL && strcmp(path, "none") == 0) {
		msg_warn("directory = none: neither Message-ID reuse nor the "
			 "owner of the From address is checked");
		return;
	}
	/* LMDB: claims are not fsync'ed: an OS crash can forget the last
	   seconds of Message-IDs (a reuse then passes), but a claim costs no
	   disk flush per message (4 ms on the lab machine; bench/README.md).
	   PostgreSQL: a claim is committed in full (WAL flush, synchronous
	   standby), so that it survives the loss of the primary: what one
	   node accepted stays refused on every other after a failover. And
	   no cache: a few round trips per message (~0.1 ms of some ms) buy
	   lookups that are never behind a change (an account's report mode,
	   a flow, who owns the From address). */
	htg_dir_set_warning(directory_warning);
	if (htg_dir_open(path, htg_dir_is_uri(path) ? 0 : HTG_DIR_LAZYSYNC,
			 &dir, &error) != 1)
		msg_fatal("%s", error);
	if (htg_dir_set_node_name(dir, s->node) != 1)
		msg_fatal("node %s: not a node name", s->node);
	milter_settings_set_dir(s, dir);
	if (!s->from_owner_check)
		msg_info("from_owner_check = no: the From address need not be "
			 "owned by the authenticated account");
}

/*
 * libmilter creates the socket itself (smfi_opensocket: unlink a stale one,
 * socket, bind, listen) and has no mode setting. So: bind under umask 0177
 * (the socket is born 0600, the creator's only), then owner, group, mode.
 * As OpenDKIM's UMask option, but never more open than configured.
 */
static void open_socket(const char *sock, const struct htg_sockperm *perm,
			const struct htg_daemon_user *user)
{
	const char *path = NULL, *error;
	mode_t old_umask;
	int rc;

	if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0)
		path = strchr(sock, ':') + 1;
	else if (strchr(sock, ':') == NULL)
		path = sock;		/* libmilter's default is unix */
	if (path != NULL && htg_sockperm_check_dir(path, &error) < 0)
		msg_warn("%s", error);
	old_umask = htg_sockperm_umask();
	rc = smfi_opensocket(1);	/* 1: remove a stale socket */
	umask(old_umask);
	if (rc != MI_SUCCESS)
		msg_fatal("cannot open milter socket %s", sock);
	if (path != NULL &&
	    htg_sockperm_apply(path, user->set && geteuid() == 0 ?
			       user->uid : (uid_t)-1, perm, &error) < 0)
		msg_fatal("%s", error);
}

int main(int argc, char **argv)
{
	struct htg_daemon daemon = {
		.name = "htg-milter", .config = HTG_MILTER_CONF,
		.keys = milter_keys,
	};
	struct htg_daemon_user user;
	struct milter_set *set;
	struct htg_sockperm perm;
	const char *error;
	struct smfiDesc desc;
	int rc;

	htg_daemon_args(&daemon, argc, argv);
	set = milter_settings_parse(htg_daemon_conf(&daemon));
	htg_daemon_checked(&daemon, set->conf);
	/* checked above: these succeed */
	(void)htg_daemon_user(set->conf, &user);
	if (htg_sockperm_parse(htg_conf_get(set->conf, "socket_mode", "0660"),
			       htg_conf_get(set->conf, "socket_group", "postfix"),
			       &perm, &error) < 0)
		msg_fatal("%s", error);
	htg_daemon_log(&daemon, set->log_file);
	htg_daemon_signals();
	max_sessions = set->max_sessions;
	resources_init();

	if (smfi_setconn((char *)set->socket) != MI_SUCCESS)
		msg_fatal("smfi_setconn %s failed", set->socket);
	/* a header field reaches us whole (Postfix sends one packet per
	   field): with header_field_max above 64 KB (and Postfix's own
	   limit raised) libmilter's 64 KB default would drop the
	   connection (4xx) instead of our refusing it */
	(void)smfi_setmaxdatasize(256 * 1024 - 1);
	desc = milter_desc;
	desc.xxfi_negotiate = limit_negotiate;
	desc.xxfi_close = limit_close;
	if (smfi_register(desc) != MI_SUCCESS)
		msg_fatal("smfi_register failed");
	if (smfi_settimeout(set->timeout) != MI_SUCCESS)
		msg_fatal("smfi_settimeout failed");
	/* as root: only root may give the socket to a group it is not in */
	open_socket(set->socket, &perm, &user);
	htg_daemon_detach(&daemon);
	htg_daemon_pid_file(&daemon, set->pid_file);
	htg_daemon_drop(&user, set->log_file);
	directory_open(set);
	milter_settings_publish(set);
	milter_settings_reload_init(&daemon);

	msg_info("started: version %s socket=%s socket_mode=%04o "
		 "socket_group=%s max_sessions=%d timeout=%d", PACKAGE_VERSION,
		 set->socket, (unsigned)perm.mode,
		 *perm.group_name != '\0' ? perm.group_name : "unchanged",
		 max_sessions, set->timeout);
	milter_settings_log(set, "settings");
	htg_daemon_ready(&daemon);
	rc = smfi_main();
	msg_info("stopped");
	free(sessions);
	htg_dir_close(&set->dir);
	milter_settings_free_all();
	htg_daemon_free(&daemon);
	return rc == MI_SUCCESS ? 0 : 1;
}
