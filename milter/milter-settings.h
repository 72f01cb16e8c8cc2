#ifndef MILTER_SETTINGS_H
#define MILTER_SETTINGS_H

/*++
/* NAME
/*	milter-settings 3h
/* SUMMARY
/*	htg-milter's settings: checked, published, reloaded on SIGHUP
/* SYNOPSIS
/*	See milter-settings.c.
/*--*/

#include "htg-milter.h"
#include "htg-sockperm.h"

struct htg_conf;
struct htg_daemon;

extern const char *const milter_restart_keys[];

struct milter_set *milter_settings_parse(struct htg_conf *conf);
void milter_settings_set_dir(struct milter_set *s, struct htg_dir *dir);
void milter_settings_publish(struct milter_set *s);
void milter_settings_log(const struct milter_set *s, const char *what);
void milter_settings_reload_init(struct htg_daemon *d);
void milter_settings_free_all(void);

#endif
