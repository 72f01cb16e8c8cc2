#ifndef SOCKETMAP_MAPS_H
#define SOCKETMAP_MAPS_H

/*++
/* NAME
/*	socketmap-maps 3h
/* SUMMARY
/*	the directory as Postfix lookup tables (socketmap)
/* SYNOPSIS
/*	#include "socketmap-maps.h"
/*
/*	const char *sockmap_lookup(const struct policy_ctx *ctx,
/*			const char *name, const char *key,
/*			char *text, size_t size);
/* DESCRIPTION
/*	sockmap_lookup() answers one socketmap query: it returns the status
/*	word ("OK", "NOTFOUND", "TEMP", "PERM") and writes the value or the
/*	reason into text. The maps:
/* .IP mailbox
/*	address -> the owning account's login (virtual_mailbox_maps).
/* .IP domain
/*	domain -> the domain, when any address exists in it
/*	(virtual_mailbox_domains).
/* .IP flow
/*	<flow>@<submit domain> -> the flow's deliver-to address
/*	(virtual_alias_maps); other domains are NOTFOUND.
/* .IP sender_login
/*	address -> the owning account's login (smtpd_sender_login_maps).
/* .PP
/*	A key Postfix may try but that can never match (e.g. "@domain" or a
/*	bare local part) is NOTFOUND. A directory failure is TEMP, so
/*	Postfix defers rather than decides on missing data.
/*--*/

#include <stddef.h>

#include "policy-rules.h"

const char *sockmap_lookup(const struct policy_ctx *ctx, const char *name,
			   const char *key, char *text, size_t size);

#endif
