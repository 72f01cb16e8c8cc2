/*++
/* NAME
/*	mime-diff 1
/* SUMMARY
/*	differential MIME test: the milter's part tree against Dovecot's
/* SYNOPSIS
/*	mime-diff [-c chunk] [-v] file ...
/* DESCRIPTION
/*	Runs each message through lib/htg-check as htg-milter does (see
/*	mime-diff-htg.c), and for every message the milter accepts parses
/*	the message as it leaves the milter with Dovecot's own lib-mail
/*	parser, then compares the two part trees: where each part's header
/*	and body begin and end, multipart or not, its Content-Type,
/*	Content-Transfer-Encoding, Content-Disposition, filename and name,
/*	and how many Content-* fields of each kind it has. Prints one line
/*	a file:
/* .nf
/*	<file> refused <RULE-ID>: <detail>
/*	<file> agree parts=<N>
/*	<file> DISAGREE <where>
/* .fi
/*	and exits 1 when any accepted message disagrees (a refused message
/*	is fine: we may refuse what Dovecot would take). -c sets the body
/*	chunk size (default 4096), -v prints both trees and the output.
/*
/*	tests/test-mime-diff.sh runs it over tests/corpus in make check;
/*	tests/fuzz-mime-diff.c is the libFuzzer target of the same check.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime-diff.h"
#include "htg-test.h"

static void print_tree(const char *who, const struct md_tree *t)
{
	for (unsigned int i = 0; i < t->count; i++) {
		const struct md_node *n = &t->node[i];

		printf("  %s %u: depth %u header %zu body %zu end %zu %s%s "
		       "cte=%s disp=%s filename=%s name=%s fields=%u/%u/%u\n",
		       who, i, n->depth, n->hdr_off, n->body_off, n->end_off,
		       n->ctype, n->multipart ? " (multipart)" : "", n->cte,
		       n->disp, n->filename, n->name, n->n_ctype, n->n_cdisp,
		       n->n_cte);
	}
}

int main(int argc, char **argv)
{
	static struct md_result res;
	static struct md_tree dc;
	size_t chunk = 4096;
	int ch, verbose = 0, ret = 0;

	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c': chunk = (size_t)strtoul(optarg, NULL, 10); break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: mime-diff [-c chunk] [-v] file...\n");
			return 2;
		}
	}
	md_dovecot_init();
	for (int i = optind; i < argc; i++) {
		size_t len;
		unsigned char *msg = (unsigned char *)test_slurp(argv[i], &len);
		char why[400];

		if (msg == NULL) {
			printf("%s ERROR cannot read\n", argv[i]);
			ret = 2;
			continue;
		}
		if (md_htg(msg, len, chunk, &res) < 0) {
			printf("%s ERROR %s\n", argv[i], res.verdict);
			ret = 2;
		} else if (!res.accepted) {
			printf("%s refused %s\n", argv[i], res.verdict);
		} else {
			md_dovecot((const unsigned char *)res.out, res.outlen, &dc);
			if (md_compare((const unsigned char *)res.out, res.outlen,
				       &res.ours, &dc, why, sizeof(why)) < 0) {
				printf("%s DISAGREE %s\n", argv[i], why);
				if (ret == 0)
					ret = 1;
			} else {
				printf("%s agree parts=%u\n", argv[i], dc.count);
			}
			if (verbose) {
				print_tree("milter ", &res.ours);
				print_tree("Dovecot", &dc);
				fwrite(res.out, 1, res.outlen, stdout);
			}
		}
		md_result_free(&res);
		free(msg);
	}
	md_dovecot_deinit();
	return ret;
}
