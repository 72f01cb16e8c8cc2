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
/* SIGNALS
/*	SIGTERM and SIGINT stop the milter after the current callbacks.
/* SEE ALSO
/*	htg-policyd(8), htgctl(8), Postfix MILTER_README
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-milter.h"
#include "htg-msg.h"
#include "htg-sockperm.h"

static const char *const milter_keys[] = {
	"socket", "socket_mode", "socket_group", "user", "log_file", "pid_file", "mode",
	"directory", "environment", "header_domain", "msgid_domain",
	"msgid_window", "temp_dir", "max_depth", "max_parts", "allowed_types",
	"extra_charsets", NULL
};

static struct htg_conf *conf;
struct milter_settings milter_settings;

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
	s->temp_dir = htg_conf_get(conf, "temp_dir", "/var/tmp");
	if (s->check.max_depth < 1 || s->check.max_depth > 64 ||
	    s->check.max_parts < 1 || s->msgid_window < 0)
		msg_fatal("max_depth must be 1-64, max_parts and msgid_window "
			  "positive");
}

/* After dropping privileges: the directory holds the used Message-IDs. */
static void directory_open(void)
{
	const char *path = htg_conf_get(conf, "directory", NULL), *error;

	if (path != NULL && strcmp(path, "none") == 0) {
		msg_warn("directory = none: Message-ID reuse is not checked");
		return;
	}
	/* Claims are not fsync'ed: an OS crash can forget the last seconds
	   of Message-IDs (a reuse then passes), but a claim costs no disk
	   flush per message (4 ms on the lab machine; bench/README.md). */
	if (htg_dir_open(path, HTG_DIR_LAZYSYNC, &milter_settings.dir,
			 &error) != 1)
		msg_fatal("%s", error);
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

	if (smfi_setconn((char *)sock) != MI_SUCCESS)
		msg_fatal("smfi_setconn %s failed", sock);
	if (smfi_register(milter_desc) != MI_SUCCESS)
		msg_fatal("smfi_register failed");
	/* as root: only root may give the socket to a group it is not in */
	open_socket(sock, &perm, pw);
	drop_privileges(pw);
	directory_open();
	if (!foreground && daemon(0, 0) < 0)
		msg_fatal("daemon: %m");
	write_pid(htg_conf_get(conf, "pid_file", NULL));

	msg_info("started: socket=%s socket_mode=%04o socket_group=%s mode=%s",
		 sock, (unsigned)perm.mode,
		 *perm.group_name != '\0' ? perm.group_name : "unchanged",
		 mode);
	ch = smfi_main();
	msg_info("stopped");
	htg_dir_close(&milter_settings.dir);
	htg_conf_free(&conf);
	return ch == MI_SUCCESS ? 0 : 1;
}
