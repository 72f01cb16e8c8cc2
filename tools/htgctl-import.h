#ifndef HTGCTL_IMPORT_H
#define HTGCTL_IMPORT_H

/*++
/* NAME
/*	htgctl-import 3h
/* SUMMARY
/*	what the htgctl import files share
/* DESCRIPTION
/*	htgctl-import.c reads the lines and applies the provisioning kinds
/*	(account, address, flow, grant, revoke); htgctl-import-rec.c
/*	applies the records of an export (htgctl-export(3)). Every
/*	apply function gets the kind's fields, unescaped, and returns 1
/*	done (or already so), 0 refused (reason in *error_r), -1 error.
/*--*/

#include "htg-dir.h"

/* audit events and retention records are written in batches: one
   commit for many instead of one each */
#define IMPORT_BATCH_EVENTS	256
#define IMPORT_BATCH_RETAINED	64

struct import {
	struct htg_dir *dir;
	struct htg_audit_event *ev;
	struct htg_retained *kept;
	unsigned int nev, nkept;
	unsigned long line;		/* the line being applied */
	unsigned long batch_line;	/* the first line in the batch */
	int flush_failed;		/* a full batch could not be written */
	unsigned long *done;		/* changes applied */
};

typedef int import_fn(struct import *im, char **f, const char **error_r);

/* htgctl-import-rec.c */
import_fn imp_address, imp_flow, imp_grant, imp_node, imp_account_record,
	imp_logical, imp_respond, imp_audit, imp_retained, imp_msgid,
	imp_delivery;
/* write the batched records: 1, 0 refused, -1 (*error_r says which
   lines) */
int import_flush(struct import *im, const char **error_r);

#endif
