/*++
/* NAME
/*	milter-spool 3
/* SUMMARY
/*	the rewritten body of one message, on disk
/* SYNOPSIS
/*	#include "milter-spool.h"
/* DESCRIPTION
/*	A multipart message leaves with new part headers (HTG-FILENAME), so
/*	its body is rewritten as it streams through the milter. The new body
/*	goes to an unlinked temporary file, never to memory: a 50 MB message
/*	costs the spool's 64 KB buffer, not 50 MB. At the end of the message
/*	it is read back in chunks for smfi_replacebody().
/*
/*	A write error (a full disk) is reported; the milter then tempfails
/*	the message (4xx): nothing is accepted half-rewritten.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter-spool.h"

#define SPOOL_BUF (64 * 1024)

struct milter_spool {
	int fd;
	size_t len;		/* bytes in buf */
	unsigned long long total;
	unsigned char buf[SPOOL_BUF];
};

struct milter_spool *milter_spool_open(const char *dir, const char **error_r)
{
	static _Thread_local char err[256];
	struct milter_spool *s;
	char path[4096];
	int fd;

	/* O_TMPFILE: never a name, nothing left behind by a crash */
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		snprintf(path, sizeof(path), "%s/htg-spool.XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0) {
		snprintf(err, sizeof(err), "spool in %s: %s", dir, strerror(errno));
		*error_r = err;
		return NULL;
	}
	s = malloc(sizeof(*s));
	if (s == NULL) {
		close(fd);
		*error_r = "out of memory";
		return NULL;
	}
	s->fd = fd;
	s->len = 0;
	s->total = 0;
	return s;
}

static int spool_flush(struct milter_spool *s)
{
	size_t off = 0;

	while (off < s->len) {
		ssize_t n = write(s->fd, s->buf + off, s->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	s->len = 0;
	return 0;
}

int milter_spool_write(struct milter_spool *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t n = SPOOL_BUF - s->len;

		if (n > len)
			n = len;
		memcpy(s->buf + s->len, p, n);
		s->len += n;
		s->total += n;
		p += n;
		len -= n;
		if (s->len == SPOOL_BUF && spool_flush(s) < 0)
			return -1;
	}
	return 0;
}

int milter_spool_replay(struct milter_spool *s,
			int (*cb)(void *ctx, unsigned char *data, size_t len),
			void *ctx)
{
	if (spool_flush(s) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
		return -1;
	for (;;) {
		ssize_t n = read(s->fd, s->buf, SPOOL_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (cb(ctx, s->buf, (size_t)n) < 0)
			return -1;
	}
}

unsigned long long milter_spool_size(const struct milter_spool *s)
{
	return s->total;
}

void milter_spool_close(struct milter_spool **_s)
{
	struct milter_spool *s = *_s;

	if (s == NULL)
		return;
	close(s->fd);
	free(s);
	*_s = NULL;
}
