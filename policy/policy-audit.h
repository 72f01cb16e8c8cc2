#ifndef POLICY_AUDIT_H
#define POLICY_AUDIT_H

/*++
/* NAME
/*	policy-audit 3h
/* SUMMARY
/*	submission audit and per-account report mode in the policy service
/* SYNOPSIS
/*	#include "policy-audit.h"
/*--*/

#include "htg-dir.h"
#include "policy-proto.h"
#include "policy-rules.h"

/* After policy_decide(): audit a refusal ("refuse"), or, for an account
   in report mode, turn it into DUNNO and audit it as "report". */
void policy_audit(struct htg_dir *dir, const struct policy_request *req,
		  struct policy_decision *dec);

#endif
