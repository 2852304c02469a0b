/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A guest's users, read from its own /etc/passwd and /etc/group as text.
 * berth never calls NSS (getpwnam and friends) after entering a machine:
 * that would load the guest's libraries into a process that holds host
 * privileges. */

#include <stdio.h>
#include <sys/types.h>

typedef struct PasswdEntry {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        char *shell;
} PasswdEntry;

void passwd_entry_done(PasswdEntry *e);

/* What is read of a guest's passwd or group file at most: more than any real
 * one holds, little enough that a planted huge file costs nothing. */
#define PASSWD_FILE_MAX (16U * 1024U * 1024U)

/* Open the account file PATH (/etc/passwd, /etc/group) of the root we are in
 * (a machine's, after entering its mount namespace) for the functions below.
 * The machine owns that file, so: resolved inside that root without magic
 * links, not a symlink itself, opened without blocking and taken only if it
 * is a regular file of at most PASSWD_FILE_MAX bytes, read into memory at
 * once.  -ELOOP for a symlink, -EBADFD for anything but a regular file,
 * -EFBIG if too large, -ENOENT if missing. */
int passwd_file_open(const char *path, FILE **ret);
/* Why passwd_file_open() failed with R, in words for a message ("it is not
 * a regular file"; strerror() for other errors). */
const char *passwd_file_problem(int r);

/* Find USER (a name, or a number) in the passwd text F.  A number that has
 * no entry is still valid: it gets gid = uid, home "/" and shell "/bin/sh".
 * -ESRCH if a name is not found, -EBADMSG for a malformed matching line. */
int passwd_lookup(FILE *f, const char *user, PasswdEntry *ret);

/* Supplementary groups of USER from the group text F (members listed in the
 * fourth field), always including PRIMARY first.  *ret is malloc'ed. */
int group_list_for(FILE *f, const char *user, gid_t primary, gid_t **ret, size_t *ret_n);
