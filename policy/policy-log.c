/*++
/* NAME
/*	policy-log 3
/* SUMMARY
/*	decision log lines, written in batches
/* SYNOPSIS
/*	#include "policy-log.h"
/* DESCRIPTION
/*	See policy-log.h. The buffer holds many lines; when the next line
/*	would not fit it is flushed first, so a line is never split across
/*	two writes.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "htg-msg.h"
#include "policy-log.h"

#define LOG_BUF_SIZE 65536
#define LOG_LINE_MAX 2048

static int log_fd = -1;
static char log_buf[LOG_BUF_SIZE];
static size_t log_len;

void policy_log_open(const char *path)
{
	if (path == NULL || *path == '\0')
		return;
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log_fd < 0)
		msg_fatal("open log file %s: %m", path);
}

void policy_log_reopen(const char *path)
{
	policy_log_close();
	if (path == NULL || *path == '\0')
		return;
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log_fd < 0)	/* decisions go through msg_info() meanwhile */
		msg_error("open log file %s: %m", path);
}

void policy_log_flush(void)
{
	size_t off = 0;

	while (off < log_len) {
		ssize_t n = write(log_fd, log_buf + off, log_len - off);

		if (n <= 0)
			break;	/* nowhere left to report it (as msg_info) */
		off += (size_t)n;
	}
	log_len = 0;
}

static size_t format_line(char *line, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	len = msg_format(line, size, "", fmt, ap);
	va_end(ap);
	return len;
}

void policy_log_line(const char *text)
{
	char line[LOG_LINE_MAX];
	size_t len;

	if (log_fd < 0) {
		msg_info("%s", text);
		return;
	}
	/* the same line msg_info() writes, buffered */
	len = format_line(line, sizeof(line), "%s", text);
	if (log_len + len > sizeof(log_buf))
		policy_log_flush();
	memcpy(log_buf + log_len, line, len);
	log_len += len;
}

void policy_log_close(void)
{
	if (log_fd < 0)
		return;
	policy_log_flush();
	close(log_fd);
	log_fd = -1;
}
