/*++
/* NAME
/*	htg-msg 3
/* SUMMARY
/*	diagnostics in the Postfix msg(3) tradition
/* DESCRIPTION
/*	See htg-msg.h.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "htg-msg.h"

int msg_verbose;

static char msg_progname[64] = "htg";
static int msg_fd = 2;

void msg_init(const char *progname, const char *logfile)
{
	const char *slash = strrchr(progname, '/');

	snprintf(msg_progname, sizeof(msg_progname), "%s",
		 slash != NULL ? slash + 1 : progname);
	if (logfile != NULL && *logfile != '\0') {
		int fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0640);
		if (fd < 0)
			msg_fatal("open log file %s: %m", logfile);
		if (msg_fd > 2)
			close(msg_fd);
		msg_fd = fd;
	}
}

size_t msg_format(char *line, size_t size, const char *level,
		  const char *fmt, va_list ap)
{
	struct timeval tv;
	struct tm tm;
	size_t len;
	int n, saved_errno = errno;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	len = strftime(line, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, size - len, ".%06ldZ %s[%ld]: %s%s",
		     (long)tv.tv_usec, msg_progname, (long)getpid(),
		     level, *level ? ": " : "");
	if (n > 0)
		len += (size_t)n;
	if (len < size) {
		errno = saved_errno;	/* for %m */
		n = vsnprintf(line + len, size - len, fmt, ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (len > size - 2)
		len = size - 2;
	/* one line, always: a newline in the text would forge log lines */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	errno = saved_errno;
	return len;
}

static void msg_vprintf(const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	size_t len = msg_format(line, sizeof(line), level, fmt, ap);
	int saved_errno = errno;

	if (write(msg_fd, line, len) < 0) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}

#define MSG_BODY(level) do { \
	va_list ap; \
	va_start(ap, fmt); \
	msg_vprintf(level, fmt, ap); \
	va_end(ap); \
} while (0)

void msg_info(const char *fmt, ...) { MSG_BODY(""); }
void msg_warn(const char *fmt, ...) { MSG_BODY("warning"); }
void msg_error(const char *fmt, ...) { MSG_BODY("error"); }

void msg_fatal(const char *fmt, ...)
{
	MSG_BODY("fatal");
	exit(1);
}

void msg_panic(const char *fmt, ...)
{
	MSG_BODY("panic");
	abort();
}
