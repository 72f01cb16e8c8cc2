/*++
/* NAME
/*	socketmap-maps 3
/* SUMMARY
/*	the directory as Postfix lookup tables (socketmap)
/* SYNOPSIS
/*	#include "socketmap-maps.h"
/* DESCRIPTION
/*	See socketmap-maps.h. The directory is read live on every query,
/*	so Postfix needs no postmap step and sees htgctl changes at once.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "htg-dir.h"
#include "htg-msg.h"
#include "socketmap-maps.h"

static const char *map_temp(const char *map, const char *error, char *text,
			    size_t size)
{
	msg_warn("socketmap %s: directory lookup failed: %s", map,
		 error != NULL ? error : "unknown error");
	snprintf(text, size, "directory temporarily unavailable");
	return "TEMP";
}

static const char *map_result(int ret, const char *map, const char *value,
			      const char *error, char *text, size_t size)
{
	if (ret < 0)
		return map_temp(map, error, text, size);
	if (ret == 0) {
		text[0] = '\0';
		return "NOTFOUND";
	}
	snprintf(text, size, "%s", value);
	return "OK";
}

/* Only full addresses can be in the directory. */
static int key_is_address(const char *key)
{
	const char *at = strchr(key, '@');

	return at != NULL && at != key && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL;
}

/* mailbox and sender_login: address -> owning account (004 3.7) */
static const char *map_owner(const struct policy_ctx *ctx, const char *map,
			     const char *key, char *text, size_t size)
{
	char owner[HTG_USER_MAX];
	const char *error = NULL;

	if (!key_is_address(key))
		return map_result(0, map, NULL, NULL, text, size);
	return map_result(htg_dir_address_owner(ctx->dir, key, owner,
						sizeof(owner), &error),
			  map, owner, error, text, size);
}

/* domain: a domain with at least one address is ours */
static const char *map_domain(const struct policy_ctx *ctx, const char *key,
			      char *text, size_t size)
{
	char domain[HTG_USER_MAX];
	const char *error = NULL;

	if (!htg_dir_normalise(key, domain, sizeof(domain)) ||
	    strchr(domain, '@') != NULL)
		return map_result(0, "domain", NULL, NULL, text, size);
	return map_result(htg_dir_domain_exists(ctx->dir, domain, &error),
			  "domain", domain, error, text, size);
}

/* flow: 004 table 3, <berichtsoort>@<submit domain> -> deliver-to; for
   a flow the gateway answers for (htgctl flow respond), also the respond
   recipient, which Postfix's transport map sends to htg-respond(8)
   (virtual alias expansion: one message, both recipients) */
static const char *map_flow(const struct policy_ctx *ctx, const char *key,
			    char *text, size_t size)
{
	const char *at = strrchr(key, '@');
	char flow[HTG_USER_MAX], deliver_to[2 * HTG_USER_MAX], mode[16];
	const char *error = NULL;
	unsigned int delay;
	size_t len;
	int ret;

	if (at == NULL || at == key ||
	    strcasecmp(at + 1, ctx->submit_domain) != 0 ||
	    (len = (size_t)(at - key)) >= sizeof(flow))
		return map_result(0, "flow", NULL, NULL, text, size);
	memcpy(flow, key, len);
	flow[len] = '\0';
	ret = htg_dir_flow_get(ctx->dir, flow, deliver_to, HTG_USER_MAX,
			       &error);
	if (ret == 1 && (ret = htg_dir_flow_respond_get(ctx->dir, flow, mode,
						       sizeof(mode), &delay,
						       &error)) >= 0) {
		if (ret == 1)
			snprintf(deliver_to + strlen(deliver_to),
				 sizeof(deliver_to) - strlen(deliver_to),
				 ",%s", HTG_RESPOND_RECIPIENT);
		ret = 1;
	}
	return map_result(ret, "flow", deliver_to, error, text, size);
}

/* translate (smtp_generic_maps, lmtp_generic_maps): a real address of
   an account that translates -> its logical address (002 footnote 2,
   "and vice versa"; htgctl account translate). Postfix asks for every
   address of a message it delivers, so anything else is NOTFOUND. */
static const char *map_translate(const struct policy_ctx *ctx,
				 const char *key, char *text, size_t size)
{
	char logical[HTG_USER_MAX];
	const char *error = NULL;

	if (!key_is_address(key))
		return map_result(0, "translate", NULL, NULL, text, size);
	return map_result(htg_dir_translate(ctx->dir, key, logical,
					    sizeof(logical), &error),
			  "translate", logical, error, text, size);
}

const char *sockmap_lookup(const struct policy_ctx *ctx, const char *name,
			   const char *key, char *text, size_t size)
{
	int known = strcmp(name, "mailbox") == 0 ||
	    strcmp(name, "sender_login") == 0 ||
	    strcmp(name, "domain") == 0 || strcmp(name, "flow") == 0 ||
	    strcmp(name, "translate") == 0;

	if (!known) {
		snprintf(text, size, "unknown map name");
		return "PERM";
	}
	if (ctx->dir == NULL)
		return map_temp(name, "directory not open", text, size);
	if (strcmp(name, "domain") == 0)
		return map_domain(ctx, key, text, size);
	if (strcmp(name, "flow") == 0)
		return map_flow(ctx, key, text, size);
	if (strcmp(name, "translate") == 0)
		return map_translate(ctx, key, text, size);
	return map_owner(ctx, name, key, text, size);
}
