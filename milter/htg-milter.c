/*++
/* NAME
/*	htg-milter 8
/* SUMMARY
/*	HTG message rules inside Postfix (Sendmail milter protocol)
/* SYNOPSIS
/*	htg-milter [-c config] [-f] [-v] [-o key=value ...]
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
/*	configuration file (default /etc/htg/htg-milter.conf).
/* .IP -f
/*	stay in the foreground.
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
/* .IP "log_file (default: stderr)"
/* .IP "pid_file (default: none)"
/* .IP "mode (default: enforce)"
/*	enforce, or report: log what would be refused, accept it.
/* .IP "directory (default: $HTG_DIRECTORY)"
/*	the LMDB directory (used Message-IDs); "none" disables that check.
/* .IP "environment (default: production)"
/*	production or preproduction: the To header domain.
/* .IP "header_domain, msgid_domain, msgid_window (30 days)"
/* .IP "temp_dir (default: /var/tmp)"
/*	where rewritten bodies are spooled.
/* .IP "max_depth (8), max_parts (200)"
/*	HTG-MIME limits. See htg-milter.conf(5).
/* .IP "max_sessions (default: 256)"
/*	MTA sessions served at once; a session beyond is closed at option
/*	negotiation and Postfix tempfails it (milter_default_action).
/* .IP "timeout (default: 1800)"
/*	libmilter's read/write timeout (smfi_settimeout), seconds.
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
/* SEE ALSO
/*	htg-policyd(8), htgctl(8), Postfix MILTER_README
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-limits.h"
#include "htg-milter.h"
#include "htg-msg.h"
#include "htg-sockperm.h"

static const char *const milter_keys[] = {
	"socket", "socket_mode", "socket_group", "user", "log_file", "pid_file", "mode",
	"directory", "environment", "header_domain", "msgid_domain",
	"msgid_window", "temp_dir", "max_depth", "max_parts", "allowed_types",
	"extra_charsets", "max_sessions", "timeout",
	"from_owner_check", "header_field_max",
	"postqueue", "postfix_config_dir", "msgid_pending_timeout",
	"msgid_commit_wait", "commit_recipient", NULL
};

static struct htg_conf *conf;
struct milter_settings milter_settings;

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

/* 004 table 4: To is <berichtsoort>@htpoort.nl or @preprod.htpoort.nl */
static const char *environment_header_domain(const char *env)
{
	if (strcmp(env, "production") == 0)
		return "htpoort.nl";
	if (strcmp(env, "preproduction") == 0)
		return "preprod.htpoort.nl";
	msg_fatal("environment must be production or preproduction, not "
		  "\"%s\"", env);
}

static void settings_init(void)
{
	struct milter_settings *s = &milter_settings;
	const char *mode = htg_conf_get(conf, "mode", "enforce");
	const char *env = htg_conf_get(conf, "environment", "production");

	if (strcmp(mode, "report") == 0)
		s->report_only = 1;
	else if (strcmp(mode, "enforce") != 0)
		msg_fatal("mode must be enforce or report, not \"%s\"", mode);
	s->check.header_domain = htg_conf_get(conf, "header_domain",
					      environment_header_domain(env));
	s->check.msgid_domain = htg_conf_get(conf, "msgid_domain",
					     s->check.header_domain);
	s->check.max_depth = (unsigned int)htg_conf_get_int(conf, "max_depth", 8);
	s->check.max_parts = (unsigned int)htg_conf_get_int(conf, "max_parts",
							    200);
	s->check.allowed_types = htg_conf_get(conf, "allowed_types", NULL);
	s->check.extra_charsets = htg_conf_get(conf, "extra_charsets", NULL);
	s->msgid_window = htg_conf_get_int(conf, "msgid_window", 30 * 86400);
	s->from_owner_check = htg_conf_get_bool(conf, "from_owner_check", 1);
	s->check.header_field_max = (size_t)htg_conf_get_int(conf,
			"header_field_max", HTG_HEADER_FIELD_MAX);
	if (s->check.header_field_max < 1000 ||
	    s->check.header_field_max > 200000)
		msg_fatal("header_field_max must be 1000-200000");
	s->postqueue = htg_conf_get(conf, "postqueue", "postqueue");
	s->postfix_config_dir = htg_conf_get(conf, "postfix_config_dir", NULL);
	s->msgid_pending_timeout = htg_conf_get_int(conf,
			"msgid_pending_timeout", 3600);
	s->msgid_commit_wait = htg_conf_get_int(conf, "msgid_commit_wait", 10);
	if (s->msgid_pending_timeout < 60 || s->msgid_commit_wait < 0 ||
	    s->msgid_commit_wait > 25)
		msg_fatal("msgid_pending_timeout must be 60 or more, "
			  "msgid_commit_wait 0-25 (below Postfix's "
			  "milter_command_timeout)");
	s->commit_recipient = htg_conf_get(conf, "commit_recipient",
					   "htg-commit@htg-commit.invalid");
	if (*s->commit_recipient == '\0')
		s->commit_recipient = NULL;
	else if (strchr(s->commit_recipient, '@') == NULL ||
		 strpbrk(s->commit_recipient, " \t<>\"") != NULL)
		msg_fatal("commit_recipient must be an address (local@domain) "
			  "or empty, not \"%s\"", s->commit_recipient);
	s->temp_dir = htg_conf_get(conf, "temp_dir", "/var/tmp");
	if (s->check.max_depth < 1 || s->check.max_depth > 64 ||
	    s->check.max_parts < 1 || s->msgid_window < 0)
		msg_fatal("max_depth must be 1-64, max_parts and msgid_window "
			  "positive");
	if (htg_conf_get_int(conf, "max_sessions", 256) < 1 ||
	    htg_conf_get_int(conf, "max_sessions", 256) > 1000000 ||
	    htg_conf_get_int(conf, "timeout", 1800) < 1 ||
	    htg_conf_get_int(conf, "timeout", 1800) > 86400)
		msg_fatal("max_sessions must be 1-1000000, timeout 1-86400");
	max_sessions = (int)htg_conf_get_int(conf, "max_sessions", 256);
}

/* HTG-HDR-FROM: who owns the From address (htg_check_owner_fn) */
static int from_owner(void *ctx, const char *address, char *user_r,
		      size_t size)
{
	const char *error;
	int ret = htg_dir_address_owner(ctx, address, user_r, size, &error);

	if (ret < 0)
		msg_warn("owner of %s: %s", address, error);
	return ret;
}

/* After dropping privileges: the directory holds the used Message-IDs. */
/* The directory's fill warnings (80 % of map-max and up) into our log,
   beside the decisions, not to a stderr nobody reads after daemon(). */
static void directory_warning(const char *text)
{
	msg_warn("%s", text);
}

static void directory_open(void)
{
	const char *path = htg_conf_get(conf, "directory", NULL), *error;

	if (path != NULL && strcmp(path, "none") == 0) {
		msg_warn("directory = none: neither Message-ID reuse nor the "
			 "owner of the From address is checked");
		return;
	}
	/* Claims are not fsync'ed: an OS crash can forget the last seconds
	   of Message-IDs (a reuse then passes), but a claim costs no disk
	   flush per message (4 ms on the lab machine; bench/README.md). */
	htg_dir_set_warning(directory_warning);
	if (htg_dir_open(path, HTG_DIR_LAZYSYNC, &milter_settings.dir,
			 &error) != 1)
		msg_fatal("%s", error);
	if (milter_settings.from_owner_check) {
		milter_settings.check.from_owner = from_owner;
		milter_settings.check.from_owner_ctx = milter_settings.dir;
	} else {
		msg_info("from_owner_check = no: the From address need not be "
			 "owned by the authenticated account");
	}
}

/* The configured user, when started as root; NULL: stay who we are. */
static struct passwd *run_as(const char *user)
{
	struct passwd *pw;

	if (user == NULL || *user == '\0' || geteuid() != 0)
		return NULL;
	if ((pw = getpwnam(user)) == NULL)
		msg_fatal("unknown user: %s", user);
	return pw;
}

static void drop_privileges(const struct passwd *pw)
{
	const char *user;

	if (pw == NULL)
		return;
	user = pw->pw_name;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		msg_fatal("drop privileges to %s: %m", user);
	if (setuid(0) == 0)
		msg_fatal("privileges could be regained after dropping them");
}

/*
 * libmilter creates the socket itself (smfi_opensocket: unlink a stale one,
 * socket, bind, listen) and has no mode setting. So: bind under umask 0177
 * (the socket is born 0600, the creator's only), then owner, group, mode.
 * As OpenDKIM's UMask option, but never more open than configured.
 */
static void open_socket(const char *sock, const struct htg_sockperm *perm,
			const struct passwd *pw)
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
	    htg_sockperm_apply(path, pw != NULL ? pw->pw_uid : (uid_t)-1,
			       perm, &error) < 0)
		msg_fatal("%s", error);
}

static void write_pid(const char *path)
{
	FILE *fp;

	if (path == NULL || *path == '\0')
		return;
	if ((fp = fopen(path, "w")) == NULL)
		msg_fatal("open %s: %m", path);
	fprintf(fp, "%ld\n", (long)getpid());
	fclose(fp);
}

int main(int argc, char **argv)
{
	const char *config = "/etc/htg/htg-milter.conf", *error, *sock, *mode;
	struct htg_sockperm perm;
	struct passwd *pw;
	struct smfiDesc desc;
	int ch, foreground = 0;

	conf = htg_conf_new(milter_keys);
	while ((ch = getopt(argc, argv, "c:fvo:")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'o':
			break;	/* applied after the file */
		default:
			fprintf(stderr, "usage: htg-milter [-c config] [-f] [-v] "
				"[-o key=value]\n");
			return 2;
		}
	}
	msg_init(argv[0], NULL);
	if (access(config, F_OK) == 0 && htg_conf_load(conf, config, &error) < 0)
		msg_fatal("%s", error);
	optind = 1;
	while ((ch = getopt(argc, argv, "c:fvo:")) != -1)
		if (ch == 'o' && htg_conf_set(conf, optarg, &error) < 0)
			msg_fatal("-o %s: %s", optarg, error);
	msg_init(argv[0], htg_conf_get(conf, "log_file", NULL));

	settings_init();
	mode = milter_settings.report_only ? "report" : "enforce";
	sock = htg_conf_get(conf, "socket", "unix:/run/htg/milter.sock");
	if (htg_sockperm_parse(htg_conf_get(conf, "socket_mode", "0660"),
			       htg_conf_get(conf, "socket_group", "postfix"),
			       &perm, &error) < 0)
		msg_fatal("%s", error);
	pw = run_as(htg_conf_get(conf, "user", NULL));
	resources_init();

	if (smfi_setconn((char *)sock) != MI_SUCCESS)
		msg_fatal("smfi_setconn %s failed", sock);
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
	if (smfi_settimeout((int)htg_conf_get_int(conf, "timeout", 1800)) !=
	    MI_SUCCESS)
		msg_fatal("smfi_settimeout failed");
	/* as root: only root may give the socket to a group it is not in */
	open_socket(sock, &perm, pw);
	drop_privileges(pw);
	directory_open();
	if (!foreground && daemon(0, 0) < 0)
		msg_fatal("daemon: %m");
	write_pid(htg_conf_get(conf, "pid_file", NULL));

	msg_info("started: socket=%s socket_mode=%04o socket_group=%s mode=%s "
		 "max_sessions=%d timeout=%lld",
		 sock, (unsigned)perm.mode,
		 *perm.group_name != '\0' ? perm.group_name : "unchanged",
		 mode, max_sessions, htg_conf_get_int(conf, "timeout", 1800));
	ch = smfi_main();
	msg_info("stopped");
	free(sessions);
	htg_dir_close(&milter_settings.dir);
	htg_conf_free(&conf);
	return ch == MI_SUCCESS ? 0 : 1;
}
