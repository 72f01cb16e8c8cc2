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
/*	permissions of a unix socket.
/* .IP "user (default: empty)"
/*	when started as root, run as this user (the socket is made by it).
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
/*	HTG-MIME limits.
/* .IP "from_owner_check (yes)"
/*	HTG-HDR-FROM: the From address is owned by the account.
/* .IP "header_field_max (60000)"
/*	longest header field read whole; longer is refused. See
/*	htg-milter.conf(5).
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

static const char *const milter_keys[] = {
	"socket", "socket_mode", "user", "log_file", "pid_file", "mode",
	"directory", "environment", "header_domain", "msgid_domain",
	"msgid_window", "temp_dir", "max_depth", "max_parts", "allowed_types",
	"extra_charsets", "from_owner_check", "header_field_max",
	"postqueue", "postfix_config_dir", "msgid_pending_timeout",
	"msgid_commit_wait", NULL
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
	s->temp_dir = htg_conf_get(conf, "temp_dir", "/var/tmp");
	if (s->check.max_depth < 1 || s->check.max_depth > 64 ||
	    s->check.max_parts < 1 || s->msgid_window < 0)
		msg_fatal("max_depth must be 1-64, max_parts and msgid_window "
			  "positive");
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

static void drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || *user == '\0' || geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		msg_fatal("unknown user: %s", user);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		msg_fatal("drop privileges to %s: %m", user);
	if (setuid(0) == 0)
		msg_fatal("privileges could be regained after dropping them");
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
	int ch, foreground = 0;
	long sock_mode;

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
	sock_mode = strtol(htg_conf_get(conf, "socket_mode", "0660"), NULL, 8);

	drop_privileges(htg_conf_get(conf, "user", NULL));
	directory_open();
	if (!foreground && daemon(0, 0) < 0)
		msg_fatal("daemon: %m");
	write_pid(htg_conf_get(conf, "pid_file", NULL));

	if (smfi_setconn((char *)sock) != MI_SUCCESS)
		msg_fatal("smfi_setconn %s failed", sock);
	/* a header field reaches us whole (Postfix sends one packet per
	   field): with header_field_max above 64 KB (and Postfix's own
	   limit raised) libmilter's 64 KB default would drop the
	   connection (4xx) instead of our refusing it */
	(void)smfi_setmaxdatasize(256 * 1024 - 1);
	if (smfi_register(milter_desc) != MI_SUCCESS)
		msg_fatal("smfi_register failed");
	/* remove a stale socket of a dead instance, create with our mode */
	if (smfi_opensocket(1) != MI_SUCCESS)
		msg_fatal("cannot open milter socket %s", sock);
	if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0) {
		const char *path = strchr(sock, ':') + 1;

		if (chmod(path, (mode_t)sock_mode) < 0)
			msg_fatal("chmod %s: %m", path);
	}
	msg_info("started: socket=%s mode=%s", sock, mode);
	ch = smfi_main();
	msg_info("stopped");
	htg_dir_close(&milter_settings.dir);
	htg_conf_free(&conf);
	return ch == MI_SUCCESS ? 0 : 1;
}
