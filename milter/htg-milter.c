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
/*	Rules decided here so far:
/* .IP HTG-RCPT-ONE
/*	a second RCPT in one transaction gets 452 4.5.3 (004 table 3).
/* .IP HTG-HDR-CC
/*	a Cc header refuses the message with 550 5.7.1 (004 table 4). Bcc is
/*	refused by the submission service's cleanup header_checks, because
/*	cleanup removes Bcc before any milter sees the headers.
/* .PP
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
/*	the LMDB directory (used by later rules).
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
#include <libmilter/mfapi.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-msg.h"
#include "htg-rules.h"

static const char *const milter_keys[] = {
	"socket", "socket_mode", "user", "log_file", "pid_file", "mode",
	"directory", NULL
};

static struct htg_conf *conf;
static int report_only;

/* Per-message state: bounded, no message data kept. */
struct milter_priv {
	unsigned int rcpts;		/* recipients accepted so far */
	char account[256];
};

static struct milter_priv *priv_get(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return NULL;
		smfi_setpriv(ctx, p);
	}
	return p;
}

static const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v != NULL && *v != '\0' ? v : "-";
}

/* Refuse (or, in report mode, log and accept) with the rule's reply. */
static sfsistat milter_refuse(SMFICTX *ctx, enum htg_rule_id id,
			      const char *stage, sfsistat accept_action)
{
	const struct htg_rule *r = htg_rule_get(id);
	struct milter_priv *p = smfi_getpriv(ctx);
	char code[8], text[512];

	msg_info("%s: account=%s rule=%s stage=%s action=%s", macro(ctx, "i"),
		 p != NULL && p->account[0] ? p->account : "-", r->name, stage,
		 report_only ? "report" : "refuse");
	if (report_only)
		return accept_action;
	snprintf(code, sizeof(code), "%d", r->code);
	snprintf(text, sizeof(text), "%s: %s", r->name, r->text);
	if (smfi_setreply(ctx, code, (char *)r->dsn, text) != MI_SUCCESS)
		msg_warn("smfi_setreply failed for %s", r->name);
	return r->code >= 500 ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_priv *p = priv_get(ctx);

	(void)argv;
	if (p == NULL)
		return SMFIS_TEMPFAIL;
	p->rcpts = 0;
	snprintf(p->account, sizeof(p->account), "%s",
		 macro(ctx, "{auth_authen}"));
	return SMFIS_CONTINUE;
}

/* HTG-RCPT-ONE (004 table 3: "Elke mail heeft precies één ontvanger"):
   the first recipient is taken, every further one refused with 452 4.5.3
   (RFC 5321 4.5.3.1.10: too many recipients is a 452). */
static sfsistat rule_rcpt_one(SMFICTX *ctx, struct milter_priv *p)
{
	if (p->rcpts >= 1)
		return milter_refuse(ctx, HTG_RULE_RCPT_ONE, "RCPT",
				     SMFIS_CONTINUE);
	p->rcpts++;
	return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_priv *p = priv_get(ctx);

	(void)argv;
	if (p == NULL)
		return SMFIS_TEMPFAIL;
	return rule_rcpt_one(ctx, p);
}

/* HTG-HDR-CC (004 table 4: "(Cc) Aangezien een mail slechts één
   ontvanger heeft, is het gebruik van Cc (en Bcc) niet toegestaan"). */
static sfsistat rule_hdr_cc(SMFICTX *ctx, const char *name)
{
	if (strcasecmp(name, "Cc") == 0 || strcasecmp(name, "Bcc") == 0)
		return milter_refuse(ctx, HTG_RULE_HDR_CC, "HEADER",
				     SMFIS_CONTINUE);
	return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	(void)value;
	return rule_hdr_cc(ctx, name);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	msg_info("%s: account=%s rule=- action=accept", macro(ctx, "i"),
		 p != NULL && p->account[0] ? p->account : "-");
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct milter_priv *p = smfi_getpriv(ctx);

	free(p);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter_desc = {
	.xxfi_name = "htg-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eom = cb_eom,
	.xxfi_close = cb_close,
};

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

	mode = htg_conf_get(conf, "mode", "enforce");
	if (strcmp(mode, "report") == 0)
		report_only = 1;
	else if (strcmp(mode, "enforce") != 0)
		msg_fatal("mode must be enforce or report, not \"%s\"", mode);
	sock = htg_conf_get(conf, "socket", "unix:/run/htg/milter.sock");
	sock_mode = strtol(htg_conf_get(conf, "socket_mode", "0660"), NULL, 8);

	drop_privileges(htg_conf_get(conf, "user", NULL));
	if (!foreground && daemon(0, 0) < 0)
		msg_fatal("daemon: %m");
	write_pid(htg_conf_get(conf, "pid_file", NULL));

	if (smfi_setconn((char *)sock) != MI_SUCCESS)
		msg_fatal("smfi_setconn %s failed", sock);
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
	htg_conf_free(&conf);
	return ch == MI_SUCCESS ? 0 : 1;
}
