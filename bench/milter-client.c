/*++
/* NAME
/*	milter-client 1
/* SUMMARY
/*	send one message body through a milter, as Postfix's cleanup would
/* SYNOPSIS
/*	milter-client SOCKET BODY_FILE BOUNDARY
/* DESCRIPTION
/*	The C side of bench/milter-throughput.py: speaks milter protocol
/*	version 6 on a unix socket (option negotiation, MAIL, RCPT, five
/*	header fields, the body in 65535-byte BODY packets, EOM), reads
/*	every reply and modification (the replaced body included), and
/*	prints "bytes_in bytes_back seconds" for the header..EOM exchange.
/*	A client in C keeps the client's own cost out of the figure.
/*
/*	Like Postfix's milter8 client it offers the no-reply options
/*	(SMFIP_NR_HDR, SMFIP_NR_BODY, ...) and waits for a header or body
/*	reply only when the milter did not take them.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fd;
static uint32_t nr_flags;	/* no-reply options the milter took */

#define NR_HDR	0x00000080	/* SMFIP_NR_HDR */
#define NR_BODY	0x00080000	/* SMFIP_NR_BODY */
static unsigned char rbuf[1 << 20];

static void die(const char *what)
{
	fprintf(stderr, "milter-client: %s\n", what);
	exit(1);
}

static void put(char cmd, const void *data, uint32_t len)
{
	unsigned char hdr[5];
	uint32_t n = htonl(len + 1);

	memcpy(hdr, &n, 4);
	hdr[4] = (unsigned char)cmd;
	if (write(fd, hdr, 5) != 5 || (len > 0 && write(fd, data, len) != (ssize_t)len))
		die("write");
}

static void read_full(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			die("read");
		got += (size_t)n;
	}
}

/* one reply packet: returns its command, body length in *len */
static char get(uint32_t *len)
{
	uint32_t n;

	read_full(&n, 4);
	n = ntohl(n);
	if (n == 0 || n - 1 > sizeof(rbuf))
		die("bad packet");
	read_full(rbuf, n);
	*len = n - 1;
	return (char)rbuf[0];
}

static void expect_continue(const char *what)
{
	uint32_t len;
	char c = get(&len);

	if (c != 'c') {
		fprintf(stderr, "milter-client: %s: reply '%c'\n", what, c);
		exit(1);
	}
}

static void header(const char *name, const char *value)
{
	char buf[512];
	size_t a = strlen(name) + 1, b = strlen(value) + 1;

	memcpy(buf, name, a);
	memcpy(buf + a, value, b);
	put('L', buf, (uint32_t)(a + b));
	if (!(nr_flags & NR_HDR))
		expect_continue(name);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun;
	unsigned char opt[12], *chunk;
	/* version 6, every action, every protocol option up to
	   SMFIP_HDR_LEADSPC (what Postfix offers) */
	uint32_t v[3] = { htonl(6), htonl(0x1ff), htonl(0x1fffff) }, len;
	char ctype[200], msgid[100];
	unsigned long long in = 0, back = 0;
	struct timespec t0, t1;
	FILE *body;
	size_t n;
	char c;

	if (argc != 4)
		die("usage: milter-client SOCKET BODY_FILE BOUNDARY");
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		die("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect");
	if ((body = fopen(argv[2], "rb")) == NULL || (chunk = malloc(65535)) == NULL)
		die("body");
	memcpy(opt, v, 12);
	put('O', opt, 12);
	if (get(&len) != 'O' || len < 12)
		die("option negotiation");
	memcpy(&nr_flags, rbuf + 1 + 8, 4);	/* after the command byte */
	nr_flags = ntohl(nr_flags) & (NR_HDR | NR_BODY);
	put('D', "M{auth_authen}\0bench@x.nl", 26);
	put('M', "<ik@x.nl>", 10);
	expect_continue("MAIL");
	put('R', "<dms@msa-smtp.htpoort.nl>", 26);
	expect_continue("RCPT");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(msgid, sizeof(msgid), "<%ld.%ld@x.nl>", (long)t0.tv_sec,
		 (long)t0.tv_nsec);
	snprintf(ctype, sizeof(ctype), "multipart/mixed; boundary=\"%s\"", argv[3]);
	header("From", "<ik@x.nl>");
	header("To", "<dms@htpoort.nl>");
	header("Message-ID", msgid);
	header("MIME-Version", "1.0");
	header("Content-Type", ctype);
	put('N', NULL, 0);
	expect_continue("EOH");
	while ((n = fread(chunk, 1, 65535, body)) > 0) {
		in += n;
		put('B', chunk, (uint32_t)n);
		if (!(nr_flags & NR_BODY))
			expect_continue("BODY");
	}
	put('E', NULL, 0);
	while ((c = get(&len)) != 'c' && c != 'a') {
		if (c == 'b')
			back += len;
		else if (c != 'h' && c != 'm' && c != 'i' && c != 'p')
			die("unexpected reply at EOM");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	put('Q', NULL, 0);
	printf("%llu %llu %.6f\n", in, back, (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
