/*++
/* NAME
/*	milter-audit 3
/* SUMMARY
/*	the milter's audit events: written, or kept until they can be
/* DESCRIPTION
/*	See milter-audit.h.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>

#include "htg-audit-spool.h"
#include "htg-milter.h"
#include "htg-msg.h"
#include "milter-audit.h"

void milter_audit_write(struct htg_audit_event *ev, const char *queue_id)
{
	const char *error;
	int ret = htg_audit_write(milter_settings.dir, ev, 1, &error);

	if (ret == 0)
		msg_warn("%s: account=%s audit %s kept in the audit spool, the "
			 "directory failed: %s", queue_id, ev->account,
			 ev->event, error);
	else if (ret < 0)
		msg_warn("%s: account=%s audit %s not recorded: %s", queue_id,
			 ev->account, ev->event, error);
}

void milter_audit_spool(const struct htg_audit_event *ev,
			const char *queue_id, const char *why)
{
	const char *error;
	char cause[512];

	/* why may be the directory's error buffer, which a failing spool
	   overwrites */
	snprintf(cause, sizeof(cause), "%s", why);
	why = cause;
	if (htg_audit_spool(milter_settings.dir, ev, 1, &error) > 0)
		msg_warn("%s: account=%s audit %s kept in the audit spool, the "
			 "directory failed: %s", queue_id, ev->account,
			 ev->event, why);
	else
		msg_warn("%s: account=%s audit %s not recorded: %s; audit "
			 "spool: %s", queue_id, ev->account, ev->event, why,
			 error);
}
