/*++
/* NAME
/*	check-message 1
/* SUMMARY
/*	run the HTG message rules over message files
/* SYNOPSIS
/*	check-message [-r rcpt] [-d header_domain] [-c chunk] [-v] file ...
/* DESCRIPTION
/*	Feeds each file to lib/htg-check as the milter would (header field
/*	by field, body in chunks of -c bytes, default 4096) and prints one
/*	line: "<file> accept" or "<file> <RULE-ID>: <detail>". For an
/*	accepted message it also proves HTG-FILENAME: no original file name
/*	(3 bytes or more) may survive in the header edits or the rewritten
/*	body; a leak prints "<file> LEAK <name>" and exits 1.
/*
/*	-v prints the header edits and the rewritten body too.
/*
/*	Used by tests/test-corpus.sh and by hand; the milter itself never
/*	holds a whole message.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-check.h"
#include "htg-test.h"

struct out {
	char *data;
	size_t len, size;
};

static int collect(void *ctx, const void *data, size_t len)
{
	struct out *o = ctx;

	if (o->len + len + 1 > o->size) {
		size_t size = (o->len + len + 1) * 2;
		char *d = realloc(o->data, size);

		if (d == NULL)
			return -1;
		o->data = d;
		o->size = size;
	}
	memcpy(o->data + o->len, data, len);
	o->len += len;
	o->data[o->len] = '\0';
	return 0;
}

static int contains(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || n > hlen)
		return 0;
	for (size_t i = 0; i + n <= hlen; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/* Blank out the new names, so an original that happens to be the tail
   of a "<UUID>.<ext>" (say "c.pdf") is not taken for a leak. */
static void blank_renamed(char *hay, size_t hlen, const struct htg_rename *r,
			  unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		size_t len = strlen(r[i].renamed);

		for (size_t j = 0; len > 0 && j + len <= hlen; j++)
			if (memcmp(hay + j, r[i].renamed, len) == 0)
				memset(hay + j, '#', len);
	}
}

static int check_file(const char *path, const struct htg_check_conf *conf,
		      const char *rcpt, size_t chunk, int verbose)
{
	struct out o = { NULL, 0, 0 }, edits = { NULL, 0, 0 };
	const struct htg_verdict *v;
	const struct htg_hdr_edit *e;
	const struct htg_rename *r;
	struct htg_check *c;
	unsigned int n, total;
	size_t len;
	char *msg = test_slurp(path, &len);
	int leak = 0;

	if (msg == NULL) {
		printf("%s ERROR cannot read\n", path);
		return 2;
	}
	c = htg_check_new(conf, collect, &o);
	if (c == NULL)
		exit(2);
	htg_check_set_rcpt(c, rcpt);
	htg_check_message(c, msg, len, chunk);
	v = htg_check_verdict(c);
	if (v->refused) {
		printf("%s %s: %s\n", path, v->rule == HTG_RULE_COUNT ? "INTERNAL" :
		       htg_rule_get(v->rule)->name, v->detail);
	} else {
		e = htg_check_edits(c, &n);
		for (unsigned int i = 0; i < n; i++) {
			char line[400];
			int l = snprintf(line, sizeof(line), "%s %s[%u]: %s\n",
					 e[i].op == HTG_HDR_CHANGE ? "change" :
					 e[i].op == HTG_HDR_ADD ? "add" : "delete",
					 e[i].name, e[i].index, e[i].value);
			collect(&edits, line, (size_t)l);
		}
		r = htg_check_renames(c, &n, &total);
		if (o.data != NULL)
			blank_renamed(o.data, o.len, r, n);
		if (edits.data != NULL)
			blank_renamed(edits.data, edits.len, r, n);
		for (unsigned int i = 0; i < n; i++) {
			/* the logged form escapes bytes; plain names compare */
			if (strlen(r[i].original) < 3 || strchr(r[i].original, '\\'))
				continue;
			if ((o.data && contains(o.data, o.len, r[i].original)) ||
			    (edits.data && contains(edits.data, edits.len,
						    r[i].original))) {
				printf("%s LEAK %s\n", path, r[i].original);
				leak = 1;
			}
		}
		printf("%s accept renames=%u body=%s\n", path, total,
		       htg_check_body_rewritten(c) ? "rewritten" : "kept");
		if (verbose) {
			printf("(new names blanked with '#')\n%s",
			       edits.data != NULL ? edits.data : "");
			for (unsigned int i = 0; i < n; i++)
				printf("rename \"%s\" -> %s\n", r[i].original,
				       r[i].renamed);
			if (o.data != NULL)
				fwrite(o.data, 1, o.len, stdout);
		}
	}
	htg_check_free(&c);
	free(o.data);
	free(edits.data);
	free(msg);
	return leak;
}

int main(int argc, char **argv)
{
	struct htg_check_conf conf = { .header_domain = "htpoort.nl", .msgid_domain = "htpoort.nl", .max_depth = 8, .max_parts = 200 };
	const char *rcpt = "dms@msa-smtp.htpoort.nl";
	size_t chunk = 4096;
	int ch, verbose = 0, ret = 0;

	while ((ch = getopt(argc, argv, "r:d:c:v")) != -1) {
		switch (ch) {
		case 'r': rcpt = optarg; break;
		case 'd': conf.header_domain = optarg; break;
		case 'c': chunk = (size_t)strtoul(optarg, NULL, 10); break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: check-message [-r rcpt] "
				"[-d header_domain] [-c chunk] [-v] file...\n");
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		if (check_file(argv[i], &conf, rcpt, chunk, verbose) != 0)
			ret = 1;
	return ret;
}
