#ifndef HTG_UUID_H
#define HTG_UUID_H

/*++
/* NAME
/*	htg-uuid 3h
/* SUMMARY
/*	random (version 4) UUIDs
/* SYNOPSIS
/*	#include "htg-uuid.h"
/*
/*	int	htg_uuid(char out[HTG_UUID_LEN + 1]);
/* DESCRIPTION
/*	Writes a lower-case RFC 9562 version 4 UUID from the kernel's
/*	random source (getrandom(2)): the unique ids of HTG-FILENAME and
/*	HTG-MSGID. Returns 0, or -1 when no randomness is available (the
/*	caller must then tempfail rather than invent an id).
/*--*/

#define HTG_UUID_LEN 36

int htg_uuid(char *out);

#endif
