#ifndef HTGCTL_H
#define HTGCTL_H

/*++
/* NAME
/*	htgctl 3h
/* SUMMARY
/*	what the htgctl command files share
/* DESCRIPTION
/*	htgctl.c: main(), expire; htgctl-common.c: the shared helpers
/*	(ctl_*); htgctl-dir.c: accounts,
/*	addresses, flows, grants;
/*	htgctl-pickup.c: audit and retention; htgctl-hygiene.c: pickup
/*	hygiene (004 4.1.1); htgctl-import.c, htgctl-import-rec.c: bulk
/*	changes from stdin; htgctl-export.c, htgctl-nodes.c: the whole
/*	directory for import;
/*	htgctl-priv.c: dropping root, init; htgctl-out.c: output, name
/*	checks.
/*--*/

#include <stddef.h>
#include <stdint.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE 2

/* the mail user: owner of what htgctl init creates (htgctl-priv.c) */
#define HTG_MAIL_USER_DEFAULT "htg"
/* where the mail homes are (mail_home = <mail root>/%u); retention
   records must name paths under it */
#define HTG_MAIL_ROOT_DEFAULT "/var/lib/htg/mail"

struct htg_dir;
struct htg_audit_event;

/* htgctl-common.c */
extern const char *ctl_command;	/* the command being run */
extern const char *ctl_dir_path;
extern const char *ctl_mail_root;	/* --mail-root, $HTG_MAIL_ROOT, default */
extern int ctl_json;

enum name_kind { NAME_ACCOUNT, NAME_ADDRESS, NAME_FLOW };

void ctl_usage(void) __attribute__((noreturn));
struct htg_dir *ctl_open_dir(int write);
struct htg_dir *ctl_open_dir_pickup(int write);
int ctl_result(int ret, const char *error);
void ctl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned long long ctl_parse_number(const char *s, const char *what);

int name_ok(enum name_kind kind, const char *s, const char **error_r);
void name_need(enum name_kind kind, const char *s);
/* as root: become the directory's owner (htgctl-priv.c) */
void priv_setup(const char *command, const char *init_owner);

void json_str(const char *s);
void text_str(const char *s);
void text_field(const char *name, const char *value);
void json_open(void);
void json_close(void);
void json_sep(void);
void json_field(const char *name, const char *value);
void rfc3339(int64_t time_us, char *buf, size_t size);

/* --now T (htg_time_parse() syntax) or the clock, in unix seconds */
int64_t parse_now(const char *s);
int64_t parse_now_us(const char *s);
/* append an audit event made by htgctl (restore, purge, hygiene) */
void audit_note(struct htg_dir *dir, struct htg_audit_event *ev);

int cmd_audit(int argc, char **argv);
int cmd_retention(int argc, char **argv);
int cmd_hygiene(int argc, char **argv);
/* htgctl-hygiene.c: messages in every inbox, age of the oldest */
int hygiene_waiting(struct htg_dir *dir, int64_t now, uint64_t *waiting_r,
		    int64_t *oldest_age_r);
int cmd_import(int argc, char **argv);
/* htgctl-export.c: the whole directory for htgctl import; the version
   of that line format (the "htg-export" line) */
#define CTL_EXPORT_VERSION 1
int cmd_export(int argc, char **argv);
/* htgctl-nodes.c: export and import of nodes and home nodes */
int export_nodes(struct htg_dir *dir,
		 int (*cb)(const char *name, const char *address, void *ctx),
		 void *ctx, const char **error_r);
int import_node(struct htg_dir *dir, const char *name, const char *address,
		const char **error_r);
int import_home(struct htg_dir *dir, const char *user, const char *home,
		const char **error_r);
int cmd_init(int argc, char **argv);
int cmd_stats(int argc, char **argv);		/* htgctl-stats.c */
int cmd_map_max(int argc, char **argv);
int cmd_committed(int argc, char **argv);	/* htgctl-commit.c */
/* htgctl-dir.c */
int cmd_account(int argc, char **argv);
int cmd_address(int argc, char **argv);
int cmd_flow(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_grant(int argc, char **argv, int revoke);

#endif
