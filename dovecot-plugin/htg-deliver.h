#ifndef HTG_DELIVER_H
#define HTG_DELIVER_H

/*++
/* NAME
/*	htg-deliver 3h
/* SUMMARY
/*	LMTP delivery de-duplication
/* SYNOPSIS
/*	#include "htg-deliver.h"
/* DESCRIPTION
/*	htg_deliver_init() hooks Dovecot's delivery when the process
/*	has one (lmtp, dovecot-lda); htg_deliver_deinit() unhooks.
/*--*/

void htg_deliver_init(void);
void htg_deliver_deinit(void);

#endif
