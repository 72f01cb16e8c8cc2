/*++
/* NAME
/*	fuzz-check 1
/* SUMMARY
/*	libFuzzer target: the MIME engine and the message rules
/* DESCRIPTION
/*	Runs lib/htg-check over the input as the milter would (header fields,
/*	end of header, body chunks), once with the body at once and once in
/*	chunks whose size the first input byte picks, and aborts when the two
/*	verdicts differ: streaming must never change a decision. The
/*	sanitizers (address, undefined) catch memory errors.
/*
/*	Built and run by tests/fuzz.sh; see doc/fuzzing.md.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htg-check.h"

static int sink(void *ctx, const void *data, size_t len)
{
	size_t *total = ctx;

	(void)data;
	*total += len;
	return 0;
}

static void run(const uint8_t *data, size_t len, size_t chunk,
		struct htg_verdict *v, size_t *out)
{
	struct htg_check_conf conf = { .header_domain = "htpoort.nl", .msgid_domain = "htpoort.nl", .max_depth = 8, .max_parts = 200 };
	struct htg_check *c = htg_check_new(&conf, sink, out);

	if (c == NULL)
		abort();
	htg_check_set_rcpt(c, "dms@msa-smtp.htpoort.nl");
	htg_check_message(c, data, len, chunk);
	*v = *htg_check_verdict(c);
	htg_check_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct htg_verdict whole, split;
	size_t out_whole = 0, out_split = 0, chunk;

	if (len < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	run(data + 1, len - 1, 0, &whole, &out_whole);
	run(data + 1, len - 1, chunk, &split, &out_split);
	if (whole.refused != split.refused ||
	    (whole.refused && whole.rule != split.rule) ||
	    (!whole.refused && out_whole != out_split))
		abort();
	return 0;
}
