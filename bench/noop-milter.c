/*++
/* NAME
/*	noop-milter 1
/* SUMMARY
/*	the milter protocol floor: same callbacks as htg-milter, no work
/* SYNOPSIS
/*	noop-milter unix:/path/to/socket
/* DESCRIPTION
/*	Registers the callbacks htg-milter registers (MAIL, RCPT, header,
/*	end of header, body, end of message), each returning CONTINUE, and
/*	negotiates the protocol options htg-milter negotiates (no reply to
/*	headers and body chunks, no connect/HELO/DATA/unknown events), so
/*	Postfix sends it the same events. bench/postfix-milter-rate.sh
/*	measures Postfix with it, without any milter and with htg-milter in
/*	one run. Not installed.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <libmilter/mfapi.h>
#include <stdint.h>
#include <stdio.h>

/* per connection, in the private pointer: the no-reply options taken */
static unsigned long nr(SMFICTX *ctx)
{
	return (unsigned long)(uintptr_t)smfi_getpriv(ctx);
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	(void)f0;
	(void)f2;
	(void)f3;
	*pf0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
	*pf1 = f1 & (SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NOCONNECT |
		     SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA);
	*pf2 = *pf3 = 0;
	smfi_setpriv(ctx, (void *)(uintptr_t)(*pf1 &
					      (SMFIP_NR_HDR | SMFIP_NR_BODY)));
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static sfsistat cb_argv(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name;
	(void)value;
	return nr(ctx) & SMFIP_NR_HDR ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_ctx(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	(void)data;
	(void)len;
	return nr(ctx) & SMFIP_NR_BODY ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "noop-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY,
	.xxfi_envfrom = cb_argv,
	.xxfi_envrcpt = cb_argv,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_ctx,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_ctx,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: noop-milter unix:/path\n");
		return 2;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS)
		return 1;
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
