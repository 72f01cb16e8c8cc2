/*++
/* NAME
/*	htg-journal 3
/* SUMMARY
/*	the pickup journal: a POP3 QUIT made durable with one disk flush
/* DESCRIPTION
/*	See htg-journal.h. A journal file: a 4 KB head (magic, version,
/*	the number of entries, the generation and the end offset of each
/*	entry), then the entries. An entry: a FNV-1a hash of the rest of
/*	it, a random token, flags, the record and event counts, the
/*	generation, then per record the directory's own key and value for
/*	it (text, htg-dir-retention.c) and the copy's bytes, per event its
/*	key and record (htg-dir-audit.c); lengths first, parts padded to 8.
/*	No C struct layout reaches the file: a journal outlives an upgrade
/*	that changes them, as the directory does. One fdatasync() per
/*	entry covers the entry and the head: both are data blocks of a file
/*	that never changes size. A torn entry (a crash during that flush,
/*	so before its QUIT was answered and before anything was expunged)
/*	fails its hash and is skipped; a torn head (count written, not the
/*	new end offset) is cut back to the entries whose offsets rise. Each
/*	apply starts a new generation, which the head and every entry
/*	carry: bytes left in the file from an applied entry never pass for
/*	a new one. A cancelled entry gives its retrieval events, and undoes
/*	its records and dele events in case an apply killed before it
/*	emptied the journal wrote them. A copy that cannot be written again
/*	(its directory gone or not the mail user's) does not block the
/*	journal: the record goes in, restore reports the missing file.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir-private.h"
#include "htg-journal-private.h"

uint64_t jnl_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

int jnl_sync_path(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fdatasync(fd) < 0) {
		*error_r = dirp_err("fdatasync %s: %s", path, strerror(errno));
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* All n bytes at off, or -1 (an error, or the end of the file). */
static int jnl_rw(int fd, char *p, size_t n, off_t off, int write)
{
	while (n > 0) {
		ssize_t done = write ? pwrite(fd, p, n, off) :
			pread(fd, p, n, off);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return -1;
		p += done;
		n -= (size_t)done;
		off += done;
	}
	return 0;
}

int jnl_write_all(int fd, const void *buf, size_t n, off_t off)
{
	return jnl_rw(fd, (char *)buf, n, off, 1);	/* pwrite only reads */
}

int jnl_read_all(int fd, void *buf, size_t n, off_t off)
{
	return jnl_rw(fd, buf, n, off, 0);
}

int jnl_head_write(struct jnl *j, const char **error_r)
{
	size_t n = 24 + 8 * (size_t)j->head.count;

	if (jnl_write_all(j->fd, &j->head, n, 0) < 0) {
		*error_r = dirp_err("write %s: %s", j->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A new journal: zero-filled to its full size, so that no later write
   allocates a block or moves its end, then made durable with its name. */
static int jnl_init(struct jnl *j, const char *jdir, const char **error_r)
{
	static const char zero[65536];

	(void)fchmod(j->fd, 0660);
	for (off_t off = 0; off < HTG_JOURNAL_SIZE; off += sizeof(zero)) {
		if (jnl_write_all(j->fd, zero, sizeof(zero), off) < 0) {
			*error_r = dirp_err("write %s: %s", j->path,
					    strerror(errno));
			return -1;
		}
	}
	memset(&j->head, 0, sizeof(j->head));
	j->head.magic = JNL_MAGIC;
	j->head.version = JNL_VERSION;
	if (jnl_head_write(j, error_r) < 0)
		return -1;
	if (fdatasync(j->fd) < 0) {
		*error_r = dirp_err("fdatasync %s: %s", j->path,
				    strerror(errno));
		return -1;
	}
	return jnl_sync_path(jdir, error_r);
}

void jnl_close(struct jnl *j)
{
	if (j->fd >= 0)
		close(j->fd);	/* releases the lock */
	j->fd = -1;
}

/* Open and lock journal slot. create: make it (and the journal
   directory) when missing, else a missing slot is 0. wait: block for the
   lock, else a locked slot is 0. 1 opened and locked, -1 error. */
int jnl_open(struct htg_dir *dir, unsigned int slot, int create,
		    int wait, struct jnl *j, const char **error_r)
{
	char jdir[HTG_PATH_MAX];
	struct stat st;

	j->fd = -1;
	if (snprintf(jdir, sizeof(jdir), "%s/journal", htg_dir_state_path(dir)) >=
	    (int)sizeof(jdir) ||
	    snprintf(j->path, sizeof(j->path), "%s/%u", jdir, slot) >=
	    (int)sizeof(j->path)) {
		*error_r = "journal path too long";
		return -1;
	}
	/* the directory's own modes (group access, setgid), whatever the
	   umask of the process that happens to create them */
	if (create && mkdir(jdir, 0770) == 0) {
		if (chmod(jdir, 02770) < 0) {
			*error_r = dirp_err("chmod %s: %s", jdir,
					    strerror(errno));
			return -1;
		}
		if (jnl_sync_path(htg_dir_state_path(dir), error_r) < 0)
			return -1;
	}
	j->fd = open(j->path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0),
		     0660);
	if (j->fd < 0) {
		if (errno == ENOENT && !create)
			return 0;
		*error_r = dirp_err("open %s: %s", j->path, strerror(errno));
		return -1;
	}
	while (flock(j->fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK && !wait) {
			jnl_close(j);
			return 0;
		}
		*error_r = dirp_err("flock %s: %s", j->path, strerror(errno));
		jnl_close(j);
		return -1;
	}
	if (fstat(j->fd, &st) < 0 ||
	    (st.st_size >= JNL_HEAD &&
	     jnl_read_all(j->fd, &j->head, sizeof(j->head), 0) < 0)) {
		*error_r = dirp_err("read %s: %s", j->path, strerror(errno));
		jnl_close(j);
		return -1;
	}
	j->owner = st.st_uid;
	if (st.st_size < HTG_JOURNAL_SIZE || j->head.magic != JNL_MAGIC) {
		if (!create) {		/* never finished: nothing in it */
			jnl_close(j);
			return 0;
		}
		if (jnl_init(j, jdir, error_r) < 0) {
			jnl_close(j);
			return -1;
		}
	}
	if (j->head.version != JNL_VERSION ||
	    j->head.count > JNL_MAXENT) {
		*error_r = dirp_err("journal %s: written by another version "
				    "(apply it with that version's htgctl)",
				    j->path);
		jnl_close(j);
		return -1;
	}
	/* A head torn by a crash (its count written, not the new end
	   offset, which may be one left from before the last apply): keep
	   the entries whose offsets rise within the file. Only the last one
	   can be torn, and its QUIT was never answered; without this a
	   stale offset could make the next entry overwrite older ones. */
	for (uint32_t i = 0; i < j->head.count; i++) {
		if (j->head.end[i] <= jnl_start(&j->head, i) ||
		    j->head.end[i] > HTG_JOURNAL_SIZE) {
			j->head.count = i;
			break;
		}
	}
	return 1;
}

/* Entry i into a new buffer; NULL if torn (or unreadable). */
struct jnl_entry *jnl_entry_read(struct jnl *j, uint32_t i, size_t *len_r)
{
	uint64_t start = jnl_start(&j->head, i), end = j->head.end[i];
	struct jnl_entry *e;
	size_t len;

	if (end <= start || end > HTG_JOURNAL_SIZE ||
	    end - start < sizeof(*e))
		return NULL;
	len = (size_t)(end - start);
	if ((e = malloc(len)) == NULL)
		return NULL;
	if (jnl_read_all(j->fd, e, len, (off_t)start) < 0 ||
	    e->hash != jnl_hash((unsigned char *)e + 8, len - 8) ||
	    e->gen != j->head.gen ||	/* left from before an apply */
	    sizeof(*e) + ((uint64_t)e->nr + e->nev) *
	    sizeof(struct jnl_part) > len) {
		free(e);
		return NULL;
	}
	*len_r = len;
	return e;
}

/* Room for n more bytes of an entry being built (zeroed); NULL when the
   entry would not fit in a journal, or out of memory (*oom_r). */
static unsigned char *entry_room(unsigned char **buf, size_t *len,
				 size_t *cap, size_t n, int *oom_r)
{
	unsigned char *p;

	if (*len + n > HTG_JOURNAL_SIZE - JNL_HEAD)
		return NULL;
	if (*len + n > *cap) {
		size_t ncap = *cap * 2 > *len + n ? *cap * 2 : *len + n;

		if ((p = realloc(*buf, ncap)) == NULL) {
			*oom_r = 1;
			return NULL;
		}
		*buf = p;
		*cap = ncap;
	}
	p = *buf + *len;
	memset(p, 0, n);
	*len += n;
	return p;
}

/* The entry: its header; per record the directory's key and value for
   it (text), then the copy's bytes; per event its key and record. All
   parts padded to 8 bytes. The layout of the C structs does not reach
   the file, so a journal outlives a change of them. NULL with *error_r
   NULL: it does not fit in a journal. */
static unsigned char *
entry_build(const struct htg_retained *r, unsigned int nr,
	    const struct htg_audit_event *ev, unsigned int nev,
	    size_t *len_r, const char **error_r)
{
	char key[DIRP_RETAINED_KEY_MAX], val[DIRP_RETAINED_VAL_MAX];
	char rec[DIRP_AUDIT_REC_MAX];
	unsigned char kb[16], *buf = NULL, *p;
	size_t len = 0, cap = 16384;
	struct jnl_entry e;
	struct jnl_part part;
	struct stat st;
	int fd = -1, oom = 0;
	MDB_val v;

	*error_r = NULL;
	if ((buf = malloc(cap)) == NULL ||
	    entry_room(&buf, &len, &cap, sizeof(e), &oom) == NULL)
		goto fail;
	for (unsigned int i = 0; i < nr; i++) {
		if (dirp_retained_encode(&r[i], key, sizeof(key), val,
					 sizeof(val), error_r) <= 0)
			goto fail;
		if ((fd = open(r[i].path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    fstat(fd, &st) < 0) {
			*error_r = dirp_err("open %s: %s", r[i].path,
					    strerror(errno));
			goto fail;
		}
		memset(&part, 0, sizeof(part));
		part.klen = (uint32_t)strlen(key);
		part.vlen = (uint32_t)strlen(val);
		part.size = (uint64_t)st.st_size;
		if ((p = entry_room(&buf, &len, &cap, sizeof(part) +
				    pad8(part.klen + part.vlen) +
				    pad8(part.size), &oom)) == NULL)
			goto fail;
		memcpy(p, &part, sizeof(part));
		p += sizeof(part);
		memcpy(p, key, part.klen);
		memcpy(p + part.klen, val, part.vlen);
		p += pad8(part.klen + part.vlen);
		errno = 0;
		if (jnl_read_all(fd, p, (size_t)part.size, 0) < 0) {
			*error_r = dirp_err("read %s: %s", r[i].path,
					    errno == 0 ? "short read" :
					    strerror(errno));
			goto fail;
		}
		close(fd);
		fd = -1;
	}
	for (unsigned int i = 0; i < nev; i++) {
		v = dirp_audit_encode(&ev[i], kb, rec, sizeof(rec));
		memset(&part, 0, sizeof(part));
		part.klen = 16;
		part.vlen = (uint32_t)v.mv_size;
		if ((p = entry_room(&buf, &len, &cap, sizeof(part) +
				    pad8(16 + v.mv_size), &oom)) == NULL)
			goto fail;
		memcpy(p, &part, sizeof(part));
		p += sizeof(part);
		memcpy(p, kb, 16);
		memcpy(p + 16, v.mv_data, v.mv_size);
	}
	memset(&e, 0, sizeof(e));
	e.nr = nr;
	e.nev = nev;
	if (getrandom(&e.token, sizeof(e.token), 0) != sizeof(e.token))
		e.token = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	memcpy(buf, &e, sizeof(e));	/* hashed when its slot is known */
	*len_r = len;
	return buf;
fail:
	if (oom || (buf == NULL && *error_r == NULL))
		*error_r = "out of memory";
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

int htg_journal_append(struct htg_dir *dir, const struct htg_retained *r,
		       unsigned int nr, const struct htg_audit_event *ev,
		       unsigned int nev, struct htg_journal_pos *pos_r,
		       const char **error_r)
{
	unsigned int first = (unsigned int)getpid() % HTG_JOURNAL_SLOTS;
	struct jnl_entry *e;
	unsigned char *buf;
	struct jnl j;
	uint64_t start;
	size_t len;
	int ret = 0, failed = 0;

	if ((buf = entry_build(r, nr, ev, nev, &len, error_r)) == NULL)
		return *error_r == NULL ? 0 : -1;
	/* any slot nobody holds (one that cannot be opened is passed
	   over); if all are busy, wait for one */
	for (unsigned int i = 0; i < HTG_JOURNAL_SLOTS && ret <= 0; i++) {
		pos_r->slot = (first + i) % HTG_JOURNAL_SLOTS;
		if ((ret = jnl_open(dir, pos_r->slot, 1, 0, &j, error_r)) < 0)
			failed = 1;
	}
	if (ret <= 0 && !failed) {
		pos_r->slot = first;
		ret = jnl_open(dir, first, 1, 1, &j, error_r);
	}
	if (ret <= 0) {
		free(buf);
		return -1;
	}
	start = jnl_start(&j.head, j.head.count);
	if (j.head.count >= JNL_MAXENT || start + len > HTG_JOURNAL_SIZE) {
		/* full: apply it now, one commit for all its entries */
		if (jnl_apply(dir, &j, error_r) < 0) {
			jnl_close(&j);
			free(buf);
			return -1;
		}
		start = JNL_HEAD;
	}
	e = (struct jnl_entry *)buf;
	e->gen = j.head.gen;
	e->hash = jnl_hash(buf + 8, len - 8);
	pos_r->token = e->token;
	ret = 1;
	if (jnl_write_all(j.fd, buf, len, (off_t)start) < 0) {
		*error_r = dirp_err("write %s: %s", j.path, strerror(errno));
		ret = -1;
	} else {
		j.head.end[j.head.count++] = start + len;
		if (jnl_head_write(&j, error_r) < 0)
			ret = -1;
		else if (fdatasync(j.fd) < 0) {
			*error_r = dirp_err("fdatasync %s: %s", j.path,
					    strerror(errno));
			ret = -1;
		}
	}
	if (ret < 0) {
		/* the caller writes to the directory instead: this entry
		   must never be applied, whatever reached the disk */
		static const uint64_t zero;

		(void)jnl_write_all(j.fd, &zero, sizeof(zero), (off_t)start);
		(void)fdatasync(j.fd);
	}
	jnl_close(&j);
	free(buf);
	return ret;
}

int htg_journal_cancel(struct htg_dir *dir, const struct htg_journal_pos *pos,
		       const char **error_r)
{
	struct jnl j;
	int ret = jnl_open(dir, pos->slot, 0, 1, &j, error_r);

	if (ret <= 0)
		return ret;
	ret = 0;
	for (uint32_t i = 0; i < j.head.count && ret == 0; i++) {
		size_t len;
		struct jnl_entry *e = jnl_entry_read(&j, i, &len);

		if (e == NULL || e->token != pos->token) {
			free(e);
			continue;
		}
		e->flags |= JNL_CANCELLED;
		e->hash = jnl_hash((unsigned char *)e + 8, len - 8);
		if (jnl_write_all(j.fd, e, sizeof(*e),
			      (off_t)jnl_start(&j.head, i)) < 0 ||
		    fdatasync(j.fd) < 0) {
			*error_r = dirp_err("write %s: %s", j.path,
					    strerror(errno));
			ret = -1;
		} else
			ret = 1;
		free(e);
	}
	jnl_close(&j);
	return ret;
}
