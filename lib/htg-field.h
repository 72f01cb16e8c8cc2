#ifndef HTG_FIELD_H
#define HTG_FIELD_H

/*++
/* NAME
/*	htg-field 3h
/* SUMMARY
/*	one field of a tab-separated line, escaped reversibly
/* SYNOPSIS
/*	#include "htg-field.h"
/* DESCRIPTION
/*	htgctl export writes records as lines of tab-separated fields;
/*	a value may hold any byte but NUL (an audit event's detail comes
/*	from mail). htg_field_write() writes s to f with the backslash as
/*	\e\e, tab \et, line feed \en, carriage return \er and the other
/*	control bytes (0x01-0x1f, 0x7f) as \exHH (lower-case hex); every
/*	other byte, UTF-8 or not, as it is. So a field never holds a tab,
/*	a line break or a control byte, and every value comes back.
/*
/*	htg_field_unescape() undoes it in place: 1, or 0 when s holds a
/*	raw control byte, a backslash that starts none of these escapes,
/*	or \ex00 (a value cannot hold NUL).
/*--*/

#include <stdio.h>

void htg_field_write(FILE *f, const char *s);
int htg_field_unescape(char *s);

#endif
