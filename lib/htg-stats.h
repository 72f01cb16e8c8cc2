#ifndef HTG_STATS_H
#define HTG_STATS_H

/*++
/* NAME
/*	htg-stats 3h
/* SUMMARY
/*	operational numbers: audit events counted per (event, rule, daemon)
/* SYNOPSIS
/*	#include "htg-stats.h"
/*
/*	int	htg_stats_init(struct htg_stats *s, int by_account,
/*				size_t max_keys);
/*	int	htg_stats_add(struct htg_stats *s,
/*				const struct htg_audit_event *ev);
/*	int	htg_stats_scan(struct htg_dir *dir, struct htg_stats *s,
/*				const char **error_r);
/*	size_t	htg_stats_sorted(struct htg_stats *s);
/*	void	htg_stats_free(struct htg_stats *s);
/*	const char *htg_stats_daemon(const struct htg_audit_event *ev);
/* DESCRIPTION
/*	Counts audit events in the window [since_us, until_us) (0: open)
/*	by the key (event, rule, daemon[, account]). The table is a fixed
/*	open-addressing hash of at most max_keys keys, allocated once:
/*	memory is bounded whatever the audit holds. An event whose key is
/*	new when the table is full is not counted under a key: it goes
/*	into s->overflow (and into s->total and its event's total, which
/*	stay exact). htg_stats_add() returns 1 counted, 0 outside the
/*	window, -1 overflow.
/*
/*	The daemon is the writer named by the event's session for the
/*	submission daemons and htgctl ("htg-milter", "htg-policyd",
/*	"htgctl"); every other writer is the POP3 pickup ("dovecot").
/*
/*	htg_stats_scan() applies htg_stats_add() to every audit event.
/*	htg_stats_sorted() compacts the table into s->slots[0..n) sorted
/*	by event, rule, daemon, account (after it, no more adds).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <stddef.h>
#include <stdint.h>

#include "htg-dir.h"

#define HTG_STATS_KEYS_MAX 4096
#define HTG_STATS_DAEMON_MAX 16
#define HTG_STATS_EVENTS_MAX 24	/* distinct event names totalled */

struct htg_stats_count {
	char event[16];
	char rule[32];
	char daemon[HTG_STATS_DAEMON_MAX];
	char account[HTG_USER_MAX];	/* "" unless by_account */
	uint64_t count;
};

struct htg_stats_total {
	char event[16];
	uint64_t count;
};

struct htg_stats {
	int by_account;
	int64_t since_us, until_us;	/* window; 0 = open */
	size_t max_keys, nslots, used;
	struct htg_stats_count *slots;
	uint64_t total, overflow;
	struct htg_stats_total events[HTG_STATS_EVENTS_MAX];
	size_t nevents;
};

int htg_stats_init(struct htg_stats *s, int by_account, size_t max_keys);
int htg_stats_add(struct htg_stats *s, const struct htg_audit_event *ev);
int htg_stats_scan(struct htg_dir *dir, struct htg_stats *s,
		   const char **error_r);
size_t htg_stats_sorted(struct htg_stats *s);
void htg_stats_free(struct htg_stats *s);
const char *htg_stats_daemon(const struct htg_audit_event *ev);

#endif
