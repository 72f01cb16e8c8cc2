/*++
/* NAME
/*	htg-conf 3
/* SUMMARY
/*	Postfix-style "key = value" configuration files
/* DESCRIPTION
/*	See htg-conf.h.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "htg-conf.h"

struct htg_conf_entry {
	char *key;
	char *value;
};

struct htg_conf {
	const char *const *known;
	struct htg_conf_entry *entries;
	size_t count;
};

static char conf_error[512];

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
	}
	free(conf->entries);
	free(conf);
	*_conf = NULL;
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

static int conf_store(struct htg_conf *conf, char *key, char *value)
{
	struct htg_conf_entry *e;

	key = trim(key);
	value = trim(value);
	if (!conf_known(conf, key)) {
		snprintf(conf_error, sizeof(conf_error),
			 "unknown parameter \"%s\"", key);
		return -1;
	}
	for (size_t i = 0; i < conf->count; i++) {
		if (strcmp(conf->entries[i].key, key) == 0) {
			char *v = strdup(value);
			if (v == NULL)
				abort();
			free(conf->entries[i].value);
			conf->entries[i].value = v;
			return 0;
		}
	}
	e = realloc(conf->entries, (conf->count + 1) * sizeof(*e));
	if (e == NULL)
		abort();
	conf->entries = e;
	e[conf->count].key = strdup(key);
	e[conf->count].value = strdup(value);
	if (e[conf->count].key == NULL || e[conf->count].value == NULL)
		abort();
	conf->count++;
	return 0;
}

int htg_conf_set(struct htg_conf *conf, const char *assignment,
		 const char **error_r)
{
	char *copy = strdup(assignment), *eq;
	int ret;

	if (copy == NULL)
		abort();
	eq = strchr(copy, '=');
	if (eq == NULL) {
		snprintf(conf_error, sizeof(conf_error),
			 "\"%s\": expected key=value", assignment);
		free(copy);
		*error_r = conf_error;
		return -1;
	}
	*eq = '\0';
	ret = conf_store(conf, copy, eq + 1);
	free(copy);
	if (ret < 0)
		*error_r = conf_error;
	return ret;
}

static int conf_flush(struct htg_conf *conf, char *logical, const char *path,
		      int lineno)
{
	char *eq = strchr(logical, '=');

	if (eq == NULL) {
		snprintf(conf_error, sizeof(conf_error),
			 "%s:%d: expected \"key = value\"", path, lineno);
		return -1;
	}
	*eq = '\0';
	if (conf_store(conf, logical, eq + 1) < 0) {
		char tmp[sizeof(conf_error)];
		int n;

		memcpy(tmp, conf_error, sizeof(tmp));
		n = snprintf(conf_error, sizeof(conf_error), "%.200s:%d: ",
			     path, lineno);
		if (n > 0 && (size_t)n < sizeof(conf_error))
			memcpy(conf_error + n, tmp,
			       strnlen(tmp, sizeof(conf_error) - (size_t)n - 1) + 1);
		conf_error[sizeof(conf_error) - 1] = '\0';
		return -1;
	}
	return 0;
}

int htg_conf_load(struct htg_conf *conf, const char *path,
		  const char **error_r)
{
	FILE *fp = fopen(path, "r");
	char line[4096], logical[8192] = "";
	int lineno = 0, start = 0, ret = 0;

	if (fp == NULL) {
		snprintf(conf_error, sizeof(conf_error), "open %s: %s", path,
			 strerror(errno));
		*error_r = conf_error;
		return -1;
	}
	while (ret == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(conf_error, sizeof(conf_error),
				 "%s:%d: line too long", path, lineno);
			ret = -1;
			break;
		}
		char *t = trim(line);
		if (*t == '#' || *t == '\0')
			continue;
		if (isspace((unsigned char)line[0]) && logical[0] != '\0') {
			if (strlen(logical) + strlen(t) + 2 >= sizeof(logical)) {
				snprintf(conf_error, sizeof(conf_error),
					 "%s:%d: value too long", path, lineno);
				ret = -1;
				break;
			}
			strcat(logical, " ");
			strcat(logical, t);
			continue;
		}
		if (logical[0] != '\0')
			ret = conf_flush(conf, logical, path, start);
		snprintf(logical, sizeof(logical), "%s", t);
		start = lineno;
	}
	if (ret == 0 && logical[0] != '\0')
		ret = conf_flush(conf, logical, path, start);
	fclose(fp);
	if (ret < 0)
		*error_r = conf_error;
	return ret;
}

const char *htg_conf_get(const struct htg_conf *conf, const char *key,
			 const char *def)
{
	for (size_t i = 0; i < conf->count; i++)
		if (strcmp(conf->entries[i].key, key) == 0)
			return conf->entries[i].value;
	return def;
}

long long htg_conf_get_int(const struct htg_conf *conf, const char *key,
			   long long def)
{
	const char *v = htg_conf_get(conf, key, NULL);
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return def;
	return n;
}

int htg_conf_get_bool(const struct htg_conf *conf, const char *key, int def)
{
	const char *v = htg_conf_get(conf, key, NULL);

	if (v == NULL || *v == '\0')
		return def;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		return 1;
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		return 0;
	return def;
}
