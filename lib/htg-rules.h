#ifndef HTG_RULES_H
#define HTG_RULES_H

/*++
/* NAME
/*	htg-rules 3h
/* SUMMARY
/*	the HTG rule catalogue (DESIGN.md section 2)
/* SYNOPSIS
/*	#include "htg-rules.h"
/*
/*	const struct htg_rule *htg_rule_get(enum htg_rule_id id);
/*	int	htg_rule_reply(enum htg_rule_id id, const char *detail,
/*			char *buf, size_t size);
/* DESCRIPTION
/*	One table names every rule: its id string, the SMTP reply code and
/*	the RFC 3463 enhanced status code. Every program that refuses
/*	something formats its reply from here, so an integrator always finds
/*	"<code> <x.y.z> <RULE-ID>: <text>".
/*
/*	htg_rule_reply() writes that reply into buf; detail replaces the
/*	default text when not NULL. Bytes outside printable ASCII in detail
/*	are replaced by '?', so client-supplied data cannot break a reply.
/*--*/

#include <stddef.h>

enum htg_rule_id {
	HTG_RULE_TLS,
	HTG_RULE_AUTH,
	HTG_RULE_ADDR,
	HTG_RULE_SENDER,
	HTG_RULE_RCPT_ONE,
	HTG_RULE_RCPT_FLOW_UNKNOWN,	/* HTG-RCPT-FLOW, 550 5.1.1 */
	HTG_RULE_RCPT_FLOW_DENIED,	/* HTG-RCPT-FLOW, 550 5.7.1 */
	HTG_RULE_ENVID,
	HTG_RULE_SIZE,
	HTG_RULE_HDR_FROM,
	HTG_RULE_HDR_TO,
	HTG_RULE_HDR_CC,
	HTG_RULE_MSGID,
	HTG_RULE_CT,
	HTG_RULE_CHARSET,
	HTG_RULE_CTE,
	HTG_RULE_MIME,
	HTG_RULE_RATE,		/* optional, off by default (htg-policyd) */
	HTG_RULE_COUNT
};

struct htg_rule {
	enum htg_rule_id id;
	const char *name;	/* "HTG-HDR-CC" */
	int code;		/* 550 */
	const char *dsn;	/* "5.7.1" */
	const char *text;	/* default human text */
};

const struct htg_rule *htg_rule_get(enum htg_rule_id id);
int htg_rule_reply(enum htg_rule_id id, const char *detail, char *buf,
		   size_t size);

#endif
