#ifndef HTG_CHECK_H
#define HTG_CHECK_H

/*++
/* NAME
/*	htg-check 3h
/* SUMMARY
/*	the HTG message rules over one message, streaming
/* SYNOPSIS
/*	#include "htg-check.h"
/* DESCRIPTION
/*	A checker follows one message as a milter sees it: top-level
/*	header fields one by one, the end of the header, body chunks, the
/*	end of the message. It decides the message rules of DESIGN.md 2
/*	(HTG-HDR-FROM, HTG-HDR-TO, HTG-HDR-CC, HTG-MSGID syntax, HTG-CT,
/*	HTG-CHARSET, HTG-CTE, HTG-MIME) as early as it can, stops at the
/*	first refusal, and collects what the message must leave with:
/*	header edits (Content-Type, Content-Disposition, a Message-ID when
/*	missing) and, for a multipart message, the rewritten body, written
/*	through the output callback as it streams by (HTG-FILENAME).
/*
/*	Memory is bounded by the MIME parser's limits whatever the size of
/*	the message; the top-level fields the rules read at the end of the
/*	header (From, To, Message-ID, Content-Type, -Transfer-Encoding,
/*	-Disposition) are kept whole, each under header_field_max bytes (a
/*	longer field refuses the message: nothing is decided on a cut copy).
/*
/*	HTG-HDR-FROM asks conf->from_owner who owns the From address and
/*	compares it with the account set by htg_check_set_account().
/*
/*	The envelope rules are pure functions of the ESMTP arguments:
/*	htg_rule_envid() and htg_rule_rcpt_one().
/*--*/

#include <stddef.h>

#include "htg-rules.h"

#define HTG_RENAMES_MAX 64	/* logged renames per message (all are done) */

/* The account (user name) that owns address, written into user_r: 1
   found, 0 no owner, -1 error (the message is then tempfailed). */
typedef int htg_check_owner_fn(void *ctx, const char *address,
			       char *user_r, size_t size);

struct htg_check_conf {
	const char *header_domain;	/* "htpoort.nl" (To: <flow>@...) */
	const char *msgid_domain;	/* right side of inserted Message-IDs */
	unsigned int max_depth;		/* multipart nesting, default 8 */
	unsigned int max_parts;		/* body parts, default 200 */
	/* NULL: 004 table 5's six leaf types; else a comma/space list */
	const char *allowed_types;
	/* more charsets accepted by name, without byte validation (Windows
	   code pages stay refused: 004 table 5) */
	const char *extra_charsets;
	/* a header field (name, colon, space and value, folds included)
	   of this many bytes or more refuses the message (HTG-MIME), it is
	   never truncated (Postfix cuts a longer field, so one that
	   reaches the limit may have been cut). 0: HTG_HEADER_FIELD_MAX. */
	size_t header_field_max;
	/* HTG-HDR-FROM, the From address owned by the authenticated
	   account: who owns an address (the directory). NULL: not checked
	   (htg-milter's from_owner_check = no; check-message, the corpus) */
	htg_check_owner_fn *from_owner;
	void *from_owner_ctx;
};

/* The most of one header field Postfix keeps when milters are used: its
   cleanup lowers header_size_limit (102400) to 60000 then, "so that we
   don't exceed the default Sendmail libmilter request size limit"
   (cleanup_message.c, KLUDGE_HEADER_LIMIT), and cuts a field once it
   has reached that size. */
#define HTG_HEADER_FIELD_MAX 60000

enum htg_hdr_op { HTG_HDR_CHANGE, HTG_HDR_ADD, HTG_HDR_DELETE };

struct htg_hdr_edit {
	enum htg_hdr_op op;
	char name[32];
	unsigned int index;	/* 1-based among fields of that name */
	char value[256];
};

struct htg_rename {
	char original[200];	/* printable ASCII, other bytes as \xNN */
	char renamed[64];	/* <UUID>.<ext> */
};

struct htg_verdict {
	int refused;
	enum htg_rule_id rule;
	char detail[240];
};

struct htg_check;

typedef int htg_check_output_fn(void *ctx, const void *data, size_t len);

struct htg_check *htg_check_new(const struct htg_check_conf *conf,
				htg_check_output_fn *output, void *ctx);
void htg_check_free(struct htg_check **chk);

/* the envelope recipient (for HTG-HDR-TO: same flow); 0, or -1 when
   it is longer than an RFC 5321 path (the caller refuses it) */
int htg_check_set_rcpt(struct htg_check *chk, const char *rcpt);
/* the authenticated account (for HTG-HDR-FROM: From owned by it); 0,
   or -1 when longer than any account name */
int htg_check_set_account(struct htg_check *chk, const char *account);

/* Report mode (a per-account or global setting of the caller): a refusal
   by a rule about the top-level header's shape (HTG-HDR-CC, HTG-HDR-FROM,
   HTG-HDR-TO) is handed to fn instead and the check goes on as if the
   rule had passed, so that the message still leaves renamed and with a
   Message-ID. Any other refusal stops the check as always (the caller
   then passes the message as it came). */
typedef void htg_check_report_fn(void *ctx, enum htg_rule_id rule,
				 const char *detail);
void htg_check_set_report(struct htg_check *chk, htg_check_report_fn *fn,
			  void *ctx);

/* Each returns 0 to go on, -1 once the message is refused (see verdict)
   or an internal error happened (verdict rule HTG_RULE_COUNT). */
int htg_check_header(struct htg_check *chk, const char *name,
		     const char *value);
int htg_check_eoh(struct htg_check *chk);
int htg_check_body(struct htg_check *chk, const void *data, size_t len);
int htg_check_eom(struct htg_check *chk);

const struct htg_verdict *htg_check_verdict(const struct htg_check *chk);
/* after eom: edits to apply, body replaced or not, renames to log */
const struct htg_hdr_edit *htg_check_edits(const struct htg_check *chk,
					   unsigned int *count_r);
int htg_check_body_rewritten(const struct htg_check *chk);
const struct htg_rename *htg_check_renames(const struct htg_check *chk,
					   unsigned int *count_r,
					   unsigned int *total_r);
/* the message's Message-ID (as given, or the one inserted) */
const char *htg_check_msgid(const struct htg_check *chk);

/* A whole message in memory, fed as a milter would (tests, fuzzer,
   benchmarks); chunk 0 = the body at once. 0 passed, -1 stopped. */
int htg_check_message(struct htg_check *chk, const void *data, size_t len,
		      size_t chunk);

/* HTG-ENVID (004 table 3): 1 when a RCPT asks NOTIFY=SUCCESS but MAIL
   had no ENVID. argv as libmilter passes them (address first). */
int htg_rule_envid(int mail_has_envid, char *const *rcpt_argv);
int htg_mail_has_envid(char *const *mail_argv);
/* HTG-RCPT-ONE (004 table 3): 1 when another recipient must be refused */
int htg_rule_rcpt_one(unsigned int accepted_so_far);

#endif
