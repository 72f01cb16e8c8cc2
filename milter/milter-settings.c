/*++
/* NAME
/*	milter-settings 3
/* SUMMARY
/*	htg-milter's settings: checked, published, reloaded on SIGHUP
/* SYNOPSIS
/*	#include "milter-settings.h"
/*
/*	struct milter_set *milter_settings_parse(struct htg_conf *conf);
/*	void	milter_settings_publish(struct milter_set *s);
/*	void	milter_settings_reload_init(struct htg_daemon *d);
/*	void	milter_settings_free_all(void);
/* DESCRIPTION
/*	milter_settings_parse() reads every key of htg-milter.conf(5) with
/*	the typed getters of htg-conf(3): a bad value is recorded in conf
/*	with its file:line (the caller reports). It takes ownership of conf.
/*
/*	milter_settings_publish() makes s the current settings (htg-milter.h
/*	says how threads read them).
/*
/*	SIGHUP. libmilter's signal thread waits for SIGHUP, SIGTERM and
/*	SIGINT with sigwait(3) and stops the milter on SIGHUP as on SIGTERM
/*	(libmilter/signal.c, mi_signal_thread: MILTER_STOP); libmilter has no
/*	setting for it. The sigwait() below takes the place of libc's for
/*	libmilter (as accept() in htg-milter.c): it waits with sigwaitinfo()
/*	and, on SIGHUP, reloads in that thread and waits again; any other
/*	signal is returned to libmilter, which stops as before. Only
/*	libmilter calls sigwait() in this program.
/*
/*	A reload reads the file and the -o settings again. With an error
/*	the old settings stay and each error is logged with its file:line
/*	(the old log file is reopened all the same: logrotate).
/*	Else the new settings are published: mode, environment,
/*	header_domain, msgid_domain, msgid_window, temp_dir, max_depth,
/*	max_parts, allowed_types, extra_charsets, from_owner_check, audit,
/*	header_field_max, postqueue, postfix_config_dir,
/*	msgid_pending_timeout, msgid_commit_wait and commit_recipient
/*	apply from the next
/*	callback on (a message being checked keeps the MIME limits and
/*	domains it started with: htg_check_new() took them); the log is
/*	reopened (log_file, or syslog). socket,
/*	socket_mode, socket_group, user, pid_file, directory, max_sessions
/*	and timeout are read at start only: a change is logged as "needs
/*	restart".
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-daemon.h"
#include "htg-limits.h"
#include "htg-milter.h"
#include "htg-msg.h"
#include "milter-settings.h"

static _Atomic(struct milter_set *) current;
static struct htg_daemon *reload_daemon;

const char *const milter_restart_keys[] = {
	"socket", "socket_mode", "socket_group", "user", "pid_file",
	"directory", "max_sessions", "timeout", "node", NULL
};

const struct milter_set *milter_settings_now(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
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

void milter_settings_set_dir(struct milter_set *s, struct htg_dir *dir)
{
	s->dir = dir;
	if (dir != NULL && s->from_owner_check) {
		s->check.from_owner = from_owner;
		s->check.from_owner_ctx = dir;
	} else {
		s->check.from_owner = NULL;
		s->check.from_owner_ctx = NULL;
	}
}

struct milter_set *milter_settings_parse(struct htg_conf *conf)
{
	static const char *const modes[] = { "enforce", "report", NULL };
	static const char *const envs[] = { "production", "preproduction",
					    NULL };
	/* 004 table 4: To is <berichtsoort>@htpoort.nl or @preprod.htpoort.nl */
	static const char *const env_domains[] = { "htpoort.nl",
						   "preprod.htpoort.nl" };
	struct milter_set *s = calloc(1, sizeof(*s));
	struct htg_sockperm perm;
	struct htg_daemon_user user;
	const char *error;

	if (s == NULL)
		msg_fatal("out of memory");
	s->conf = conf;
	s->report_only = htg_conf_enum(conf, "mode", modes, 0) == 1;
	s->check.header_domain = htg_conf_domain(conf, "header_domain",
		env_domains[htg_conf_enum(conf, "environment", envs, 0)]);
	s->check.msgid_domain = htg_conf_domain(conf, "msgid_domain",
						s->check.header_domain);
	s->check.max_depth = (unsigned)htg_conf_int(conf, "max_depth", 8, 1, 64);
	s->check.max_parts = (unsigned)htg_conf_int(conf, "max_parts", 200, 1,
						    1000000);
	/* type/subtype words; charset names (RFC 2978) */
	s->check.allowed_types = htg_conf_list(conf, "allowed_types", NULL,
					       "/.+-_");
	s->check.extra_charsets = htg_conf_list(conf, "extra_charsets", NULL,
						"-_.:+");
	s->check.header_field_max = (size_t)htg_conf_int(conf,
			"header_field_max", HTG_HEADER_FIELD_MAX, 1000, 200000);
	s->msgid_window = htg_conf_seconds(conf, "msgid_window", 30 * 86400, 1,
				       10 * 365 * 86400LL);
	s->from_owner_check = htg_conf_bool(conf, "from_owner_check", 1);
	/* the submission audit (submit, refuse, report events) */
	s->audit = htg_conf_bool(conf, "audit", 1);
	s->postqueue = htg_conf_get(conf, "postqueue", "postqueue");
	s->postfix_config_dir = htg_conf_get(conf, "postfix_config_dir", NULL);
	if (s->postfix_config_dir != NULL && *s->postfix_config_dir == '\0')
		s->postfix_config_dir = NULL;
	s->msgid_pending_timeout = htg_conf_seconds(conf, "msgid_pending_timeout",
						3600, 60, 30 * 86400);
	/* below Postfix's milter_command_timeout (30 s) */
	s->msgid_commit_wait = htg_conf_seconds(conf, "msgid_commit_wait", 10, 0,
					    25);
	/* the commit recipient of relayed mail (milter-claim.c) */
	s->commit_recipient = htg_conf_get(conf, "commit_recipient",
					   "htg-commit@htg-commit.invalid");
	if (*s->commit_recipient == '\0')
		s->commit_recipient = NULL;
	else if (strchr(s->commit_recipient, '@') == NULL ||
		 strpbrk(s->commit_recipient, " \t<>\",;") != NULL)
		htg_conf_bad(conf, "commit_recipient", "\"%s\" is not an "
			     "address (local@domain) or empty",
			     s->commit_recipient);
	/* the node name written with each claim (a directory shared by
	   several machines): default the host name */
	s->node = htg_conf_get(conf, "node", NULL);
	if (s->node == NULL || *s->node == '\0') {
		static char host[HTG_NODE_MAX];

		if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "-");
		host[sizeof(host) - 1] = '\0';
		s->node = host;
	} else if (strlen(s->node) >= HTG_NODE_MAX ||
		   strpbrk(s->node, " \t") != NULL)
		htg_conf_bad(conf, "node", "\"%s\" is not a node name",
			     s->node);
	s->temp_dir = htg_conf_get(conf, "temp_dir", "/var/spool/htg");
	if (*s->temp_dir == '\0')
		s->temp_dir = "/var/spool/htg";
	htg_daemon_disk_dir(conf, "temp_dir", s->temp_dir);
	s->max_sessions = (int)htg_conf_int(conf, "max_sessions", 256, 1,
					    1000000);
	s->timeout = (int)htg_conf_seconds(conf, "timeout", 1800, 1, 86400);
	s->socket = htg_conf_get(conf, "socket", "unix:/run/htg/milter.sock");
	if (*s->socket == '\0')
		htg_conf_bad(conf, "socket", "must not be empty");
	if (htg_sockperm_parse(htg_conf_get(conf, "socket_mode", "0660"),
			       htg_conf_get(conf, "socket_group", "postfix"),
			       &perm, &error) < 0)
		htg_conf_fail(conf, "%s: %s", htg_conf_where(conf,
			strncmp(error, "socket_group", 12) == 0 ?
			"socket_group" : "socket_mode"), error);
	(void)htg_daemon_user(conf, &user);
	s->directory = htg_conf_get(conf, "directory", NULL);
	s->log_file = htg_conf_get(conf, "log_file", "");
	s->pid_file = htg_conf_get(conf, "pid_file", "");
	return s;
}

void milter_settings_publish(struct milter_set *s)
{
	s->older = atomic_load_explicit(&current, memory_order_relaxed);
	atomic_store_explicit(&current, s, memory_order_release);
}

static void settings_free(struct milter_set *s)
{
	htg_conf_free(&s->conf);
	free(s);
}

void milter_settings_free_all(void)
{
	struct milter_set *s = atomic_exchange(&current, NULL), *older;

	for (; s != NULL; s = older) {
		older = s->older;
		settings_free(s);
	}
}

void milter_settings_log(const struct milter_set *s, const char *what)
{
	msg_info("%s: mode=%s temp_dir=%s max_depth=%u max_parts=%u "
		 "header_field_max=%zu msgid_window=%lld from_owner_check=%s "
		 "log=%s", what, s->report_only ? "report" : "enforce",
		 s->temp_dir, s->check.max_depth, s->check.max_parts,
		 s->check.header_field_max, (long long)s->msgid_window,
		 s->from_owner_check ? "yes" : "no",
		 *s->log_file != '\0' ? s->log_file : "syslog");
}

static void milter_reload(void)
{
	struct milter_set *old = (struct milter_set *)milter_settings_now();
	struct milter_set *s;
	const char *error;

	msg_info("SIGHUP: reloading %s", reload_daemon->config);
	s = milter_settings_parse(htg_daemon_conf(reload_daemon));
	if (htg_conf_error_count(s->conf) > 0) {
		/* logrotate still needs the log reopened, before the errors */
		if (msg_open_log(old->log_file, &error) < 0)
			msg_error("reload: %s", error);
		(void)htg_daemon_reload_report(s->conf);
		settings_free(s);
		return;
	}
	htg_daemon_restart_keys(old->conf, s->conf, milter_restart_keys);
	/* the log first: a reload that cannot log is no reload */
	if (msg_open_log(s->log_file, &error) < 0) {
		msg_error("reload: %s: the old settings stay in force", error);
		settings_free(s);
		return;
	}
	milter_settings_set_dir(s, old->dir);
	milter_settings_publish(s);
	milter_settings_log(s, "reloaded");
}

void milter_settings_reload_init(struct htg_daemon *d)
{
	reload_daemon = d;
}

/* libmilter's signal thread calls this (see DESCRIPTION) */
int sigwait(const sigset_t *set, int *sig)
{
	for (;;) {
		int got = sigwaitinfo(set, NULL);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (got == SIGHUP && reload_daemon != NULL) {
			milter_reload();
			continue;
		}
		*sig = got;
		return 0;
	}
}
