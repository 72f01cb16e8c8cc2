/*++
/* NAME
/*	htg-pickup 3
/* SUMMARY
/*	pure rules of POP3 pickup: retention deadlines, audit filters, times
/* DESCRIPTION
/*	See htg-pickup.h.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-pickup.h"

/* the audit events DESIGN 3 and issues 5 and 16 name */
static const char *const audit_events[] = {
	"submit", "refuse", "report", "answer", "deliver", "retr", "top", "dele",
	"expunge", "purge", "restore", "hygiene",
};

int64_t htg_retention_deadline(int64_t now, uint32_t days)
{
	int64_t span = (int64_t)days * HTG_DAY_SECONDS;

	if (now > INT64_MAX - span)
		return INT64_MAX;
	return now + span;
}

int htg_retention_due(int64_t deadline, int64_t now)
{
	return deadline <= now;
}

static int parse_digits(const char **p, int n, int *v_r)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return 0;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v_r = v;
	return 1;
}

static int expect_char(const char **p, char c)
{
	if (**p != c)
		return 0;
	(*p)++;
	return 1;
}

int htg_time_parse(const char *s, int64_t *t_r)
{
	int64_t us;

	if (!htg_time_parse_us(s, &us))
		return 0;
	/* floor, also before 1970 */
	*t_r = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	return 1;
}

int htg_time_parse_us(const char *s, int64_t *us_r)
{
	int64_t frac = 0;
	struct tm tm;
	int year, mon, day, hh = 0, mm = 0, ss = 0, oh, om, sign;
	long long off = 0;
	char *end;
	time_t t;

	if (s == NULL || *s == '\0')
		return 0;
	if (*s == '@') {
		long long v = strtoll(s + 1, &end, 10);

		if (end == s + 1 || *end != '\0')
			return 0;
		*us_r = v * 1000000;
		return 1;
	}
	if (!parse_digits(&s, 4, &year) || !expect_char(&s, '-') ||
	    !parse_digits(&s, 2, &mon) || !expect_char(&s, '-') ||
	    !parse_digits(&s, 2, &day))
		return 0;
	if (*s != '\0') {
		if ((*s != 'T' && *s != 't' && *s != ' ') || !(s++, 1) ||
		    !parse_digits(&s, 2, &hh) || !expect_char(&s, ':') ||
		    !parse_digits(&s, 2, &mm) || !expect_char(&s, ':') ||
		    !parse_digits(&s, 2, &ss))
			return 0;
		if (*s == '.') {
			int digits = 0;

			for (s++; isdigit((unsigned char)*s); s++) {
				if (digits++ < 6)
					frac = frac * 10 + (*s - '0');
			}
			if (digits == 0)
				return 0;
			for (; digits < 6; digits++)
				frac *= 10;
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s++ == '-' ? -1 : 1;
			if (!parse_digits(&s, 2, &oh) || !expect_char(&s, ':') ||
			    !parse_digits(&s, 2, &om) || oh > 23 || om > 59)
				return 0;
			off = sign * (oh * 3600LL + om * 60LL);
		} else {
			return 0;
		}
		if (*s != '\0')
			return 0;
	}
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 ||
	    mm > 59 || ss > 60)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	*us_r = ((int64_t)t - off) * 1000000 + frac;
	return 1;
}

/* the id without blanks and one pair of angle brackets */
static void msgid_core(const char *s, const char **start_r, size_t *len_r)
{
	size_t len;

	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	*start_r = s;
	*len_r = len;
}

int htg_msgid_equal(const char *a, const char *b)
{
	const char *pa, *pb;
	size_t la, lb;

	if (a == NULL || b == NULL)
		return 0;
	msgid_core(a, &pa, &la);
	msgid_core(b, &pb, &lb);
	return la > 0 && la == lb && memcmp(pa, pb, la) == 0;
}

void htg_audit_filter_init(struct htg_audit_filter *f)
{
	memset(f, 0, sizeof(*f));
}

int htg_audit_filter_match(const struct htg_audit_filter *f,
			   const struct htg_audit_event *ev)
{
	if (f->account != NULL && strcmp(f->account, ev->account) != 0)
		return 0;
	if (f->event != NULL && strcmp(f->event, ev->event) != 0)
		return 0;
	if (f->message_id != NULL && !htg_msgid_equal(f->message_id,
						      ev->message_id))
		return 0;
	if (f->since_us != 0 && ev->time_us < f->since_us)
		return 0;
	if (f->until_us != 0 && ev->time_us >= f->until_us)
		return 0;
	return 1;
}

int htg_audit_event_known(const char *event)
{
	for (size_t i = 0; i < sizeof(audit_events) / sizeof(audit_events[0]);
	     i++) {
		if (event != NULL && strcmp(event, audit_events[i]) == 0)
			return 1;
	}
	return 0;
}

int htg_maildir_name_time(const char *name, int64_t *t_r)
{
	long long t = 0;
	const char *p = name;

	if (!isdigit((unsigned char)*p))
		return 0;
	for (; isdigit((unsigned char)*p); p++) {
		if (t > 1000000000000LL)
			return 0;
		t = t * 10 + (*p - '0');
	}
	if (*p != '.')
		return 0;
	*t_r = t;
	return 1;
}

int htg_uidlist_line(const char *line, uint32_t *uid_r, char *base,
		     size_t size)
{
	const char *colon;
	unsigned long uid = 0;
	size_t len;

	if (!isdigit((unsigned char)*line))
		return 0;
	for (; isdigit((unsigned char)*line); line++) {
		uid = uid * 10 + (unsigned long)(*line - '0');
		if (uid > UINT32_MAX)
			return 0;
	}
	if (*line != ' ' || uid == 0)
		return 0;
	/* the version header ("3 V... N... G...") has no " :" part */
	if ((colon = strstr(line, " :")) == NULL)
		return 0;
	colon += 2;
	len = strcspn(colon, "\r\n");
	if (len == 0 || len >= size)
		return 0;
	memcpy(base, colon, len);
	base[len] = '\0';
	*uid_r = (uint32_t)uid;
	return 1;
}

int htg_hygiene_stale(int64_t retrieved, int64_t now, uint32_t days)
{
	return retrieved > 0 &&
		htg_retention_due(htg_retention_deadline(retrieved, days), now);
}
