#ifndef HTG_PATH_H
#define HTG_PATH_H

/*++
/* NAME
/*	htg-path 3h
/* SUMMARY
/*	paths from records, opened under the mail root without symlinks
/* SYNOPSIS
/*	#include "htg-path.h"
/* DESCRIPTION
/*	Retention records (written by the Dovecot mail plugin, or by
/*	anyone who can write the directory: the mail user) name files
/*	in mail homes. htgctl opens them only through these functions:
/*
/*	htg_path_under() is 1 when path lies under root: root, a '/',
/*	then one or more components, none of them "." or "..". Empty
/*	components ("//") are ignored. root's trailing slashes do not
/*	count.
/*
/*	htg_path_open_dir() opens the directory path (under root) and
/*	htg_path_open_parent() the directory that holds path, setting
/*	*name_r to the last component (pointing into path). The root is
/*	opened as configured (an admin's path); below it every component
/*	is opened with openat(O_NOFOLLOW | O_DIRECTORY), so a component
/*	that was replaced by a symbolic link fails with ELOOP or ENOTDIR
/*	instead of leading elsewhere. The caller then uses the *at()
/*	calls with O_NOFOLLOW (or unlinkat/linkat/renameat, which never
/*	follow the last component). Both return an fd (O_CLOEXEC), or -1
/*	with errno set and a reason in *error_r (static storage).
/*--*/

int htg_path_under(const char *root, const char *path);
int htg_path_open_dir(const char *root, const char *path,
		      const char **error_r);
int htg_path_open_parent(const char *root, const char *path,
			 const char **name_r, const char **error_r);

#endif
