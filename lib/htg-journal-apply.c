/*++
/* NAME
/*	htg-journal-apply 3
/* SUMMARY
/*	applying the pickup journal to the directory
/* DESCRIPTION
/*	See htg-journal.h and htg-journal.c: one LMDB commit for all the
/*	entries of a journal, copies written again where their hard link
/*	did not survive, then the journal emptied into a new generation.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-dir-private.h"
#include "htg-journal-private.h"

/* Write a kept copy again (its hard link did not survive a crash, or
   the file is short): a temporary file, synced, renamed over it. Only
   into a directory owned by the journal's owner (htgctl applies as root
   what the mail user wrote), never through a symbolic link, and owned
   like that directory. */
static int copy_rewrite(const struct jnl *j, const char *path,
			const unsigned char *data, uint64_t size,
			const char **error_r)
{
	char dirpath[HTG_PATH_MAX], *slash;
	const char *name;
	struct stat st;
	int dfd, fd;

	snprintf(dirpath, sizeof(dirpath), "%s", path);
	if ((slash = strrchr(dirpath, '/')) == NULL)
		return 0;
	*slash = '\0';
	name = path + (slash - dirpath) + 1;
	/* the directory, then everything relative to the fd that was
	   checked: no window between a check and an open by path */
	if ((dfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC)) < 0 || fstat(dfd, &st) < 0 ||
	    st.st_uid != j->owner) {
		*error_r = dirp_err("rewrite %s: directory missing, a symbolic "
				    "link or not the mail user's", path);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			 O_CLOEXEC)) >= 0) {
		struct stat fst;
		int there = fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode) &&
		    (uint64_t)fst.st_size == size;

		close(fd);
		if (there) {
			close(dfd);
			return 0;	/* the copy is there */
		}
	}
	{
		char tmp[HTG_PATH_MAX + 8];

		snprintf(tmp, sizeof(tmp), "%s.tmp", name);
		(void)unlinkat(dfd, tmp, 0);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || jnl_write_all(fd, data, (size_t)size, 0) < 0 ||
		    (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) ||
		    fchmod(fd, 0600) < 0 || fdatasync(fd) < 0 ||
		    renameat(dfd, tmp, dfd, name) < 0) {
			*error_r = dirp_err("rewrite %s: %s", path,
					    strerror(errno));
			if (fd >= 0) {
				close(fd);
				(void)unlinkat(dfd, tmp, 0);
			}
			close(dfd);
			return -1;
		}
	}
	close(fd);
	close(dfd);
	return 0;
}

struct apply {
	struct htg_retained *r, *ur;	/* ur: of cancelled entries */
	struct htg_audit_event *ev, *uev;
	unsigned int nr, nev, rcap, evcap, nur, nuev, urcap, uevcap;
	unsigned int nwarn;		/* copies not rewritten, dirs not synced */
	char warning[512];		/* the first of them: the cause */
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

static void apply_warn(struct apply *a, const char *why)
{
	if (a->nwarn++ == 0)
		snprintf(a->warning, sizeof(a->warning), "%s", why);
}

/* What an apply could not do goes to the caller's warning function
   (htg_dir_set_warning: htgctl's stderr, the log of the Dovecot process
   that applied, the daemons' log). Nothing else stops: the journal must
   not block. */
static void apply_report(const struct jnl *j, const struct apply *a,
			 unsigned int skipped)
{
	if (skipped > 0)
		dirp_warning("pickup journal %s: %u entries failed their check "
			     "and were skipped (a crash can tear only the "
			     "last one)", j->path, skipped);
	if (a->nwarn > 0)
		dirp_warning("pickup journal %s: %u problems, the first: %s",
			     j->path, a->nwarn, a->warning);
}

/* The next part of an entry: key k, value v, then data of part.size
   bytes. NULL if it runs past end (a format error: entries are hashed,
   but a hash is no proof against a writer who means harm). Each size
   is checked against what is left before it is padded: pad8() of a
   size near 2^64 wraps to 0 and would pass. */
const unsigned char *
jnl_part_next(const unsigned char *p, const unsigned char *end, MDB_val *k,
	  MDB_val *v, const unsigned char **data_r, uint64_t *size_r)
{
	struct jnl_part part;

	if ((size_t)(end - p) < sizeof(part))
		return NULL;
	memcpy(&part, p, sizeof(part));
	p += sizeof(part);
	if ((uint64_t)part.klen + part.vlen > (uint64_t)(end - p) ||
	    (uint64_t)(end - p) < pad8((uint64_t)part.klen + part.vlen))
		return NULL;
	k->mv_size = part.klen;
	k->mv_data = (void *)p;
	v->mv_size = part.vlen;
	v->mv_data = (void *)(p + part.klen);
	p += pad8((uint64_t)part.klen + part.vlen);
	if (part.size > (uint64_t)(end - p) ||
	    (uint64_t)(end - p) < pad8(part.size))
		return NULL;
	*data_r = p;
	*size_r = part.size;
	return p + pad8(part.size);
}

/* Collect one entry: its records (copies rewritten where missing) and
   events; a cancelled entry gives its retrievals, and its records and
   dele events to undo. First a pass that only checks the format. */
static int apply_entry(struct apply *a, const struct jnl *j,
		       const struct jnl_entry *e, size_t len,
		       const char **error_r)
{
	const unsigned char *end = (const unsigned char *)e + len;
	int cancelled = (e->flags & JNL_CANCELLED) != 0;

	if (apply_grow((void **)&a->r, &a->rcap, a->nr + e->nr,
		       sizeof(*a->r)) < 0 ||
	    apply_grow((void **)&a->ev, &a->evcap, a->nev + e->nev,
		       sizeof(*a->ev)) < 0 ||
	    apply_grow((void **)&a->ur, &a->urcap, a->nur + e->nr,
		       sizeof(*a->ur)) < 0 ||
	    apply_grow((void **)&a->uev, &a->uevcap, a->nuev + e->nev,
		       sizeof(*a->uev)) < 0) {
		*error_r = "out of memory";
		return -1;
	}
	for (int pass = 0; pass < 2; pass++) {
		const unsigned char *p = (const unsigned char *)(e + 1);

		for (uint32_t i = 0; i < e->nr + e->nev; i++) {
			struct htg_retained r;
			struct htg_audit_event ev;
			const unsigned char *data;
			uint64_t size;
			MDB_val k, v;

			if ((p = jnl_part_next(p, end, &k, &v, &data,
					   &size)) == NULL ||
			    (i < e->nr ? dirp_retained_decode(&k, &v, &r) :
			     dirp_audit_decode(&k, &v, &ev)) < 0)
				return 0;	/* not ours: skipped */
			if (pass == 0)
				continue;
			if (i >= e->nr) {
				if (!cancelled || strcmp(ev.event, "dele") != 0)
					a->ev[a->nev++] = ev;
				else
					a->uev[a->nuev++] = ev;
			} else if (cancelled) {
				/* an apply killed before it emptied the
				   journal may have written it: undone */
				a->ur[a->nur++] = r;
			} else {
				/* a copy that cannot be written again
				   must not block the journal: its record
				   still goes in (restore then reports
				   the missing file) */
				const char *why;

				if (copy_rewrite(j, r.path, data, size,
						 &why) < 0)
					apply_warn(a, why);
				if (apply_dir(a, r.path) < 0) {
					*error_r = "out of memory";
					return -1;
				}
				a->r[a->nr++] = r;
			}
		}
	}
	return 0;
}

/* Apply a locked journal to the directory and empty it. */
int jnl_apply(struct htg_dir *dir, struct jnl *j, const char **error_r)
{
	struct apply a;
	unsigned int skipped = 0;
	int ret = 0;

	if (j->head.count == 0)
		return 0;
	memset(&a, 0, sizeof(a));
	for (uint32_t i = 0; i < j->head.count && ret == 0; i++) {
		size_t len;
		struct jnl_entry *e = jnl_entry_read(j, i, &len);

		if (e == NULL) {
			/* torn: its QUIT was never answered */
			if (i + 1 < j->head.count)
				skipped++;
			continue;
		}
		ret = apply_entry(&a, j, e, len, error_r);
		free(e);
	}
	/* the copies' directory entries first, then the records */
	for (unsigned int i = 0; i < a.ndirs && ret == 0; i++) {
		const char *why;

		if (jnl_sync_path(a.dirs[i], &why) < 0)
			apply_warn(&a, why);	/* gone: nothing to sync */
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
		if (jnl_head_write(j, error_r) < 0)
			ret = -1;
		else if (fdatasync(j->fd) < 0) {
			*error_r = dirp_err("fdatasync %s: %s", j->path,
					    strerror(errno));
			ret = -1;
		}
	}
	if (ret == 0)
		apply_report(j, &a, skipped);
	free(a.r);
	free(a.ev);
	free(a.ur);
	free(a.uev);
	free(a.dirs);
	return ret < 0 ? -1 : (int)a.nr + (int)a.nev;
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
