/*++
/* NAME
/*	htg-load 1
/* SUMMARY
/*	open-loop workload generator for the whole HTG gateway
/* SYNOPSIS
/*	htg-load -e lab.env -a accounts.tsv -o log.jsonl [-d seconds]
/*		[-S submits/s] [-I injects/s] [-P pickups/s] [-c concurrency]
/*		[--attach-share F] [--invalid-share F] [--fixed] [--seed N]
/*		[--run-id ID] [--max-attempts N] [--timeout s] [--drain s]
/* DESCRIPTION
/*	Replays the traffic of the accounts in accounts.tsv against a
/*	running lab (lab.env: HTG_HOST, the three ports, HTG_CA_FILE,
/*	HTG_SUBMIT_DOMAIN, HTG_HEADER_DOMAIN) for -d seconds and stops by
/*	itself. Three kinds of operation arrive open-loop, each at its own
/*	total rate, as a Poisson process (or on a fixed schedule, --fixed),
/*	each for a random account:
/* .IP submit
/*	the submission port: EHLO, STARTTLS (TLS 1.3 only, the server
/*	certificate verified against HTG_CA_FILE), EHLO, AUTH PLAIN,
/*	MAIL/RCPT/DATA of one HTG-conformant message of about 10 KB to the
/*	account's granted flow, QUIT. A share (--attach-share, default
/*	0.3) is multipart/mixed with a PDF attachment; every part carries
/*	an original file name (bericht-TOKEN.xml, bijlage-TOKEN.pdf) that
/*	the milter must replace. A share (--invalid-share, default 0.05)
/*	is invalid in one of four ways that must be refused with a rule
/*	id: a Cc header (HTG-HDR-CC), another account's sender
/*	(HTG-SENDER), a flow the account is not granted (HTG-RCPT-FLOW), a
/*	windows-1252 charset (HTG-CHARSET).
/* .IP inject
/*	the inbound port (plain SMTP, no AUTH): a government answer to
/*	the account's logical address.
/* .IP pickup
/*	the POP3 port: STLS, AUTH PLAIN, LIST, RETR of each message (at
/*	most 50), DELE of each, QUIT. Two pickups of one account never
/*	run at the same time (the next free account is taken).
/* .PP
/*	Every message carries a unique token (its Message-ID is
/*	<TOKEN@load.example> or <TOKEN@douane.overheid.nl>).
/*
/*	At most -c operations (default 64) run at once, one thread each;
/*	the others wait in a queue, so overload shows as latency, which is
/*	measured from the scheduled arrival to the end of the operation.
/*	A 4xx reply (or a connection, TLS or timeout failure) at any stage
/*	is a tempfail: the whole operation is retried with the same
/*	message after a backoff (0.25 s doubling, at most 4 s), at most
/*	--max-attempts times (default 10). After -d seconds no operation
/*	arrives; those still queued --drain seconds (default 120) later
/*	are logged as not started.
/*
/*	accounts.tsv: one account per line, tab-separated: login,
/*	password, sender address, logical address, granted flow, a flow
/*	that exists but is not granted.
/*
/*	log.jsonl: one JSON object per operation outcome: op, account,
/*	token, kind, expect (rule id an invalid message must be refused
/*	with), stage and code and reply of the final answer, sched_s
/*	(arrival, seconds from the start), lat_ms (arrival to end),
/*	svc_ms (last attempt alone), attempts, the first tempfail
/*	(tf_stage, tf_code, tf_reply); pickups add retr (the Message-IDs
/*	retrieved) and deleted (QUIT answered +OK). The last line is
/*	op "summary" with counts, wall time and the generator's own CPU
/*	time (getrusage) and peak RSS.
/*
/*	Loopback only: HTG_HOST must be 127.0.0.0/8.
/*
/*	This file holds the input, the scheduler, the workers and the log;
/*	htg-load-ops.c the connections, the messages and the operations.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "htg-load.h"


static const char *op_names[OP_COUNT] = { "submit", "inject", "pickup" };

static const char *kind_names[K_COUNT] = {
	"valid", "attach", "cc", "sender", "flow", "charset"
};
static const char *kind_rule[K_COUNT] = {
	"", "", "HTG-HDR-CC", "HTG-SENDER", "HTG-RCPT-FLOW", "HTG-CHARSET"
};



/* settings */
static const char *env_file, *acct_file, *log_file;
static double duration = 10, rate[OP_COUNT];
static double attach_share = 0.3, invalid_share = 0.05;
static int concurrency = 64, fixed_schedule, max_attempts = 10;
double timeout_s = 30;
static double drain_s = 120;
static long seed = 1;
char run_id[32];
char host[64] = "127.0.0.1";
static char ca_file[1024];
char submit_domain[256], header_domain[256];
int port[OP_COUNT];

struct account *accts;
unsigned naccts;
SSL_CTX *ssl_ctx;
static FILE *out_f;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t t0_ns;
char filler[8192];	/* base64 body text, shared */

/* job queue */
static struct job *queue;
static size_t q_cap, q_head, q_tail;
static int q_done;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;

/* counters for the summary */
static atomic_ulong n_offered[OP_COUNT], n_ok[OP_COUNT], n_refused[OP_COUNT],
	n_gaveup[OP_COUNT], n_retried[OP_COUNT], n_notstarted[OP_COUNT];

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("htg-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* bounded copy, truncating */
void cpy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	uint64_t now = now_ns();
	struct timespec ts;

	if (t <= now)
		return;
	ts.tv_sec = (time_t)((t - now) / 1000000000ull);
	ts.tv_nsec = (long)((t - now) % 1000000000ull);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --- input files ----------------------------------------------------------- */

static void read_env(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '='), *v, *end;

		if (eq == NULL || line[0] == '#')
			continue;
		*eq = '\0';
		v = eq + 1;
		v[strcspn(v, "\r\n")] = '\0';
		if (*v == '\'') {
			v++;
			if ((end = strrchr(v, '\'')) != NULL)
				*end = '\0';
		}
#define SET(key, buf) \
		if (strcmp(line, key) == 0) \
			cpy(buf, sizeof(buf), v)
		SET("HTG_HOST", host);
		SET("HTG_CA_FILE", ca_file);
		SET("HTG_SUBMIT_DOMAIN", submit_domain);
		SET("HTG_HEADER_DOMAIN", header_domain);
#undef SET
		if (strcmp(line, "HTG_SUBMISSION_PORT") == 0)
			port[OP_SUBMIT] = atoi(v);
		if (strcmp(line, "HTG_INBOUND_PORT") == 0)
			port[OP_INJECT] = atoi(v);
		if (strcmp(line, "HTG_POP3_PORT") == 0)
			port[OP_PICKUP] = atoi(v);
	}
	fclose(f);
	if (strncmp(host, "127.", 4) != 0)
		die("HTG_HOST %s is not loopback", host);
	if (ca_file[0] == '\0' || submit_domain[0] == '\0' ||
	    header_domain[0] == '\0' || port[0] <= 0 || port[1] <= 0 ||
	    port[2] <= 0)
		die("%s: incomplete lab.env", path);
}

static void read_accounts(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	unsigned cap = 0;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *field[6], *p = line, *save = NULL;
		int n = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		while (n < 6 && (field[n] = strtok_r(p, "\t", &save)) != NULL) {
			p = NULL;
			n++;
		}
		if (n != 6)
			die("%s: line %u: need 6 tab-separated fields", path,
			    naccts + 1);
		if (naccts == MAX_ACCOUNTS)
			die("%s: more than %d accounts", path, MAX_ACCOUNTS);
		if (naccts == cap) {
			cap = cap ? cap * 2 : 1024;
			accts = realloc(accts, cap * sizeof(*accts));
			if (accts == NULL)
				die("out of memory");
		}
		struct account *a = &accts[naccts++];
		if ((a->user = strdup(field[0])) == NULL ||
		    (a->password = strdup(field[1])) == NULL ||
		    (a->sender = strdup(field[2])) == NULL ||
		    (a->logical = strdup(field[3])) == NULL ||
		    (a->flow = strdup(field[4])) == NULL ||
		    (a->ungranted = strdup(field[5])) == NULL)
			die("out of memory");
		atomic_init(&a->busy, 0);
	}
	fclose(f);
	if (naccts < 2)
		die("%s: need at least 2 accounts", path);
}

/* --- output ---------------------------------------------------------------- */

static void json_esc(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void run_job(const struct job *j, struct outcome *o)
{
	char token[64] = "";
	struct msg m = { NULL, 0, 0 };
	uint64_t start = 0, backoff = 250000000ull;
	char tf_stage[16] = "", tf_reply[REPLY_MAX] = "";
	int tf_code = -2, attempts = 0, done = 0;
	const struct account *a = &accts[j->acct];

	if (j->op != OP_PICKUP)
		make_token(token, sizeof(token), j);
	if (j->op == OP_SUBMIT)
		build_submission(&m, j, token);
	else if (j->op == OP_INJECT)
		build_answer(&m, j, token);
	while (!done && attempts < max_attempts) {
		if (attempts > 0) {
			struct timespec ts = {
				(time_t)(backoff / 1000000000ull),
				(long)(backoff % 1000000000ull)
			};
			nanosleep(&ts, NULL);
			if (backoff < 4000000000ull)
				backoff *= 2;
		}
		attempts++;
		start = now_ns();
		switch (j->op) {
		case OP_SUBMIT:
			done = do_submit(j, &m, o);
			break;
		case OP_INJECT:
			done = do_inject(j, &m, o);
			break;
		default:
			done = do_pickup(j, o);
			break;
		}
		if (!done && tf_code == -2) {
			cpy(tf_stage, sizeof(tf_stage), o->stage);
			tf_code = o->code;
			cpy(tf_reply, sizeof(tf_reply), o->reply);
		}
	}
	uint64_t end = now_ns();
	int ok = j->op == OP_PICKUP ? (done && o->code == 1) :
	    (o->code >= 200 && o->code < 300);

	if (ok)
		n_ok[j->op]++;
	else if (done)
		n_refused[j->op]++;
	else
		n_gaveup[j->op]++;
	if (attempts > 1)
		n_retried[j->op]++;
	pthread_mutex_lock(&log_lock);
	fprintf(out_f, "{\"op\":\"%s\",\"account\":", op_names[j->op]);
	json_esc(out_f, a->user);
	fprintf(out_f, ",\"token\":\"%s\",\"kind\":\"%s\",\"expect\":\"%s\","
		"\"stage\":\"%s\",\"code\":%d,\"reply\":",
		token, j->op == OP_SUBMIT ? kind_names[j->kind] : "",
		j->op == OP_SUBMIT ? kind_rule[j->kind] : "",
		o->stage, o->code);
	json_esc(out_f, o->reply);
	fprintf(out_f, ",\"final\":%s,\"sched_s\":%.6f,\"lat_ms\":%.3f,"
		"\"svc_ms\":%.3f,\"attempts\":%d",
		done ? "true" : "false", (double)j->sched_ns / 1e9,
		(double)(end - t0_ns - j->sched_ns) / 1e6,
		(double)(end - start) / 1e6, attempts);
	if (tf_code != -2) {
		fprintf(out_f, ",\"tf_stage\":\"%s\",\"tf_code\":%d,"
			"\"tf_reply\":", tf_stage, tf_code);
		json_esc(out_f, tf_reply);
	}
	if (j->op == OP_PICKUP)
		fprintf(out_f, ",\"retr\":[%s],\"deleted\":%s",
			o->retr != NULL ? o->retr : "",
			o->deleted ? "true" : "false");
	fputs("}\n", out_f);
	pthread_mutex_unlock(&log_lock);
	free(m.data);
}

/* --- queue, scheduler, workers --------------------------------------------- */

static void q_push(const struct job *j)
{
	pthread_mutex_lock(&q_lock);
	if (q_tail - q_head == q_cap) {
		size_t ncap = q_cap ? q_cap * 2 : 4096;
		struct job *nq;

		if (ncap > MAX_JOBS)
			die("more than %lu jobs queued", MAX_JOBS);
		nq = malloc(ncap * sizeof(*nq));
		if (nq == NULL)
			die("out of memory");
		for (size_t i = q_head; i < q_tail; i++)
			nq[i - q_head] = queue[i % q_cap];
		free(queue);
		queue = nq;
		q_tail -= q_head;
		q_head = 0;
		q_cap = ncap;
	}
	queue[q_tail % q_cap] = *j;
	q_tail++;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

static int q_pop(struct job *j)
{
	pthread_mutex_lock(&q_lock);
	while (q_head == q_tail && !q_done)
		pthread_cond_wait(&q_cond, &q_lock);
	if (q_head == q_tail) {
		pthread_mutex_unlock(&q_lock);
		return 0;
	}
	*j = queue[q_head % q_cap];
	q_head++;
	pthread_mutex_unlock(&q_lock);
	return 1;
}

static uint64_t drain_deadline;

static void log_not_started(const struct job *j)
{
	n_notstarted[j->op]++;
	pthread_mutex_lock(&log_lock);
	fprintf(out_f, "{\"op\":\"%s\",\"account\":", op_names[j->op]);
	json_esc(out_f, accts[j->acct].user);
	fprintf(out_f, ",\"token\":\"\",\"kind\":\"%s\",\"expect\":\"\","
		"\"stage\":\"not-started\",\"code\":0,\"reply\":\"\","
		"\"final\":false,\"sched_s\":%.6f,\"attempts\":0}\n",
		j->op == OP_SUBMIT ? kind_names[j->kind] : "",
		(double)j->sched_ns / 1e9);
	pthread_mutex_unlock(&log_lock);
}

static void *worker(void *arg)
{
	struct job j;
	struct outcome o;

	(void)arg;
	memset(&o, 0, sizeof(o));
	while (q_pop(&j)) {
		if (drain_deadline != 0 && now_ns() > drain_deadline) {
			log_not_started(&j);
			continue;
		}
		sleep_until(t0_ns + j.sched_ns);
		if (j.op == OP_PICKUP) {
			/* never two pickups of one account at once */
			unsigned k;
			for (k = 0; k < naccts; k++) {
				int expect = 0;
				if (atomic_compare_exchange_strong(
					&accts[j.acct].busy, &expect, 1))
					break;
				j.acct = (j.acct + 1) % naccts;
			}
			if (k == naccts) {
				log_not_started(&j);
				continue;
			}
			run_job(&j, &o);
			atomic_store(&accts[j.acct].busy, 0);
		} else {
			run_job(&j, &o);
		}
	}
	free(o.retr);
	return NULL;
}

static double exp_interval(unsigned short xs[3], double r)
{
	double u = erand48(xs);

	if (u <= 0)
		u = 1e-12;
	return -log(u) / r;
}

static void schedule(void)
{
	unsigned short xs[3] = { (unsigned short)seed,
				 (unsigned short)(seed >> 16), 0x330e };
	double next[OP_COUNT];
	uint64_t seq = 0;

	for (int k = 0; k < OP_COUNT; k++)
		next[k] = rate[k] > 0 ? (fixed_schedule ? 0.5 / rate[k] :
					 exp_interval(xs, rate[k])) : INFINITY;
	for (;;) {
		int k = 0;
		struct job j;

		for (int i = 1; i < OP_COUNT; i++)
			if (next[i] < next[k])
				k = i;
		if (!(next[k] < duration))
			break;
		j.op = (enum op)k;
		j.seq = ++seq;
		j.sched_ns = (uint64_t)(next[k] * 1e9);
		j.acct = (unsigned)(erand48(xs) * naccts) % naccts;
		j.kind = K_VALID;
		if (k == OP_SUBMIT) {
			double u = erand48(xs);
			if (u < invalid_share)
				j.kind = (enum kind)(K_CC +
					(int)(erand48(xs) * 4) % 4);
			else if (erand48(xs) < attach_share)
				j.kind = K_ATTACH;
		}
		n_offered[k]++;
		/* wait until shortly before the arrival: the queue holds
		   only what is due, so workers take jobs in time order */
		sleep_until(t0_ns + j.sched_ns - (j.sched_ns > 2000000 ?
						  2000000 : j.sched_ns));
		q_push(&j);
		next[k] += fixed_schedule ? 1.0 / rate[k] :
		    exp_interval(xs, rate[k]);
	}
}

static void usage(void)
{
	fputs("usage: htg-load -e lab.env -a accounts.tsv -o log.jsonl "
	      "[-d seconds] [-S submits/s]\n"
	      "       [-I injects/s] [-P pickups/s] [-c concurrency] "
	      "[--attach-share F]\n"
	      "       [--invalid-share F] [--fixed] [--seed N] [--run-id ID] "
	      "[--max-attempts N]\n"
	      "       [--timeout s] [--drain s]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "attach-share", required_argument, NULL, 1 },
		{ "invalid-share", required_argument, NULL, 2 },
		{ "fixed", no_argument, NULL, 3 },
		{ "seed", required_argument, NULL, 4 },
		{ "run-id", required_argument, NULL, 5 },
		{ "max-attempts", required_argument, NULL, 6 },
		{ "timeout", required_argument, NULL, 7 },
		{ "drain", required_argument, NULL, 8 },
		{ NULL, 0, NULL, 0 }
	};
	pthread_t *threads;
	pthread_attr_t attr;
	struct rusage ru;
	int ch;

	snprintf(run_id, sizeof(run_id), "%lx", (long)time(NULL));
	while ((ch = getopt_long(argc, argv, "e:a:o:d:S:I:P:c:", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'e': env_file = optarg; break;
		case 'a': acct_file = optarg; break;
		case 'o': log_file = optarg; break;
		case 'd': duration = atof(optarg); break;
		case 'S': rate[OP_SUBMIT] = atof(optarg); break;
		case 'I': rate[OP_INJECT] = atof(optarg); break;
		case 'P': rate[OP_PICKUP] = atof(optarg); break;
		case 'c': concurrency = atoi(optarg); break;
		case 1: attach_share = atof(optarg); break;
		case 2: invalid_share = atof(optarg); break;
		case 3: fixed_schedule = 1; break;
		case 4: seed = atol(optarg); break;
		case 5: cpy(run_id, sizeof(run_id), optarg); break;
		case 6: max_attempts = atoi(optarg); break;
		case 7: timeout_s = atof(optarg); break;
		case 8: drain_s = atof(optarg); break;
		default: usage();
		}
	}
	if (env_file == NULL || acct_file == NULL || log_file == NULL ||
	    optind != argc)
		usage();
	if (!(duration > 0 && duration <= 86400) || concurrency < 1 ||
	    concurrency > 1024 || max_attempts < 1 || max_attempts > 100 ||
	    !(timeout_s > 0 && timeout_s <= 600) ||
	    !(drain_s >= 0 && drain_s <= 3600))
		die("a setting is out of range");
	for (int k = 0; k < OP_COUNT; k++)
		if (!(rate[k] >= 0 && rate[k] <= 100000))
			die("rate out of range");
	if (strspn(run_id, "abcdefghijklmnopqrstuvwxyz0123456789") !=
	    strlen(run_id) || run_id[0] == '\0')
		die("--run-id: lower-case letters and digits only");
	read_env(env_file);
	read_accounts(acct_file);
	if ((out_f = fopen(log_file, "w")) == NULL)
		die("%s: %s", log_file, strerror(errno));

	ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (ssl_ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_3_VERSION) ||
	    SSL_CTX_load_verify_locations(ssl_ctx, ca_file, NULL) != 1)
		die("TLS setup failed (CA file %s)", ca_file);
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);

	{	/* filler: base64 alphabet, deterministic */
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
					  "ghijklmnopqrstuvwxyz0123456789+/";
		unsigned x = 12345;
		for (size_t i = 0; i < sizeof(filler) - 1; i++) {
			x = x * 1103515245u + 12345u;
			filler[i] = b64[(x >> 16) & 63];
		}
	}

	threads = calloc((size_t)concurrency, sizeof(*threads));
	if (threads == NULL)
		die("out of memory");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	t0_ns = now_ns();
	for (int i = 0; i < concurrency; i++)
		if (pthread_create(&threads[i], &attr, worker, NULL) != 0)
			die("pthread_create failed");
	schedule();
	pthread_mutex_lock(&q_lock);
	drain_deadline = now_ns() + (uint64_t)(drain_s * 1e9);
	q_done = 1;
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	for (int i = 0; i < concurrency; i++)
		pthread_join(threads[i], NULL);
	pthread_attr_destroy(&attr);

	double wall = (double)(now_ns() - t0_ns) / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	double ucpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	double scpu = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	fprintf(out_f, "{\"op\":\"summary\",\"run_id\":\"%s\",\"wall_s\":%.3f,"
		"\"duration_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
		"\"max_rss_kb\":%ld,\"concurrency\":%d,\"accounts\":%u",
		run_id, wall, duration, ucpu, scpu, ru.ru_maxrss, concurrency,
		naccts);
	for (int k = 0; k < OP_COUNT; k++)
		fprintf(out_f, ",\"%s\":{\"rate\":%g,\"offered\":%lu,\"ok\":%lu,"
			"\"refused\":%lu,\"gaveup\":%lu,\"retried\":%lu,"
			"\"not_started\":%lu}", op_names[k], rate[k],
			n_offered[k], n_ok[k], n_refused[k], n_gaveup[k],
			n_retried[k], n_notstarted[k]);
	fputs("}\n", out_f);
	fclose(out_f);
	printf("htg-load: %.1f s, cpu %.2f s user + %.2f s sys (%.1f%% of one "
	       "core)", wall, ucpu, scpu, 100 * (ucpu + scpu) / wall);
	for (int k = 0; k < OP_COUNT; k++)
		printf("; %s offered %lu ok %lu refused %lu gave-up %lu",
		       op_names[k], n_offered[k], n_ok[k], n_refused[k],
		       n_gaveup[k]);
	putchar('\n');

	SSL_CTX_free(ssl_ctx);
	free(threads);
	for (unsigned i = 0; i < naccts; i++) {
		free(accts[i].user);
		free(accts[i].password);
		free(accts[i].sender);
		free(accts[i].logical);
		free(accts[i].flow);
		free(accts[i].ungranted);
	}
	free(accts);
	free(queue);
	return 0;
}
