/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel's mount table as libmount reads it (unescaped paths, the
 * optional fields and super options split as the kernel means them), instead
 * of a parser of our own.  libmount is loaded for the read and unloaded
 * after it, so a command that never reads the table never maps it. */

typedef struct MountEntry {
        const char *target;     /* where it is mounted */
        const char *root;       /* the part of its filesystem shown there */
        const char *fstype;
        const char *fs_options; /* the super options; may be NULL */
} MountEntry;

/* Call CB for each mount of /proc/self/mountinfo, in order, until it returns
 * non-zero (returned).  0 at the end; -errno if the table cannot be read
 * (-EOPNOTSUPP without libmount.so.1). */
int mount_table_foreach(int (*cb)(const MountEntry *e, void *userdata), void *userdata);
