#ifndef MIME_DIFF_H
#define MIME_DIFF_H

/*++
/* NAME
/*	mime-diff 3h
/* SUMMARY
/*	differential MIME test: the milter's part tree against Dovecot's
/* SYNOPSIS
/*	#include "mime-diff.h"
/* DESCRIPTION
/*	Plain C only: mime-diff-htg.c is built against our headers,
/*	mime-diff-dc.c against Dovecot's (its own config.h), and the two
/*	never meet in one translation unit.
/*
/*	md_htg() runs a message through lib/htg-check as the milter does
/*	(Postfix's header split, field by field, the body in chunks) and,
/*	when it is accepted, builds the message as it leaves the milter
/*	(header edits applied, body rewritten) and the part tree the
/*	milter saw, in offsets of that output.
/*
/*	md_dovecot() parses a message with Dovecot's lib-mail
/*	message-parser and message_part_data_parse_from_header() (what
/*	IMAP BODYSTRUCTURE uses) into the same kind of tree.
/*
/*	md_compare() says where two trees disagree.
/*--*/

#include <stddef.h>

#define MD_NODES_MAX	256	/* the milter takes at most 200 parts */

struct md_node {
	unsigned int depth;		/* 0 = the message itself */
	size_t hdr_off;			/* where its header block begins */
	size_t body_off;		/* where its body begins */
	size_t end_off;			/* where the body ends (see md_compare) */
	int multipart;
	char ctype[80];			/* "type/subtype", as read */
	char cte[40];			/* "" when none */
	char disp[40];			/* "" when none */
	char filename[100];		/* Content-Disposition filename, "" none */
	char name[100];			/* Content-Type name, "" none */
	unsigned int n_ctype, n_cdisp, n_cte;	/* fields of each name */
};

struct md_tree {
	struct md_node node[MD_NODES_MAX];
	unsigned int count;
	int overflow;			/* more parts than MD_NODES_MAX */
};

struct md_result {
	int accepted;			/* the milter accepted the message */
	char verdict[300];		/* "accept" or "RULE: detail" */
	char *out;			/* the message as it leaves the milter */
	size_t outlen;
	struct md_tree ours;
};

/* 0 done (see res->accepted), -1 internal error (why in res->verdict).
   chunk: body chunk size, 0 = at once. md_result_free() after. */
int md_htg(const unsigned char *msg, size_t len, size_t chunk,
	   struct md_result *res);
void md_result_free(struct md_result *res);

void md_dovecot_init(void);
void md_dovecot_deinit(void);
void md_dovecot(const unsigned char *msg, size_t len, struct md_tree *tree);

/* 0 the trees agree, -1 they do not (why says where) */
int md_compare(const unsigned char *msg, size_t len,
	       const struct md_tree *ours, const struct md_tree *dc,
	       char *why, size_t size);

#endif
