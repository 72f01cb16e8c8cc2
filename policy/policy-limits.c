/*++
/* NAME
/*	policy-limits 3
/* SUMMARY
/*	how long a policy or socketmap connection may hold its slot
/* SYNOPSIS
/*	#include "policy-limits.h"
/* DESCRIPTION
/*	See policy-limits.h. The defaults (htg-policyd(8)) follow Postfix's
/*	own clients: smtpd waits smtpd_policy_service_timeout (100 s) for an
/*	answer, its socketmap client (dict_sockmap.c) 100 s too, so a request
/*	may take as long (request_timeout 100); smtpd closes an unused
/*	connection after smtpd_policy_service_max_idle (300 s; socketmap 10 s)
/*	and any connection after smtpd_policy_service_max_ttl (1000 s;
/*	socketmap 100 s), so ours are longer (idle_timeout 600, max_ttl 1200):
/*	the client closes first and never finds its connection gone.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include "policy-limits.h"

enum policy_conn_verdict policy_conn_check(const struct policy_limits *limits,
					   const struct policy_conn_clock *clock,
					   long long now)
{
	/* whole seconds: "more than" makes sure a full timeout has passed */
	if (clock->busy_since >= 0)
		return now - clock->busy_since > limits->request_timeout ?
			POLICY_CONN_REQUEST_TIMEOUT : POLICY_CONN_KEEP;
	if (now - clock->idle_since > limits->idle_timeout)
		return POLICY_CONN_IDLE_TIMEOUT;
	if (limits->max_ttl > 0 && now - clock->opened > limits->max_ttl)
		return POLICY_CONN_MAX_TTL;
	return POLICY_CONN_KEEP;
}

const char *policy_conn_verdict_name(enum policy_conn_verdict v)
{
	switch (v) {
	case POLICY_CONN_KEEP:
		return "keep";
	case POLICY_CONN_REQUEST_TIMEOUT:
		return "request not complete within request_timeout";
	case POLICY_CONN_IDLE_TIMEOUT:
		return "idle for idle_timeout";
	case POLICY_CONN_MAX_TTL:
		return "older than max_ttl";
	}
	return "?";
}
