#ifndef HTG_JOURNAL_PRIVATE_H
#define HTG_JOURNAL_PRIVATE_H

/*++
/* NAME
/*	htg-journal-private 3h
/* SUMMARY
/*	the pickup journal's file format, shared by its two files
/* DESCRIPTION
/*	htg-journal.c writes entries (append, cancel), htg-journal-apply.c
/*	applies them to the directory. The format: htg-journal.c.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "htg-dir.h"
#include "htg-journal.h"

#define JNL_MAGIC	0x4a475448u	/* "HTGJ" */
#define JNL_VERSION	2
#define JNL_HEAD	4096
#define JNL_MAXENT	((JNL_HEAD - 24) / 8)
#define JNL_CANCELLED	0x1

struct jnl_head {
	uint32_t magic, version;
	uint32_t unused[2];
	uint32_t count;
	uint32_t gen;			/* + 1 at each apply */
	uint64_t end[JNL_MAXENT];	/* end offset of each entry */
};

struct jnl_entry {
	uint64_t hash;			/* of everything after this field */
	uint64_t token;
	uint32_t flags, nr, nev;
	uint32_t gen;			/* the head's when written */
};

/* before each record (key, value, then size bytes of its copy) and each
   event (klen 16: key, then value) of an entry */
struct jnl_part {
	uint32_t klen, vlen;
	uint64_t size;
};

struct jnl {
	int fd;
	uid_t owner;			/* of the journal file */
	char path[HTG_PATH_MAX];
	struct jnl_head head;
};

static inline size_t pad8(uint64_t n)
{
	return (size_t)((n + 7) & ~(uint64_t)7);
}

static inline uint64_t jnl_start(const struct jnl_head *h, uint32_t i)
{
	return i == 0 ? JNL_HEAD : h->end[i - 1];
}

uint64_t jnl_hash(const unsigned char *p, size_t n);
int jnl_sync_path(const char *path, const char **error_r);
int jnl_write_all(int fd, const void *buf, size_t n, off_t off);
int jnl_read_all(int fd, void *buf, size_t n, off_t off);
int jnl_head_write(struct jnl *j, const char **error_r);
void jnl_close(struct jnl *j);
/* Open and lock journal slot (see htg-journal.c). */
int jnl_open(struct htg_dir *dir, unsigned int slot, int create, int wait,
	     struct jnl *j, const char **error_r);
struct jnl_entry *jnl_entry_read(struct jnl *j, uint32_t i, size_t *len_r);
/* Apply a locked journal to the directory and empty it: the number of
   records and events applied, -1 on error. */
int jnl_apply(struct htg_dir *dir, struct jnl *j, const char **error_r);
/* The next part of an entry at p (before end): its key, value and copy;
   the part after it, or NULL when it does not fit (htg-journal-apply.c).
   MDB_val comes from lmdb.h, included before this header by its users. */
struct MDB_val;
const unsigned char *jnl_part_next(const unsigned char *p,
				   const unsigned char *end,
				   struct MDB_val *k, struct MDB_val *v,
				   const unsigned char **data_r,
				   uint64_t *size_r);

#endif
