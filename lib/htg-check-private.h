#ifndef HTG_CHECK_PRIVATE_H
#define HTG_CHECK_PRIVATE_H

/*++
/* NAME
/*	htg-check-private 3h
/* SUMMARY
/*	internals shared by htg-check.c and htg-check-part.c
/*--*/

#include "htg-check.h"
#include "htg-codec.h"
#include "htg-mime.h"

#define CHECK_EDITS_MAX 16

struct check_top {
	unsigned int from_count, to_count, msgid_count;
	unsigned int ctype_count, cte_count, cdisp_count;
	unsigned int cdesc_count, cloc_count, mimever_count;
	/* whole unfolded values (NULL until seen), each at most
	   header_field_max bytes: the rules never read a truncated copy */
	char *from, *to, *msgid;
	char *ctype, *cte, *cdisp;
};

enum check_cte { CTE_7BIT, CTE_BASE64, CTE_QP };

/* the leaf part being read */
struct check_part {
	enum check_cte cte;
	int validate_charset;
	struct htg_b64 b64;
	struct htg_qp qp;
	struct htg_charset_check cs;
	char new_ctype[256];	/* Content-Type value it leaves with */
	char new_cdisp[128];	/* Content-Disposition value */
	char new_cte[32];	/* "" when it had none */
};

struct htg_check {
	struct htg_check_conf conf;
	htg_check_output_fn *output;
	void *output_ctx;
	struct htg_mime *mime;
	char rcpt[256];
	char account[256];
	struct check_top top;
	int eoh;
	int multipart;
	struct check_part part;
	char msgid[1000];
	struct htg_verdict verdict;
	struct htg_hdr_edit edits[CHECK_EDITS_MAX];
	unsigned int nedits;
	struct htg_rename renames[HTG_RENAMES_MAX];
	unsigned int nrenames;
	/* report mode (htg_check_set_report): the rules that may go on */
	htg_check_report_fn *report;
	void *report_ctx;
};

extern const struct htg_mime_callbacks check_mime_callbacks;

int check_refuse(struct htg_check *c, enum htg_rule_id rule,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int check_edit(struct htg_check *c, enum htg_hdr_op op, const char *name,
	       unsigned int index, const char *value);
void check_default_ctype(struct htg_params *ct);
int check_multipart_rules(struct htg_check *c, const struct htg_params *ct,
			  const char *cte);
int check_part_begin(struct htg_check *c, const struct htg_params *ct,
		     const char *ctype_raw, const char *cte,
		     const char *cdisp);

#endif
