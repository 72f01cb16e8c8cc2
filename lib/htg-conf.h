#ifndef HTG_CONF_H
#define HTG_CONF_H

/*++
/* NAME
/*	htg-conf 3h
/* SUMMARY
/*	Postfix-style "key = value" configuration files
/* SYNOPSIS
/*	#include "htg-conf.h"
/* DESCRIPTION
/*	Syntax as main.cf: "#" starts a comment line, a line that starts
/*	with white space continues the previous one, "key = value" sets a
/*	parameter, later settings win. "-o key=value" on a command line is
/*	applied with htg_conf_set() after the file.
/*
/*	Every program declares the keys it knows; an unknown key in a file
/*	is an error (a typo must not silently disable a rule).
/*--*/

#include <stddef.h>

struct htg_conf;

struct htg_conf *htg_conf_new(const char *const *known_keys);
void htg_conf_free(struct htg_conf **conf);
/* 0 ok, -1 error (message in *error_r, static buffer) */
int htg_conf_load(struct htg_conf *conf, const char *path,
		  const char **error_r);
/* "key=value"; 0 ok, -1 unknown key or syntax */
int htg_conf_set(struct htg_conf *conf, const char *assignment,
		 const char **error_r);
const char *htg_conf_get(const struct htg_conf *conf, const char *key,
			 const char *def);
long long htg_conf_get_int(const struct htg_conf *conf, const char *key,
			   long long def);
int htg_conf_get_bool(const struct htg_conf *conf, const char *key, int def);

#endif
