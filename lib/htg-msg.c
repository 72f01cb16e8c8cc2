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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "htg-msg.h"

int msg_verbose;

static char msg_progname[64] = "htg";

/* Read by every thread that logs, changed by msg_open_log() (a reload) */
enum { MSG_FD, MSG_SYSLOG };
static _Atomic int msg_fd = 2;		/* MSG_FD: where lines go */
static _Atomic int msg_dest = MSG_FD;
static _Atomic int msg_copy_tty;

void msg_init(const char *progname, const char *logfile)
{
	const char *slash = strrchr(progname, '/'), *error;

	snprintf(msg_progname, sizeof(msg_progname), "%s",
		 slash != NULL ? slash + 1 : progname);
	if (logfile != NULL && *logfile != '\0' &&
	    msg_open_log(logfile, &error) < 0)
		msg_fatal("%s", error);
}

int msg_open_log(const char *logfile, const char **error_r)
{
	static char error[512];
	int fd, old = atomic_load(&msg_fd);

	if (logfile == NULL || *logfile == '\0') {
		/* ident: msg_progname lives as long as the process */
		openlog(msg_progname, LOG_PID, LOG_MAIL);
		atomic_store(&msg_dest, MSG_SYSLOG);
		return 0;
	}
	fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(error, sizeof(error), "open log file %.300s: %s",
			 logfile, strerror(errno));
		*error_r = error;
		return -1;
	}
	if (old > 2) {
		/* one atomic step: a concurrent write goes to the old file
		   or to the new one, never to a closed descriptor */
		if (dup2(fd, old) < 0) {
			snprintf(error, sizeof(error), "dup2: %s",
				 strerror(errno));
			close(fd);
			*error_r = error;
			return -1;
		}
		close(fd);
	} else {
		atomic_store(&msg_fd, fd);
	}
	atomic_store(&msg_dest, MSG_FD);
	return 0;
}

void msg_tty_copy(void)
{
	atomic_store(&msg_copy_tty, isatty(2));
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

static void msg_write(int fd, const char *line, size_t len)
{
	if (write(fd, line, len) < 0) {
		/* nowhere left to report it */
	}
}

/* to_stderr: also on stderr when the lines go elsewhere (fatal, panic) */
static void msg_vprintf(int priority, const char *level, int to_stderr,
			const char *fmt, va_list ap)
{
	char line[2048];
	int saved_errno = errno, fd = atomic_load(&msg_fd);
	int dest = atomic_load(&msg_dest);
	size_t len = msg_format(line, sizeof(line), level, fmt, ap);

	if (dest == MSG_SYSLOG) {
		/* syslog adds time, ident and pid: skip ours */
		const char *text = strchr(line, ']');

		text = text != NULL && text[1] == ':' ? text + 3 : line;
		line[len - 1] = '\0';
		syslog(priority, "%s", text);
		line[len - 1] = '\n';
		fd = -1;
	} else {
		msg_write(fd, line, len);
	}
	if (fd != 2 && (to_stderr || atomic_load(&msg_copy_tty)))
		msg_write(2, line, len);
	errno = saved_errno;
}

#define MSG_BODY(priority, level, to_stderr) do { \
	va_list ap; \
	va_start(ap, fmt); \
	msg_vprintf(priority, level, to_stderr, fmt, ap); \
	va_end(ap); \
} while (0)

void msg_info(const char *fmt, ...) { MSG_BODY(LOG_INFO, "", 0); }
void msg_warn(const char *fmt, ...) { MSG_BODY(LOG_WARNING, "warning", 0); }
void msg_error(const char *fmt, ...) { MSG_BODY(LOG_ERR, "error", 0); }

void msg_fatal(const char *fmt, ...)
{
	MSG_BODY(LOG_CRIT, "fatal", 1);
	exit(1);
}

void msg_panic(const char *fmt, ...)
{
	MSG_BODY(LOG_CRIT, "panic", 1);
	abort();
}
