#ifndef RESPOND_H
#define RESPOND_H

/*++
/* NAME
/*	respond 3h
/* SUMMARY
/*	htg-respond: the delivered message, the answer, the SMTP session
/* DESCRIPTION
/*	respond_read() copies the message into an unlinked temporary file
/*	and keeps what the answer names: the first Message-ID, Subject,
/*	size, and the attachment names (filename= / name= parameters, at
/*	most RESPOND_NAMES_MAX). respond_send() writes the answer to the
/*	inbound SMTP service. Both return 0, or -1 with msg.error set.
/*--*/

#include <stdint.h>
#include <stdio.h>

#define RESPOND_NAMES_MAX 20

struct respond_msg {
	FILE *spool;			/* the message, rewound */
	uint64_t size;
	char msgid[256];
	char subject[200];
	char names[RESPOND_NAMES_MAX][128];
	unsigned int nnames, more_names;
	char error[256];
};

struct respond_job {
	const char *account, *queue_id, *header_domain;
	char flow[64];
	char mode[16];
	unsigned int delay;
	char logical[256];
	char answer_id[320];
	struct respond_msg msg;
};

int respond_read(FILE *in, struct respond_msg *m);
int respond_send(const char *server, struct respond_job *j);

#endif
