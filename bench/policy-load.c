/*++
/* NAME
/*	policy-load 1
/* SUMMARY
/*	load generator for Postfix policy delegation servers
/* SYNOPSIS
/*	policy-load [-c connections] [-d seconds] [-w warmup_seconds]
/*		(-u unix_path | -t host:port) requests_file
/* DESCRIPTION
/*	Opens the given number of connections to a policy server and keeps
/*	exactly one request in flight on each (as a Postfix smtpd process
/*	does), sending the requests of requests_file round robin: requests
/*	are "name=value" lines, each ended by an empty line, exactly as they
/*	go on the wire (SMTPD_POLICY_README).
/*
/*	After warmup_seconds (default 1) it measures for seconds (default 5)
/*	and prints one line of figures: decisions per second, latency p50,
/*	p90, p99 and max (from sending a request to reading the end of its
/*	answer), and the answers by kind (DUNNO, 4xx/DEFER, 5xx/REJECT,
/*	other), so two servers can be seen to decide the same, and the
/*	total of answers including the warm-up (to divide by the server's
/*	CPU time over the whole run). It asserts nothing.
/*
/*	One thread, epoll; pin it to another core than the server
/*	(taskset) to measure the server alone.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct request {
	const char *data;
	size_t len;
};

struct lconn {
	int fd;
	uint64_t sent_ns;
	size_t next;		/* index of the next request */
	char buf[4096];
	size_t len;
};

enum { ANS_DUNNO, ANS_TEMP, ANS_PERM, ANS_OTHER, ANS_COUNT };

static struct request *reqs;
static size_t nreqs;
static uint64_t *lat;
static size_t nlat, lat_cap;
static uint64_t answers[ANS_COUNT];
static uint64_t total_answers;	/* warm-up included */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Split the file at "\n\n": every request keeps its terminating empty line. */
static void load_requests(const char *path)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	char *data, *p, *end;

	if (f == NULL || fstat(fileno(f), &st) < 0)
		die(path);
	if ((data = malloc((size_t)st.st_size + 1)) == NULL)
		die("malloc");
	if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		die(path);
	fclose(f);
	data[st.st_size] = '\0';
	for (p = data; (end = strstr(p, "\n\n")) != NULL; p = end + 2) {
		reqs = realloc(reqs, (nreqs + 1) * sizeof(*reqs));
		if (reqs == NULL)
			die("realloc");
		reqs[nreqs].data = p;
		reqs[nreqs].len = (size_t)(end + 2 - p);
		nreqs++;
	}
	if (nreqs == 0) {
		fprintf(stderr, "%s: no requests\n", path);
		exit(1);
	}
}

static int connect_to(const char *unix_path, const char *inet)
{
	int fd;

	if (unix_path != NULL) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", unix_path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			die(unix_path);
	} else {
		char host[256], *port;
		struct addrinfo hints, *res;

		snprintf(host, sizeof(host), "%s", inet);
		if ((port = strrchr(host, ':')) == NULL) {
			fprintf(stderr, "expected host:port\n");
			exit(2);
		}
		*port++ = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, port, &hints, &res) != 0) {
			fprintf(stderr, "cannot resolve %s\n", inet);
			exit(1);
		}
		if ((fd = socket(res->ai_family, SOCK_STREAM, 0)) < 0)
			die("socket");
		if (connect(fd, res->ai_addr, res->ai_addrlen) < 0)
			die(inet);
		freeaddrinfo(res);
	}
	return fd;
}

static void send_next(struct lconn *c)
{
	const struct request *r = &reqs[c->next];
	size_t off = 0;

	c->next = (c->next + 1) % nreqs;
	c->sent_ns = now_ns();
	/* a request is far smaller than the socket buffer */
	while (off < r->len) {
		ssize_t n = write(c->fd, r->data + off, r->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		off += (size_t)n;
	}
}

static void classify(const char *answer)
{
	const char *a = answer + strlen("action=");

	if (strncmp(answer, "action=", 7) != 0)
		answers[ANS_OTHER]++;
	else if (strncasecmp(a, "DUNNO", 5) == 0 || strncasecmp(a, "OK", 2) == 0)
		answers[ANS_DUNNO]++;
	else if (a[0] == '4' || strncasecmp(a, "DEFER", 5) == 0)
		answers[ANS_TEMP]++;
	else if (a[0] == '5' || strncasecmp(a, "REJECT", 6) == 0)
		answers[ANS_PERM]++;
	else
		answers[ANS_OTHER]++;
}

/* 1 when an answer was completed (and the next request sent) */
static int on_readable(struct lconn *c, int measuring)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *end;

	if (n <= 0) {
		fprintf(stderr, "server closed a connection\n");
		exit(1);
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if ((end = strstr(c->buf, "\n\n")) == NULL) {
		if (c->len >= sizeof(c->buf) - 1) {
			fprintf(stderr, "answer too long\n");
			exit(1);
		}
		return 0;
	}
	total_answers++;
	if (measuring) {
		if (nlat == lat_cap) {
			lat_cap = lat_cap ? 2 * lat_cap : 1 << 20;
			if ((lat = realloc(lat, lat_cap * sizeof(*lat))) == NULL)
				die("realloc");
		}
		lat[nlat++] = now_ns() - c->sent_ns;
		classify(c->buf);
	}
	/* one request in flight: nothing can follow the answer */
	c->len = 0;
	send_next(c);
	return 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(double p)
{
	size_t i = (size_t)(p * (double)(nlat - 1));

	return (double)lat[i] / 1000.0;
}

int main(int argc, char **argv)
{
	const char *unix_path = NULL, *inet = NULL;
	int nconns = 16, ch, epfd;
	double seconds = 5, warmup = 1;
	struct lconn *conns;
	uint64_t t_start, t_measure, t_end;

	while ((ch = getopt(argc, argv, "c:d:w:u:t:")) != -1) {
		switch (ch) {
		case 'c': nconns = atoi(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'u': unix_path = optarg; break;
		case 't': inet = optarg; break;
		default: goto usage;
		}
	}
	if (optind + 1 != argc || (unix_path == NULL) == (inet == NULL) ||
	    nconns <= 0 || seconds <= 0)
		goto usage;
	load_requests(argv[optind]);
	if ((epfd = epoll_create1(0)) < 0)
		die("epoll_create1");
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		die("calloc");
	for (int i = 0; i < nconns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };

		conns[i].fd = connect_to(unix_path, inet);
		conns[i].next = ((size_t)i * 7919) % nreqs;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
			die("epoll_ctl");
	}
	t_start = now_ns();
	t_measure = t_start + (uint64_t)(warmup * 1e9);
	t_end = t_measure + (uint64_t)(seconds * 1e9);
	for (int i = 0; i < nconns; i++)
		send_next(&conns[i]);
	for (;;) {
		struct epoll_event evs[256];
		uint64_t now = now_ns();
		int n;

		if (now >= t_end)
			break;
		n = epoll_wait(epfd, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;

			on_readable(c, c->sent_ns >= t_measure && now < t_end);
		}
	}
	if (nlat == 0) {
		fprintf(stderr, "no answers measured\n");
		return 1;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("connections=%d requests=%zu decisions/s=%.0f p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f max_us=%.1f dunno=%llu temp=%llu "
	       "perm=%llu other=%llu total=%llu\n", nconns, nlat,
	       (double)nlat / seconds, pct_us(0.50), pct_us(0.90),
	       pct_us(0.99), (double)lat[nlat - 1] / 1000.0,
	       (unsigned long long)answers[ANS_DUNNO],
	       (unsigned long long)answers[ANS_TEMP],
	       (unsigned long long)answers[ANS_PERM],
	       (unsigned long long)answers[ANS_OTHER],
	       (unsigned long long)total_answers);
	for (int i = 0; i < nconns; i++)
		close(conns[i].fd);
	free(conns);
	free(lat);
	free(reqs);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-c connections] [-d seconds] "
		"[-w warmup] (-u unix_path | -t host:port) requests_file\n",
		argv[0]);
	return 2;
}
