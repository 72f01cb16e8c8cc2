/*++
/* NAME
/*	htg-journal 3
/* SUMMARY
/*	the pickup journal: a POP3 QUIT made durable with one disk flush
/* DESCRIPTION
/*	See htg-journal.h. A journal file: a 4 KB head (magic, version,
/*	the sizes of the records it holds, the number of entries and the
/*	end offset of each), then the entries. An entry: a FNV-1a hash of
/*	the rest of it, a random token, flags, the record and event counts,
/*	the records and events as this build lays them out, then per record
/*	its message bytes (length first, padded to 8). One fdatasync() per
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
#include "htg-journal.h"

#define JNL_MAGIC	0x4a475448u	/* "HTGJ" */
#define JNL_VERSION	1
#define JNL_HEAD	4096
#define JNL_MAXENT	((JNL_HEAD - 24) / 8)
#define JNL_CANCELLED	0x1

struct jnl_head {
	uint32_t magic, version;
	uint32_t rsize, esize;		/* sizeof the records: same layout */
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

struct jnl {
	int fd;
	uid_t owner;			/* of the journal file */
	char path[HTG_PATH_MAX];
	struct jnl_head head;
};

static uint64_t jnl_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static size_t pad8(uint64_t n)
{
	return (size_t)((n + 7) & ~(uint64_t)7);
}

static uint64_t jnl_start(const struct jnl_head *h, uint32_t i)
{
	return i == 0 ? JNL_HEAD : h->end[i - 1];
}

static int sync_path(const char *path, const char **error_r)
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

static int write_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static int head_write(struct jnl *j, const char **error_r)
{
	if (write_all(j->fd, &j->head, 24 + 8 * (size_t)j->head.count, 0) < 0) {
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

	for (off_t off = 0; off < HTG_JOURNAL_SIZE; off += sizeof(zero)) {
		if (write_all(j->fd, zero, sizeof(zero), off) < 0) {
			*error_r = dirp_err("write %s: %s", j->path,
					    strerror(errno));
			return -1;
		}
	}
	memset(&j->head, 0, sizeof(j->head));
	j->head.magic = JNL_MAGIC;
	j->head.version = JNL_VERSION;
	j->head.rsize = sizeof(struct htg_retained);
	j->head.esize = sizeof(struct htg_audit_event);
	if (head_write(j, error_r) < 0)
		return -1;
	if (fdatasync(j->fd) < 0) {
		*error_r = dirp_err("fdatasync %s: %s", j->path,
				    strerror(errno));
		return -1;
	}
	return sync_path(jdir, error_r);
}

static void jnl_close(struct jnl *j)
{
	if (j->fd >= 0)
		close(j->fd);	/* releases the lock */
	j->fd = -1;
}

/* Open and lock journal slot. create: make it (and the journal
   directory) when missing, else a missing slot is 0. wait: block for the
   lock, else a locked slot is 0. 1 opened and locked, -1 error. */
static int jnl_open(struct htg_dir *dir, unsigned int slot, int create,
		    int wait, struct jnl *j, const char **error_r)
{
	char jdir[HTG_PATH_MAX];
	struct stat st;

	j->fd = -1;
	if (snprintf(jdir, sizeof(jdir), "%s/journal", htg_dir_path(dir)) >=
	    (int)sizeof(jdir) ||
	    snprintf(j->path, sizeof(j->path), "%s/%u", jdir, slot) >=
	    (int)sizeof(j->path)) {
		*error_r = "journal path too long";
		return -1;
	}
	if (create && mkdir(jdir, 0770) == 0 &&
	    sync_path(htg_dir_path(dir), error_r) < 0)
		return -1;
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
	     read_all(j->fd, &j->head, sizeof(j->head), 0) < 0)) {
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
	    j->head.rsize != sizeof(struct htg_retained) ||
	    j->head.esize != sizeof(struct htg_audit_event) ||
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
static struct jnl_entry *entry_read(struct jnl *j, uint32_t i, size_t *len_r)
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
	if (read_all(j->fd, e, len, (off_t)start) < 0 ||
	    e->hash != jnl_hash((unsigned char *)e + 8, len - 8) ||
	    e->gen != j->head.gen ||	/* left from before an apply */
	    sizeof(*e) + (uint64_t)e->nr * sizeof(struct htg_retained) +
	    (uint64_t)e->nev * sizeof(struct htg_audit_event) > len) {
		free(e);
		return NULL;
	}
	*len_r = len;
	return e;
}

/* Write a kept copy again (its hard link did not survive a crash, or
   the file is short): a temporary file, synced, renamed over it. Only
   into a directory owned by the journal's owner (htgctl applies as root
   what the mail user wrote), never through a symbolic link, and owned
   like that directory. */
static int copy_rewrite(const struct jnl *j, const char *path,
			const unsigned char *data, uint64_t size,
			const char **error_r)
{
	char dirpath[HTG_PATH_MAX], tmp[HTG_PATH_MAX + 8], *slash;
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == size)
		return 0;		/* the copy is there */
	snprintf(dirpath, sizeof(dirpath), "%s", path);
	if ((slash = strrchr(dirpath, '/')) == NULL)
		return 0;
	*slash = '\0';
	if (stat(dirpath, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != j->owner) {
		*error_r = dirp_err("rewrite %s: directory missing or not the "
				    "mail user's", path);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || write_all(fd, data, (size_t)size, 0) < 0 ||
	    (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) ||
	    fdatasync(fd) < 0 || rename(tmp, path) < 0) {
		*error_r = dirp_err("rewrite %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlink(tmp);
		}
		return -1;
	}
	close(fd);
	return 0;
}

struct apply {
	struct htg_retained *r, *ur;	/* ur: of cancelled entries */
	struct htg_audit_event *ev, *uev;
	unsigned int nr, nev, rcap, evcap, nur, nuev, urcap, uevcap;
	const char *warning;		/* a copy that could not be rewritten */
	char (*dirs)[HTG_PATH_MAX];
	unsigned int ndirs;
};

static int apply_grow(void **p, unsigned int *cap, unsigned int need,
		      size_t size)
{
	void *n;

	if (need <= *cap)
		return 0;
	if ((n = realloc(*p, (size_t)(need * 2) * size)) == NULL)
		return -1;
	*p = n;
	*cap = need * 2;
	return 0;
}

static int apply_dir(struct apply *a, const char *path)
{
	char d[HTG_PATH_MAX], *slash;
	void *n;

	snprintf(d, sizeof(d), "%s", path);
	if ((slash = strrchr(d, '/')) == NULL)
		return 0;
	*slash = '\0';
	for (unsigned int i = 0; i < a->ndirs; i++)
		if (strcmp(a->dirs[i], d) == 0)
			return 0;
	if ((n = realloc(a->dirs, (a->ndirs + 1) * sizeof(*a->dirs))) == NULL)
		return -1;
	a->dirs = n;
	memcpy(a->dirs[a->ndirs++], d, sizeof(d));
	return 0;
}

/* Collect one entry: its records (copies rewritten where missing) and
   events; a cancelled entry gives its retrievals only. */
static int apply_entry(struct apply *a, const struct jnl *j,
		       const struct jnl_entry *e, size_t len,
		       const char **error_r)
{
	const unsigned char *p = (const unsigned char *)(e + 1);
	const unsigned char *end = (const unsigned char *)e + len;
	const struct htg_retained *r = (const void *)p;
	const struct htg_audit_event *ev =
		(const void *)(p + e->nr * sizeof(*r));
	int cancelled = (e->flags & JNL_CANCELLED) != 0;

	p += e->nr * sizeof(*r) + e->nev * sizeof(*ev);
	if (apply_grow((void **)&a->r, &a->rcap, a->nr + e->nr,
		       sizeof(*r)) < 0 ||
	    apply_grow((void **)&a->ev, &a->evcap, a->nev + e->nev,
		       sizeof(*ev)) < 0 ||
	    apply_grow((void **)&a->ur, &a->urcap, a->nur + e->nr,
		       sizeof(*r)) < 0 ||
	    apply_grow((void **)&a->uev, &a->uevcap, a->nuev + e->nev,
		       sizeof(*ev)) < 0) {
		*error_r = "out of memory";
		return -1;
	}
	for (uint32_t i = 0; i < e->nr; i++) {
		uint64_t size;

		if (end - p < 8)
			return 0;	/* cannot happen: hashed */
		memcpy(&size, p, 8);
		p += 8;
		if ((uint64_t)(end - p) < size)
			return 0;
		if (cancelled) {
			/* an apply killed before it emptied the journal
			   may have written it: undone (if so) */
			a->ur[a->nur++] = r[i];
		} else {
			/* a copy that cannot be written again must not
			   block the journal: its record still goes in
			   (restore then reports the missing file) */
			if (copy_rewrite(j, r[i].path, p, size,
					 &a->warning) < 0)
				(void)0;
			if (apply_dir(a, r[i].path) < 0) {
				*error_r = "out of memory";
				return -1;
			}
			a->r[a->nr++] = r[i];
		}
		p += pad8(size);
	}
	for (uint32_t i = 0; i < e->nev; i++) {
		if (!cancelled || strcmp(ev[i].event, "dele") != 0)
			a->ev[a->nev++] = ev[i];
		else
			a->uev[a->nuev++] = ev[i];
	}
	return 0;
}

/* Apply a locked journal to the directory and empty it. */
static int jnl_apply(struct htg_dir *dir, struct jnl *j, const char **error_r)
{
	struct apply a;
	int ret = 0;

	if (j->head.count == 0)
		return 0;
	memset(&a, 0, sizeof(a));
	for (uint32_t i = 0; i < j->head.count && ret == 0; i++) {
		size_t len;
		struct jnl_entry *e = entry_read(j, i, &len);

		if (e == NULL)
			continue;	/* torn: its QUIT was never answered */
		ret = apply_entry(&a, j, e, len, error_r);
		free(e);
	}
	/* the copies' directory entries first, then the records */
	for (unsigned int i = 0; i < a.ndirs && ret == 0; i++) {
		if (sync_path(a.dirs[i], &a.warning) < 0)
			(void)0;	/* gone: nothing to sync */
	}
	if (ret == 0 && a.nr + a.nev > 0 &&
	    htg_dir_pickup_commit(dir, a.r, a.nr, a.ev, a.nev, error_r) <= 0)
		ret = -1;
	if (ret == 0 && a.nur + a.nuev > 0 &&
	    htg_dir_pickup_undo(dir, a.ur, a.nur, a.uev, a.nuev, error_r) < 0)
		ret = -1;
	if (ret == 0) {
		/* a new generation: what is left of these entries in the
		   file can never pass for a new one */
		j->head.count = 0;
		j->head.gen++;
		if (head_write(j, error_r) < 0)
			ret = -1;
		else if (fdatasync(j->fd) < 0) {
			*error_r = dirp_err("fdatasync %s: %s", j->path,
					    strerror(errno));
			ret = -1;
		}
	}
	free(a.r);
	free(a.ev);
	free(a.ur);
	free(a.uev);
	free(a.dirs);
	return ret < 0 ? -1 : (int)a.nr + (int)a.nev;
}

/* The entry: header, records, events, then each copy's bytes. */
static unsigned char *
entry_build(const struct htg_retained *r, unsigned int nr,
	    const struct htg_audit_event *ev, unsigned int nev,
	    size_t *len_r, const char **error_r)
{
	struct jnl_entry *e;
	unsigned char *buf, *p;
	uint64_t *sizes;
	size_t len = sizeof(*e) + nr * sizeof(*r) + nev * sizeof(*ev);
	struct stat st;
	int fd = -1;

	if ((sizes = calloc(nr + 1, sizeof(*sizes))) == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	for (unsigned int i = 0; i < nr; i++) {
		if (stat(r[i].path, &st) < 0) {
			*error_r = dirp_err("stat %s: %s", r[i].path,
					    strerror(errno));
			free(sizes);
			return NULL;
		}
		sizes[i] = (uint64_t)st.st_size;
		len += 8 + pad8(sizes[i]);
		if (len > HTG_JOURNAL_SIZE) {
			free(sizes);
			*error_r = NULL;	/* does not fit */
			return NULL;
		}
	}
	if ((buf = calloc(1, len)) == NULL) {
		free(sizes);
		*error_r = "out of memory";
		return NULL;
	}
	e = (struct jnl_entry *)buf;
	e->nr = nr;
	e->nev = nev;
	if (getrandom(&e->token, sizeof(e->token), 0) != sizeof(e->token))
		e->token = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	p = buf + sizeof(*e);
	memcpy(p, r, nr * sizeof(*r));
	p += nr * sizeof(*r);
	memcpy(p, ev, nev * sizeof(*ev));
	p += nev * sizeof(*ev);
	for (unsigned int i = 0; i < nr; i++) {
		memcpy(p, &sizes[i], 8);
		p += 8;
		if ((fd = open(r[i].path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    read_all(fd, p, (size_t)sizes[i], 0) < 0) {
			*error_r = dirp_err("read %s: %s", r[i].path,
					    errno == 0 ? "short read" :
					    strerror(errno));
			if (fd >= 0)
				close(fd);
			free(sizes);
			free(buf);
			return NULL;
		}
		close(fd);
		p += pad8(sizes[i]);
	}
	free(sizes);
	e->hash = jnl_hash(buf + 8, len - 8);
	*len_r = len;
	return buf;
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

	for (unsigned int i = 0; i < nr; i++) {
		if (htg_dir_retained_check(&r[i], error_r) <= 0)
			return -1;
	}
	errno = 0;
	if ((buf = entry_build(r, nr, ev, nev, &len, error_r)) == NULL)
		return *error_r == NULL ? 0 : -1;
	if (len > HTG_JOURNAL_SIZE - JNL_HEAD) {
		free(buf);
		return 0;
	}
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
	if (write_all(j.fd, buf, len, (off_t)start) < 0) {
		*error_r = dirp_err("write %s: %s", j.path, strerror(errno));
		ret = -1;
	} else {
		j.head.end[j.head.count++] = start + len;
		if (head_write(&j, error_r) < 0)
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

		(void)write_all(j.fd, &zero, sizeof(zero), (off_t)start);
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
		struct jnl_entry *e = entry_read(&j, i, &len);

		if (e == NULL || e->token != pos->token) {
			free(e);
			continue;
		}
		e->flags |= JNL_CANCELLED;
		e->hash = jnl_hash((unsigned char *)e + 8, len - 8);
		if (write_all(j.fd, e, sizeof(*e),
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

int htg_journal_checkpoint(struct htg_dir *dir, const char **error_r)
{
	int total = 0, failed = 0;

	/* a slot that fails (its error is reported) does not keep the
	   others from being applied */
	for (unsigned int slot = 0; slot < HTG_JOURNAL_SLOTS; slot++) {
		struct jnl j;
		int ret = jnl_open(dir, slot, 0, 1, &j, error_r);

		if (ret > 0) {
			ret = jnl_apply(dir, &j, error_r);
			jnl_close(&j);
		}
		if (ret < 0)
			failed = 1;
		else
			total += ret;
	}
	return failed ? -1 : total;
}
