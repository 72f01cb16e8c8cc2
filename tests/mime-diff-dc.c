/*++
/* NAME
/*	mime-diff-dc 3
/* SUMMARY
/*	differential MIME test: Dovecot's side
/* SYNOPSIS
/*	#include "mime-diff.h"
/* DESCRIPTION
/*	md_dovecot() parses a message with libdovecot's lib-mail, the
/*	parser of the Dovecot that hands the message to the government
/*	side: message_parser_parse_next_block() builds the message_part
/*	tree (offsets of each part's header and body, multipart or not),
/*	message_part_data_parse_from_header() reads each part's Content-*
/*	fields as IMAP BODYSTRUCTURE does (the first Content-Type and
/*	Content-Disposition win, RFC 2231 parameters joined and decoded),
/*	and every field is counted by its name as Dovecot's header parser
/*	reads it.
/*
/*	Built with Dovecot's headers and its config.h only (see
/*	tests/Makefile.am), linked with /usr/lib/dovecot/libdovecot.so.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "lib.h"
#include "istream.h"
#include "message-parser.h"
#include "message-part-data.h"

#include <ctype.h>
#include <stdio.h>

#include "mime-diff.h"

struct counts {
	const struct message_part *part;
	unsigned int n_ctype, n_cdisp, n_cte;
};

struct dc_state {
	struct counts c[MD_NODES_MAX];
	unsigned int n;
	int overflow;
};

static struct counts *counts_of(struct dc_state *s,
				const struct message_part *part)
{
	for (unsigned int i = s->n; i-- > 0;)
		if (s->c[i].part == part)
			return &s->c[i];
	if (s->n >= MD_NODES_MAX) {
		s->overflow = 1;
		return NULL;
	}
	s->c[s->n].part = part;
	s->c[s->n].n_ctype = s->c[s->n].n_cdisp = s->c[s->n].n_cte = 0;
	return &s->c[s->n++];
}

static void lower_copy(char *dst, size_t size, const char *a, const char *b)
{
	size_t i = 0;

	if (a != NULL) {
		for (; *a != '\0' && i + 1 < size; a++)
			dst[i++] = (char)i_tolower(*a);
		if (b != NULL && i + 1 < size)
			dst[i++] = '/';
		for (; b != NULL && *b != '\0' && i + 1 < size; b++)
			dst[i++] = (char)i_tolower(*b);
	}
	dst[i] = '\0';
}

static const char *param(const struct message_part_param *p, unsigned int n,
			 const char *name)
{
	for (unsigned int i = 0; i < n; i++)
		if (strcasecmp(p[i].name, name) == 0)
			return p[i].value;
	return "";
}

static void add_nodes(struct md_tree *tree, struct dc_state *s,
		      const struct message_part *part, unsigned int depth)
{
	for (; part != NULL; part = part->next) {
		const struct message_part_data *d = part->data;
		struct md_node *n;
		struct counts *c = NULL;

		if (tree->count >= MD_NODES_MAX) {
			tree->overflow = 1;
			return;
		}
		n = &tree->node[tree->count++];
		i_zero(n);
		n->depth = depth;
		n->hdr_off = part->physical_pos;
		n->body_off = part->physical_pos + part->header_size.physical_size;
		n->end_off = n->body_off + part->body_size.physical_size;
		n->multipart = (part->flags & MESSAGE_PART_FLAG_MULTIPART) != 0;
		if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
			n->multipart = 2;	/* an encapsulated message */
		if (d != NULL) {
			lower_copy(n->ctype, sizeof(n->ctype), d->content_type,
				   d->content_subtype);
			lower_copy(n->cte, sizeof(n->cte),
				   d->content_transfer_encoding, NULL);
			lower_copy(n->disp, sizeof(n->disp),
				   d->content_disposition, NULL);
			i_strocpy(n->filename,
				  param(d->content_disposition_params,
					d->content_disposition_params_count,
					"filename"), sizeof(n->filename));
			i_strocpy(n->name, param(d->content_type_params,
						 d->content_type_params_count,
						 "name"), sizeof(n->name));
		}
		for (unsigned int i = 0; i < s->n; i++)
			if (s->c[i].part == part)
				c = &s->c[i];
		if (c != NULL) {
			n->n_ctype = c->n_ctype;
			n->n_cdisp = c->n_cdisp;
			n->n_cte = c->n_cte;
		}
		add_nodes(tree, s, part->children, depth + 1);
	}
}

void md_dovecot(const unsigned char *msg, size_t len, struct md_tree *tree)
{
	const struct message_parser_settings set = { .flags = 0 };
	struct message_part_data_limits limits = MESSAGE_PART_DATA_LIMITS_INIT;
	static struct dc_state s;
	struct message_parser_ctx *parser;
	struct message_block block;
	struct message_part *parts;
	struct istream *input;
	pool_t pool;

	tree->count = 0;
	tree->overflow = 0;
	s.n = 0;
	s.overflow = 0;
	pool = pool_alloconly_create("mime-diff", 16384);
	input = i_stream_create_from_data(msg, len);
	T_BEGIN {
		parser = message_parser_init(pool, input, &set);
		while (message_parser_parse_next_block(parser, &block) > 0) {
			if (block.hdr == NULL) {
				if (block.size == 0)	/* end of a header */
					message_part_data_parse_from_header(
						pool, block.part, &limits, NULL);
				continue;
			}
			if (!block.hdr->continued && !block.hdr->eoh) {
				struct counts *c = counts_of(&s, block.part);
				const char *name = block.hdr->name;

				if (c == NULL)
					;
				else if (strcasecmp(name, "Content-Type") == 0)
					c->n_ctype++;
				else if (strcasecmp(name, "Content-Disposition") == 0)
					c->n_cdisp++;
				else if (strcasecmp(name,
						    "Content-Transfer-Encoding") == 0)
					c->n_cte++;
			}
			message_part_data_parse_from_header(pool, block.part,
							    &limits, block.hdr);
		}
		message_parser_deinit(&parser, &parts);
		add_nodes(tree, &s, parts, 0);
		if (s.overflow)
			tree->overflow = 1;
	} T_END;
	i_stream_unref(&input);
	pool_unref(&pool);
}

void md_dovecot_init(void)
{
	lib_init();
}

void md_dovecot_deinit(void)
{
	lib_deinit();
}
