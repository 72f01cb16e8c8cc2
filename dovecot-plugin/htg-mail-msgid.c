/*++
/* NAME
/*	htg-mail-msgid 3
/* SUMMARY
/*	a message's Message-ID, read from the message itself
/* DESCRIPTION
/*	See htg-mail-msgid.h.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "istream.h"
#include "message-header-parser.h"
#include "mail-storage.h"

#include "htg-mail-msgid.h"

#include <string.h>

/* Copy the header value to dst (at most size-1 bytes): line breaks of a
   folded value dropped, blanks around it trimmed. */
static void
htg_msgid_copy(char *dst, size_t size, const unsigned char *v, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		if (n == 0 && (v[i] == ' ' || v[i] == '\t'))
			continue;
		dst[n++] = (char)v[i];
	}
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\t'))
		n--;
	dst[n] = '\0';
}

static void
htg_msgid_parse(struct istream *input, char *dst, size_t size)
{
	struct message_header_parser_ctx *ctx;
	struct message_header_line *hdr;
	bool want = FALSE;

	ctx = message_parse_header_init(input, NULL,
		MESSAGE_HEADER_PARSER_FLAG_CLEAN_ONELINE);
	while (message_parse_header_next(ctx, &hdr) > 0) {
		if (hdr->eoh)
			break;
		if (!hdr->continued)
			want = strcasecmp(hdr->name, "Message-ID") == 0;
		if (!want)
			continue;
		if (hdr->continues) {
			hdr->use_full_value = TRUE;
			continue;
		}
		htg_msgid_copy(dst, size, hdr->full_value, hdr->full_value_len);
		break;
	}
	message_parse_header_deinit(&ctx);
}

void htg_mail_message_id(struct mail *mail, struct istream *input,
			 char *dst, size_t size)
{
	uoff_t offset;

	i_assert(size > 0);
	dst[0] = '\0';
	/* not "RETR"/"TOP": our own reads are no retrievals */
	if (input == NULL &&
	    mail_get_stream_because(mail, NULL, NULL, "htg-message-id",
				    &input) < 0)
		return;
	offset = input->v_offset;
	i_stream_seek(input, 0);
	htg_msgid_parse(input, dst, size);
	i_stream_seek(input, offset);
}
