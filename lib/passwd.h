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

/* Find USER (a name, or a number) in the passwd text F.  A number that has
 * no entry is still valid: it gets gid = uid, home "/" and shell "/bin/sh".
 * -ESRCH if a name is not found, -EBADMSG for a malformed matching line. */
int passwd_lookup(FILE *f, const char *user, PasswdEntry *ret);

/* Supplementary groups of USER from the group text F (members listed in the
 * fourth field), always including PRIMARY first.  *ret is malloc'ed. */
int group_list_for(FILE *f, const char *user, gid_t primary, gid_t **ret, size_t *ret_n);
