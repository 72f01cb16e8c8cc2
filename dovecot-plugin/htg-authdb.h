#ifndef HTG_AUTHDB_H
#define HTG_AUTHDB_H

/*++
/* NAME
/*	htg-authdb 3h
/* SUMMARY
/*	Dovecot passdb and userdb driver "htg" over the HTG directory
/* SYNOPSIS
/*	passdb {
/*	  driver = htg
/*	  args = /var/lib/htg/directory
/*	}
/*	userdb {
/*	  driver = htg
/*	  args = /var/lib/htg/directory
/*	}
/* DESCRIPTION
/*	Built as libauthdb_htg.so, loaded by the auth process from
/*	/usr/lib/dovecot/modules/auth when a passdb or userdb names the
/*	driver htg.
/*--*/

extern struct passdb_module_interface htg_passdb_iface;
extern struct userdb_module_interface htg_userdb_iface;

/* the module loader's names for libauthdb_htg.so */
extern const char *authdb_htg_version;
void authdb_htg_init(void);
void authdb_htg_deinit(void);

#endif
