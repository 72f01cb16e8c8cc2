/*++
/* NAME
/*	htgctl-stats 3
/* SUMMARY
/*	htgctl stats and map-max: how full the directory is, and may be
/* SYNOPSIS
/*	htgctl [-d DIR] stats [--since T] [--until T] [--by-account]
/*		[--now T] [--output FILE] [--json | --prometheus]
/*	htgctl [-d DIR] map-max SIZE
/* DESCRIPTION
/*	stats shows the directory's fill level (htg-dir-map(3)): what is
/*	in use (LMDB's pages less its free list), the maximum, this
/*	process's map, and the rows of the tables that grow with traffic.
/*	Then the operational numbers: the audit events counted per
/*	(event, rule, daemon) and with --by-account per account too
/*	(htg-stats(3): one streaming pass, a bounded key table), in the
/*	window [--since, --until) (T: htg_time_parse() syntax or "today";
/*	default every event the audit keeps); retention copies and their
/*	bytes; the messages waiting in the inboxes (hygiene's scan). The
/*	pickup journal is applied first. --prometheus prints the text
/*	exposition format, for node_exporter's textfile collector
/*	(htg-stats.timer). --output FILE writes FILE.tmp.PID, syncs it
/*	and renames it over FILE (mode 0644), so a scraper never reads a
/*	half-written file.
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
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-stats.h"
#include "htgctl.h"

struct numbers {
	struct htg_dir_stats dir;
	struct htg_stats ev;
	size_t nkeys;
	uint64_t waiting, retained, retained_bytes;
	int64_t oldest_age;
};

static int retained_cb(const struct htg_retained *r, void *ctx)
{
	struct numbers *n = ctx;

	n->retained++;
	n->retained_bytes += r->size;
	return 0;
}

/* by event, then the most first: "which rule refused most" on top */
static int rank_cmp(const void *a, const void *b)
{
	const struct htg_stats_count *x = a, *y = b;
	int d;

	if ((d = strcmp(x->event, y->event)) != 0)
		return d;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if ((d = strcmp(x->rule, y->rule)) != 0 ||
	    (d = strcmp(x->daemon, y->daemon)) != 0)
		return d;
	return strcmp(x->account, y->account);
}

static void stats_text(const struct numbers *n)
{
	const struct htg_dir_stats *st = &n->dir;

	/* a PostgreSQL directory has no map: its size is the database's */
	if (st->map_max == 0)
		printf("used            %" PRIu64 " bytes (the database)\n",
		       st->used);
	else
		printf("used            %" PRIu64 " bytes (%u.%u%% of the "
		       "maximum)\n"
		       "maximum         %" PRIu64 " bytes\n"
		       "map             %" PRIu64 " bytes\n"
		       "high water      %" PRIu64 " bytes\n"
		       "free list       %" PRIu64 " bytes\n"
		       "page size       %" PRIu64 "\n",
		       st->used, st->permille / 10, st->permille % 10,
		       st->map_max, st->map_size, st->high_water,
		       st->free_bytes, st->page_size);
	printf("accounts        %" PRIu64 "\n"
	       "audit events    %" PRIu64 "\n"
	       "msgid claims    %" PRIu64 "\n"
	       "deliveries      %" PRIu64 "\n"
	       "retained        %" PRIu64 " copies, %" PRIu64 " bytes\n"
	       "waiting         %" PRIu64 " messages, oldest %lld seconds\n"
	       "counted         %" PRIu64 " events\n",
	       st->accounts, st->audit_events, st->msgids, st->deliveries,
	       n->retained, n->retained_bytes, n->waiting,
	       (long long)n->oldest_age, n->ev.total);
	if (n->ev.overflow != 0)
		printf("not keyed       %" PRIu64 " events (more than %zu "
		       "keys)\n", n->ev.overflow, n->ev.max_keys);
	for (size_t i = 0; i < n->nkeys; i++) {
		const struct htg_stats_count *c = &n->ev.slots[i];

		printf("%s\t", c->event);
		text_str(c->rule[0] != '\0' ? c->rule : "-");
		printf("\t%s\t", c->daemon);
		if (n->ev.by_account) {
			text_str(c->account[0] != '\0' ? c->account : "-");
			putchar('\t');
		}
		printf("%" PRIu64 "\n", c->count);
	}
}

static void stats_json(const struct numbers *n)
{
	const struct htg_dir_stats *st = &n->dir;

	printf("{\"used\":%" PRIu64 ",\"max\":%" PRIu64 ",\"percent\":%u.%u,"
	       "\"map_size\":%" PRIu64 ",\"high_water\":%" PRIu64 ","
	       "\"free\":%" PRIu64 ",\"page_size\":%" PRIu64 ","
	       "\"accounts\":%" PRIu64 ",\"audit_events\":%" PRIu64 ","
	       "\"msgids\":%" PRIu64 ",\"deliveries\":%" PRIu64 ","
	       "\"retained\":%" PRIu64 ",\"retained_bytes\":%" PRIu64 ","
	       "\"waiting\":%" PRIu64 ",\"oldest_waiting_seconds\":%lld,"
	       "\"since_us\":%lld,\"until_us\":%lld,"
	       "\"events_counted\":%" PRIu64 ",\"not_keyed\":%" PRIu64 ","
	       "\"events\":{",
	       st->used, st->map_max, st->permille / 10, st->permille % 10,
	       st->map_size, st->high_water, st->free_bytes, st->page_size,
	       st->accounts, st->audit_events, st->msgids, st->deliveries,
	       n->retained, n->retained_bytes, n->waiting,
	       (long long)n->oldest_age, (long long)n->ev.since_us,
	       (long long)n->ev.until_us, n->ev.total, n->ev.overflow);
	for (size_t i = 0; i < n->ev.nevents; i++) {
		printf("%s", i ? "," : "");
		json_str(n->ev.events[i].event);
		printf(":%" PRIu64, n->ev.events[i].count);
	}
	printf("},\"counts\":[");
	for (size_t i = 0; i < n->nkeys; i++) {
		const struct htg_stats_count *c = &n->ev.slots[i];

		printf("%s{\"event\":", i ? "," : "");
		json_str(c->event);
		printf(",\"rule\":");
		json_str(c->rule);
		printf(",\"daemon\":");
		json_str(c->daemon);
		if (n->ev.by_account) {
			printf(",\"account\":");
			json_str(c->account);
		}
		printf(",\"count\":%" PRIu64 "}", c->count);
	}
	printf("]}\n");
}

/* a label value in the text exposition format: \\, \" and \n escaped */
static void prom_value(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

static void metric(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(const char *name, const char *help, const char *label,
		  uint64_t value)
{
	if (help != NULL)
		metric(name, "gauge", help);
	printf("%s%s %" PRIu64 "\n", name, label, value);
}

static void stats_prometheus(const struct numbers *n)
{
	const struct htg_dir_stats *st = &n->dir;

	gauge("htg_directory_used_bytes",
	      "Bytes in use (LMDB pages less its free list).", "", st->used);
	gauge("htg_directory_max_bytes",
	      "The most the directory may hold (map-max).", "", st->map_max);
	gauge("htg_directory_map_bytes",
	      "The LMDB map of the reading process.", "", st->map_size);
	metric("htg_directory_fill_ratio", "gauge", "used_bytes / max_bytes.");
	printf("htg_directory_fill_ratio %u.%03u\n", st->permille / 1000,
	       st->permille % 1000);
	gauge("htg_directory_rows", "Rows of the tables that grow with "
	      "traffic.", "{table=\"accounts\"}", st->accounts);
	gauge("htg_directory_rows", NULL, "{table=\"audit\"}",
	      st->audit_events);
	gauge("htg_directory_rows", NULL, "{table=\"msgids\"}", st->msgids);
	gauge("htg_directory_rows", NULL, "{table=\"deliveries\"}",
	      st->deliveries);
	gauge("htg_directory_rows", NULL, "{table=\"retention\"}",
	      st->retained);
	gauge("htg_retained_copies", "Copies kept after POP3 DELE "
	      "(retention records).", "", n->retained);
	gauge("htg_retained_bytes", "Bytes of the copies kept after POP3 "
	      "DELE.", "", n->retained_bytes);
	gauge("htg_messages_waiting", "Messages in the POP3 inboxes "
	      "(delivered, not yet deleted).", "", n->waiting);
	gauge("htg_messages_oldest_waiting_seconds", "Age of the oldest "
	      "message waiting in an inbox.", "", (uint64_t)n->oldest_age);
	gauge("htg_stats_not_keyed_events", "Events counted in no "
	      "htg_audit_events_total series (key table full).", "",
	      n->ev.overflow);
	metric("htg_audit_events_total", "counter", "Audit events kept in "
	       "the directory, by event (submit, refuse, report, deliver, "
	       "retr, dele ...), rule and daemon; they fall when htgctl "
	       "audit expire removes old events.");
	for (size_t i = 0; i < n->nkeys; i++) {
		const struct htg_stats_count *c = &n->ev.slots[i];

		printf("htg_audit_events_total{event=");
		prom_value(c->event);
		printf(",rule=");
		prom_value(c->rule);
		printf(",daemon=");
		prom_value(c->daemon);
		if (n->ev.by_account) {
			printf(",account=");
			prom_value(c->account);
		}
		printf("} %" PRIu64 "\n", c->count);
	}
}

/* --output FILE: stdout goes to FILE.tmp, which replaces FILE by
   rename() once complete and synced: a scraper never reads half a file.
   0644: node_exporter runs as another user. 1 / 0 (said). */
static int output_begin(const char *file, char *tmp, size_t size, int *saved)
{
	int fd;

	if (snprintf(tmp, size, "%s.tmp.%ld", file, (long)getpid()) >=
	    (int)size) {
		ctl_say("path too long: %s\n", file);
		return 0;
	}
	fflush(stdout);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0 || fchmod(fd, 0644) < 0 || (*saved = dup(1)) < 0 ||
	    dup2(fd, 1) < 0) {
		ctl_say("%s: %s\n", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlink(tmp);
		}
		return 0;
	}
	close(fd);
	return 1;
}

static int output_end(const char *file, const char *tmp, int saved)
{
	int ok = fflush(stdout) == 0 && !ferror(stdout) && fsync(1) == 0;
	int err = errno;

	(void)dup2(saved, 1);
	close(saved);
	if (ok && rename(tmp, file) == 0)
		return 1;
	ctl_say("%s: %s\n", ok ? file : tmp, strerror(ok ? errno : err));
	(void)unlink(tmp);
	return 0;
}

/* T: what htg_time_parse() reads, or "today" (00:00 UTC) */
static int64_t parse_window(const char *s, int64_t now)
{
	if (strcmp(s, "today") == 0)
		return (now - now % 86400) * 1000000;
	return parse_now_us(s);
}

int cmd_stats(int argc, char **argv)
{
	struct numbers n;
	struct htg_dir *dir;
	const char *error = NULL, *since = NULL, *until = NULL, *now_s = NULL;
	const char *output = NULL;
	char tmp[4096];
	int prometheus = 0, by_account = 0, ret, saved = -1;
	int64_t now;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--prometheus") == 0)
			prometheus = 1;
		else if (strcmp(argv[i], "--by-account") == 0)
			by_account = 1;
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			since = argv[++i];
		else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
			until = argv[++i];
		else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
			now_s = argv[++i];
		else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc)
			output = argv[++i];
		else
			ctl_usage();
	}
	memset(&n, 0, sizeof(n));
	now = parse_now(now_s);
	if (htg_stats_init(&n.ev, by_account, HTG_STATS_KEYS_MAX) != 1) {
		ctl_say("out of memory\n");
		return EXIT_REFUSED;
	}
	if (since != NULL)
		n.ev.since_us = parse_window(since, now);
	if (until != NULL)
		n.ev.until_us = parse_window(until, now);
	/* the pickup journal first: every completed QUIT is counted */
	dir = ctl_open_dir_pickup(0);
	ret = htg_dir_stats(dir, &n.dir, &error);
	if (ret == 1)
		ret = htg_stats_scan(dir, &n.ev, &error);
	if (ret == 1)
		ret = htg_dir_retained_iter(dir, NULL, retained_cb, &n, &error);
	if (ret == 1 && hygiene_waiting(dir, now, &n.waiting,
					&n.oldest_age) < 0)
		ret = 2;	/* printed, but exit 1: a mailbox not read */
	htg_dir_close(&dir);
	if (ret != 1 && ret != 2) {
		htg_stats_free(&n.ev);
		return ctl_result(ret, error);
	}
	n.nkeys = htg_stats_sorted(&n.ev);
	qsort(n.ev.slots, n.nkeys, sizeof(*n.ev.slots), rank_cmp);
	if (output != NULL && !output_begin(output, tmp, sizeof(tmp), &saved)) {
		htg_stats_free(&n.ev);
		return EXIT_REFUSED;
	}
	if (prometheus)
		stats_prometheus(&n);
	else if (ctl_json)
		stats_json(&n);
	else
		stats_text(&n);
	htg_stats_free(&n.ev);
	if (output != NULL && !output_end(output, tmp, saved))
		return EXIT_REFUSED;
	return ret == 1 ? 0 : EXIT_REFUSED;
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
		ctl_usage();
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: ctl_usage();
	}
	if (*end != '\0' && end[1] != '\0')
		ctl_usage();
	if (shift != 0 && n > (UINT64_MAX >> shift))
		ctl_usage();
	return (uint64_t)n << shift;
}

int cmd_map_max(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL;
	uint64_t max;
	int ret;

	if (argc != 1)
		ctl_usage();
	max = parse_size(argv[0]);
	dir = ctl_open_dir(1);
	ret = htg_dir_map_max_set(dir, max, &error);
	htg_dir_close(&dir);
	if (ret == 1)
		printf("maximum %" PRIu64 " bytes\n", max);
	return ctl_result(ret, error);
}
