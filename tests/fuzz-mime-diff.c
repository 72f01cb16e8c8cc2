/*++
/* NAME
/*	fuzz-mime-diff 1
/* SUMMARY
/*	libFuzzer target: the differential MIME test
/* DESCRIPTION
/*	Runs the input through lib/htg-check as htg-milter does, with
/*	the body in chunks whose size the first input byte picks (0: at
/*	once), and when the milter accepts it, parses the message as it
/*	leaves the milter with Dovecot's lib-mail parser and aborts when
/*	the part trees differ (tests/mime-diff-htg.c, md_compare()): any
/*	accepted message on which the milter and Dovecot disagree is a
/*	finding. A refused message is fine.
/*
/*	Built and run by tests/fuzz.sh (target "mime-diff"); see
/*	doc/fuzzing.md.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mime-diff.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	md_dovecot_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct md_result res;
	static struct md_tree dc;
	char why[400];
	size_t chunk;

	if (len < 1)
		return 0;
	chunk = (size_t)data[0] % 64;
	if (md_htg(data + 1, len - 1, chunk, &res) < 0) {
		fprintf(stderr, "mime-diff: %s\n", res.verdict);
		abort();
	}
	if (res.accepted) {
		md_dovecot((const unsigned char *)res.out, res.outlen, &dc);
		if (md_compare((const unsigned char *)res.out, res.outlen,
			       &res.ours, &dc, why, sizeof(why)) < 0) {
			fprintf(stderr, "mime-diff: DISAGREE %s\n", why);
			abort();
		}
	}
	md_result_free(&res);
	return 0;
}
