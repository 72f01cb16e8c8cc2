/*++
/* NAME
/*	htg-conf 3
/* SUMMARY
/*	Postfix-style "key = value" configuration files, checked
/* DESCRIPTION
/*	See htg-conf.h.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htg-conf.h"

#define CONF_MAX_ERRORS	100	/* a binary file must not cost memory */
#define CONF_ERROR_MAX	600

struct htg_conf_entry {
	char *key;
	char *value;
	char *where;			/* "path:line" or "-o" */
};

struct htg_conf {
	const char *const *known;
	struct htg_conf_entry *entries;
	size_t count;
	char **errors;
	size_t nerrors;
};

static char conf_error[CONF_ERROR_MAX];

static char *xstrdup(const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		abort();
	return copy;
}

struct htg_conf *htg_conf_new(const char *const *known_keys)
{
	struct htg_conf *conf = calloc(1, sizeof(*conf));

	if (conf == NULL)
		abort();
	conf->known = known_keys;
	return conf;
}

void htg_conf_free(struct htg_conf **_conf)
{
	struct htg_conf *conf = *_conf;

	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->count; i++) {
		free(conf->entries[i].key);
		free(conf->entries[i].value);
		free(conf->entries[i].where);
	}
	for (size_t i = 0; i < conf->nerrors; i++)
		free(conf->errors[i]);
	free(conf->errors);
	free(conf->entries);
	free(conf);
	*_conf = NULL;
}

#define conf_record htg_conf_fail

void htg_conf_fail(struct htg_conf *conf, const char *fmt, ...)
{
	char text[CONF_ERROR_MAX], **e;
	va_list ap;

	if (conf->nerrors >= CONF_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (conf->nerrors + 1 == CONF_MAX_ERRORS)
		snprintf(text, sizeof(text), "too many errors, the rest not "
			 "shown");
	e = realloc(conf->errors, (conf->nerrors + 1) * sizeof(*e));
	if (e == NULL)
		abort();
	conf->errors = e;
	e[conf->nerrors++] = xstrdup(text);
}

size_t htg_conf_error_count(const struct htg_conf *conf)
{
	return conf->nerrors;
}

const char *htg_conf_error(const struct htg_conf *conf, size_t i)
{
	return i < conf->nerrors ? conf->errors[i] : NULL;
}

static int conf_known(const struct htg_conf *conf, const char *key)
{
	for (const char *const *k = conf->known; *k != NULL; k++)
		if (strcmp(*k, key) == 0)
			return 1;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static const struct htg_conf_entry *conf_find(const struct htg_conf *conf,
					      const char *key)
{
	for (size_t i = 0; i < conf->count; i++)
		if (strcmp(conf->entries[i].key, key) == 0)
			return &conf->entries[i];
	return NULL;
}

/* -1: unknown key (conf_error says so) */
static int conf_store(struct htg_conf *conf, char *key, char *value,
		      const char *where)
{
	struct htg_conf_entry *e = (struct htg_conf_entry *)conf_find(conf,
								       key);

	if (!conf_known(conf, key)) {
		snprintf(conf_error, sizeof(conf_error),
			 "unknown parameter \"%.200s\"", key);
		return -1;
	}
	if (e != NULL) {
		free(e->value);
		free(e->where);
	} else {
		e = realloc(conf->entries, (conf->count + 1) * sizeof(*e));
		if (e == NULL)
			abort();
		conf->entries = e;
		e = &conf->entries[conf->count++];
		e->key = xstrdup(key);
	}
	e->value = xstrdup(value);
	e->where = xstrdup(where);
	return 0;
}

int htg_conf_set(struct htg_conf *conf, const char *assignment,
		 const char **error_r)
{
	char *copy = xstrdup(assignment), *eq;
	int ret = -1;

	eq = strchr(copy, '=');
	if (eq == NULL) {
		snprintf(conf_error, sizeof(conf_error),
			 "-o %.200s: expected key=value", assignment);
	} else {
		*eq = '\0';
		ret = conf_store(conf, trim(copy), trim(eq + 1), "-o");
		if (ret < 0) {
			char tmp[sizeof(conf_error)];

			memcpy(tmp, conf_error, sizeof(tmp));
			snprintf(conf_error, sizeof(conf_error), "-o: %.500s", tmp);
		}
	}
	free(copy);
	if (ret < 0)
		*error_r = conf_error;
	return ret;
}

static void conf_flush(struct htg_conf *conf, char *logical, const char *path,
		       int lineno)
{
	char *eq = strchr(logical, '='), where[300];

	snprintf(where, sizeof(where), "%.280s:%d", path, lineno);
	if (eq == NULL) {
		conf_record(conf, "%s: expected \"key = value\"", where);
		return;
	}
	*eq = '\0';
	if (conf_store(conf, trim(logical), trim(eq + 1), where) < 0)
		conf_record(conf, "%s: %s", where, conf_error);
}

int htg_conf_load(struct htg_conf *conf, const char *path,
		  const char **error_r)
{
	FILE *fp = fopen(path, "r");
	char line[4096], logical[8192] = "";
	int lineno = 0, start = 0;
	size_t before = conf->nerrors;

	if (fp == NULL) {
		snprintf(conf_error, sizeof(conf_error), "open %.300s: %s", path,
			 strerror(errno));
		*error_r = conf_error;
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			int c;

			conf_record(conf, "%.300s:%d: line too long", path,
				    lineno);
			while ((c = getc(fp)) != EOF && c != '\n')
				;
			continue;
		}
		char *t = trim(line);
		if (*t == '#' || *t == '\0')
			continue;
		if (isspace((unsigned char)line[0]) && logical[0] != '\0') {
			if (strlen(logical) + strlen(t) + 2 >= sizeof(logical)) {
				conf_record(conf, "%.300s:%d: value too long",
					    path, lineno);
				continue;
			}
			strcat(logical, " ");
			strcat(logical, t);
			continue;
		}
		if (logical[0] != '\0')
			conf_flush(conf, logical, path, start);
		snprintf(logical, sizeof(logical), "%s", t);
		start = lineno;
	}
	if (ferror(fp))
		conf_record(conf, "read %.300s: %s", path, strerror(errno));
	if (logical[0] != '\0')
		conf_flush(conf, logical, path, start);
	fclose(fp);
	if (conf->nerrors > before) {
		*error_r = conf->errors[before];
		return -1;
	}
	return 0;
}

const char *htg_conf_get(const struct htg_conf *conf, const char *key,
			 const char *def)
{
	const struct htg_conf_entry *e = conf_find(conf, key);

	return e != NULL ? e->value : def;
}

const char *htg_conf_where(const struct htg_conf *conf, const char *key)
{
	const struct htg_conf_entry *e = conf_find(conf, key);

	return e != NULL ? e->where : "default";
}

void htg_conf_bad(struct htg_conf *conf, const char *key, const char *fmt,
		  ...)
{
	char text[CONF_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	conf_record(conf, "%s: %s: %s", htg_conf_where(conf, key), key, text);
}

/* the value, or NULL for "not set" (an empty value means the default) */
static const char *conf_value(const struct htg_conf *conf, const char *key)
{
	const char *v = htg_conf_get(conf, key, NULL);

	return v != NULL && *v != '\0' ? v : NULL;
}

static long long conf_number(struct htg_conf *conf, const char *key,
			     long long def, long long min, long long max,
			     const char *what);

long long htg_conf_int(struct htg_conf *conf, const char *key,
		       long long def, long long min, long long max)
{
	return conf_number(conf, key, def, min, max, "a number");
}

long long htg_conf_seconds(struct htg_conf *conf, const char *key,
			   long long def, long long min, long long max)
{
	return conf_number(conf, key, def, min, max,
			   "a number of seconds (no units)");
}

static long long conf_number(struct htg_conf *conf, const char *key,
			     long long def, long long min, long long max,
			     const char *what)
{
	const char *v = conf_value(conf, key), *p;
	char *end;
	long long n;

	if (v == NULL)
		return def;
	/* digits only: strtoll would take " 8", "+8" or "0x8" */
	for (p = *v == '-' ? v + 1 : v; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			break;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*p != '\0' || p == v || (*v == '-' && p == v + 1) || *end != '\0') {
		htg_conf_bad(conf, key, "\"%.200s\" is not %s", v, what);
		return def;
	}
	if (errno != 0 || n < min || n > max) {
		htg_conf_bad(conf, key, "\"%.200s\" is out of range (%lld-%lld)",
			     v, min, max);
		return def;
	}
	return n;
}

int htg_conf_bool(struct htg_conf *conf, const char *key, int def)
{
	const char *v = conf_value(conf, key);

	if (v == NULL)
		return def;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		return 0;
	htg_conf_bad(conf, key, "\"%.200s\" is not yes or no", v);
	return def;
}

int htg_conf_enum(struct htg_conf *conf, const char *key,
		  const char *const *names, int def)
{
	const char *v = conf_value(conf, key);
	char list[300] = "";
	size_t len = 0;

	if (v == NULL)
		return def;
	for (int i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], v) == 0)
			return i;
		if (len < sizeof(list)) {
			int n = snprintf(list + len, sizeof(list) - len, "%s%s",
					 i > 0 ? ", " : "", names[i]);
			if (n > 0)
				len += (size_t)n;
		}
	}
	htg_conf_bad(conf, key, "\"%.200s\" is not one of %s", v, list);
	return def;
}

const char *htg_conf_domain(struct htg_conf *conf, const char *key,
			    const char *def)
{
	const char *v = conf_value(conf, key), *p;
	size_t label = 0;

	if (v == NULL)
		return def;
	for (p = v; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				break;
			label = 0;
		} else if (isalnum((unsigned char)*p) ||
			   (*p == '-' && label > 0)) {
			if (++label > 63)
				break;
		} else {
			break;
		}
	}
	if (*p != '\0' || label == 0 || p[-1] == '-' || p - v > 253) {
		htg_conf_bad(conf, key, "\"%.200s\" is not a domain name", v);
		return def;
	}
	return v;
}

const char *htg_conf_list(struct htg_conf *conf, const char *key,
			  const char *def, const char *chars)
{
	const char *v = conf_value(conf, key);

	if (v == NULL)
		return def;
	for (const char *p = v; *p != '\0'; p++) {
		if (isalnum((unsigned char)*p) || *p == ',' || *p == ' ' ||
		    *p == '\t' || strchr(chars, *p) != NULL)
			continue;
		htg_conf_bad(conf, key, "\"%.200s\": '%c' is not allowed in "
			     "a list of words of letters, digits and \"%s\"",
			     v, *p, chars);
		return def;
	}
	return v;
}
