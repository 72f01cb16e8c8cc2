#ifndef MILTER_SPOOL_H
#define MILTER_SPOOL_H

/*++
/* NAME
/*	milter-spool 3h
/* SUMMARY
/*	the rewritten body of one message, on disk
/* SYNOPSIS
/*	#include "milter-spool.h"
/*--*/

#include <stddef.h>

struct milter_spool;

struct milter_spool *milter_spool_open(const char *dir, const char **error_r);
int milter_spool_write(struct milter_spool *s, const void *data, size_t len);
/* read back from the start in chunks; cb returns -1 to stop */
int milter_spool_replay(struct milter_spool *s,
			int (*cb)(void *ctx, unsigned char *data, size_t len),
			void *ctx);
unsigned long long milter_spool_size(const struct milter_spool *s);
void milter_spool_close(struct milter_spool **s);

#endif
