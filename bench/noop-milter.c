/*++
/* NAME
/*	noop-milter 1
/* SUMMARY
/*	the milter protocol floor: same callbacks as htg-milter, no work
/* SYNOPSIS
/*	noop-milter unix:/path/to/socket
/* DESCRIPTION
/*	Registers the callbacks htg-milter registers (MAIL, RCPT, header,
/*	end of header, body, end of message), each returning CONTINUE, so
/*	Postfix sends it the same events. bench/postfix-milter-rate.sh
/*	measures Postfix with it, without any milter and with htg-milter in
/*	one run. Not installed.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <libmilter/mfapi.h>
#include <stdio.h>

static sfsistat cb_argv(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat cb_ctx(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return SMFIS_CONTINUE;
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
