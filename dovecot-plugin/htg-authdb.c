/*++
/* NAME
/*	htg-authdb 3
/* SUMMARY
/*	registers the htg passdb and userdb drivers
/* DESCRIPTION
/*	Entry points of libauthdb_htg.so (see htg-authdb.h).
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "auth-common.h"
#include "passdb.h"
#include "userdb.h"

#include "htg-authdb.h"
#include "htg-dc-dir.h"

const char *authdb_htg_version = DOVECOT_ABI_VERSION;

void authdb_htg_init(void)
{
	passdb_register_module(&htg_passdb_iface);
	userdb_register_module(&htg_userdb_iface);
}

void authdb_htg_deinit(void)
{
	userdb_unregister_module(&htg_userdb_iface);
	passdb_unregister_module(&htg_passdb_iface);
	htg_dc_dir_deinit();
}
