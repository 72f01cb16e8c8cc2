#ifndef HTG_LOAD_H
#define HTG_LOAD_H

/*++
/* NAME
/*	htg-load 1h
/* SUMMARY
/*	what htg-load.c (input, scheduler, workers, log) and htg-load-ops.c
/*	(connections and the three operations) share
/*--*/

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define MAX_ACCOUNTS 1000000
#define MAX_JOBS 20000000UL
#define MAX_PICKUP 50
#define LINE_MAX_LEN 4096
#define REPLY_MAX 512

enum op { OP_SUBMIT, OP_INJECT, OP_PICKUP, OP_COUNT };
enum kind { K_VALID, K_ATTACH, K_CC, K_SENDER, K_FLOW, K_CHARSET, K_COUNT };

struct account {
	char *user, *password, *sender, *logical, *flow, *ungranted;
	atomic_int busy;		/* a pickup runs */
};

struct job {
	enum op op;
	enum kind kind;
	unsigned acct;
	uint64_t seq;
	uint64_t sched_ns;		/* arrival, from start */
};

struct msg {
	char *data;
	size_t len, cap;
};
struct outcome {
	const char *stage;
	int code;		/* SMTP code; POP3: 1 +OK, 0 failure, -1 -ERR */
	char reply[REPLY_MAX];
	/* pickup */
	char *retr;		/* JSON array body of Message-IDs */
	size_t retr_len, retr_cap;
	int deleted;
};

/* htg-load.c: settings and shared state */
extern double timeout_s;
extern char run_id[32];
extern char host[64];
extern char submit_domain[256], header_domain[256];
extern int port[OP_COUNT];
extern struct account *accts;
extern unsigned naccts;
extern SSL_CTX *ssl_ctx;
extern char filler[8192];

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void cpy(char *dst, size_t size, const char *src);
uint64_t now_ns(void);

/* htg-load-ops.c: one attempt of an operation; 1 when it has a final
   answer (o says which), 0 for a tempfail to retry */
void make_token(char *buf, size_t size, const struct job *j);
void build_submission(struct msg *m, const struct job *j, const char *token);
void build_answer(struct msg *m, const struct job *j, const char *token);
int do_submit(const struct job *j, struct msg *m, struct outcome *o);
int do_inject(const struct job *j, struct msg *m, struct outcome *o);
int do_pickup(const struct job *j, struct outcome *o);

#endif
