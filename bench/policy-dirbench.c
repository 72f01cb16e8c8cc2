/*++
/* NAME
/*	policy-dirbench 1
/* SUMMARY
/*	policy benchmark workload and directory lookup cost
/* SYNOPSIS
/*	policy-dirbench populate directory outdir accounts flows
/*	policy-dirbench lookup directory accounts flows [calls]
/*	policy-dirbench lookup-uncached directory accounts flows [calls]
/* DESCRIPTION
/*	populate creates an HTG directory with accounts
/*	acc<N>@bedrijf<N>.nl (each owning one address, afz<N>@bedrijf<N>.nl,
/*	and granted five of the flows flow<M>) and writes into outdir:
/* .IP requests
/*	4096 policy requests at RCPT with every attribute Postfix 3.7 sends:
/*	80% pass, 10% use another account's sender (HTG-SENDER), 5% an
/*	unknown flow and 5% a flow not granted (HTG-RCPT-FLOW).
/* .IP postfwd.cf, senders, flows, grants
/*	The same rule set for postfwd: sender ownership and the recipient
/*	allow-list as tables ("table:" files, loaded into Perl hashes).
/* .PP
/*	lookup times every public read call of lib/htg-dir.h and a whole
/*	policy_decide() of an RCPT request, one call at a time
/*	(clock_gettime around each call, its own cost printed first), over
/*	random existing keys, and prints p50 and p99 per call. The
/*	directory is opened as htg-policyd opens it (HTG_DIR_CACHE: on
/*	PostgreSQL, answers kept until a change is announced);
/*	lookup-uncached opens it without the cache: on PostgreSQL each
/*	call is a round trip to the server (what a cold or disabled
/*	cache costs). The directory is a folder (LMDB) or a
/*	postgresql:// URI whose schema htgctl init made.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htg-dir.h"
#include "htg-msg.h"
#include "policy-proto.h"
#include "policy-rules.h"

#define SUBMIT "msa-smtp.htpoort.nl"
#define GRANTS_PER_ACCOUNT 5
#define NREQUESTS 4096

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static FILE *out_file(const char *dir, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		msg_fatal("open %s: %m", path);
	return f;
}

static int granted(int a, int f, int flows)
{
	for (int g = 0; g < GRANTS_PER_ACCOUNT; g++)
		if ((a + g) % flows == f)
			return 1;
	return 0;
}

static void write_request(FILE *f, int acct, int sender_of, const char *flow,
			  unsigned n)
{
	fprintf(f, "request=smtpd_access_policy\nprotocol_state=RCPT\n"
		"protocol_name=ESMTP\nhelo_name=client%d.example\n"
		"queue_id=\nsender=afz%d@bedrijf%d.nl\n"
		"recipient=%s@" SUBMIT "\nrecipient_count=0\n"
		"client_address=192.0.2.%u\nclient_name=unknown\n"
		"reverse_client_name=unknown\nclient_port=%u\n"
		"server_address=192.0.2.10\nserver_port=587\n"
		"instance=%x.%x.0\nsasl_method=PLAIN\n"
		"sasl_username=acc%d@bedrijf%d.nl\nsasl_sender=\nsize=%u\n"
		"ccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
		"ccert_pubkey_fingerprint=\nencryption_protocol=TLSv1.3\n"
		"encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		"encryption_keysize=256\netrn_domain=\nstress=\n"
		"policy_context=submission\ncompatibility_level=3.6\n"
		"mail_version=3.7.11\n\n", acct, sender_of, sender_of, flow,
		n % 250 + 1, 40000 + n % 20000, n, n * 7, acct, acct,
		1000 + n % 50000);
}

static void populate(const char *path, const char *outdir, int accounts,
		     int flows)
{
	struct htg_dir *dir;
	struct htg_account acct;
	const char *error = "";
	FILE *req, *senders, *flowf, *grants, *cf;
	char addr[128], flow[64];

	if (htg_dir_open(path, HTG_DIR_CREATE, &dir, &error) < 0)
		msg_fatal("%s", error);
	senders = out_file(outdir, "senders");
	flowf = out_file(outdir, "flows");
	grants = out_file(outdir, "grants");
	for (int f = 0; f < flows; f++) {
		snprintf(flow, sizeof(flow), "flow%d", f);
		if (htg_dir_flow_add(dir, flow, "gov@douane.nl", &error) <= 0)
			msg_fatal("flow add: %s", error);
		fprintf(flowf, "%s@" SUBMIT "\tOK\n", flow);
	}
	for (int a = 0; a < accounts; a++) {
		memset(&acct, 0, sizeof(acct));
		snprintf(acct.user, sizeof(acct.user), "acc%d@bedrijf%d.nl", a, a);
		strcpy(acct.pwhash, "{PLAIN}bench");
		snprintf(addr, sizeof(addr), "afz%d@bedrijf%d.nl", a, a);
		if (htg_dir_account_add(dir, &acct, &error) < 0 ||
		    htg_dir_address_add(dir, addr, acct.user, &error) <= 0)
			msg_fatal("account %s: %s", acct.user, error);
		fprintf(senders, "%s:%s\tOK\n", acct.user, addr);
		for (int g = 0; g < GRANTS_PER_ACCOUNT; g++) {
			snprintf(flow, sizeof(flow), "flow%d", (a + g) % flows);
			if (htg_dir_grant_add(dir, acct.user, flow, &error) <= 0)
				msg_fatal("grant: %s", error);
			fprintf(grants, "%s:%s@" SUBMIT "\tOK\n", acct.user,
				flow);
		}
	}
	htg_dir_close(&dir);
	req = out_file(outdir, "requests");
	for (unsigned n = 0; n < NREQUESTS; n++) {
		int a = (int)rnd((uint32_t)accounts), kind = (int)rnd(100);
		int f = (a + (int)rnd(GRANTS_PER_ACCOUNT)) % flows;

		snprintf(flow, sizeof(flow), "flow%d", f);
		if (kind < 80) {
			write_request(req, a, a, flow, n);
		} else if (kind < 90) {
			write_request(req, a, (a + 1) % accounts, flow, n);
		} else if (kind < 95) {
			write_request(req, a, a, "geenstroom", n);
		} else {
			do
				f = (int)rnd((uint32_t)flows);
			while (granted(a, f, flows));
			snprintf(flow, sizeof(flow), "flow%d", f);
			write_request(req, a, a, flow, n);
		}
	}
	cf = out_file(outdir, "postfwd.cf");
	/* the same decisions as htg-policyd, from hash tables */
	fprintf(cf,
		"id=PAIRS; action=set(htg_sender=$$sasl_username:$$sender,"
		"htg_grant=$$sasl_username:$$recipient)\n"
		"id=SENDER-OK; htg_sender==table:%s/senders; action=jump(FLOW)\n"
		"id=HTG-SENDER; action=553 5.7.1 HTG-SENDER: Sender address is "
		"not owned by the authenticated account\n"
		"id=FLOW; recipient==table:%s/flows; action=jump(GRANT)\n"
		"id=HTG-RCPT-FLOW-UNKNOWN; action=550 5.1.1 HTG-RCPT-FLOW: "
		"Unknown message flow\n"
		"id=GRANT; htg_grant==table:%s/grants; action=DUNNO\n"
		"id=HTG-RCPT-FLOW-DENIED; action=550 5.7.1 HTG-RCPT-FLOW: The "
		"account is not granted this message flow\n",
		outdir, outdir, outdir);
	fclose(cf);
	fclose(req);
	fclose(senders);
	fclose(flowf);
	fclose(grants);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("%-28s calls=%zu p50_us=%.2f p99_us=%.2f\n", what, n,
	       (double)t[n / 2] / 1000.0, (double)t[n * 99 / 100] / 1000.0);
}

enum { L_OWNER, L_FLOW, L_GRANT, L_ACCOUNT, L_DOMAIN, L_DECIDE, L_COUNT };

static void lookup(const char *path, int accounts, int flows, size_t calls,
		   int cache)
{
	static const char *const names[L_COUNT] = {
		"htg_dir_address_owner", "htg_dir_flow_get",
		"htg_dir_grant_check", "htg_dir_account_get",
		"htg_dir_domain_exists", "policy_decide (RCPT, all)"
	};
	struct htg_dir *dir;
	const char *error = "";
	uint64_t *t = calloc(calls, sizeof(*t)), t0;
	struct policy_ctx ctx = { .submit_domain = SUBMIT,
		.tls_min = "TLSv1.3", .tls_context = "submission" };
	struct policy_parser *parser = policy_parser_new();

	if (t == NULL)
		msg_fatal("out of memory");
	if (htg_dir_open(path, HTG_DIR_RDONLY | (cache ? HTG_DIR_CACHE : 0),
			 &dir, &error) < 0)
		msg_fatal("%s", error);
	ctx.dir = dir;
	for (size_t i = 0; i < calls; i++) {
		t0 = now_ns();
		t[i] = now_ns() - t0;
	}
	report("clock_gettime (overhead)", t, calls);
	for (int l = 0; l < L_COUNT; l++) {
		for (size_t i = 0; i < calls; i++) {
			int a = (int)rnd((uint32_t)accounts), ret = 0;
			char key[128], key2[64], buf[HTG_USER_MAX], req[1024];
			struct htg_account acct;
			struct policy_decision dec;
			size_t used;

			snprintf(key2, sizeof(key2), "flow%d",
				 (a + (int)rnd(GRANTS_PER_ACCOUNT)) % flows);
			switch (l) {
			case L_OWNER:
				snprintf(key, sizeof(key), "afz%d@bedrijf%d.nl",
					 a, a);
				break;
			case L_DOMAIN:
				snprintf(key, sizeof(key), "bedrijf%d.nl", a);
				break;
			case L_DECIDE:
				snprintf(req, sizeof(req),
					 "protocol_state=RCPT\n"
					 "policy_context=submission\n"
					 "encryption_protocol=TLSv1.3\n"
					 "sasl_username=acc%d@bedrijf%d.nl\n"
					 "sender=afz%d@bedrijf%d.nl\n"
					 "recipient=%s@" SUBMIT "\nsize=1000\n\n",
					 a, a, a, a, key2);
				if (policy_parser_feed(parser, req, strlen(req),
						       &used) != POLICY_READY)
					msg_panic("request");
				break;
			default:
				snprintf(key, sizeof(key), "acc%d@bedrijf%d.nl",
					 a, a);
			}
			t0 = now_ns();
			switch (l) {
			case L_OWNER:
				ret = htg_dir_address_owner(dir, key, buf,
							    sizeof(buf), &error);
				break;
			case L_FLOW:
				ret = htg_dir_flow_get(dir, key2, buf,
						       sizeof(buf), &error);
				break;
			case L_GRANT:
				ret = htg_dir_grant_check(dir, key, key2,
							  &error);
				break;
			case L_ACCOUNT:
				ret = htg_dir_account_get(dir, key, &acct,
							  &error);
				break;
			case L_DOMAIN:
				ret = htg_dir_domain_exists(dir, key, &error);
				break;
			case L_DECIDE:
				policy_decide(&ctx,
					      policy_parser_request(parser),
					      &dec);
				ret = strcmp(dec.action, "DUNNO") == 0;
				break;
			}
			t[i] = now_ns() - t0;
			if (ret != 1)
				msg_fatal("%s: unexpected result %d (%s)",
					  names[l], ret, error);
		}
		report(names[l], t, calls);
	}
	policy_parser_free(&parser);
	htg_dir_close(&dir);
	free(t);
}

int main(int argc, char **argv)
{
	msg_init("policy-dirbench", NULL);
	if (argc == 6 && strcmp(argv[1], "populate") == 0) {
		populate(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
		return 0;
	}
	if ((argc == 5 || argc == 6) && (strcmp(argv[1], "lookup") == 0 ||
					 strcmp(argv[1], "lookup-uncached") == 0)) {
		lookup(argv[2], atoi(argv[3]), atoi(argv[4]),
		       argc == 6 ? (size_t)atol(argv[5]) : 200000,
		       strcmp(argv[1], "lookup") == 0);
		return 0;
	}
	fprintf(stderr, "usage: %s populate DIR OUTDIR ACCOUNTS FLOWS\n"
		"       %s lookup|lookup-uncached DIR ACCOUNTS FLOWS [CALLS]\n",
		argv[0], argv[0]);
	return 2;
}
