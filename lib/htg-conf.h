#ifndef HTG_CONF_H
#define HTG_CONF_H

/*++
/* NAME
/*	htg-conf 3h
/* SUMMARY
/*	Postfix-style "key = value" configuration files, checked
/* SYNOPSIS
/*	#include "htg-conf.h"
/*
/*	struct htg_conf *htg_conf_new(const char *const *known_keys);
/*	int	htg_conf_load(struct htg_conf *conf, const char *path,
/*			const char **error_r);
/*	int	htg_conf_set(struct htg_conf *conf, const char *assignment,
/*			const char **error_r);
/*
/*	const char *htg_conf_get(struct htg_conf *conf, const char *key,
/*			const char *def);
/*	long long htg_conf_int(struct htg_conf *conf, const char *key,
/*			long long def, long long min, long long max);
/*	long long htg_conf_seconds(struct htg_conf *conf, const char *key,
/*			long long def, long long min, long long max);
/*	int	htg_conf_bool(struct htg_conf *conf, const char *key, int def);
/*	int	htg_conf_enum(struct htg_conf *conf, const char *key,
/*			const char *const *names, int def);
/*	const char *htg_conf_domain(struct htg_conf *conf, const char *key,
/*			const char *def);
/*	const char *htg_conf_list(struct htg_conf *conf, const char *key,
/*			const char *def, const char *chars);
/*	void	htg_conf_bad(struct htg_conf *conf, const char *key,
/*			const char *fmt, ...);
/*	void	htg_conf_fail(struct htg_conf *conf, const char *fmt, ...);
/*	const char *htg_conf_where(struct htg_conf *conf, const char *key);
/*
/*	size_t	htg_conf_error_count(const struct htg_conf *conf);
/*	const char *htg_conf_error(const struct htg_conf *conf, size_t i);
/* DESCRIPTION
/*	Syntax as main.cf: "#" starts a comment line, a line that starts
/*	with white space continues the previous one, "key = value" sets a
/*	parameter, later settings win. "-o key=value" on a command line is
/*	applied with htg_conf_set() after the file.
/*
/*	Every program declares the keys it knows; an unknown key in a file
/*	is an error (a typo must not silently disable a rule).
/*
/*	Each value remembers where it came from ("file:line", or "-o" for
/*	htg_conf_set()). A bad value is never replaced by a default in
/*	silence: the typed getters record an error that names the place,
/*	the key and the value (e.g. '/etc/htg/htg-milter.conf:12:
/*	max_depth: "eight" is not a number') and return the default, so
/*	that a caller collects every error of a file before it gives up.
/*	htg_conf_load() records syntax errors and unknown keys the same way
/*	and goes on; it returns -1 when the file cannot be read (message in
/*	*error_r) or when errors were recorded.
/*
/*	htg_conf_int(): decimal digits only (an optional leading "-"),
/*	within [min, max]. htg_conf_seconds(): the same for times, which
/*	are plain seconds: "30d" is refused ('is not a number of seconds
/*	(no units)'), as the documentation of every time setting says.
/*	htg_conf_bool(): yes, no, true, false, 1, 0 (any case).
/*	htg_conf_enum(): one of names (exact), returns its index.
/*	htg_conf_domain(): a DNS name (letters, digits, "-", labels of 1-63
/*	characters, 253 at most). htg_conf_list(): a list separated by
/*	commas or white space of words made of chars (and letters and
/*	digits).
/*	htg_conf_bad(): records an error about key's value in the caller's
/*	words (fmt); the place and the key are prefixed. htg_conf_fail():
/*	records fmt as it is.
/*
/*	An unset key or an empty value gives def (an empty value is how a
/*	file says "the default"); htg_conf_get() returns the raw text.
/*--*/

#include <stddef.h>

struct htg_conf;

struct htg_conf *htg_conf_new(const char *const *known_keys);
void htg_conf_free(struct htg_conf **conf);
int htg_conf_load(struct htg_conf *conf, const char *path,
		  const char **error_r);
int htg_conf_set(struct htg_conf *conf, const char *assignment,
		 const char **error_r);
const char *htg_conf_get(const struct htg_conf *conf, const char *key,
			 const char *def);
long long htg_conf_int(struct htg_conf *conf, const char *key,
		       long long def, long long min, long long max);
long long htg_conf_seconds(struct htg_conf *conf, const char *key,
			   long long def, long long min, long long max);
int htg_conf_bool(struct htg_conf *conf, const char *key, int def);
int htg_conf_enum(struct htg_conf *conf, const char *key,
		  const char *const *names, int def);
const char *htg_conf_domain(struct htg_conf *conf, const char *key,
			    const char *def);
const char *htg_conf_list(struct htg_conf *conf, const char *key,
			  const char *def, const char *chars);
void htg_conf_bad(struct htg_conf *conf, const char *key, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));
void htg_conf_fail(struct htg_conf *conf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *htg_conf_where(const struct htg_conf *conf, const char *key);
size_t htg_conf_error_count(const struct htg_conf *conf);
const char *htg_conf_error(const struct htg_conf *conf, size_t i);

#endif
