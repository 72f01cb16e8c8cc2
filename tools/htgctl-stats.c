/*++
/* NAME
/*	htgctl-stats 3
/* SUMMARY
/*	htgctl stats and map-max: how full the directory is, and may be
/* SYNOPSIS
/*	htgctl [-d DIR] stats [--json | --prometheus]
/*	htgctl [-d DIR] map-max SIZE
/* DESCRIPTION
/*	stats shows the directory's fill level (htg-dir-map(3)): what is
/*	in use (LMDB's pages less its free list), the maximum, this
/*	process's map, and the rows of the tables that grow with traffic.
/*	--prometheus prints the text exposition format, for a node
/*	exporter's textfile collector.
/*
/*	map-max sets the maximum every process honours from its next
/*	write: SIZE in bytes, or with K, M, G or T (powers of 1024). A
/*	maximum below what is in use stops every writer at once (they
/*	answer 4xx or -ERR); raising it lets them go on.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir.h"
#include "htgctl.h"

static void stats_text(const struct htg_dir_stats *st)
{
	printf("used            %" PRIu64 " bytes (%u.%u%% of the maximum)\n"
	       "maximum         %" PRIu64 " bytes\n"
	       "map             %" PRIu64 " bytes\n"
	       "high water      %" PRIu64 " bytes\n"
	       "free list       %" PRIu64 " bytes\n"
	       "page size       %" PRIu64 "\n"
	       "accounts        %" PRIu64 "\n"
	       "audit events    %" PRIu64 "\n"
	       "msgid claims    %" PRIu64 "\n"
	       "deliveries      %" PRIu64 "\n"
	       "retained        %" PRIu64 "\n",
	       st->used, st->permille / 10, st->permille % 10, st->map_max,
	       st->map_size, st->high_water, st->free_bytes, st->page_size,
	       st->accounts, st->audit_events, st->msgids, st->deliveries,
	       st->retained);
}

static void stats_json(const struct htg_dir_stats *st)
{
	printf("{\"used\":%" PRIu64 ",\"max\":%" PRIu64 ",\"percent\":%u.%u,"
	       "\"map_size\":%" PRIu64 ",\"high_water\":%" PRIu64 ","
	       "\"free\":%" PRIu64 ",\"page_size\":%" PRIu64 ","
	       "\"accounts\":%" PRIu64 ",\"audit_events\":%" PRIu64 ","
	       "\"msgids\":%" PRIu64 ",\"deliveries\":%" PRIu64 ","
	       "\"retained\":%" PRIu64 "}\n",
	       st->used, st->map_max, st->permille / 10, st->permille % 10,
	       st->map_size, st->high_water, st->free_bytes, st->page_size,
	       st->accounts, st->audit_events, st->msgids, st->deliveries,
	       st->retained);
}

static void gauge(const char *name, const char *help, const char *label,
		  uint64_t value)
{
	if (help != NULL)
		printf("# HELP htg_directory_%s %s\n"
		       "# TYPE htg_directory_%s gauge\n", name, help, name);
	printf("htg_directory_%s%s %" PRIu64 "\n", name, label, value);
}

static void stats_prometheus(const struct htg_dir_stats *st)
{
	gauge("used_bytes", "Bytes in use (LMDB pages less its free list).",
	      "", st->used);
	gauge("max_bytes", "The most the directory may hold (map-max).",
	      "", st->map_max);
	gauge("map_bytes", "The LMDB map of the reading process.", "",
	      st->map_size);
	printf("# HELP htg_directory_fill_ratio used_bytes / max_bytes.\n"
	       "# TYPE htg_directory_fill_ratio gauge\n"
	       "htg_directory_fill_ratio %u.%03u\n", st->permille / 1000,
	       st->permille % 1000);
	gauge("rows", "Rows of the tables that grow with traffic.",
	      "{table=\"accounts\"}", st->accounts);
	gauge("rows", NULL, "{table=\"audit\"}", st->audit_events);
	gauge("rows", NULL, "{table=\"msgids\"}", st->msgids);
	gauge("rows", NULL, "{table=\"deliveries\"}", st->deliveries);
	gauge("rows", NULL, "{table=\"retention\"}", st->retained);
}

int cmd_stats(int argc, char **argv)
{
	struct htg_dir_stats st;
	struct htg_dir *dir;
	const char *error = NULL;
	int prometheus = 0, ret;

	if (argc == 1 && strcmp(argv[0], "--prometheus") == 0)
		prometheus = 1;
	else if (argc != 0)
		usage();
	dir = open_dir(0);
	ret = htg_dir_stats(dir, &st, &error);
	htg_dir_close(&dir);
	if (ret != 1)
		return result(ret, error);
	if (prometheus)
		stats_prometheus(&st);
	else if (opt_json)
		stats_json(&st);
	else
		stats_text(&st);
	return 0;
}

/* SIZE: digits and an optional K, M, G or T (powers of 1024) */
static uint64_t parse_size(const char *s)
{
	unsigned long long n;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (end == s || errno != 0 || *s == '-')
		usage();
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: usage();
	}
	if (*end != '\0' && end[1] != '\0')
		usage();
	if (shift != 0 && n > (UINT64_MAX >> shift))
		usage();
	return (uint64_t)n << shift;
}

int cmd_map_max(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL;
	uint64_t max;
	int ret;

	if (argc != 1)
		usage();
	max = parse_size(argv[0]);
	dir = open_dir(1);
	ret = htg_dir_map_max_set(dir, max, &error);
	htg_dir_close(&dir);
	if (ret == 1)
		printf("maximum %" PRIu64 " bytes\n", max);
	return result(ret, error);
}
