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
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "htg-msg.h"
#include "policy-log.h"

#define LOG_BUF_SIZE 65536
#define LOG_LINE_MAX 2048

static int log_fd = -1;
static char log_prog[64];
static long log_pid;
static char log_buf[LOG_BUF_SIZE];
static size_t log_len;

void policy_log_open(const char *progname, const char *path)
{
	const char *slash = strrchr(progname, '/');

	snprintf(log_prog, sizeof(log_prog), "%s",
		 slash != NULL ? slash + 1 : progname);
	log_pid = (long)getpid();
	if (path == NULL || *path == '\0')
		return;
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log_fd < 0)
		msg_fatal("open log file %s: %m", path);
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

void policy_log_line(const char *text)
{
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	size_t len;
	int n;

	if (log_fd < 0) {
		msg_info("%s", text);
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%06ldZ %s[%ld]: %s",
		     (long)tv.tv_usec, log_prog, log_pid, text);
	if (n < 0)
		return;
	len += (size_t)n;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* one line, always: a newline in the text would forge log lines */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
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
