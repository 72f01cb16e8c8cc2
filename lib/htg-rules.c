/*++
/* NAME
/*	htg-rules 3
/* SUMMARY
/*	the HTG rule catalogue
/* DESCRIPTION
/*	The table below is DESIGN.md section 2. Codes follow RFC 5321 and
/*	RFC 3463; the spec sections are those of the HTG SMTP-MSA/POP3
/*	interface description v1.3.1 (004).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>

#include "htg-msg.h"
#include "htg-rules.h"

static const struct htg_rule htg_rules[HTG_RULE_COUNT] = {
	/* 004 3.3.3: nothing but EHLO, NOOP, QUIT, STARTTLS before TLS */
	{ HTG_RULE_TLS, "HTG-TLS", 530, "5.7.0",
	  "Must issue a STARTTLS command first" },
	/* 004 3.1.3, RFC 6409 4.3: MAIL needs an authenticated session */
	{ HTG_RULE_AUTH, "HTG-AUTH", 530, "5.7.0", "Authentication required" },
	/* 004 3.6: full addresses only, never rewritten */
	{ HTG_RULE_ADDR, "HTG-ADDR", 553, "5.1.3",
	  "A full address (local-part@domain) is required" },
	/* 004 3.3.2, 3.7: the account sends only from its own addresses */
	{ HTG_RULE_SENDER, "HTG-SENDER", 553, "5.7.1",
	  "Sender address is not owned by the authenticated account" },
	/* 004 table 3: exactly one recipient */
	{ HTG_RULE_RCPT_ONE, "HTG-RCPT-ONE", 452, "4.5.3",
	  "A message has exactly one recipient" },
	/* 004 table 3: <berichtsoort>@msa-smtp[.preprod].htpoort.nl */
	{ HTG_RULE_RCPT_FLOW_UNKNOWN, "HTG-RCPT-FLOW", 550, "5.1.1",
	  "Unknown message flow" },
	{ HTG_RULE_RCPT_FLOW_DENIED, "HTG-RCPT-FLOW", 550, "5.7.1",
	  "The account is not granted this message flow" },
	/* 004 table 3: a receipt (NOTIFY=SUCCESS) needs an ENVID */
	{ HTG_RULE_ENVID, "HTG-ENVID", 555, "5.5.4",
	  "NOTIFY=SUCCESS requires ENVID on MAIL FROM" },
	/* 002 / 004 3.8: SIZE 52428800 unless the account says less */
	{ HTG_RULE_SIZE, "HTG-SIZE", 552, "5.3.4",
	  "Message size exceeds the account's limit" },
	/* 004 table 4 */
	{ HTG_RULE_HDR_FROM, "HTG-HDR-FROM", 550, "5.6.0",
	  "Exactly one From header with exactly one address is required" },
	{ HTG_RULE_HDR_TO, "HTG-HDR-TO", 550, "5.6.0",
	  "Exactly one To header with one address <flow>@<header domain> is required" },
	{ HTG_RULE_HDR_CC, "HTG-HDR-CC", 550, "5.7.1",
	  "Cc and Bcc are not allowed, a message has exactly one recipient" },
	{ HTG_RULE_MSGID, "HTG-MSGID", 550, "5.7.1",
	  "Message-ID is malformed or was already used" },
	/* 004 table 5 */
	{ HTG_RULE_CT, "HTG-CT", 554, "5.6.1", "Content-Type not allowed" },
	{ HTG_RULE_CHARSET, "HTG-CHARSET", 554, "5.6.1",
	  "Charset not allowed or bytes not valid in it" },
	{ HTG_RULE_CTE, "HTG-CTE", 554, "5.6.0",
	  "Content-Transfer-Encoding must be base64, quoted-printable or 7bit" },
	{ HTG_RULE_MIME, "HTG-MIME", 554, "5.6.0", "Broken MIME structure" },
	/* 004 1.3: low-frequency use; "vooralsnog" no limit, so off unless
	   the operator sets one (htg-policyd rate_limit) */
	{ HTG_RULE_RATE, "HTG-RATE", 450, "4.7.1",
	  "Too many messages from this account, try again later" },
};

const struct htg_rule *htg_rule_get(enum htg_rule_id id)
{
	if ((unsigned)id >= HTG_RULE_COUNT || htg_rules[id].id != id)
		msg_panic("htg_rule_get: bad rule id %d", (int)id);
	return &htg_rules[id];
}

int htg_rule_reply(enum htg_rule_id id, const char *detail, char *buf,
		   size_t size)
{
	const struct htg_rule *r = htg_rule_get(id);
	char clean[400];
	size_t i = 0;
	int n;

	if (detail == NULL)
		detail = r->text;
	for (; detail[i] != '\0' && i < sizeof(clean) - 1; i++) {
		unsigned char c = (unsigned char)detail[i];
		clean[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	clean[i] = '\0';
	n = snprintf(buf, size, "%d %s %s: %s", r->code, r->dsn, r->name,
		     clean);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}
